/* counting.c - counters around a measurement (see counting.h). */
#include "harness/run/counting.h"

#include <stdint.h>

void counting_start(void *p)
{
	struct counting *c = p;
	if (c->sw)
		swcount_start(c->sw);
	if (c->pmu)
		pmu_session_start(c->pmu);
}

void counting_stop(void *p)
{
	struct counting *c = p;
	if (c->pmu)
		pmu_session_stop(c->pmu);
	if (c->sw)
		swcount_stop(c->sw);
}

/* Counters for one measurement, opened before setup (so partners created
 * there inherit them when the kernel counts children) and closed after it:
 * no perf event stays open on the measuring thread between measurements,
 * where it would tax every context switch of a KERNEL_COUNT_APART kernel. */
struct swcount *counting_open(int have_sw, const struct kernel_desc *k, struct swcount *own)
{
	if (!have_sw)
		return NULL;
	nb_error e;
	return swcount_open(own, 0, (k->flags & KERNEL_COUNTS_CHILDREN) != 0, &e) == 0 ? own : NULL;
}

/* The proof pass of a KERNEL_COUNT_APART kernel: set it up again with
 * counters open (so partners inherit them), run `samples` samples of `iters`
 * with the counters on, tear down.  Fills counts and *ops; returns 0 with sw
 * still open (the caller reads and closes it), or -1 with the reason flagged. */
int counting_apart(struct kernel_ctx *ctx, unsigned samples, uint64_t iters,
		       struct swcount *sw, uint64_t *counts, uint64_t *ops)
{
	const struct kernel_desc *k = ctx->desc;
	nb_error err = {{0}};
	if (swcount_open(sw, 0, (k->flags & KERNEL_COUNTS_CHILDREN) != 0, &err)) {
		json_array_append_new(ctx->flags, json_sprintf("no counter proof: %s", err.msg));
		return -1;
	}
	json_t *timed_backing = ctx->backing_json;
	ctx->backing_json = NULL;
	ctx->priv = NULL;
	int rc = k->setup(ctx, &err);
	json_decref(ctx->backing_json);
	ctx->backing_json = timed_backing;
	*ops = 0;
	if (rc == 0) {
		uint64_t ticks;
		/* One uncounted warm-up sample, as in the timed pass: a fresh
		 * partner's first copy-on-write faults are not the kernel's claim. */
		rc = k->sample(ctx, iters, &ticks, &err);
		swcount_reset(sw);
		for (unsigned i = 0; i < samples && rc == 0; i++) {
			swcount_start(sw);
			rc = k->sample(ctx, iters, &ticks, &err);
			swcount_stop(sw);
			*ops += iters;
		}
		if (k->teardown)
			k->teardown(ctx);
	}
	swcount_read(sw, counts);
	if (rc) {
		swcount_close(sw);
		for (int i = 0; i < SWC_COUNT; i++)
			counts[i] = UINT64_MAX;
		json_array_append_new(ctx->flags, json_sprintf("no counter proof: the counting pass failed: %s", err.msg));
	}
	return rc ? -1 : 0;
}
