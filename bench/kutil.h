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
#include <string.h>

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

/* Zero [base, base + bytes) with rep stosb, as the kernel's clear_page
 * does on CPUs with ERMS: what the kernel pays to zero a fresh page,
 * timed in user space on pages already faulted. */
static inline void ku_zero(void *base, size_t bytes)
{
#if defined(__x86_64__)
	void *d = base;
	size_t n = bytes;
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(0) : "memory");
#else
	memset(base, 0, bytes);
#endif
}

extern volatile uint64_t ku_sink;

/* A page-fault counter (software event, this thread, disabled): the kernels
 * that prove each phase of a sample apart.  fd, or -1. */
int ku_faults_open(void);
void ku_fd_enable(int fd);
void ku_fd_disable(int fd);
/* The count, or UINT64_MAX when fd < 0 or the read failed. */
uint64_t ku_fd_read(int fd);

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
 * params["<event>_per_op"] and one entry of params["counter_proof"]:
 * {claim, event, per_op, expected: [lo, hi], kernel_included,
 * perf_event_paranoid, verdict, why},
 * verdict "holds", "contradicted", "cannot prove" (the event is blind in
 * user-mode-only counting: its count proves nothing) or "not counted";
 * appends a flag naming the claim when contradicted.  kernel_included is
 * this process's swcount_kernel_allowed(). */
void ku_claim(struct kernel_ctx *ctx, const uint64_t *counts, enum swc_event ev, uint64_t ops, double lo, double hi,
	      const char *claim);
/* The same with kernel_included given (counters opened user-only on purpose). */
void ku_claim_mode(struct kernel_ctx *ctx, const uint64_t *counts, enum swc_event ev, uint64_t ops, double lo,
		   double hi, const char *claim, int kernel_included);

/* The parts of one measurement timed in the same samples: the gross
 * operation and what is subtracted from it (a baseline doing the same
 * minus the thing named), each bracketed on its own in every sample, so
 * the subtraction is a measurement of this run, never a constant.  Only
 * the samples at the latest iteration count are kept: the harness's
 * calibration runs at other counts, its warm-up and timed samples at one.
 * A part's value is the median over the kept samples of its ns per
 * operation in each (one preempted sample on a shared machine must not
 * move it, as it would a mean). */
#define KU_PARTS_MAX 6
#define KU_PARTS_SAMPLES 1024 /* samples kept per measurement; later ones are not */
struct ku_parts {
	unsigned n;
	const char *name[KU_PARTS_MAX];
	const char *what[KU_PARTS_MAX];
	uint64_t ops[KU_PARTS_MAX];       /* operations each part ran in the kept samples */
	uint64_t cur_ticks[KU_PARTS_MAX]; /* the sample in progress */
	uint64_t cur_ops[KU_PARTS_MAX];
	double v[KU_PARTS_MAX][KU_PARTS_SAMPLES]; /* ticks per op of each completed sample (NAN: none) */
	unsigned nv;                      /* completed samples in v */
	uint64_t iters;                   /* the iteration count of the samples kept */
	unsigned samples;                 /* kept samples, the one in progress included */
};

/* Add a part; returns its index. */
unsigned ku_parts_add(struct ku_parts *p, const char *name, const char *what);
/* A new sample of `iters` operations begins (forgets other counts' samples). */
void ku_parts_begin(struct ku_parts *p, uint64_t iters);
/* Part i ran `ops` operations in `ticks` TSC ticks, in this sample. */
static inline void ku_parts_time(struct ku_parts *p, unsigned i, uint64_t ticks, uint64_t ops)
{
	p->cur_ticks[i] += ticks;
	p->cur_ops[i] += ops;
	p->ops[i] += ops;
}
/* Median over the kept samples of part i's ns per operation (0 when it ran none). */
double ku_parts_ns(const struct ku_parts *p, unsigned i);

/* The measurement's params["components"] (described in results/schema.json):
 * {"parts": {name: {ns_per_op, what, measured: true, ops}}, "gross",
 *  "baseline", "scale", "net": {name, unit, value, paired_median, formula,
 *  what}, "samples", "iterations_per_sample", "how"}:
 * net.value = (gross - baseline) * scale of the part medians;
 * net.paired_median the median of that difference sample by sample.
 * Kept when params already has components (the separate counting pass of
 * a KERNEL_COUNT_APART kernel must not replace the timed pass's).  Nothing
 * when no sample was kept. */
void ku_components(struct kernel_ctx *ctx, const struct ku_parts *p, unsigned gross, unsigned baseline, double scale,
		   const char *net_name, const char *net_unit, const char *net_what, const char *how);
/* A part of the components computed from two others: a - b, per op (a or b
 * "net": the net value); measured: false, with its formula.  Only once. */
void ku_components_derive(struct kernel_ctx *ctx, const char *name, const char *a, const char *b, const char *what);

/* What a process holds in the VMA that contains addr, from /proc/self/smaps:
 * bytes of private dirty memory (copies it made), AnonHugePages, and the
 * hugetlb pages private to it.  0, or -1 when smaps cannot be read. */
struct ku_vma_mem {
	uint64_t rss_bytes;
	uint64_t private_dirty_bytes;
	uint64_t anon_huge_bytes;
	uint64_t private_hugetlb_bytes;
	uint64_t shared_hugetlb_bytes;
};
int ku_vma_mem(const void *addr, struct ku_vma_mem *out);
/* Parse smaps text (for tests): the VMA containing addr. */
int ku_vma_mem_parse(const char *text, uintptr_t addr, struct ku_vma_mem *out);

/* A /proc/vmstat counter (thp_split_pmd, ...), or -1 when absent. */
long long ku_vmstat(const char *name);

#endif
