/* The rounds (harness/run/rounds.c): every point once per round in an order
 * the seed reproduces; samples split, not multiplied; and the holder that
 * merges a point's rounds into one measurement whose median and interval
 * come from the round medians. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "core/stats.h"
#include "harness/run/rounds.h"

static void every_point_once_per_round(void **state)
{
	(void)state;
	enum { N = 97 };
	size_t order[N];
	for (unsigned r = 0; r < 20; r++) {
		rounds_order(42, r, order, N);
		int seen[N] = {0};
		for (size_t i = 0; i < N; i++) {
			assert_true(order[i] < N);
			seen[order[i]]++;
		}
		for (size_t i = 0; i < N; i++)
			assert_int_equal(seen[i], 1);
	}
	/* Degenerate sizes. */
	rounds_order(1, 0, order, 1);
	assert_int_equal(order[0], 0);
	rounds_order(1, 0, order, 0);
}

static void order_is_reproducible_and_differs_by_round_and_seed(void **state)
{
	(void)state;
	enum { N = 64 };
	size_t a[N], b[N], c[N], d[N];
	rounds_order(7, 3, a, N);
	rounds_order(7, 3, b, N);
	assert_memory_equal(a, b, sizeof(a));
	rounds_order(7, 4, c, N);
	rounds_order(8, 3, d, N);
	/* 64! orders: the chance that two seeded draws agree is nil. */
	assert_true(memcmp(a, c, sizeof(a)) != 0);
	assert_true(memcmp(a, d, sizeof(a)) != 0);
	/* Not the identity either: the points do not ascend. */
	size_t ascending = 0;
	for (size_t i = 0; i < N; i++)
		ascending += a[i] == i;
	assert_true(ascending < N / 2);
}

/* Each round's order is drawn afresh, not the last one shifted: a point
 * visited right after another in one round is, in the next, anywhere.  (A
 * stream seeded at base + round x splitmix64's increment is the previous
 * round's stream one step on, and Fisher-Yates then gives nearly the same
 * order rotated by one: each point one position later every round.) */
static void consecutive_rounds_are_unrelated(void **state)
{
	(void)state;
	enum { N = 200 };
	size_t a[N], b[N], pa[N], pb[N];
	for (unsigned r = 0; r < 4; r++) {
		rounds_order(42, r, a, N);
		rounds_order(42, r + 1, b, N);
		for (size_t i = 0; i < N; i++) {
			pa[a[i]] = i;
			pb[b[i]] = i;
		}
		/* Random permutations: about one point at the next position, and
		 * about one pair of neighbours that stays neighbours. */
		size_t shifted = 0, kept_neighbours = 0;
		for (size_t u = 0; u < N; u++)
			shifted += pb[u] == pa[u] + 1;
		for (size_t i = 0; i + 1 < N; i++)
			kept_neighbours += pb[a[i + 1]] == pb[a[i]] + 1;
		assert_true(shifted < 10);
		assert_true(kept_neighbours < 10);
	}
}

static void chain_seed_and_split(void **state)
{
	(void)state;
	/* Round 0 keeps the run's seed; the others differ from it and each other. */
	assert_int_equal(rounds_chain_seed(1, 0), 1);
	assert_true(rounds_chain_seed(1, 1) != 1);
	assert_true(rounds_chain_seed(1, 1) != rounds_chain_seed(1, 2));
	assert_true(rounds_chain_seed(1, 1) == rounds_chain_seed(1, 1));
	/* Samples are split across the rounds, at least one each. */
	assert_int_equal(rounds_samples_per_round(7, 7), 1);
	assert_int_equal(rounds_samples_per_round(10, 5), 2);
	assert_int_equal(rounds_samples_per_round(11, 5), 3);
	assert_int_equal(rounds_samples_per_round(3, 5), 1);
	assert_int_equal(rounds_samples_per_round(11, 1), 11);
	assert_int_equal(rounds_warmup_per_round(2, 5), 1);
	assert_int_equal(rounds_warmup_per_round(0, 5), 0);
	assert_int_equal(rounds_warmup_per_round(3, 1), 3);
	assert_float_equal(rounds_half_width_pct(10, 9.8, 10.2), 2.0, 1e-12);
	assert_true(isinf(rounds_half_width_pct(0, 0, 1)));
}

static json_t *backing(void)
{
	return json_pack("{s:s, s:i}", "requested", "4k", "requested_page_bytes", 4096);
}

/* One round's measurement of point `ws` with samples s[0..n). */
static void write_round(struct run_records *recs, size_t ws, const double *s, size_t n, const char *flag)
{
	struct measurement m = {.kernel = "chase", .family = "chase", .metric = "ns_per_access", .mode = "native",
				.backing = backing(), .working_set_bytes = ws, .cpu = 0,
				.params = json_pack("{s:i}", "stride_bytes", 4096), .iterations_per_sample = 100,
				.samples = s, .nsamples = n};
	assert_int_equal(summarize(s, n, &m.summary), 0);
	m.flags = json_array();
	if (flag)
		json_array_append_new(m.flags, json_string(flag));
	assert_int_equal(records_write(recs, &m), 0);
}

static void write_skip(struct run_records *recs, size_t ws, const char *why)
{
	struct measurement m;
	record_skipped(&m, "chase", "chase", "ns_per_access", "native", backing(), ws, 0, why);
	m.params = json_pack("{s:i}", "stride_bytes", 4096); /* the same identity as its measured rounds */
	assert_int_equal(records_write(recs, &m), 0);
}

