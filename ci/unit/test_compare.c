/* test_compare.c - unit tests of the results reader, the bootstrap and matching. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/bootstrap.h"
#include "analysis/identity.h"
#include "analysis/match.h"
#include "analysis/resfile.h"

/* A minimal valid document with one measurement; %s is the measurements array body. */
static const char doc_fmt[] =
	"{\"schema_version\":1,\"tool\":{\"name\":\"nestbench\",\"version\":\"t\"},"
	"\"timestamp\":\"2026-01-01T00:00:00Z\","
	"\"host\":{\"cpu\":{\"vendor\":\"V\",\"family\":1,\"model\":2,\"name\":\"cpu\"},\"tsc\":{},"
	"\"hypervisor\":{\"present\":false},\"kernel\":{\"release\":\"r\"},\"kvm\":{\"mmu_virt_mode\":\"none\"},"
	"\"topology\":{}},"
	"\"config\":{\"suite\":null,\"kernels\":[],\"backings\":[],\"samples\":5,\"warmup_samples\":0,"
	"\"target_sample_ns\":1,\"command_line\":[]},"
	"\"timing\":{\"clock\":\"tsc\",\"tsc_ticks_per_ns\":1.0,\"timer_overhead_ticks\":0,\"loop_overhead_ns_per_access\":0},"
	"\"measurements\":[%s],\"derived\":{\"translation\":[],\"knees\":[]}}";

static const char meas_fmt[] =
	"{\"kernel\":\"chase\",\"family\":\"chase\",\"mode\":\"%s\",\"backing\":{\"requested\":\"4k\"},"
	"\"working_set_bytes\":%d,\"cpu\":0,\"metric\":\"ns_per_access\",\"params\":{%s},"
	"\"samples\":[%s],\"summary\":{\"median\":1,\"min\":1,\"mean\":1,\"stddev\":0,\"cv\":0,"
	"\"ci95_low\":1,\"ci95_high\":1},\"skipped\":null}";

static int parse(struct res_file *rf, const char *meas, nb_error *err)
{
	char *text;
	if (asprintf(&text, doc_fmt, meas) < 0)
		return -2;
	int rc = res_parse(rf, "t.json", text, strlen(text), err);
	free(text);
	return rc;
}

static char *one(const char *mode, int ws, const char *params, const char *samples)
{
	char *m;
	assert_true(asprintf(&m, meas_fmt, mode, ws, params, samples) > 0);
	return m;
}

static void test_reader_accepts_valid(void **state)
{
	(void)state;
	struct res_file rf;
	nb_error err;
	char *m = one("native", 4096, "\"stride_bytes\":64", "1,2,3");
	assert_int_equal(parse(&rf, m, &err), 0);
	assert_int_equal(rf.nmeas, 1);
	assert_int_equal(rf.meas[0].n, 3);
	assert_true(rf.meas[0].samples[2] == 3.0);
	assert_string_equal(rf.meas[0].label, "chase native 4k ws=4K stride_bytes=64");
	res_free(&rf);
	free(m);
}

