/* chase.c - the `chase` / `chase-ctl` kernels (the chain and the loop: core/chase.h). */
#include "core/chase.h"

#include <stdlib.h>

#include "core/kernel.h"
#include "core/tsc.h"
#include "harness/mem/backing.h"

/* ---- the kernels ---- */

struct chase_state {
	void *cursor;
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

static size_t chase_buffer_bytes(size_t ws, const struct kernel_options *opt)
{
	return (size_t)chase_span_bytes(chase_elements(ws, opt), page_stride(opt));
}

static size_t ctl_buffer_bytes(size_t ws, const struct kernel_options *opt)
{
	return (size_t)chase_span_bytes(chase_elements(ws, opt), CHASE_LINE_BYTES);
}

/* The guest versions (run_vm.c walks them at guest CPL3): the same strides. */
static uint64_t ctl_stride(const struct kernel_options *opt)
{
	(void)opt;
	return CHASE_LINE_BYTES;
}

static int setup_common(struct kernel_ctx *ctx, uint64_t stride, nb_error *err)
{
	const struct kernel_options *opt = ctx->opt;
	uint64_t elements = chase_elements(ctx->working_set_bytes, opt);
	uint64_t span = chase_span_bytes(elements, stride);
	if (!ctx->buf || ctx->buf->bytes < span)
		return nb_fail(err, "%s: buffer of %zu bytes is smaller than the %llu bytes needed", ctx->desc->name,
			       ctx->buf ? ctx->buf->bytes : 0, (unsigned long long)span);
	/* The locality group counts page-stride elements; keep the same number of
	 * elements per group in the control so both visit lines in the same order. */
	uint64_t group = opt->tlb_locality_bytes ? opt->tlb_locality_bytes / page_stride(opt) : 0;
	if (opt->tlb_locality_bytes && group == 0)
		group = 1;
	if (chase_build(ctx->buf->base, (uint64_t)(uintptr_t)ctx->buf->base, elements, stride, group, opt->seed))
		return nb_fail(err, "%s: cannot build the chain (out of memory?)", ctx->desc->name);
	struct chase_state *st = malloc(sizeof(*st));
	if (!st)
		return nb_fail(err, "out of memory");
	st->cursor = (char *)ctx->buf->base + chase_element_offset(0, stride);
	ctx->priv = st;

	size_t page = ctx->buf->verified_page_bytes ? ctx->buf->verified_page_bytes : 4096;
	json_object_set_new(ctx->params, "stride_bytes", json_integer((json_int_t)stride));
	json_object_set_new(ctx->params, "lines", json_integer((json_int_t)elements));
	json_object_set_new(ctx->params, "span_bytes", json_integer((json_int_t)span));
	json_object_set_new(ctx->params, "verified_pages", json_integer((json_int_t)((span + page - 1) / page)));
	json_object_set_new(ctx->params, "tlb_locality_bytes", json_integer((json_int_t)opt->tlb_locality_bytes));
	json_object_set_new(ctx->params, "seed", json_integer((json_int_t)(opt->seed & INT64_MAX)));
	return 0;
}

static int chase_setup(struct kernel_ctx *ctx, nb_error *err)
{
	return setup_common(ctx, page_stride(ctx->opt), err);
}

static int ctl_setup(struct kernel_ctx *ctx, nb_error *err)
{
	return setup_common(ctx, CHASE_LINE_BYTES, err);
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
	free(ctx->priv);
	ctx->priv = NULL;
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
	.guest_chase_stride = page_stride,
	.opts = chase_opts,
	.check_opts = chase_check_opts,
};

const struct kernel_desc kernel_chase_ctl = {
	.name = "chase-ctl",
	.family = "chase",
	.metric = "ns_per_access",
	.summary = "control: the same lines and order packed into the fewest pages",
	.params_help = "as chase; chase minus chase-ctl is the translation cost",
	.flags = KERNEL_NEEDS_BUFFER | KERNEL_SWEEPS_WS,
	.buffer_bytes = ctl_buffer_bytes,
	.setup = ctl_setup,
	.sample = chase_sample,
	.teardown = chase_teardown,
	.guest_chase_stride = ctl_stride,
	.opts = chase_opts,
	.check_opts = chase_check_opts,
};
