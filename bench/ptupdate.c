/* ptupdate.c - page-table-update kernels on one address space: fault,
 * mmap-munmap, mprotect, madvise-dontneed.
 *
 * Each runs on memory of the requested backing that it maps itself, the way
 * buffer_alloc() maps it (backing_map_params), and records what that memory
 * really got.  Under shadow paging every page-table update these kernels
 * make traps to the hypervisor; under nested paging it should not.  The
 * software counters prove the work: one page fault per page populated, none
 * where pages stay resident.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/mman.h>

#include "bench/kutil.h"
#include "core/tsc.h"

#define MB ((size_t)1 << 20)

struct pt_state {
	size_t pages;      /* pages of the backing in the region */
	size_t page_bytes; /* the backing's page */
	struct buffer buf; /* mprotect, madvise-dontneed: the populated region */
	int prot_ro;       /* mprotect: the region is read-only now */
	/* fault: the parts timed in every sample, and a page-fault counter for
	 * each phase (first touch; the rewrite and zeroing of faulted pages). */
	struct ku_parts parts;
	unsigned p_touch, p_rewrite, p_zero;
	int fd_touch, fd_after;
	uint64_t faults_touch0, faults_after0; /* counts at the start of the kept samples */
	uint64_t pages_per_map;                /* the last sample's */
	uint64_t maps;                         /* maps in the kept samples */
};

static void note_region(struct kernel_ctx *ctx, const struct pt_state *st)
{
	json_object_set_new(ctx->params, "region_bytes", json_integer((json_int_t)ctx->working_set_bytes));
	json_object_set_new(ctx->params, "pages", json_integer((json_int_t)st->pages));
	json_object_set_new(ctx->params, "page_bytes", json_integer((json_int_t)st->page_bytes));
}

static struct pt_state *state_new(struct kernel_ctx *ctx, nb_error *err)
{
	struct pt_state *st = calloc(1, sizeof(*st));
	if (!st) {
		nb_fail(err, "out of memory");
		return NULL;
	}
	st->page_bytes = backing_page_bytes(ctx->backing);
	st->pages = ctx->working_set_bytes / st->page_bytes;
	st->fd_touch = st->fd_after = -1;
	ctx->priv = st;
	return st;
}

/* Setup of the kernels that map per cycle: the pool, then one full cycle
 * whose touched region is verified (also a warm-up of the mapping path). */
static int setup_mapping(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = ku_size_fits(ctx, ctx->working_set_bytes, err);
	if (rc)
		return rc;
	if ((rc = backing_usable(ctx->backing, ctx->working_set_bytes, err)) != 0)
		return rc;
	struct pt_state *st = state_new(ctx, err);
	if (!st)
		return -1;
	if ((rc = ku_reserve(ctx->backing, st->pages, err)) != 0)
		return rc;
	struct ku_region r;
	int e = ku_map(&r, ctx->backing, ctx->working_set_bytes);
	if (e)
		return nb_fail(err, "%s: cannot map %zu bytes of %s memory: %s", ctx->desc->name, ctx->working_set_bytes,
			       backing_name(ctx->backing), strerror(e));
	ku_write_4k(r.base, r.bytes);
	ctx->backing_json = ku_region_json(ctx->backing, r.base, r.bytes);
	ku_unmap(&r);
	note_region(ctx, st);
	return 0;
}

/* Setup of the kernels that work on one populated region. */
static int setup_populated(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = ku_size_fits(ctx, ctx->working_set_bytes, err);
	if (rc)
		return rc;
	struct pt_state *st = state_new(ctx, err);
	if (!st)
		return -1;
	if ((rc = buffer_alloc(&st->buf, ctx->backing, ctx->working_set_bytes, err)) != 0)
		return rc;
	ctx->backing_json = buffer_json(&st->buf);
	note_region(ctx, st);
	return 0;
}

static void pt_teardown(struct kernel_ctx *ctx)
{
	struct pt_state *st = ctx->priv;
	if (st && st->buf.map_base)
		buffer_free(&st->buf);
	if (st && st->fd_touch >= 0)
		close(st->fd_touch);
	if (st && st->fd_after >= 0)
		close(st->fd_after);
	free(st);
	ctx->priv = NULL;
}

/* ---- fault: first touch of fresh pages ----
 *
 * A sample maps fresh regions and, on each, times three passes over the
 * same pages: the first touch (one write per 4K: the fault, then the
 * stores), the same writes again on the now-faulted pages (the stores
 * alone), and a rep-stosb zeroing of the pages (what the kernel's
 * clear_page pays, in user space).  The sample's value is first touch
 * minus rewrite: the fault and nothing else (will-it-scale's page_fault
 * tests report the gross touch loop; lmbench's lat_pagefault takes a
 * measured overhead of its own out, as this does).  A page-fault counter per
 * phase proves that the first touch faults each page once and the other
 * passes none. */