static void test_reader_rejects(void **state)
{
	(void)state;
	static const struct {
		const char *mode, *params, *samples, *msg;
	} cases[] = {
		{"native", "", "1,-2", "measurements[0].samples[1]: expected a finite number >= 0"},
		{"native", "", "1,\"2\"", "measurements[0].samples[1]: expected a finite number >= 0"},
		{"native", "", "", "measurements[0].samples: empty, but the measurement is not skipped"},
		{"guest", "", "1", "measurements[0].mode: unknown value"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct res_file rf;
		nb_error err;
		char *m = one(cases[i].mode, 4096, cases[i].params, cases[i].samples);
		assert_int_equal(parse(&rf, m, &err), -1);
		assert_non_null(strstr(err.msg, cases[i].msg));
		assert_non_null(strstr(err.msg, "t.json: "));
		res_free(&rf);
		free(m);
	}
	struct res_file rf;
	nb_error err;
	assert_int_equal(res_parse(&rf, "x.json", "{\"schema_version\":1", 19, &err), -1);
	assert_non_null(strstr(err.msg, "x.json: not valid JSON"));
	res_free(&rf);
}

static void test_identity_ignores_seed_and_outcomes(void **state)
{
	(void)state;
	struct res_file a, b;
	nb_error err;
	char *ma = one("native", 4096, "\"stride_bytes\":64,\"seed\":1", "1,2,3");
	char *mb = one("native", 4096, "\"seed\":99,\"stride_bytes\":64", "5,6");
	char *mc = one("native", 4096, "\"stride_bytes\":128", "5,6");
	assert_int_equal(parse(&a, ma, &err), 0);
	assert_int_equal(parse(&b, mb, &err), 0);
	assert_string_equal(a.meas[0].key, b.meas[0].key);
	res_free(&b);
	assert_int_equal(parse(&b, mc, &err), 0);
	assert_string_not_equal(a.meas[0].key, b.meas[0].key);
	res_free(&a);
	res_free(&b);
	free(ma);
	free(mb);
	free(mc);
}

static void test_identity_no_forged_separator(void **state)
{
	(void)state;
	struct res_file a, b;
	nb_error err;
	/* a string parameter containing what a naive key would use as separators */
	char *ma = one("native", 4096, "\"x\":\"1|y=2\"", "1");
	char *mb = one("native", 4096, "\"x\":\"1\",\"y\":2", "1");
	assert_int_equal(parse(&a, ma, &err), 0);
	assert_int_equal(parse(&b, mb, &err), 0);
	assert_string_not_equal(a.meas[0].key, b.meas[0].key);
	res_free(&a);
	res_free(&b);
	free(ma);
	free(mb);
}

static void test_median_quantile(void **state)
{
	(void)state;
	double x[] = {5, 1, 3, 2, 4};
	assert_true(median_of(x, 5) == 3);
	assert_true(median_of(x, 4) == 2.5); /* 5 1 3 2 -> 1 2 3 5 */
	double s[] = {1, 2, 3, 4};
	assert_true(fabs(quantile_sorted(s, 4, 0.25) - 1.75) < 1e-12);
	assert_true(quantile_sorted(s, 4, 1.0) == 4);
}

/* Hand calculation: A = five 10s; B = four 20s and one 30.  A resampled
 * median of B is 30 only when at least 3 of 5 draws are the 30:
 * P = C(5,3).2^3.8^2 + C(5,4).2^4.8 + .2^5 = 0.05792 > 2.5%, so the 97.5th
 * percentile of the ratios is 3 and the 2.5th is 2; the point ratio is 2. */
static void test_bootstrap_hand_calculation(void **state)
{
	(void)state;
	double a[] = {10, 10, 10, 10, 10}, b[] = {20, 20, 20, 20, 30};
	struct ratio_ci ci;
	nb_error err;
	assert_int_equal(bootstrap_ratio(a, 5, b, 5, 20000, 1, &ci, &err), 0);
	assert_true(ci.ratio == 2.0);
	assert_true(ci.lo == 2.0);
	assert_true(ci.hi == 3.0);
	assert_true(ci.significant);
	/* With ten samples and one 30: P(median >= 25) = P(>= 5 of 10 draws) = 0.0016 < 2.5%. */
	double b10[] = {20, 20, 20, 20, 20, 20, 20, 20, 20, 30}, a10[10];
	for (int i = 0; i < 10; i++)
		a10[i] = 10;
	assert_int_equal(bootstrap_ratio(a10, 10, b10, 10, 20000, 1, &ci, &err), 0);
	assert_true(ci.lo == 2.0 && ci.hi == 2.0);
}

static void test_bootstrap_equal_and_reproducible(void **state)
{
	(void)state;
	double a[] = {9, 10, 11, 10, 9.5, 10.5, 10, 9.8, 10.2};
	struct ratio_ci c1, c2;
	nb_error err;
	assert_int_equal(bootstrap_ratio(a, 9, a, 9, 2000, 42, &c1, &err), 0);
	assert_true(c1.ratio == 1.0);
	assert_true(c1.lo < 1.0 && c1.hi > 1.0);
	assert_false(c1.significant);
	assert_int_equal(bootstrap_ratio(a, 9, a, 9, 2000, 42, &c2, &err), 0);
	assert_true(c1.lo == c2.lo && c1.hi == c2.hi);
	/* too few samples: no significance claimed even for a big difference */
	double x[] = {1, 1}, y[] = {5, 5};
	assert_int_equal(bootstrap_ratio(x, 2, y, 2, 200, 1, &c1, &err), 0);
	assert_false(c1.enough_samples);
	assert_false(c1.significant);
	/* zero baseline: no ratio */
	double z[] = {0, 0, 0};
	assert_int_equal(bootstrap_ratio(z, 3, y, 2, 200, 1, &c1, &err), -1);
}

/* The resampled medians are drawn from their exact distribution, not by
 * resampling: against a brute-force bootstrap (draw n, sort, take the
 * median) of the same data, the interval ends agree to within one step of
 * the data, for odd and even n; and a million samples cost no more than ten. */
static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void brute_interval(const double *b, size_t n, unsigned iters, double *lo, double *hi)
{
	struct rng r;
	rng_seed(&r, 7);
	double *med = malloc(iters * sizeof(*med)), *s = malloc(n * sizeof(*s));
	assert_non_null(med);
	assert_non_null(s);
	for (unsigned i = 0; i < iters; i++) {
		for (size_t k = 0; k < n; k++)
			s[k] = b[rng_below(&r, n)];
		qsort(s, n, sizeof(*s), cmp_dbl);
		med[i] = quantile_sorted(s, n, 0.5);
	}
	qsort(med, iters, sizeof(*med), cmp_dbl);
	*lo = quantile_sorted(med, iters, 0.025);
	*hi = quantile_sorted(med, iters, 0.975);
	free(med);
	free(s);
}

static void test_bootstrap_matches_brute_force(void **state)
{
	(void)state;
	double b[] = {3, 9, 1, 12, 7, 5, 10, 2, 8, 4, 11, 6, 13, 14, 15};
	double ones[15];
	for (int i = 0; i < 15; i++)
		ones[i] = 1;
	for (size_t n = 7; n <= 15; n++) {
		struct ratio_ci ci;
		nb_error err;
		double lo, hi;
		assert_int_equal(bootstrap_ratio(ones, 15, b, n, 20000, 3, &ci, &err), 0);
		brute_interval(b, n, 20000, &lo, &hi);
		if (fabs(ci.lo - lo) > 1.0 || fabs(ci.hi - hi) > 1.0)
			fail_msg("n=%zu: [%g, %g] vs brute force [%g, %g]", n, ci.lo, ci.hi, lo, hi);
	}
	size_t big = 1000000;
	double *x = malloc(big * sizeof(*x));
	assert_non_null(x);
	struct rng r;
	rng_seed(&r, 1);
	for (size_t i = 0; i < big; i++)
		x[i] = 10.0 + (double)rng_below(&r, 1000) / 1000.0;
	struct ratio_ci ci;
	nb_error err;
	assert_int_equal(bootstrap_ratio(x, big, x, big, 2000, 1, &ci, &err), 0);
	assert_true(ci.ratio == 1.0);
	assert_true(ci.lo <= 1.0 && ci.hi >= 1.0 && ci.hi - ci.lo < 0.01);
	free(x);
}

static void test_rng_below_range(void **state)
{
	(void)state;
	struct rng r;
	rng_seed(&r, 5);
	int seen[7] = {0};
	for (int i = 0; i < 7000; i++) {
		uint64_t v = rng_below(&r, 7);
		assert_true(v < 7);
		seen[v]++;
	}
	for (int i = 0; i < 7; i++)
		assert_true(seen[i] > 0);
}

/* Mann-Whitney against hand counts of the null distribution of U. */
static void test_mann_whitney_hand_calculation(void **state)
{
	(void)state;
	/* Five a side, fully separated: P(U = 25) = 1/C(10,5) = 1/252, two-sided 2/252. */
	const double a5[] = {1, 2, 3, 4, 5}, b5[] = {6, 7, 8, 9, 10};
	assert_float_equal(mw_p_two_sided(a5, 5, b5, 5), 2.0 / 252, 1e-12);
	assert_float_equal(mw_p_two_sided(b5, 5, a5, 5), 2.0 / 252, 1e-12);
	/* m = n = 3: counts of U = 0..9 are 1 1 2 3 3 3 3 2 1 1 (of 20); {1,3,5}
	 * vs {2,4,6} has U = 6: P(U >= 6) = 7/20, two-sided 0.7. */
	const double a3[] = {1, 3, 5}, b3[] = {2, 4, 6};
	assert_float_equal(mw_p_two_sided(a3, 3, b3, 3), 0.7, 1e-12);
	/* A tie counts 1/2: {1,2} vs {2,3} has U = 3.5; counts of U = 0..4 are
	 * 1 1 2 1 1 (of 6): P(U >= 4) = 1/6, two-sided 1/3. */
	const double at[] = {1, 2}, bt[] = {2, 3};
	assert_float_equal(mw_p_two_sided(at, 2, bt, 2), 1.0 / 3, 1e-12);
	/* Identical sets: p = 1; an empty side: 1. */
	assert_float_equal(mw_p_two_sided(a5, 5, a5, 5), 1.0, 1e-12);
	assert_float_equal(mw_p_two_sided(a5, 0, b5, 5), 1.0, 1e-12);
	/* Beyond the exact range: the normal approximation, still tiny when separated. */
	double big_a[100], big_b[100];
	for (int i = 0; i < 100; i++) {
		big_a[i] = i;
		big_b[i] = 1000 + i;
	}
	assert_true(mw_p_two_sided(big_a, 100, big_b, 100) < 1e-20);
	assert_true(mw_p_two_sided(big_a, 100, big_a, 100) > 0.9);
}

/* Benjamini-Hochberg against hand calculations. */
static void test_benjamini_hochberg_hand_calculation(void **state)
{
	(void)state;
	/* Sorted 0.005 0.01 0.03 0.04, times 4/k: 0.02 0.02 0.04 0.04 (already monotone). */
	const double p[] = {0.01, 0.04, 0.03, 0.005};
	double q[4];
	assert_int_equal(bh_adjust(p, 4, q), 0);
	assert_float_equal(q[0], 0.02, 1e-12);
	assert_float_equal(q[1], 0.04, 1e-12);
	assert_float_equal(q[2], 0.04, 1e-12);
	assert_float_equal(q[3], 0.02, 1e-12);
	/* Step-up: 0.02 * 2/1 = 0.04, but 0.021 * 2/2 = 0.021 below it wins. */
	const double p2[] = {0.02, 0.021};
	double q2[2];
	assert_int_equal(bh_adjust(p2, 2, q2), 0);
	assert_float_equal(q2[0], 0.021, 1e-12);
	assert_float_equal(q2[1], 0.021, 1e-12);
	/* Capped at 1. */
	const double p3[] = {0.9, 0.8, 0.7};
	double q3[3];
	assert_int_equal(bh_adjust(p3, 3, q3), 0);
	for (int i = 0; i < 3; i++)
		assert_true(q3[i] <= 1.0 && q3[i] >= p3[i]);
	assert_float_equal(q3[0], 0.9, 1e-12);
}

/* Replicates are rounds: a measurement whose samples differ a lot but whose
 * round medians agree is not significant, and one row alone among many
 * noisy ones needs the correction's bar. */
static void test_rounds_are_the_replicates(void **state)
{
	(void)state;
	struct res_file f[2];
	nb_error err;
	static const char with_rounds[] =
		"{\"kernel\":\"chase\",\"family\":\"chase\",\"mode\":\"native\",\"backing\":{\"requested\":\"4k\"},"
		"\"working_set_bytes\":4096,\"cpu\":0,\"metric\":\"ns_per_access\",\"params\":{},"
		"\"samples\":[%s],\"summary\":{\"median\":1,\"min\":1,\"mean\":1,\"stddev\":0,\"cv\":0,"
		"\"ci95_low\":1,\"ci95_high\":1},\"rounds\":{\"n\":5,\"medians\":[%s]},\"skipped\":null}";
	char *ma, *mb;
	/* Samples fully separated (10 vs 12), round medians interleaved. */
	assert_true(asprintf(&ma, with_rounds, "10,10,10,10,10", "10,11,12,13,14") > 0);
	assert_true(asprintf(&mb, with_rounds, "12,12,12,12,12", "10.5,11.5,12.5,13.5,14.5") > 0);
	assert_int_equal(parse(&f[0], ma, &err), 0);
	assert_int_equal(parse(&f[1], mb, &err), 0);
	assert_int_equal(f[0].meas[0].nrounds, 5);
	struct comparison c;
	assert_int_equal(compare_files(f, 2, 5, 500, 1, &c, &err), 0);
	assert_int_equal(c.nrows, 1);
	assert_true(c.rows[0].rounds);
	assert_int_equal(c.rows[0].na, 5);
	/* U = 15 of 25: far from significant; ratio of the round medians 12.5/12. */
	assert_false(c.rows[0].ci.significant);
	assert_float_equal(c.rows[0].ci.ratio, 12.5 / 12, 1e-12);
	assert_int_equal(c.regressions, 0);
	comparison_free(&c);
	res_free(&f[0]);
	res_free(&f[1]);
	free(ma);
	free(mb);
	/* Three rounds a side: a gate refuses (-2) with the reason; no gate compares. */
	assert_true(asprintf(&ma, with_rounds, "10,10,10", "10,10,10") > 0);
	assert_true(asprintf(&mb, with_rounds, "20,20,20", "20,20,20") > 0);
	assert_int_equal(parse(&f[0], ma, &err), 0);
	assert_int_equal(parse(&f[1], mb, &err), 0);
	assert_int_equal(compare_files(f, 2, 5, 500, 1, &c, &err), -2);
	assert_non_null(strstr(err.msg, "refusing to gate"));
	assert_int_equal(compare_files(f, 2, -1, 500, 1, &c, &err), 0);
	assert_false(c.rows[0].ci.significant);
	comparison_free(&c);
	res_free(&f[0]);
	res_free(&f[1]);
	free(ma);
	free(mb);
}

static void test_matching_and_gate(void **state)
{
	(void)state;
	struct res_file f[2];
	nb_error err;
	char *ma, *mb, *a1 = one("native", 4096, "", "10,10,10,10,10,10"),
		      *a2 = one("native", 8192, "", "10,10,10,10,10,10"),
		      *b1 = one("native", 4096, "", "12,12,12,12,12,12"), *b3 = one("vm", 4096, "", "1");
	assert_true(asprintf(&ma, "%s,%s", a1, a2) > 0);
	assert_true(asprintf(&mb, "%s,%s", b1, b3) > 0);
	assert_int_equal(parse(&f[0], ma, &err), 0);
	assert_int_equal(parse(&f[1], mb, &err), 0);
	struct comparison c;
	assert_int_equal(compare_files(f, 2, 10, 500, 1, &c, &err), 0);
	assert_int_equal(c.nrows, 1);
	assert_true(c.rows[0].ci.ratio == 1.2);
	assert_true(c.rows[0].regression);
	assert_int_equal(c.regressions, 1);
	assert_int_equal(c.nun, 2); /* ws=8K only in A, vm only in B */
	comparison_free(&c);
	assert_int_equal(compare_files(f, 2, 25, 500, 1, &c, &err), 0);
	assert_int_equal(c.regressions, 0);
	comparison_free(&c);
	assert_true(metric_lower_is_better("ns_per_fault"));
	assert_false(metric_lower_is_better("ops_per_s"));
	res_free(&f[0]);
	res_free(&f[1]);
	free(ma);
	free(mb);
	free(a1);
	free(a2);
	free(b1);
	free(b3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_accepts_valid),
		cmocka_unit_test(test_reader_rejects),
		cmocka_unit_test(test_identity_ignores_seed_and_outcomes),
		cmocka_unit_test(test_identity_no_forged_separator),
		cmocka_unit_test(test_median_quantile),
		cmocka_unit_test(test_bootstrap_hand_calculation),
		cmocka_unit_test(test_bootstrap_equal_and_reproducible),
		cmocka_unit_test(test_bootstrap_matches_brute_force),
		cmocka_unit_test(test_rng_below_range),
		cmocka_unit_test(test_matching_and_gate),
		cmocka_unit_test(test_mann_whitney_hand_calculation),
		cmocka_unit_test(test_benjamini_hochberg_hand_calculation),
		cmocka_unit_test(test_rounds_are_the_replicates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
