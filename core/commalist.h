/* commalist.h - the one comma-separated list splitter.
 *
 * Every list the command line takes (--kernel, --backing, --guest-page,
 * --size, --threads, --placement, --events) goes through it, so an empty
 * item ("4k,,", ",4k", "") is rejected the same way everywhere instead of
 * being skipped unseen as strtok() would.
 */
#ifndef NESTBENCH_COMMALIST_H
#define NESTBENCH_COMMALIST_H

#include "core/util.h"

/* Called for each item, NUL-terminated (a private copy: it may be kept
 * only for the call).  Nonzero stops the walk and is returned. */
typedef int (*comma_item_fn)(const char *item, void *arg);

/* Walk list item by item; fn may be NULL (only check the list).
 * Returns 0, fn's nonzero return, or -1 with err set on an empty item
 * (or when out of memory). */
int comma_list_each(const char *list, comma_item_fn fn, void *arg, nb_error *err);

#endif
