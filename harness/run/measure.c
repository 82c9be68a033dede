/* measure.c - calibration, warm-up and timed samples (see measure.h). */
#include "harness/run/measure.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/tsc.h"

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

/* Involuntary context switches of the calling thread so far (-1: unknown). */
static long preemptions(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_THREAD, &ru) ? -1 : ru.ru_nivcsw;
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

int measure_kernel(struct kernel_ctx *ctx, const struct measure_config *mc, const struct measure_observer *obs,
		   struct measure_result *out, nb_error *err)
{
	const double tpn = tsc_ticks_per_ns();
	const uint64_t overhead = tsc_overhead_ticks();
	const double target_ticks = mc->target_sample_ns * tpn;
	uint64_t iters = 1, ticks = 0;
	const double slow = test_slowdown(ctx->desc->name);

	/* Double until a sample takes at least 1/8 of the target, then scale
	 * straight to the target: few calibration runs even for slow kernels. */
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

	for (unsigned i = 0; i < mc->warmup_samples; i++)
		if (one_sample(ctx, iters, &ticks, err, slow))
			return -1;

	double *s = malloc(mc->samples * sizeof(*s));
	if (!s)
		return nb_fail(err, "out of memory");
	/* The counters run across the whole timed series, not around each
	 * sample: enabling and disabling them is a system call per event per
	 * sample, and in a guest each is a world switch whose cache and TLB
	 * footprint the next sample pays for, a cost that weighs more the
	 * shorter the samples (issue 12, item 1; ci/bench/sample-length.sh).
	 * Between samples only the loop's own arithmetic runs. */
	/* (With retake_preempted, one getrusage after each sample: the one
	 * system call between samples, the price of knowing.) */
	unsigned retaken = 0, taken = 0;
	long pre = mc->retake_preempted ? preemptions() : -1;
	if (obs)
		obs->start(obs->ctx);
	for (unsigned i = 0; i < mc->samples;) {
		int rc = one_sample(ctx, iters, &ticks, err, slow);
		taken++;
		if (rc) {
			if (obs)
				obs->stop(obs->ctx);
			free(s);
			return -1;
		}
		if (pre >= 0) {
			long now = preemptions();
			int preempted = now != pre;
			pre = now;
			if (preempted && retaken < 2 * mc->samples + 3) {
				retaken++;
				continue;
			}
		}
		uint64_t net = ticks > overhead ? ticks - overhead : 0;
		s[i++] = (double)net / tpn / (double)iters;
	}
	if (obs)
		obs->stop(obs->ctx);
	out->samples = s;
	out->n = mc->samples;
	out->iters_per_sample = iters;
	out->total_ops = iters * taken; /* the observer ran across the retaken samples too */
	out->retaken = retaken;
	return 0;
}
