/* chase.c - the `chase` / `chase-ctl` kernels (the chain and the loop: core/chase.h). */
#include "core/chase.h"

#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/kernel.h"
#include "core/tsc.h"
#include "harness/mem/backing.h"
#include "harness/pmu/swcount.h"

/* ---- the kernels ---- */

struct chase_state {
	void *cursor;
	struct buffer *ctl; /* chase-ctl: its own mapping on the largest page */
	int ctl_owned;      /* 1: ctl is this state's own (the cache was busy), freed at teardown */
};

/* Keeps the chain's end point observable so the loads cannot be dropped. */
static void *volatile chase_sink;

static uint64_t page_stride(const struct kernel_options *opt)
{
	return opt->stride_bytes ? opt->stride_bytes : 4096;
}

static uint64_t chase_elements(size_t ws, const struct kernel_options *opt)
{
	uint64_t n = ws / page_stride(opt);
	return n ? n : 1;
}

/* Both kernels lay out the same chain (the control on its own mapping), so
 * the harness buffer both are measured against is the chase's. */
static size_t chase_buffer_bytes(size_t ws, const struct kernel_options *opt)
{
	return (size_t)chase_span_bytes(chase_elements(ws, opt), page_stride(opt));
}

/* The guest versions (run_vm.c walks them at guest CPL3 over the sweep
 * buffer, on the guest's own pages): the control still packs its lines at
 * one per 64 bytes there, as no translation-free guest mapping is built. */
static uint64_t ctl_stride(const struct kernel_options *opt)
{
	(void)opt;
	return CHASE_LINE_BYTES;
}

/* The control's mapping: the largest page the machine gives, so that at
 * any working set its translations fit the first-level TLB (a 1G page holds
 * the whole chain of any quick-suite point; 2M pages up to the L1 dTLB's
 * 2M reach).  Only a mapping verified entirely on that page size will do:
 * a control that pays translation is no control. */
static int ctl_map(size_t span, struct buffer *out, nb_error *err)
{
	static const enum backing_kind kinds[] = {BACKING_HUGETLB_1G, BACKING_HUGETLB_2M};
	char why[2][sizeof(((nb_error *)0)->msg) + 32];
	for (size_t i = 0; i < 2; i++) {
		nb_error e = {{0}};
		int rc = buffer_alloc(out, kinds[i], span, &e);
		if (rc == 0 && out->verified_page_bytes == backing_page_bytes(kinds[i]) && out->coverage >= 1.0)
			return 0;
		if (rc == 0)
			snprintf(e.msg, sizeof(e.msg), "verified %zu-byte pages on %.0f%% of it", out->verified_page_bytes,
				 out->coverage * 100);
		buffer_free(out);
		snprintf(why[i], sizeof(why[i]), "%s: %s", backing_name(kinds[i]), e.msg);
	}
	return nb_skip(err, "chase-ctl: no translation-free mapping can be had (it needs hugetlb-1g or hugetlb-2m "
		       "pages); %s; %s", why[0], why[1]);
}

/* The control's mapping is kept from one measurement to the next: mapping
 * and zeroing a 1G page for every point of a sweep costs more than the
 * points themselves.  The cache is reused when no other control holds it
 * and it is big enough (its whole pages, not only the last span), rebuilt
 * otherwise, and unmapped at exit (before the pool ledger's restore). */
static struct buffer ctl_cache;
static int ctl_cache_busy, ctl_cache_atexit;

static void ctl_cache_free(void)
{
	if (!ctl_cache_busy)
		buffer_free(&ctl_cache);
}

static int ctl_acquire(size_t span, struct chase_state *st, nb_error *err)
{
	if (ctl_cache_busy) {
		st->ctl = calloc(1, sizeof(*st->ctl));
		if (!st->ctl)
			return nb_fail(err, "out of memory");
		st->ctl_owned = 1;
		int rc = ctl_map(span, st->ctl, err);
		if (rc) {
			free(st->ctl);
			st->ctl = NULL;
		}
		return rc;
	}
	if (!ctl_cache.map_base || ctl_cache.map_bytes < span) {
		buffer_free(&ctl_cache);
		int rc = ctl_map(span, &ctl_cache, err);
		if (rc)
			return rc;
		if (!ctl_cache_atexit)
			ctl_cache_atexit = atexit(ctl_cache_free) == 0;
	}
	ctl_cache.bytes = span;
	ctl_cache_busy = 1;
	st->ctl = &ctl_cache;
	return 0;
}

static void ctl_release(struct chase_state *st)
{
	if (!st->ctl)
		return;
	if (st->ctl_owned) {
		buffer_free(st->ctl);
		free(st->ctl);
	} else {
		ctl_cache_busy = 0;
	}
	st->ctl = NULL;
}

