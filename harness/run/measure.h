/* measure.h - the measuring loop shared by every kernel.
 *
 * After an untimed lap of the kernel's memory where it names one
 * (kernel_ctx.lap_iters), calibrate the iteration count so one sample
 * lasts about target_sample_ns (doubling, as kvm-unit-tests does, then
 * scaling once), run warm-up samples, then `samples` timed samples.  Each sample is converted to
 * nanoseconds per operation after subtracting the measured cost of the
 * fenced timer pair.  An observer (counters) is started before the first
 * timed sample and stopped after the last, never around calibration or
 * warm-up: no system call runs between two timed samples.
 *
 * measure_interleaved times two kernels sample by sample (a chase and its
 * translation-free control: their difference must not carry the drift of
 * the minutes between two series).  Each timed sample there is preceded
 * by an untimed lap of its own kernel (kernel_ctx.lap_iters), so that it
 * starts from its own caches and TLB rather than the other kernel's, and
 * each kernel's observer runs around its own lap and sample only, so its
 * counts stay its own, at the price of enabling and disabling the
 * counters between samples.
 */
#ifndef NESTBENCH_MEASURE_H
#define NESTBENCH_MEASURE_H

#include <stdint.h>

#include "core/kernel.h"
#include "core/util.h"

/* A TEST HOOK, not a feature: NESTBENCH_TEST_SLOWDOWN=KERNEL:PCT makes every
 * sample of the kernel named KERNEL (native measurements; "chase",
 * "mprotect", ...) spend PCT percent more time, by spinning on the TSC after
 * the kernel's own timed work and counting the spin in the sample.  The
 * tests set it to build a real, known slowdown of one kernel that compare
 * must catch (ci/bats/rounds.bats); runs never set it. */
#define MEASURE_TEST_SLOWDOWN_ENV "NESTBENCH_TEST_SLOWDOWN"

struct measure_config {
	unsigned samples;
	unsigned warmup_samples;
	double target_sample_ns;
	uint64_t max_iters; /* 0 = no cap */
	/* A timed sample during which the measuring thread was preempted (an
	 * involuntary context switch: on a shared machine another task ran for
	 * a time slice inside the sample) is taken again, at most `samples`
	 * times in all: it timed the scheduler, not the kernel.  Only for
	 * kernels that never switch by design (point.c decides). */
	int retake_preempted;
	/* The involuntary context switches so far of the thread that runs the
	 * samples (-1: unknown); NULL: the calling thread's.  A VM's chase runs
	 * on its vCPU thread, which counts its own (vm_reply.preempted). */
	long (*preemptions)(void *arg);
	void *preemptions_arg;
};

struct measure_observer {
	void *ctx;
	void (*start)(void *ctx);
	void (*stop)(void *ctx);
};

struct measure_result {
	double *samples;          /* ns per operation, `n` of them (caller frees) */
	unsigned n;
	uint64_t iters_per_sample;
	uint64_t total_ops;       /* operations done while the observer was running */
	unsigned retaken;         /* samples taken again after a preemption (retake_preempted) */
};

/* Cost per operation of the chase loop's own bookkeeping (counter and
 * branch, one per eight accesses) with no loads: recorded, not subtracted,
 * because on an out-of-order core it runs beside the dependent-load chain
 * rather than adding to it. */
double measure_loop_overhead_ns(void);

int measure_kernel(struct kernel_ctx *ctx, const struct measure_config *mc, const struct measure_observer *obs,
		   struct measure_result *out, nb_error *err);

/* Two kernels, each calibrated on its own, then their warm-up and timed
 * samples alternated A B, B A, A B, ... (a drift linear over a pair falls
 * on both alike), each timed sample after a lap of its own; a preempted
 * sample is taken again at its arm's next turn.  obs[i] may be NULL.  On
 * error neither result is filled. */
int measure_interleaved(struct kernel_ctx *const ctx[2], const struct measure_config *mc,
			const struct measure_observer *const obs[2], struct measure_result out[2], nb_error *err);

#endif