static const char fault_how[] =
	"paired in every sample: each fresh region is first touched (timed), written again (timed) and zeroed "
	"with rep stosb (timed), one write per 4K as in the first touch; the sample's value is first_touch - "
	"rewrite per page; parts are medians over the samples at the final iteration count (warm-up included)";

static int fault_setup_(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = setup_mapping(ctx, err);
	if (rc)
		return rc;
	struct pt_state *st = ctx->priv;
	/* Faults per MiB populated, at the page size really got. */
	ctx->alt_metric = "ns_per_mib";
	ctx->alt_per_op = KU_MIB / (double)ku_page_bytes(ctx->backing_json, ctx->backing);
	json_object_set_new(ctx->params, "op", json_string("first write to a fresh page minus the same writes to it "
							   "once faulted (one write per 4K in it)"));
	st->p_touch = ku_parts_add(&st->parts, "first_touch", "first write to every 4K of a fresh page: the fault, "
				   "then the stores");
	st->p_rewrite = ku_parts_add(&st->parts, "rewrite", "the same writes to the same page once faulted "
				     "(subtracted: the stores without the fault)");
	st->p_zero = ku_parts_add(&st->parts, "zeroing", "rep stosb over the faulted page in user space, its lines as warm as the kernel's own zeroing left "
				  "them: an estimate of the share of the fault spent zeroing the page");
	st->fd_touch = ku_faults_open();
	st->fd_after = ku_faults_open();
	return 0;
}

/* A setup that fails or skips leaves nothing behind (threads, children, memory). */
static int fault_setup(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = fault_setup_(ctx, err);
	if (rc && ctx->priv)
		pt_teardown(ctx);
	return rc;
}

/* iters faults: fresh regions of the chosen size, iters pages faulted in
 * all (a region's first n pages, n = min(iters left, its pages)); only the
 * passes over the pages are timed, mapping and unmapping are not. */
static int fault_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	struct pt_state *st = ctx->priv;
	uint64_t net = 0, keep_iters = st->parts.iters;
	ku_parts_begin(&st->parts, iters);
	if (keep_iters != iters || st->parts.samples == 1) {
		/* The phase counts restart with the kept samples. */
		st->faults_touch0 = ku_fd_read(st->fd_touch);
		st->faults_after0 = ku_fd_read(st->fd_after);
		st->maps = 0;
	}
	st->pages_per_map = iters < st->pages ? iters : st->pages;
	while (iters) {
		size_t n = iters < st->pages ? (size_t)iters : st->pages;
		size_t bytes = n * st->page_bytes;
		struct ku_region r;
		int e = ku_map(&r, ctx->backing, ctx->working_set_bytes);
		if (e)
			return nb_fail(err, "fault: cannot map %zu bytes of %s memory: %s", ctx->working_set_bytes,
				       backing_name(ctx->backing), strerror(e));
		ku_fd_enable(st->fd_touch);
		uint64_t t0 = tsc_begin();
		ku_write_4k(r.base, bytes);
		uint64_t t1 = tsc_end();
		ku_fd_disable(st->fd_touch);
		ku_fd_enable(st->fd_after);
		uint64_t t2 = tsc_begin();
		ku_write_4k(r.base, bytes);
		uint64_t t3 = tsc_end();
		uint64_t t4 = tsc_begin();
		ku_zero(r.base, bytes);
		uint64_t t5 = tsc_end();
		ku_fd_disable(st->fd_after);
		ku_parts_time(&st->parts, st->p_touch, t1 - t0, n);
		ku_parts_time(&st->parts, st->p_rewrite, t3 - t2, n);
		ku_parts_time(&st->parts, st->p_zero, t5 - t4, n);
		/* A rewrite slower than the first touch (an interrupt in it) counts as no fault cost. */
		net += (t1 - t0) > (t3 - t2) ? (t1 - t0) - (t3 - t2) : 0;
		st->maps++;
		ku_unmap(&r);
		iters -= n;
	}
	*ticks = net;
	return 0;
}

