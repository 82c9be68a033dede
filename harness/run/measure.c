/* measure.c - calibration, warm-up and timed samples (see measure.h). */
#include "harness/run/measure.h"

#include <stdlib.h>
#include <string.h>

#include "core/tsc.h"
#include "harness/host/topology.h"

/* The test hook (measure.h): the extra fraction of each sample's time that
 * kernel `name` is to spend, 0 for every other kernel and when unset. */
static double test_slowdown(const char *name)
{
	const char *v = getenv(MEASURE_TEST_SLOWDOWN_ENV);
	size_t n = strlen(name);
	if (!v || strncmp(v, name, n) || v[n] != ':')
		return 0;
	char *end;
	double pct = strtod(v + n + 1, &end);
	return *end || !(pct > 0) || pct > 1000 ? 0 : pct / 100;
}

static int one_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err, double slow)
{
	int rc = ctx->desc->sample(ctx, iters, ticks, err);
	if (rc == 0 && slow > 0) {
		/* Really spend the time, on this PU, timed as the kernel is. */
		uint64_t extra = (uint64_t)((double)*ticks * slow), t0 = tsc_begin(), t1;
		do
			t1 = tsc_end();
		while (t1 - t0 < extra);
		*ticks += t1 - t0;
	}
	return rc;
}

double measure_loop_overhead_ns(void)
{
	const uint64_t iters = 1u << 22;
	double best = 0;
	for (int rep = 0; rep < 5; rep++) {
		uint64_t n = iters;
		uint64_t t0 = tsc_begin();
		/* The shape of chase_walk's unrolled loop with the loads taken out;
		 * the empty asm keeps the compiler from folding the loop away. */
		while (n >= 8) {
			__asm__ volatile("" : "+r"(n));
			n -= 8;
		}
		uint64_t t1 = tsc_end();
		double ns = (double)(t1 - t0) / tsc_ticks_per_ns() / (double)iters;
		if (rep == 0 || ns < best)
			best = ns;
	}
	return best;
}

/* Double until a sample takes at least 1/8 of the target, then scale
 * straight to the target: few calibration runs even for slow kernels. */
static int calibrate(struct kernel_ctx *ctx, const struct measure_config *mc, double slow, uint64_t *out,
		     nb_error *err)
{
	const double target_ticks = mc->target_sample_ns * tsc_ticks_per_ns();
	uint64_t iters = 1, ticks = 0;
	for (;;) {
		if (one_sample(ctx, iters, &ticks, err, slow))
			return -1;
		if ((double)ticks >= target_ticks / 8 || (mc->max_iters && iters >= mc->max_iters))
			break;
		iters *= 2;
	}
	if (ticks > 0 && (double)ticks < target_ticks) {
		double scaled = (double)iters * target_ticks / (double)ticks;
		iters = scaled > 1 ? (uint64_t)scaled : 1;
	}
	if (iters < ctx->min_iters_per_sample)
		iters = ctx->min_iters_per_sample;
	if (mc->max_iters && iters > mc->max_iters)
		iters = mc->max_iters;
	*out = iters;
	return 0;
}

/* One kernel's part of a timed series. */
struct arm {
	struct kernel_ctx *ctx;
	const struct measure_observer *obs;
	double slow;
	uint64_t iters;
	double *s;
	unsigned n, taken, retaken;
	uint64_t lap_ops; /* untimed operations inside the observer's window */
};

/* The thread's involuntary context switches so far: the series' last
 * reading is taken after each sample, so a change says that sample was
 * preempted, whichever arm ran before it. */
struct series {
	const struct measure_config *mc;
	long pre; /* -1: not watched */
	uint64_t overhead;
	double tpn;
};

static long series_preemptions(const struct series *se)
{
	const struct measure_config *mc = se->mc;
	return mc->preemptions ? mc->preemptions(mc->preemptions_arg) : topology_self_preemptions();
}

/* One timed sample of arm a, kept or (preempted) to be taken again.
 * turn: the sample is timed in turn with another arm's, so its observer
 * runs around this sample only, and a lap of its own (untimed) first puts
 * back the caches and TLB the other arm's sample took. */
static int timed_sample(struct series *se, struct arm *a, int turn, nb_error *err)
{
	uint64_t ticks = 0;
	int rc = 0;
	if (turn && a->obs)
		a->obs->start(a->obs->ctx);
	if (turn) {
		uint64_t lap = a->ctx->lap_iters && a->ctx->lap_iters < a->iters ? a->ctx->lap_iters : a->iters;
		rc = a->ctx->desc->sample(a->ctx, lap, &ticks, err);
		a->lap_ops += lap;
	}
	if (rc == 0)
		rc = one_sample(a->ctx, a->iters, &ticks, err, a->slow);
	if (turn && a->obs)
		a->obs->stop(a->obs->ctx);
	a->taken++;
	if (rc)
		return -1;
	if (se->pre >= 0) {
		long now = series_preemptions(se);
		int preempted = now != se->pre;
		se->pre = now;
		if (preempted && a->retaken < 2 * se->mc->samples + 3) {
			a->retaken++;
			return 0;
		}
	}
	uint64_t net = ticks > se->overhead ? ticks - se->overhead : 0;
	a->s[a->n++] = (double)net / se->tpn / (double)a->iters;
	return 0;
}

