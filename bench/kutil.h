/* kutil.h - helpers shared by the page-table-update and context-switch kernels.
 *
 * These kernels map their own memory (per measurement or per cycle) rather
 * than sweep the harness buffer, so they need: a size check per backing, a
 * way to map exactly as buffer_alloc() does without populating, the
 * verification of what such a mapping really got, and a uniform way to hold
 * the software counters against what the kernel claims.
 */
#ifndef NESTBENCH_KUTIL_H
#define NESTBENCH_KUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "harness/mem/backing.h"
#include "core/kernel.h"
#include "harness/pmu/swcount.h"
#include "core/util.h"

#define KU_4K ((size_t)4096)
#define KU_MIB ((double)(1u << 20))

/* A mapping made with the backing's flags (backing_map_params), not populated. */
struct ku_region {
	void *map;
	size_t map_bytes;
	void *base; /* aligned to the backing's page */
	size_t bytes;
};

/* mmap + madvise as buffer_alloc() does; returns 0 or an errno value. */
int ku_map(struct ku_region *r, enum backing_kind kind, size_t bytes);
void ku_unmap(struct ku_region *r);

/* Write one byte in every 4K of [base, base + bytes): the first write to a
 * page of any size faults it in, the others prove it was a large page (no
 * further faults).  Static inline: it sits inside measured regions. */
static inline void ku_write_4k(void *base, size_t bytes)
{
	volatile unsigned char *p = base;
	for (size_t off = 0; off < bytes; off += KU_4K)
		p[off] = 1;
}

/* Write one byte at the start of every page of page_bytes. */
static inline void ku_write_pages(void *base, size_t bytes, size_t page_bytes)
{
	volatile unsigned char *p = base;
	for (size_t off = 0; off < bytes; off += page_bytes)
		p[off] = 1;
}

/* Read one word in every 4K; returns their sum (keep it observable). */
static inline uint64_t ku_read_4k(const void *base, size_t bytes)
{
	const volatile uint64_t *p = base;
	uint64_t s = 0;
	for (size_t off = 0; off < bytes / sizeof(uint64_t); off += KU_4K / sizeof(uint64_t))
		s += p[off];
	return s;
}

/* Read one word in every 64-byte line: refills the TLB and the caches. */
static inline uint64_t ku_read_lines(const void *base, size_t bytes)
{
	const volatile uint64_t *p = base;
	uint64_t s = 0;
	for (size_t off = 0; off < bytes / sizeof(uint64_t); off += 64 / sizeof(uint64_t))
		s += p[off];
	return s;
}

extern volatile uint64_t ku_sink;

/* 0 when `bytes` is a non-zero whole number of the backing's pages, else 1
 * (skip) with the reason. */
int ku_size_fits(const struct kernel_ctx *ctx, size_t bytes, nb_error *err);

/* Make sure hugetlb pages for `pages` more pages are free (grows the pool as
 * buffer_alloc() would; restored at exit).  0, 1 (skip, reason) or -1. */
int ku_reserve(enum backing_kind kind, size_t pages, nb_error *err);

/* Verify a touched region mapped by the kernel: buffer_json() of it. */
json_t *ku_region_json(enum backing_kind kind, void *base, size_t bytes);

/* The page size to count in: the verified one of a backing JSON, else the requested one. */
size_t ku_page_bytes(const json_t *backing, enum backing_kind kind);

/* Hold counts[ev] against the claim lo <= count / ops <= hi (with a slack of
 * a few events for the kernel's own bookkeeping).  Records
 * params["<event>_per_op"]; appends a flag naming the claim when contradicted.
 * Nothing is claimed when the event could not be counted. */
void ku_claim(struct kernel_ctx *ctx, const uint64_t *counts, enum swc_event ev, uint64_t ops, double lo, double hi,
	      const char *claim);

#endif