/* The components and the per-phase fault counts, once the samples are done. */
static void fault_teardown(struct kernel_ctx *ctx)
{
	struct pt_state *st = ctx->priv;
	if (st && st->parts.samples) {
		ku_components(ctx, &st->parts, st->p_touch, st->p_rewrite, 1, "fault", "ns_per_fault",
			      "the first-touch fault of one page of the backing", fault_how);
		/* The net fault minus its zeroing: trap, allocation, page-table update, return. */
		ku_components_derive(ctx, "fault_path", "net", "zeroing",
				     "the fault without its zeroing: trap, page allocation, page-table update, return");
		uint64_t ft = ku_fd_read(st->fd_touch), fa = ku_fd_read(st->fd_after);
		uint64_t pages = st->parts.ops[st->p_touch];
		json_t *ph = json_object();
		json_object_set_new(ph, "pages", json_integer((json_int_t)pages));
		json_object_set_new(ph, "maps", json_integer((json_int_t)st->maps));
		json_object_set_new(ph, "pages_per_map", json_integer((json_int_t)st->pages_per_map));
		json_object_set_new(ph, "first_touch_faults",
				    ft == UINT64_MAX ? json_null() : json_integer((json_int_t)(ft - st->faults_touch0)));
		json_object_set_new(ph, "after_faults",
				    fa == UINT64_MAX ? json_null() : json_integer((json_int_t)(fa - st->faults_after0)));
		json_object_set_new(ph, "kernel_included", json_boolean(swcount_kernel_allowed(NULL, 0)));
		if (!json_object_get(ctx->params, "phase_faults"))
			json_object_set_new(ctx->params, "phase_faults", ph);
		else
			json_decref(ph);
	}
	pt_teardown(ctx);
}

static void fault_check(struct kernel_ctx *ctx, const uint64_t *counts, uint64_t ops)
{
	ku_claim(ctx, counts, SWC_PAGE_FAULTS, ops, 1, 1, "one page fault per page populated");
	ku_claim(ctx, counts, SWC_MAJOR_FAULTS, ops, 0, 0, "no major faults (anonymous memory)");
	/* Phase by phase, exactly: every page of the first touch faulted once
	 * (a THP that fell back to 4K would fault 512 times), the rewrite and
	 * the zeroing of faulted pages never. */
	json_t *ph = json_object_get(ctx->params, "phase_faults");
	json_t *ft = json_object_get(ph, "first_touch_faults"), *fa = json_object_get(ph, "after_faults");
	json_int_t pages = json_integer_value(json_object_get(ph, "pages"));
	if (json_is_integer(ft) && json_integer_value(ft) != pages)
		json_array_append_new(ctx->flags, json_sprintf("counters contradict the claim 'the first touch faults each "
							       "page once': %lld faults for %lld pages",
							       (long long)json_integer_value(ft), (long long)pages));
	if (json_is_integer(fa) && json_integer_value(fa) != 0)
		json_array_append_new(ctx->flags, json_sprintf("counters contradict the claim 'faulted pages take no "
							       "fault when rewritten or zeroed': %lld faults",
							       (long long)json_integer_value(fa)));
}

const struct kernel_desc kernel_fault = {
	.name = "fault",
	.family = "ptupdate",
	.metric = "ns_per_fault",
	.summary = "first-touch page fault of fresh memory minus the same writes once faulted, per page of the backing",
	.params_help = "--size: region mapped per batch (whole pages of the backing); params.components: first_touch, "
		       "rewrite (subtracted), zeroing, fault_path",
	.flags = 0,
	.setup = fault_setup,
	.sample = fault_sample,
	.teardown = fault_teardown,
	.check = fault_check,
	.default_sizes = {1, {2 * MB}},
};

/* ---- mmap-munmap: map, touch, unmap ---- */

static int mm_setup_(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = setup_mapping(ctx, err);
	if (rc)
		return rc;
	ctx->alt_metric = "ns_per_mib";
	ctx->alt_per_op = KU_MIB / (double)ctx->working_set_bytes;
	json_object_set_new(ctx->params, "op", json_string("mmap, write every page, munmap"));
	return 0;
}

/* A setup that fails or skips leaves nothing behind (threads, children, memory). */
static int mm_setup(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = mm_setup_(ctx, err);
	if (rc && ctx->priv)
		pt_teardown(ctx);
	return rc;
}

static int mm_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	int e = 0;
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < iters && !e; i++) {
		struct ku_region r;
		e = ku_map(&r, ctx->backing, ctx->working_set_bytes);
		if (!e) {
			ku_write_4k(r.base, r.bytes);
			ku_unmap(&r);
		}
	}
	uint64_t t1 = tsc_end();
	if (e)
		return nb_fail(err, "mmap-munmap: cannot map %zu bytes of %s memory: %s", ctx->working_set_bytes,
			       backing_name(ctx->backing), strerror(e));
	*ticks = t1 - t0;
	return 0;
}

static void mm_check(struct kernel_ctx *ctx, const uint64_t *counts, uint64_t ops)
{
	double pages = (double)ctx->working_set_bytes / (double)ku_page_bytes(ctx->backing_json, ctx->backing);
	ku_claim(ctx, counts, SWC_PAGE_FAULTS, ops, pages, pages, "one page fault per page of every cycle");
}

