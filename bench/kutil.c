/* kutil.c - helpers of the page-table-update and context-switch kernels (see kutil.h). */
#include "bench/kutil.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "harness/mem/hugepool.h"

volatile uint64_t ku_sink;

int ku_map(struct ku_region *r, enum backing_kind kind, size_t bytes)
{
	struct backing_map_params mp;
	backing_map_params(kind, &mp);
	int hugetlb = (mp.mmap_flags & MAP_HUGETLB) != 0;
	/* hugetlb mappings come aligned; anonymous ones are over-mapped so the
	 * start can be aligned for a huge page to be possible. */
	size_t len = hugetlb ? bytes : bytes + mp.align;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, mp.mmap_flags, -1, 0);
	if (m == MAP_FAILED)
		return errno;
	r->map = m;
	r->map_bytes = len;
	r->base = hugetlb ? m : (void *)(((uintptr_t)m + mp.align - 1) / mp.align * mp.align);
	r->bytes = bytes;
	if (mp.advice >= 0 && madvise(r->base, bytes, mp.advice) != 0) {
		int e = errno;
		ku_unmap(r);
		return e;
	}
	return 0;
}

void ku_unmap(struct ku_region *r)
{
	if (r->map)
		munmap(r->map, r->map_bytes);
	r->map = NULL;
}

int ku_size_fits(const struct kernel_ctx *ctx, size_t bytes, nb_error *err)
{
	size_t page = backing_page_bytes(ctx->backing);
	char p[32], b[32];
	format_size(page, p, sizeof(p));
	format_size(bytes, b, sizeof(b));
	if (bytes == 0)
		return nb_skip(err, "%s needs a region of at least one %s page, not 0", ctx->desc->name, p);
	if (bytes % page)
		return nb_skip(err, "size %s is not a whole number of %s pages (backing %s)", b, p,
			       backing_name(ctx->backing));
	return 0;
}

int ku_reserve(enum backing_kind kind, size_t pages, nb_error *err)
{
	if (kind != BACKING_HUGETLB_2M && kind != BACKING_HUGETLB_1G)
		return 0;
	size_t page = backing_page_bytes(kind);
	struct hugepool_state st;
	if (hugepool_read(page, &st) == 0 && st.free - st.resv >= (long)pages)
		return 0;
	return hugepool_reserve(page, pages, err);
}

json_t *ku_region_json(enum backing_kind kind, void *base, size_t bytes)
{
	struct buffer b;
	memset(&b, 0, sizeof(b));
	b.kind = kind;
	b.base = base;
	b.bytes = bytes;
	nb_error err;
	if (buffer_verify(&b, &err) != 0)
		b.verified_page_bytes = 0;
	return buffer_json(&b);
}

size_t ku_page_bytes(const json_t *backing, enum backing_kind kind)
{
	json_int_t v = json_integer_value(json_object_get(backing, "verified_page_bytes"));
	return v > 0 ? (size_t)v : backing_page_bytes(kind);
}

void ku_claim(struct kernel_ctx *ctx, const uint64_t *counts, enum swc_event ev, uint64_t ops, double lo, double hi,
	      const char *claim)
{
	char key[64];
	snprintf(key, sizeof(key), "%s_per_op", swcount_name(ev));
	if (counts[ev] == UINT64_MAX || ops == 0) {
		json_object_set_new(ctx->params, key, json_null());
		return;
	}
	double c = (double)counts[ev], per = c / (double)ops;
	json_object_set_new(ctx->params, key, json_real(per));
	/* The lower bound is strict (each op must have done it); above, a few
	 * events of slack for what a sample does around its timed region
	 * (mapping, waking a partner) that is not the claim's. */
	const double slack = 16;
	if (c < lo * (double)ops || c > hi * (double)ops + slack)
		json_array_append_new(ctx->flags, json_sprintf("counters contradict the claim '%s': %.3g %s per op "
							       "(expected %.3g..%.3g)", claim, per, swcount_name(ev),
							       lo, hi));
}