/* Build the chain over `buf` (the chase: the harness buffer; the control:
 * its own mapping), the same stride, seed and grouping either way. */
static int build(struct kernel_ctx *ctx, void *buf, size_t bytes, uint64_t stride, nb_error *err)
{
	const struct kernel_options *opt = ctx->opt;
	uint64_t elements = chase_elements(ctx->working_set_bytes, opt);
	uint64_t span = chase_span_bytes(elements, stride);
	if (!buf || bytes < span)
		return nb_fail(err, "%s: buffer of %zu bytes is smaller than the %llu bytes needed", ctx->desc->name,
			       buf ? bytes : 0, (unsigned long long)span);
	/* The locality group counts page-stride elements. */
	uint64_t group = opt->tlb_locality_bytes ? opt->tlb_locality_bytes / page_stride(opt) : 0;
	if (opt->tlb_locality_bytes && group == 0)
		group = 1;
	if (chase_build(buf, (uint64_t)(uintptr_t)buf, elements, stride, group, opt->seed))
		return nb_fail(err, "%s: cannot build the chain (out of memory?)", ctx->desc->name);
	json_object_set_new(ctx->params, "stride_bytes", json_integer((json_int_t)stride));
	json_object_set_new(ctx->params, "lines", json_integer((json_int_t)elements));
	json_object_set_new(ctx->params, "span_bytes", json_integer((json_int_t)span));
	json_object_set_new(ctx->params, "tlb_locality_bytes", json_integer((json_int_t)opt->tlb_locality_bytes));
	json_object_set_new(ctx->params, "seed", json_integer((json_int_t)(opt->seed & INT64_MAX)));
	return 0;
}

static uint64_t pages_of(uint64_t span, size_t page)
{
	return page ? (span + page - 1) / page : 0;
}

static int chase_setup(struct kernel_ctx *ctx, nb_error *err)
{
	struct buffer *b = ctx->buf;
	int rc = build(ctx, b ? b->base : NULL, b ? b->bytes : 0, page_stride(ctx->opt), err);
	if (rc)
		return rc;
	struct chase_state *st = calloc(1, sizeof(*st));
	if (!st)
		return nb_fail(err, "out of memory");
	st->cursor = b->base;
	ctx->priv = st;
	ctx->lap_iters = chase_elements(ctx->working_set_bytes, ctx->opt);
	uint64_t span = chase_span_bytes(chase_elements(ctx->working_set_bytes, ctx->opt), page_stride(ctx->opt));
	size_t page = b->verified_page_bytes ? b->verified_page_bytes : 4096;
	json_object_set_new(ctx->params, "verified_pages", json_integer((json_int_t)pages_of(span, page)));
	return 0;
}

static int ctl_setup(struct kernel_ctx *ctx, nb_error *err)
{
	const struct kernel_options *opt = ctx->opt;
	uint64_t stride = page_stride(opt);
	uint64_t span = chase_span_bytes(chase_elements(ctx->working_set_bytes, opt), stride);
	struct chase_state *st = calloc(1, sizeof(*st));
	if (!st)
		return nb_fail(err, "out of memory");
	int rc = ctl_acquire((size_t)span, st, err);
	if (rc == 0)
		rc = build(ctx, st->ctl->base, st->ctl->bytes, stride, err);
	if (rc) {
		ctl_release(st);
		free(st);
		return rc;
	}
	st->cursor = st->ctl->base;
	ctx->priv = st;
	ctx->lap_iters = chase_elements(ctx->working_set_bytes, opt);
	ctx->touched_buf = st->ctl; /* the range whose pages the harness checks */
	ctx->touched_bytes = (size_t)span;
	/* What the control really ran on; verified_pages counts its pages.
	 * Under a hypervisor (CPUID.1:ECX[31]) a TLB entry is never larger than
	 * the host's page: the guest's large page is translation-free only if
	 * the host backs it as large (derive.c checks the control's knees). */
	json_t *cb = buffer_json(st->ctl);
	unsigned a, b, c, d;
	json_object_set_new(cb, "under_hypervisor", json_boolean(__get_cpuid(1, &a, &b, &c, &d) && (c >> 31) & 1));
	json_object_set_new(ctx->params, "control_backing", cb);
	json_object_set_new(ctx->params, "verified_pages",
			    json_integer((json_int_t)pages_of(span, st->ctl->verified_page_bytes)));
	return 0;
}

