/* The run's plan (harness/run/plan.c): which cells a non-sweeping kernel is
 * measured at, in which order, and how many measurements a backing makes
 * (the progress total, which must match what point_measure is called for). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "harness/run/plan.h"
#include "harness/run/rounds.h"

static const char *const two_variants[] = {"a", "b", NULL};

static size_t double_it(size_t ws, const struct kernel_options *opt)
{
	(void)opt;
	return 2 * ws;
}

static const struct kernel_desc sweeper = {
	.name = "sweeper", .flags = KERNEL_SWEEPS_WS | KERNEL_NEEDS_BUFFER, .buffer_bytes = double_it};
static const struct kernel_desc fixed = {
	.name = "fixed",
	.flags = KERNEL_USES_THREADS | KERNEL_USES_PLACEMENT | KERNEL_HAS_GUEST,
	.default_sizes = {2, {0, 4096}},
	.variants = two_variants,
};

static void config(struct run_config *cfg, unsigned modes)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kernels[0] = &sweeper;
	cfg->kernels[1] = &fixed;
	cfg->nkernels = 2;
	cfg->modes = modes;
	cfg->threads[0] = 1;
	cfg->threads[1] = 2;
	cfg->nthreads = 2; /* given: the PU count is never asked */
	cfg->guest_pages[0] = 4096;
	cfg->guest_pages[1] = 2u << 20;
	cfg->nguest_pages = 2;
}

struct seen {
	size_t n;
	size_t ws[64];
	struct kernel_options opt[64];
};

static int record_cell(void *arg, size_t ws, const struct kernel_options *opt)
{
	struct seen *s = arg;
	assert_true(s->n < 64);
	s->ws[s->n] = ws;
	s->opt[s->n++] = *opt;
	return 0;
}

static int stop_at_third(void *arg, size_t ws, const struct kernel_options *opt)
{
	(void)ws;
	(void)opt;
	return ++*(int *)arg == 3 ? 7 : 0;
}

static void buffer_need_is_largest_over_points(void **state)
{
	(void)state;
	struct run_config cfg;
	config(&cfg, RUN_MODE_NATIVE);
	const size_t points[] = {4096, 65536, 8192};
	assert_int_equal(plan_buffer_need(&cfg, points, 3), 2 * 65536);
	cfg.kernels[0] = &fixed; /* no kernel needs the buffer */
	assert_int_equal(plan_buffer_need(&cfg, points, 3), 0);
}

static void cells_native_then_guest_pages(void **state)
{
	(void)state;
	struct run_config cfg;
	config(&cfg, RUN_MODE_NATIVE | RUN_MODE_VM);
	struct seen s = {0};
	assert_int_equal(plan_fixed_cells(&cfg, &fixed, record_cell, &s), 0);
	/* sizes 2 x threads 2 x placements 2 x variants 2 x modes 3 */
	assert_int_equal(s.n, 48);
	assert_int_equal(plan_mode_count(&cfg, &fixed), 3);
	assert_int_equal(s.ws[0], 0);
	assert_int_equal(s.opt[0].in_vm, 0);
	assert_int_equal(s.opt[1].in_vm, 1);
	assert_int_equal(s.opt[1].guest_page_bytes, 4096);
	assert_int_equal(s.opt[2].guest_page_bytes, 2u << 20);
	assert_string_equal(s.opt[0].variant, "a");
	assert_string_equal(s.opt[3].variant, "b");
	assert_int_equal(s.opt[6].placement, KERNEL_CROSS_PU);
	assert_int_equal(s.opt[12].threads, 2);
	assert_int_equal(s.ws[24], 4096);
	/* The progress total counts the same cells, plus the sweeper's points. */
	assert_int_equal(plan_per_backing_total(&cfg, 5), 5 + 48);
}

static void vm_only_skips_native_cells(void **state)
{
	(void)state;
	struct run_config cfg;
	config(&cfg, RUN_MODE_VM);
	struct seen s = {0};
	assert_int_equal(plan_fixed_cells(&cfg, &fixed, record_cell, &s), 0);
	assert_int_equal(s.n, 32);
	for (size_t i = 0; i < s.n; i++)
		assert_int_equal(s.opt[i].in_vm, 1);
	/* The sweeper is measured natively only (its VM side counts itself). */
	assert_int_equal(plan_per_backing_total(&cfg, 5), 32);
}

static void callback_stops_the_walk(void **state)
{
	(void)state;
	struct run_config cfg;
	config(&cfg, RUN_MODE_NATIVE);
	int calls = 0;
	assert_int_equal(plan_fixed_cells(&cfg, &fixed, stop_at_third, &calls), -1);
	assert_int_equal(calls, 3);
}

/* Over R base rounds the sweeping kernels are measured every round, the
 * cells in the first min(R, ROUNDS_CELLS): the progress total says so. */
static void round_total_counts_cells_fewer_rounds(void **state)
{
	(void)state;
	struct run_config cfg;
	config(&cfg, RUN_MODE_NATIVE);
	size_t one = plan_per_backing_total(&cfg, 3);
	size_t sweep = 3; /* the sweeper natively at each of 3 points */
	assert_int_equal(plan_round_total(&cfg, 3, 1), one);
	assert_int_equal(plan_round_total(&cfg, 3, 3), 3 * one);
	assert_int_equal(plan_round_total(&cfg, 3, 9), 9 * sweep + ROUNDS_CELLS * (one - sweep));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_total_counts_cells_fewer_rounds),
		cmocka_unit_test(buffer_need_is_largest_over_points),
		cmocka_unit_test(cells_native_then_guest_pages),
		cmocka_unit_test(vm_only_skips_native_cells),
		cmocka_unit_test(callback_stops_the_walk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
