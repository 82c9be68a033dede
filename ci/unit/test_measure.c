/* test_measure.c - the measuring loop (harness/run/measure.c): calibration,
 * the timed series, preempted samples taken again, and two kernels timed
 * sample by sample in turn, each after a lap of its own and with its
 * observer around its own samples only.  The kernels here are fakes that
 * log every call; no time is measured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernel.h"
#include "harness/run/measure.h"

/* The log of calls: 'A'/'B' a sample of that kernel (with its iterations),
 * '+'/'-' an observer started/stopped, its kernel after it. */
static char calls[4096];
static uint64_t call_iters[4096];
static size_t ncalls;

/* A fake preemption counter: the n-th sample (0-based, counted over both
 * kernels) in preempt_at is reported as preempted. */
static long preempted_so_far;
static size_t samples_seen;
static size_t preempt_at = (size_t)-1;

static void log_call(char c, uint64_t iters)
{
	if (ncalls < sizeof(calls) - 1) {
		call_iters[ncalls] = iters;
		calls[ncalls++] = c;
		calls[ncalls] = 0;
	}
}

/* ticks = iterations x the kernel's cost: calibration lands on a known count. */
static int fake_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	(void)err;
	char name = ctx->desc->name[0];
	log_call(name, iters);
	*ticks = iters * (uint64_t)(uintptr_t)ctx->priv;
	if (samples_seen++ == preempt_at)
		preempted_so_far++;
	return 0;
}

static const struct kernel_desc kern_a = {.name = "A", .sample = fake_sample};
static const struct kernel_desc kern_b = {.name = "B", .sample = fake_sample};

static void obs_start(void *p)
{
	log_call('+', 0);
	log_call(*(const char *)p, 0);
}

static void obs_stop(void *p)
{
	log_call('-', 0);
	log_call(*(const char *)p, 0);
}

static long fake_preemptions(void *arg)
{
	(void)arg;
	return preempted_so_far;
}

static int setup(void **state)
{
	(void)state;
	ncalls = 0;
	calls[0] = 0;
	preempted_so_far = 0;
	samples_seen = 0;
	preempt_at = (size_t)-1;
	return 0;
}

/* The calls after calibration and warm-up: from the first observer start. */
static const char *timed_part(void)
{
	const char *p = strchr(calls, '+');
	return p ? p : "";
}

static void series_runs_its_observer_once(void **state)
{
	(void)state;
	struct kernel_ctx a = {.desc = &kern_a, .priv = (void *)(uintptr_t)1000};
	char tag = 'A';
	struct measure_observer obs = {&tag, obs_start, obs_stop};
	struct measure_config mc = {.samples = 4, .warmup_samples = 2, .target_sample_ns = 1e6};
	struct measure_result r = {0};
	nb_error err = {{0}};
	assert_int_equal(measure_kernel(&a, &mc, &obs, &r, &err), 0);
	assert_int_equal(r.n, 4);
	/* One start before the timed samples, one stop after: nothing between. */
	assert_string_equal(timed_part(), "+AAAAA-A");
	assert_int_equal(r.total_ops, 4 * r.iters_per_sample);
	free(r.samples);
}

static void pair_alternates_with_laps_and_own_observers(void **state)
{
	(void)state;
	/* A costs 1000 ticks an iteration, B 3000: different iteration counts. */
	struct kernel_ctx a = {.desc = &kern_a, .priv = (void *)(uintptr_t)1000, .lap_iters = 3};
	struct kernel_ctx b = {.desc = &kern_b, .priv = (void *)(uintptr_t)3000, .lap_iters = 0};
	char ta = 'A', tb = 'B';
	struct measure_observer oa = {&ta, obs_start, obs_stop}, ob = {&tb, obs_start, obs_stop};
	struct kernel_ctx *const ctx[2] = {&a, &b};
	const struct measure_observer *const obs[2] = {&oa, &ob};
	struct measure_config mc = {.samples = 3, .warmup_samples = 1, .target_sample_ns = 1e6};
	struct measure_result r[2] = {{0}};
	nb_error err = {{0}};
	assert_int_equal(measure_interleaved(ctx, &mc, obs, r, &err), 0);
	assert_int_equal(r[0].n, 3);
	assert_int_equal(r[1].n, 3);
	/* A's lap comes first of all, before its calibration (B has none). */
	assert_int_equal(calls[0], 'A');
	assert_int_equal(call_iters[0], 3);
	assert_int_equal(call_iters[1], 1);
	/* A B, B A, A B; each timed sample after a lap of its own, inside its
	 * own observer's window. */
	assert_string_equal(timed_part(), "+AAA-A+BBB-B+BBB-B+AAA-A+AAA-A+BBB-B");
	/* Laps: A's is its lap_iters (3), B's (none given) a whole sample. */
	size_t first = (size_t)(timed_part() - calls);
	assert_int_equal(call_iters[first + 2], 3);
	assert_int_equal(call_iters[first + 3], r[0].iters_per_sample);
	assert_int_equal(call_iters[first + 8], r[1].iters_per_sample);
	assert_int_equal(call_iters[first + 9], r[1].iters_per_sample);
	assert_true(r[0].iters_per_sample > r[1].iters_per_sample);
	/* The observers counted their own laps too. */
	assert_int_equal(r[0].total_ops, 3 * r[0].iters_per_sample + 3 * 3);
	assert_int_equal(r[1].total_ops, 6 * r[1].iters_per_sample);
	free(r[0].samples);
	free(r[1].samples);
}

static void pair_retakes_a_preempted_sample_at_its_next_turn(void **state)
{
	(void)state;
	struct kernel_ctx a = {.desc = &kern_a, .priv = (void *)(uintptr_t)1000, .lap_iters = 1};
	struct kernel_ctx b = {.desc = &kern_b, .priv = (void *)(uintptr_t)1000, .lap_iters = 1};
	struct kernel_ctx *const ctx[2] = {&a, &b};
	const struct measure_observer *const obs[2] = {NULL, NULL};
	struct measure_config mc = {.samples = 2,
				    .warmup_samples = 0,
				    .target_sample_ns = 1e6,
				    .retake_preempted = 1,
				    .preemptions = fake_preemptions};
	/* Calibration takes a few samples of each; count them first. */
	struct measure_result r[2] = {{0}};
	nb_error err = {{0}};
	assert_int_equal(measure_interleaved(ctx, &mc, obs, r, &err), 0);
	/* Without retakes: a lap and a calibration of each, then A B, B A, each a
	 * lap and a sample. */
	assert_true(ncalls > 8);
	size_t calibration = ncalls - 8;
	free(r[0].samples);
	free(r[1].samples);
	setup(NULL);
	/* Preempt A's first timed sample (after its lap): it is taken again. */
	preempt_at = calibration + 1;
	assert_int_equal(measure_interleaved(ctx, &mc, obs, r, &err), 0);
	assert_int_equal(r[0].retaken, 1);
	assert_int_equal(r[1].retaken, 0);
	assert_int_equal(r[0].n, 2);
	assert_int_equal(r[1].n, 2);
	free(r[0].samples);
	free(r[1].samples);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(series_runs_its_observer_once, setup),
		cmocka_unit_test_setup(pair_alternates_with_laps_and_own_observers, setup),
		cmocka_unit_test_setup(pair_retakes_a_preempted_sample_at_its_next_turn, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