static int chase_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	(void)err;
	struct chase_state *st = ctx->priv;
	uint64_t t0 = tsc_begin();
	void *p = chase_walk(st->cursor, iters);
	uint64_t t1 = tsc_end();
	st->cursor = p;
	chase_sink = p;
	*ticks = t1 - t0;
	return 0;
}

static void chase_teardown(struct kernel_ctx *ctx)
{
	struct chase_state *st = ctx->priv;
	if (st)
		ctl_release(st);
	free(st);
	ctx->priv = NULL;
}

/* The timed samples walk memory that was populated before them and a
 * pinned thread: a page fault (reclaim, migration, a THP split or
 * collapse) or a CPU migration inside them is not what the chase claims to
 * measure.  The software counters say whether any happened. */
static void chase_check(struct kernel_ctx *ctx, const uint64_t *counts, uint64_t ops)
{
	(void)ops;
	uint64_t faults = counts[SWC_PAGE_FAULTS], migr = counts[SWC_CPU_MIGRATIONS];
	if (faults != UINT64_MAX && faults > 0)
		json_array_append_new(ctx->flags, json_sprintf("%llu page faults in the timed samples (expected 0: the "
							       "buffer is populated before them)",
							       (unsigned long long)faults));
	if (migr != UINT64_MAX && migr > 0)
		json_array_append_new(ctx->flags, json_sprintf("%llu cpu migrations in the timed samples",
							       (unsigned long long)migr));
	/* An object: outcomes, never part of the measurement's identity. */
	json_object_set_new(ctx->params, "sample_check",
			    json_pack("{s:o, s:o}", "page_faults",
				      faults != UINT64_MAX ? json_integer((json_int_t)faults) : json_null(),
				      "cpu_migrations", migr != UINT64_MAX ? json_integer((json_int_t)migr) : json_null()));
}

#define KOPT(f) .off = offsetof(struct kernel_options, f), .width = sizeof(((struct kernel_options *)0)->f)

/* --stride and --tlb-locality: both chase kernels read them, chase-ctl so
 * that its control stays the same lines in the same order. */
static const struct cli_opt chase_opts[] = {
	{"stride", 0, "SIZE", "chase: distance between elements (default 4k: one per page)", CLI_V_WORD, NULL,
	 .type = OPT_T_SIZE, KOPT(stride_bytes), .min = 1, .echo_zero = 4096, .config_key = "stride_bytes"},
	{"tlb-locality", 0, "SIZE", "chase: visit pages in random order within groups of SIZE", CLI_V_WORD, NULL,
	 .type = OPT_T_SIZE, KOPT(tlb_locality_bytes), .min = 1, .config_key = "tlb_locality_bytes"},
	{NULL, 0, NULL, NULL, CLI_V_NONE, NULL, OPT_DOC_ONLY},
};

static int chase_check_opts(const struct kernel_options *o, nb_error *err)
{
	if (o->stride_bytes && (o->stride_bytes < 64 || o->stride_bytes % 64))
		return nb_fail(err, "--stride must be a multiple of 64 bytes (one cache line)");
	if (o->tlb_locality_bytes && o->tlb_locality_bytes < (o->stride_bytes ? o->stride_bytes : 4096))
		return nb_fail(err, "--tlb-locality must be at least one stride");
	return 0;
}

const struct kernel_desc kernel_chase = {
	.name = "chase",
	.family = "chase",
	.metric = "ns_per_access",
	.summary = "random cyclic pointer chase, one line per page (TLB-thrashing)",
	.params_help = "--stride (default 4k), --tlb-locality, working-set sweep",
	.flags = KERNEL_NEEDS_BUFFER | KERNEL_SWEEPS_WS,
	.buffer_bytes = chase_buffer_bytes,
	.setup = chase_setup,
	.sample = chase_sample,
	.teardown = chase_teardown,
	.check = chase_check,
	.guest_chase_stride = page_stride,
	.opts = chase_opts,
	.check_opts = chase_check_opts,
};

const struct kernel_desc kernel_chase_ctl = {
	.name = "chase-ctl",
	.family = "chase",
	.metric = "ns_per_access",
	.summary = "control: the same chain on the largest page (hugetlb-1g, else 2m): no translation",
	.params_help = "as chase; chase minus chase-ctl is the translation cost",
	.flags = KERNEL_NEEDS_BUFFER | KERNEL_SWEEPS_WS,
	.buffer_bytes = chase_buffer_bytes,
	.setup = ctl_setup,
	.sample = chase_sample,
	.teardown = chase_teardown,
	.check = chase_check,
	.guest_chase_stride = ctl_stride,
	.opts = chase_opts,
	.check_opts = chase_check_opts,
	.control_of = "chase",
};