const struct kernel_desc kernel_mmap_munmap = {
	.name = "mmap-munmap",
	.family = "ptupdate",
	.metric = "ns_per_cycle",
	.summary = "map a region, write every page, unmap it (one cycle)",
	.params_help = "--size: region per cycle (whole pages of the backing)",
	.flags = 0,
	.setup = mm_setup,
	.sample = mm_sample,
	.teardown = pt_teardown,
	.check = mm_check,
	.default_sizes = {1, {2 * MB}},
};

/* ---- mprotect: flip protection, touch again ---- */

static int mp_setup_(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = setup_populated(ctx, err);
	if (rc)
		return rc;
	ctx->alt_metric = "ns_per_mib";
	ctx->alt_per_op = KU_MIB / (double)ctx->working_set_bytes;
	json_object_set_new(ctx->params, "op",
			    json_string("mprotect read-only, read every 4K, mprotect read-write, read every 4K"));
	return 0;
}

/* A setup that fails or skips leaves nothing behind (threads, children, memory). */
static int mp_setup(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = mp_setup_(ctx, err);
	if (rc && ctx->priv)
		pt_teardown(ctx);
	return rc;
}

/* Reads only: the pages stay resident and no access faults, so what is
 * timed is the page-table update, its TLB flush and the refill. */
static int mp_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	struct pt_state *st = ctx->priv;
	void *base = st->buf.base;
	size_t len = ctx->working_set_bytes;
	uint64_t sum = 0;
	int bad = 0;
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < iters; i++) {
		bad |= mprotect(base, len, PROT_READ);
		sum += ku_read_4k(base, len);
		bad |= mprotect(base, len, PROT_READ | PROT_WRITE);
		sum += ku_read_4k(base, len);
	}
	uint64_t t1 = tsc_end();
	ku_sink = sum;
	if (bad)
		return nb_fail(err, "mprotect on the %s region failed: %s", backing_name(ctx->backing), strerror(errno));
	*ticks = t1 - t0;
	return 0;
}

static void mp_check(struct kernel_ctx *ctx, const uint64_t *counts, uint64_t ops)
{
	ku_claim(ctx, counts, SWC_PAGE_FAULTS, ops, 0, 0, "no page faults: protection changes only");
}

const struct kernel_desc kernel_mprotect = {
	.name = "mprotect",
	.family = "ptupdate",
	.metric = "ns_per_cycle",
	.summary = "protect a populated region read-only and back, touching every page after each (flush, refill)",
	.params_help = "--size: region (whole pages of the backing)",
	.flags = 0,
	.setup = mp_setup,
	.sample = mp_sample,
	.teardown = pt_teardown,
	.check = mp_check,
	.default_sizes = {1, {2 * MB}},
};

/* ---- madvise-dontneed: discard and refault ---- */

static int md_setup_(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = setup_populated(ctx, err);
	if (rc)
		return rc;
	/* A refault of a hugetlb page needs a free page of the pool again. */
	if ((rc = ku_reserve(ctx->backing, 1, err)) != 0)
		return rc;
	ctx->alt_metric = "ns_per_mib";
	ctx->alt_per_op = KU_MIB / (double)ctx->working_set_bytes;
	json_object_set_new(ctx->params, "op", json_string("madvise(MADV_DONTNEED) the region, write every 4K"));
	return 0;
}

/* A setup that fails or skips leaves nothing behind (threads, children, memory). */
static int md_setup(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = md_setup_(ctx, err);
	if (rc && ctx->priv)
		pt_teardown(ctx);
	return rc;
}

static int md_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	struct pt_state *st = ctx->priv;
	void *base = st->buf.base;
	size_t len = ctx->working_set_bytes;
	int bad = 0;
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < iters; i++) {
		bad |= madvise(base, len, MADV_DONTNEED);
		ku_write_4k(base, len);
	}
	uint64_t t1 = tsc_end();
	if (bad)
		return nb_fail(err, "madvise(MADV_DONTNEED) on the %s region failed: %s", backing_name(ctx->backing),
			       strerror(errno));
	*ticks = t1 - t0;
	return 0;
}

static void md_check(struct kernel_ctx *ctx, const uint64_t *counts, uint64_t ops)
{
	double pages = (double)ctx->working_set_bytes / (double)ku_page_bytes(ctx->backing_json, ctx->backing);
	ku_claim(ctx, counts, SWC_PAGE_FAULTS, ops, pages, pages, "every page discarded and refaulted each cycle");
}

const struct kernel_desc kernel_madvise_dontneed = {
	.name = "madvise-dontneed",
	.family = "ptupdate",
	.metric = "ns_per_cycle",
	.summary = "discard a populated region with MADV_DONTNEED and write it again (refault)",
	.params_help = "--size: region (whole pages of the backing)",
	.flags = 0,
	.setup = md_setup,
	.sample = md_sample,
	.teardown = pt_teardown,
	.check = md_check,
	.default_sizes = {1, {2 * MB}},
};