static int arm_begin(struct arm *a, struct kernel_ctx *ctx, const struct measure_observer *obs,
		     const struct measure_config *mc, nb_error *err)
{
	memset(a, 0, sizeof(*a));
	a->ctx = ctx;
	a->obs = obs;
	a->slow = test_slowdown(ctx->desc->name);
	/* A lap first, untimed (kernel_ctx.lap_iters): calibration is to time
	 * what the samples will.  Under shadow paging the host may have dropped
	 * its shadow entries of a buffer the run has not touched for a while,
	 * and the first walk then refaults every page in the host (47 us an
	 * access was seen at 512 MiB), which calibrated one round to 61
	 * iterations a sample. */
	uint64_t ticks;
	if (ctx->lap_iters && ctx->desc->sample(ctx, ctx->lap_iters, &ticks, err))
		return -1;
	if (calibrate(ctx, mc, a->slow, &a->iters, err))
		return -1;
	a->s = malloc((mc->samples ? mc->samples : 1) * sizeof(*a->s));
	return a->s ? 0 : nb_fail(err, "out of memory");
}

static void arm_result(struct arm *a, struct measure_result *out)
{
	out->samples = a->s;
	out->n = a->n;
	out->iters_per_sample = a->iters;
	/* The observer ran across the retaken samples and the laps too. */
	out->total_ops = a->iters * a->taken + a->lap_ops;
	out->retaken = a->retaken;
	a->s = NULL;
}

/* One untimed sample (warm-up: caches, TLB and the branch predictor). */
static int warm_one(struct arm *a, nb_error *err)
{
	uint64_t ticks;
	return one_sample(a->ctx, a->iters, &ticks, err, a->slow);
}

int measure_kernel(struct kernel_ctx *ctx, const struct measure_config *mc, const struct measure_observer *obs,
		   struct measure_result *out, nb_error *err)
{
	struct arm a;
	int rc = arm_begin(&a, ctx, obs, mc, err);
	for (unsigned i = 0; i < mc->warmup_samples && rc == 0; i++)
		rc = warm_one(&a, err);
	if (rc) {
		free(a.s);
		return -1;
	}
	/* The counters run across the whole timed series, not around each
	 * sample: enabling and disabling them is a system call per event per
	 * sample, and in a guest each is a world switch whose cache and TLB
	 * footprint the next sample pays for, a cost that weighs more the
	 * shorter the samples (issue 12, item 1; ci/bench/sample-length.sh).
	 * Between samples only the loop's own arithmetic runs (and, with
	 * retake_preempted, one getrusage: the price of knowing). */
	struct series se = {mc, -1, tsc_overhead_ticks(), tsc_ticks_per_ns()};
	if (mc->retake_preempted)
		se.pre = series_preemptions(&se);
	if (obs)
		obs->start(obs->ctx);
	while (rc == 0 && a.n < mc->samples)
		rc = timed_sample(&se, &a, 0, err);
	if (obs)
		obs->stop(obs->ctx);
	if (rc) {
		free(a.s);
		return -1;
	}
	arm_result(&a, out);
	return 0;
}

int measure_interleaved(struct kernel_ctx *const ctx[2], const struct measure_config *mc,
			const struct measure_observer *const obs[2], struct measure_result out[2], nb_error *err)
{
	struct arm a[2];
	memset(a, 0, sizeof(a));
	int rc = arm_begin(&a[0], ctx[0], obs[0], mc, err);
	if (rc == 0)
		rc = arm_begin(&a[1], ctx[1], obs[1], mc, err);
	/* Warm-up and timed samples alternate A B, B A, A B, ...: a drift of the
	 * machine that is linear over a pair falls on both arms alike. */
	for (unsigned i = 0; i < mc->warmup_samples && rc == 0; i++)
		if ((rc = warm_one(&a[i % 2], err)) == 0)
			rc = warm_one(&a[1 - i % 2], err);
	struct series se = {mc, -1, tsc_overhead_ticks(), tsc_ticks_per_ns()};
	if (mc->retake_preempted)
		se.pre = series_preemptions(&se);
	for (unsigned pair = 0; rc == 0 && (a[0].n < mc->samples || a[1].n < mc->samples); pair++)
		for (unsigned j = 0; j < 2 && rc == 0; j++) {
			struct arm *x = &a[(pair + j) % 2];
			if (x->n < mc->samples)
				rc = timed_sample(&se, x, 1, err);
		}
	if (rc) {
		free(a[0].s);
		free(a[1].s);
		return -1;
	}
	arm_result(&a[0], &out[0]);
	arm_result(&a[1], &out[1]);
	return 0;
}
