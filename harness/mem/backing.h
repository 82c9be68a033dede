/* backing.h - memory backings (4K, THP, hugetlb 2M/1G) whose page size is verified.
 *
 * A buffer is mapped with the requested backing, populated (every byte
 * touched, so page-fault cost never lands inside a measured loop), and then
 * checked against what the kernel actually gave it (smaps, and pagemap +
 * kpageflags when readable).  The verified page size and the fraction of bytes
 * on it are recorded; nothing silently falls back.
 */
#ifndef NESTBENCH_BACKING_H
#define NESTBENCH_BACKING_H

#include <jansson.h>
#include <stddef.h>

#include "core/backing_kind.h"
#include "core/util.h"
#include "harness/mem/pagecheck.h"

/* "4k", "thp", "hugetlb-2m", "hugetlb-1g". */
const char *backing_name(enum backing_kind kind);
/* Returns 0 and sets *out, or -1 with a message listing the valid names. */
int backing_parse(const char *name, enum backing_kind *out, nb_error *err);
/* The page size the backing asks for (4096, 2M, 2M, 1G). */
size_t backing_page_bytes(enum backing_kind kind);

/* Can this backing be had now for a buffer of `bytes` bytes?  0 = yes;
 * 1 = no, with the reason and how to enable it in err (e.g. THP "never",
 * no 1G pool and not root, pool too small and cannot grow). */
int backing_usable(enum backing_kind kind, size_t bytes, nb_error *err);

struct buffer {
	enum backing_kind kind;
	void *base;                 /* aligned to backing_page_bytes(kind) */
	size_t bytes;               /* usable bytes at base */
	void *map_base;             /* what munmap needs */
	size_t map_bytes;
	size_t verified_page_bytes; /* the page size most of the buffer is on */
	double coverage;            /* fraction of `bytes` on verified_page_bytes, 0..1 */
	char verify_method[32];     /* "smaps", "smaps+kpageflags", ... */
	int shared;                 /* hugetlb mapped MAP_SHARED (buffer_alloc_shared) */
	int node_plus1;             /* 1 + the NUMA node preferred while populating (the caller's); 0: none */
};

/* Map, populate and verify a buffer.  For hugetlb backings the pool is grown
 * first when needed (and restored later, see hugepool.h).  Returns 0, 1 when
 * the backing cannot be had (reason in err), or -1 on error.
 * bytes need not be a multiple of the page size: the mapping, the touching
 * and the verification cover it rounded up to whole pages, so a 64K working
 * set on "thp" sits at the start of one verified 2M page.  A THP buffer the
 * kernel backed with 4K pages is still returned (0), with verified_page_bytes
 * 4096: the caller decides what that means for its measurement. */
int buffer_alloc(struct buffer *buf, enum backing_kind kind, size_t bytes, nb_error *err);
/* As buffer_alloc, for memory a forked child keeps using: hugetlb pages are
 * mapped MAP_SHARED, so parent and child never copy-on-write a huge page
 * (a private hugetlb page shared across fork can be taken from the child,
 * which then dies of SIGBUS when the pool has no spare page).  Anonymous
 * 4k and THP memory stays private (shared anonymous memory would be shmem,
 * whose huge pages follow other settings). */
int buffer_alloc_shared(struct buffer *buf, enum backing_kind kind, size_t bytes, nb_error *err);

/* Re-read the verification (e.g. after a run, to catch khugepaged splitting). */
int buffer_verify(struct buffer *buf, nb_error *err);
/* Unmap (idempotent).  Pools grown for the buffer stay grown until
 * hugepool_restore_all() or exit, so a run can reuse them. */
void buffer_free(struct buffer *buf);

/* How buffer_alloc() maps a backing, for kernels that map and unmap memory
 * themselves inside their measured loop (first-touch faults, mmap/munmap
 * cycles): the mmap() flags, the madvise() advice to give the range after
 * mapping (-1: none) and the alignment its start needs for the page size to
 * be possible at all.  Such a mapping is not populated; touch it, fill a
 * struct buffer (kind, base, bytes) and buffer_verify() says what it got. */
struct backing_map_params {
	int mmap_flags;
	int advice;
	size_t align;
};
void backing_map_params(enum backing_kind kind, struct backing_map_params *out);

/* {"requested": "thp", "requested_page_bytes": N, "verified_page_bytes": N,
 *  "coverage": x, "verify_method": "...",
 *  "numa": {"preferred_node": N, "on_node_fraction": x}}  (numa: mapped buffers only) */
json_t *buffer_json(const struct buffer *buf);

/* ---- The measured range's page check (the measurement's "page_check") ----
 * point.c calls range_watch_begin() after a kernel's setup and
 * range_watch_end() after its samples, before teardown: the range is the
 * kernel's touched_buf/touched_bytes when it set them, else the harness
 * buffer's [base, base + params.span_bytes (or the working set)).  Nothing
 * is watched for kernels with memory of their own (backing_json) or none. */
struct kernel_ctx;
struct range_watch {
	int on;
	uintptr_t base;
	size_t bytes, page_bytes;
	int hugetlb;
	struct range_snapshot before;
};
void range_watch_begin(struct range_watch *w, const struct kernel_ctx *ctx);
/* The page_check object (NULL when nothing was watched).  Events become
 * flags; params.verified_pages (where the kernel set it) becomes the
 * counted number of pages. */
json_t *range_watch_end(struct range_watch *w, json_t *flags, json_t *params);

#endif