static void holder_merges_rounds(void **state)
{
	(void)state;
	json_t *arr = json_array();
	struct run_records recs = {.measurements = arr};
	struct rounds_hold *h = rounds_hold_new(&recs, 2.0);
	assert_non_null(h);
	const double round_vals[5][2] = {{10, 10.2}, {11, 11.2}, {9, 9.2}, {10.5, 10.7}, {10.1, 10.3}};
	for (unsigned r = 0; r < 5; r++) {
		rounds_hold_round(h, r, 100 + r);
		/* Points visited in a different order each round. */
		for (size_t k = 0; k < 3; k++) {
			size_t unit = (k + r) % 3;
			rounds_hold_unit(h, unit, k);
			if (unit == 0)
				write_round(&recs, 4096, round_vals[r], 2, r == 2 ? "1 cpu migrations while pinned" : "noisy: cv 9%");
			else if (unit == 1)
				write_round(&recs, 8192, (const double[]){5, 5}, 2, NULL);
			else if (r == 3)
				write_skip(&recs, 16384, "the guest stopped");
			else
				write_round(&recs, 16384, (const double[]){7, 7}, 2, NULL);
		}
	}
	/* Nothing is written while held. */
	assert_int_equal(json_array_size(arr), 0);
	assert_int_equal(recs.n, 0);
	/* Unit 0 spans 9.1 .. 11.1 around 10.3: far from 2%; unit 1 is exact. */
	assert_true(rounds_hold_unit_imprecise(h, 0));
	assert_false(rounds_hold_unit_imprecise(h, 1));
	json_t *missed;
	size_t measured;
	assert_int_equal(rounds_hold_finish(h, &missed, &measured), 0);
	rounds_hold_free(h);
	assert_int_equal(measured, 2);
	assert_int_equal(json_array_size(missed), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(missed, 0), "label")),
			    "chase native 4k 4K");
	json_decref(missed);
	/* Written in unit order, one per point. */
	assert_int_equal(json_array_size(arr), 3);
	assert_int_equal(recs.n, 3);
	json_t *m0 = json_array_get(arr, 0);
	assert_int_equal(json_integer_value(json_object_get(m0, "working_set_bytes")), 4096);
	assert_int_equal(json_array_size(json_object_get(m0, "samples")), 10);
	json_t *rd = json_object_get(m0, "rounds");
	assert_int_equal(json_integer_value(json_object_get(rd, "n")), 5);
	/* Round medians 10.1 11.1 9.1 10.6 10.2: median 10.2, [9.1, 11.1] at 93.75%. */
	json_t *sum = json_object_get(m0, "summary");
	assert_float_equal(json_real_value(json_object_get(sum, "median")), 10.2, 1e-9);
	assert_float_equal(json_real_value(json_object_get(sum, "ci95_low")), 9.1, 1e-9);
	assert_float_equal(json_real_value(json_object_get(sum, "ci95_high")), 11.1, 1e-9);
	assert_float_equal(json_real_value(json_object_get(sum, "ci_coverage")), 0.9375, 1e-9);
	assert_string_equal(json_string_value(json_object_get(sum, "ci_method")), CI_METHOD_ROUNDS);
	assert_float_equal(json_real_value(json_array_get(json_object_get(rd, "medians"), 1)), 11.1, 1e-9);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(rd, "seeds"), 4)), 104);
	/* Round r visited unit 0 at position (3 - r) % 3. */
	for (unsigned r = 0; r < 5; r++)
		assert_int_equal(json_integer_value(json_array_get(json_object_get(rd, "positions"), r)), (3 - r % 3) % 3);
	assert_false(json_is_true(json_object_get(rd, "precision_met")));
	/* Flags: a round's own noisy verdict is dropped, a check that failed in
	 * one round is kept once. */
	json_t *flags = json_object_get(m0, "flags");
	int migrations = 0;
	size_t i;
	json_t *f;
	json_array_foreach(flags, i, f) {
		migrations += !strcmp(json_string_value(f), "1 cpu migrations while pinned");
		assert_true(strcmp(json_string_value(f), "noisy: cv 9%"));
	}
	assert_int_equal(migrations, 1);
	/* Unit 1: exact, precision met. */
	json_t *m1 = json_array_get(arr, 1);
	assert_true(json_is_true(json_object_get(json_object_get(m1, "rounds"), "precision_met")));
	/* Unit 2 failed in round 3: written as that skip, no samples. */
	json_t *m2 = json_array_get(arr, 2);
	assert_string_equal(json_string_value(json_object_get(m2, "skipped")), "the guest stopped");
	assert_int_equal(json_array_size(json_object_get(m2, "samples")), 0);
	assert_true(json_is_null(json_object_get(m2, "summary")));
	assert_null(json_object_get(m2, "rounds"));
	/* The holder is gone: records_write writes directly again. */
	assert_null(recs.hold);
	write_round(&recs, 32768, (const double[]){1, 1}, 2, NULL);
	assert_int_equal(json_array_size(arr), 4);
	records_free(&recs);
	json_decref(arr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_point_once_per_round),
		cmocka_unit_test(order_is_reproducible_and_differs_by_round_and_seed),
		cmocka_unit_test(consecutive_rounds_are_unrelated),
		cmocka_unit_test(chain_seed_and_split),
		cmocka_unit_test(holder_merges_rounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
