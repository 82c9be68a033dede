/* Unit tests: summary statistics, sweep points and knee detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "harness/run/knees.h"
#include "core/stats.h"
#include "harness/run/sweep.h"

static void summary_of_known_data(void **state)
{
	(void)state;
	/* 1..11 shuffled: median 6, mean 6, sample stddev sqrt(11). */
	const double v[] = {7, 3, 11, 1, 9, 5, 2, 10, 6, 8, 4};
	struct summary s;
	assert_int_equal(summarize(v, 11, &s), 0);
	assert_float_equal(s.median, 6, 1e-12);
	assert_float_equal(s.min, 1, 1e-12);
	assert_float_equal(s.max, 11, 1e-12);
	assert_float_equal(s.mean, 6, 1e-12);
	assert_float_equal(s.stddev, sqrt(11.0), 1e-12);
	assert_float_equal(s.cv, sqrt(11.0) / 6, 1e-12);
	/* n = 11: ranks 2 and 10 give coverage 1 - 2*(1+11)/2048 = 0.98828. */
	assert_float_equal(s.ci95_low, 2, 1e-12);
	assert_float_equal(s.ci95_high, 10, 1e-12);
	assert_float_equal(s.ci_coverage, 1 - 24.0 / 2048, 1e-9);
}

static void even_count_median(void **state)
{
	(void)state;
	const double v[] = {4, 1, 3, 2};
	struct summary s;
	assert_int_equal(summarize(v, 4, &s), 0);
	assert_float_equal(s.median, 2.5, 1e-12);
	/* Four samples cannot reach 95%: the interval is [min, max]. */
	assert_float_equal(s.ci95_low, 1, 1e-12);
	assert_float_equal(s.ci95_high, 4, 1e-12);
	assert_true(s.ci_coverage < 0.95);
}

static void ci_coverage_is_largest_rank_at_95(void **state)
{
	(void)state;
	/* n = 31: rank 10 covers 0.9705, rank 11 only 0.9291. */
	assert_true(median_ci_coverage(31, 10) >= 0.95);
	assert_true(median_ci_coverage(31, 11) < 0.95);
	double v[31];
	for (int i = 0; i < 31; i++)
		v[i] = 100 - i;
	struct summary s;
	summarize(v, 31, &s);
	assert_float_equal(s.ci95_low, 79, 1e-12); /* the 10th smallest of 70..100 */
	assert_float_equal(s.ci95_high, 91, 1e-12);
}

static void rejects_empty_and_nonfinite(void **state)
{
	(void)state;
	struct summary s;
	const double bad[] = {1, NAN, 3};
	const double inf[] = {1, INFINITY};
	assert_int_equal(summarize(bad, 0, &s), -1);
	assert_int_equal(summarize(bad, 3, &s), -1);
	assert_int_equal(summarize(inf, 2, &s), -1);
}

/* The round is the replicate: median and interval from the round medians,
 * the coverage named as it is (n = 5: [min, max] covers 1 - 2/2^5 = 93.75%). */
static void round_level_interval(void **state)
{
	(void)state;
	const double med[] = {10.4, 10.0, 10.2, 11.0, 10.1};
	const double samples[] = {10.3, 10.5, 9.9, 10.1, 10.2, 10.2, 11.5, 10.5, 10.0, 10.2};
	struct summary s;
	assert_int_equal(summarize_rounds(med, 5, samples, 10, &s), 0);
	assert_float_equal(s.median, 10.2, 1e-12);
	assert_float_equal(s.ci95_low, 10.0, 1e-12);
	assert_float_equal(s.ci95_high, 11.0, 1e-12);
	assert_float_equal(s.ci_coverage, 0.9375, 1e-12);
	assert_string_equal(s.ci_method, CI_METHOD_ROUNDS);
	/* min, mean and the spread still describe the samples. */
	assert_float_equal(s.min, 9.9, 1e-12);
	assert_float_equal(s.max, 11.5, 1e-12);
	assert_int_equal(s.n, 10);
	/* n = 7: [min, max] covers 1 - 2/128; n = 9: ranks 2 and 8, 1 - 2 (1 + 9)/512. */
	const double m7[] = {7, 1, 6, 2, 5, 3, 4};
	assert_int_equal(summarize_rounds(m7, 7, samples, 10, &s), 0);
	assert_float_equal(s.median, 4, 1e-12);
	assert_float_equal(s.ci95_low, 1, 1e-12);
	assert_float_equal(s.ci95_high, 7, 1e-12);
	assert_float_equal(s.ci_coverage, 1 - 2.0 / 128, 1e-12);
	const double m9[] = {9, 1, 8, 2, 7, 3, 6, 4, 5};
	assert_int_equal(summarize_rounds(m9, 9, samples, 10, &s), 0);
	assert_float_equal(s.ci95_low, 2, 1e-12);
	assert_float_equal(s.ci95_high, 8, 1e-12);
	assert_float_equal(s.ci_coverage, 1 - 20.0 / 512, 1e-12);
	/* One round: the samples' interval, said so. */
	assert_int_equal(summarize_rounds(med, 1, samples, 10, &s), 0);
	assert_string_equal(s.ci_method, CI_METHOD_SAMPLES);
	assert_float_equal(s.median, 10.2, 1e-12);
	const double bad[] = {1, NAN};
	assert_int_equal(summarize_rounds(bad, 2, samples, 10, &s), -1);
	assert_int_equal(summarize_rounds(med, 5, samples, 0, &s), -1);
}

