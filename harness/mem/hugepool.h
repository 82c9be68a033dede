/* hugepool.h - reserve hugetlb pages for a run and give them back.
 *
 * A run grows a pool by what it needs and records the pages it added in the
 * machine-wide ledger (poolledger.h); it gives back exactly those pages on
 * normal exit (atexit), on error paths (the same) and on SIGINT/SIGTERM/
 * SIGHUP (an async-signal-safe handler that shrinks the pools and re-raises
 * the signal).  Concurrent runs compose: each shrinks the pool by its own
 * delta, never to a size it saved.  Restoring is idempotent.
 */
#ifndef NESTBENCH_HUGEPOOL_H
#define NESTBENCH_HUGEPOOL_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "harness/mem/poolledger.h"
#include "core/util.h"

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

/* Give back every page this process added to a pool.  Safe to
 * call more than once. */
void hugepool_restore_all(void);

/* Install the atexit hook and the signal handlers (idempotent). */
void hugepool_install_cleanup(void);

/* Records of runs that grew this pool and are gone (killed outright):
 * their pages are still in the pool.  Returns how many (at most max). */
size_t hugepool_left_behind(size_t page_bytes, struct ledger_entry *out, size_t max);

/* `nestbench cleanup`: give back the pages of every run that is gone,
 * saying what was done on out.  0, or -1 with err (not root, ...). */
int hugepool_cleanup(FILE *out, nb_error *err);

/* {"2M": {"total":..,"free":..}, "1G": {...}} */
json_t *hugepool_json(void);

/* Path of a pool file, e.g. hugepool_path(2M, "nr_hugepages", ...) ->
 * /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages (for messages). */
void hugepool_path(size_t page_bytes, const char *file, char *buf, size_t len);

/* Tests only: read and write the pools under dir instead of
 * /sys/kernel/mm/hugepages, with the ledger in dir/ledger (NULL goes back
 * to both defaults).  Lets tests exercise a
 * kernel that provides fewer pages than asked without using real memory. */
void hugepool_set_root(const char *dir);

#endif
