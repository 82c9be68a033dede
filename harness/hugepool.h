/* hugepool.h - reserve hugetlb pages for a run and put the pools back.
 *
 * The first change to a pool records its original nr_hugepages; every pool
 * is restored on normal exit (atexit), on error paths (the same) and on
 * SIGINT/SIGTERM/SIGHUP (an async-signal-safe handler that writes the saved
 * values back and re-raises the signal).  Restoring is idempotent.
 */
#ifndef NESTBENCH_HUGEPOOL_H
#define NESTBENCH_HUGEPOOL_H

#include <jansson.h>
#include <stddef.h>

#include "util.h"

struct hugepool_state {
	size_t page_bytes;
	long total;   /* nr_hugepages */
	long free;    /* free_hugepages */
	long resv;    /* resv_hugepages */
	long surplus; /* surplus_hugepages */
	int present;  /* the kernel has this pool at all */
};

/* Read /sys/kernel/mm/hugepages/hugepages-<N>kB/.  Returns 0, or -1 when the
 * pool does not exist. */
int hugepool_read(size_t page_bytes, struct hugepool_state *st);

/* Make sure at least npages free pages of this size exist, growing the pool
 * if needed (root only).  Returns 0, 1 when they cannot be had (reason and
 * fix in err: not root, the kernel could not find contiguous memory, ...). */
int hugepool_reserve(size_t page_bytes, size_t npages, nb_error *err);

/* Put every pool this process changed back to its original size.  Safe to
 * call more than once. */
void hugepool_restore_all(void);

/* Install the atexit hook and the signal handlers (idempotent). */
void hugepool_install_cleanup(void);

/* {"2M": {"total":..,"free":..}, "1G": {...}} */
json_t *hugepool_json(void);

/* Path of a pool file, e.g. hugepool_path(2M, "nr_hugepages", ...) ->
 * /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages (for messages). */
void hugepool_path(size_t page_bytes, const char *file, char *buf, size_t len);

/* Tests only: read and write the pools under dir instead of
 * /sys/kernel/mm/hugepages (NULL goes back to it).  Lets tests exercise a
 * kernel that provides fewer pages than asked without using real memory. */
void hugepool_set_root(const char *dir);

#endif