static void sweep_is_log_spaced_and_page_rounded(void **state)
{
	(void)state;
	size_t p[64];
	size_t n = sweep_points(16 << 10, 1 << 20, 1, p, 64);
	assert_int_equal(n, 7); /* 16K 32K ... 1M */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(p[i], (size_t)(16 << 10) << i);
	n = sweep_points(16 << 10, 1 << 20, 4, p, 64);
	assert_int_equal(n, 25);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(p[i] % 4096, 0);
		if (i)
			assert_true(p[i] > p[i - 1]);
	}
	assert_int_equal(p[n - 1], 1 << 20);
	/* A max off the octave grid is still included. */
	n = sweep_points(16 << 10, 100 << 10, 1, p, 64);
	assert_int_equal(p[n - 1], 100 << 10);
	assert_int_equal(sweep_points(1 << 20, 1 << 10, 1, p, 64), 0);
}

static void one_clear_step_is_one_knee(void **state)
{
	(void)state;
	struct curve_point c[8];
	for (int i = 0; i < 8; i++) {
		double y = i < 4 ? 1.0 : 5.0;
		c[i] = (struct curve_point){(size_t)4096 << i, (size_t)1 << i, y, y * 0.98, y * 1.02};
	}
	struct knee k[8];
	size_t n = find_knees(c, 8, 1.25, k, 8);
	assert_int_equal(n, 1);
	assert_int_equal(k[0].index, 4);
	assert_int_equal(k[0].working_set_bytes, 4096 << 4);
	assert_float_equal(k[0].before, 1.0, 1e-12);
	assert_float_equal(k[0].after, 5.0, 1e-12);
}

static void gradual_step_is_one_knee_and_noise_is_none(void **state)
{
	(void)state;
	/* Three rises of 1.1, 1.3, 1.1 in a row: one knee at the largest. */
	const double y[] = {1, 1, 1.1, 1.43, 1.573, 1.573, 1.573};
	struct curve_point c[7];
	for (int i = 0; i < 7; i++)
		c[i] = (struct curve_point){(size_t)4096 << i, 1, y[i], y[i] * 0.99, y[i] * 1.01};
	struct knee k[4];
	assert_int_equal(find_knees(c, 7, 1.25, k, 4), 1);
	assert_int_equal(k[0].index, 3);
	assert_float_equal(k[0].before, 1.0, 1e-12);
	assert_float_equal(k[0].after, 1.573, 1e-12);

	/* A big jump whose intervals overlap is noise, not a knee. */
	for (int i = 0; i < 7; i++)
		c[i] = (struct curve_point){(size_t)4096 << i, 1, i == 3 ? 2.0 : 1.0, 0.5, 3.0};
	assert_int_equal(find_knees(c, 7, 1.25, k, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(summary_of_known_data),
		cmocka_unit_test(even_count_median),
		cmocka_unit_test(ci_coverage_is_largest_rank_at_95),
		cmocka_unit_test(rejects_empty_and_nonfinite),
		cmocka_unit_test(round_level_interval),
		cmocka_unit_test(sweep_is_log_spaced_and_page_rounded),
		cmocka_unit_test(one_clear_step_is_one_knee),
		cmocka_unit_test(gradual_step_is_one_knee_and_noise_is_none),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
