/* test_pmu_derived.c - derived walk metrics on recorded fixture counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "harness/pmu/pmu_derived.h"

static double value(json_t *d, const char *name)
{
	json_t *m = json_object_get(d, name);
	assert_non_null(m);
	assert_true(json_is_array(json_object_get(m, "inputs")));
	assert_true(json_array_size(json_object_get(m, "inputs")) > 0);
	assert_non_null(json_string_value(json_object_get(m, "formula")));
	return json_real_value(json_object_get(m, "value"));
}

/* A Skylake-SP run: 1e6 accesses. */
static const struct pmu_count skx_fixture[] = {
	{"cycles", 200e6},
	{"instructions", 50e6},
	{"dtlb_load.walk_active", 40e6},
	{"dtlb_load.walk_pending", 60e6},
	{"dtlb_load.walks", 900e3},
	{"dtlb_load.walks_4k", 800e3},
	{"dtlb_load.walks_2m", 90e3},
	{"dtlb_load.walks_1g", 10e3},
	{"dtlb_store.walk_pending", 4e6},
	{"dtlb_store.walks", 100e3},
	{"dtlb_store.walks_4k", 100e3},
	{"dtlb_store.walks_2m", 0},
	{"dtlb_store.walks_1g", 0},
	{"itlb.walk_pending", 2e6},
	{"ept.walk_pending", 14e6},
};

static void test_skl_formulas(void **state)
{
	(void)state;
	json_t *d = json_object(), *m = json_object();
	pmu_derived(PMU_WF_SKL, skx_fixture, ARRAY_SIZE(skx_fixture), 1000000, d, m);
	assert_float_equal(value(d, "walks_per_access"), 1.0, 1e-12);             /* (900k + 100k) / 1M */
	assert_float_equal(value(d, "walk_cycles_per_access"), 64.0, 1e-12);      /* (60M + 4M) / 1M */
	assert_float_equal(value(d, "cycles_per_walk"), 64.0, 1e-12);             /* 64M / 1M walks */
	assert_float_equal(value(d, "walk_cycle_fraction"), 80e6 / 400e6, 1e-12); /* (2+60+4+14)M / (2*200M) */
	assert_float_equal(value(d, "load_walk_active_fraction"), 0.2, 1e-12);
	assert_float_equal(value(d, "ept_walk_cycles_per_access"), 14.0, 1e-12);
	json_t *mix = json_object_get(json_object_get(d, "page_size_mix"), "value");
	assert_float_equal(json_real_value(json_object_get(mix, "4k")), 0.9, 1e-12);
	assert_float_equal(json_real_value(json_object_get(mix, "2m")), 0.09, 1e-12);
	assert_float_equal(json_real_value(json_object_get(mix, "1g")), 0.01, 1e-12);
	assert_null(json_object_get(mix, "coalesced"));
	assert_int_equal(json_object_size(m), 0);
	json_decref(d);
	json_decref(m);
}

static void test_missing_inputs_are_not_invented(void **state)
{
	(void)state;
	json_t *d = json_object(), *m = json_object();
	/* the store events were never read (e.g. their group never got a counter) */
	pmu_derived(PMU_WF_SKL, skx_fixture, 8, 1000000, d, m);
	assert_null(json_object_get(d, "walks_per_access"));
	assert_null(json_object_get(d, "cycles_per_walk"));
	assert_null(json_object_get(d, "walk_cycle_fraction"));
	assert_string_equal(json_string_value(json_object_get(m, "walks_per_access")), "dtlb_store.walks was not read");
	assert_float_equal(value(d, "load_walk_active_fraction"), 0.2, 1e-12); /* its inputs were read */
	json_decref(d);
	json_decref(m);

	d = json_object();
	m = json_object();
	pmu_derived(PMU_WF_SKL, skx_fixture, ARRAY_SIZE(skx_fixture), 0, d, m); /* accesses unknown */
	assert_null(json_object_get(d, "walks_per_access"));
	assert_non_null(json_object_get(m, "walks_per_access"));
	assert_float_equal(value(d, "cycles_per_walk"), 64.0, 1e-12); /* needs no access count */
	json_decref(d);
	json_decref(m);
}

static void test_hsw_and_icl_formulas(void **state)
{
	(void)state;
	static const struct pmu_count hsw[] = {
		{"cycles", 1000},          {"itlb.walk_active", 10},  {"dtlb_load.walk_active", 100},
		{"dtlb_store.walk_active", 20}, {"itlb.walks", 1},    {"dtlb_load.walks", 8},
		{"dtlb_store.walks", 1},
	};
	json_t *d = json_object(), *m = json_object();
	pmu_derived(PMU_WF_HSW, hsw, ARRAY_SIZE(hsw), 10, d, m);
	assert_float_equal(value(d, "walk_cycle_fraction"), (10 + 100 + 20 + 7 * 10) / 1000.0, 1e-12);
	json_decref(d);
	json_decref(m);

	static const struct pmu_count icl[] = {{"cycles", 1000},
					       {"itlb.walk_pending", 100},
					       {"dtlb_load.walk_pending", 200},
					       {"dtlb_store.walk_pending", 100}};
	d = json_object();
	m = json_object();
	pmu_derived(PMU_WF_ICL, icl, ARRAY_SIZE(icl), 10, d, m);
	assert_float_equal(value(d, "walk_cycle_fraction"), 0.2, 1e-12);
	assert_non_null(json_object_get(m, "ept_walk_cycles_per_access"));
	json_decref(d);
	d = json_object();
	pmu_derived(PMU_WF_GLC, icl, ARRAY_SIZE(icl), 10, d, m);
	assert_float_equal(value(d, "walk_cycle_fraction"), 0.1, 1e-12);
	json_decref(d);
	json_decref(m);
}

static void test_amd(void **state)
{
	(void)state;
	static const struct pmu_count zen[] = {
		{"cycles", 1e6},          {"dtlb.walks_4k", 600}, {"dtlb.walks_coalesced", 100},
		{"dtlb.walks_2m", 200},   {"dtlb.walks_1g", 100},
	};
	json_t *d = json_object(), *m = json_object();
	pmu_derived(PMU_WF_AMD, zen, ARRAY_SIZE(zen), 2000, d, m);
	assert_float_equal(value(d, "walks_per_access"), 0.5, 1e-12);
	json_t *mix = json_object_get(json_object_get(d, "page_size_mix"), "value");
	assert_float_equal(json_real_value(json_object_get(mix, "4k")), 0.6, 1e-12);
	assert_float_equal(json_real_value(json_object_get(mix, "coalesced")), 0.1, 1e-12);
	assert_float_equal(json_real_value(json_object_get(mix, "1g")), 0.1, 1e-12);
	assert_null(json_object_get(d, "walk_cycles_per_access"));
	assert_null(json_object_get(d, "cycles_per_walk"));
	assert_non_null(strstr(json_string_value(json_object_get(m, "walk_cycles_per_access")), "no walk-cycle event"));
	json_decref(d);
	json_decref(m);
}

static void test_zero_walks(void **state)
{
	(void)state;
	static const struct pmu_count c[] = {{"dtlb_load.walks", 0},        {"dtlb_store.walks", 0},
					     {"dtlb_load.walk_pending", 0}, {"dtlb_store.walk_pending", 0},
					     {"dtlb_load.walks_4k", 0},     {"dtlb_store.walks_4k", 0},
					     {"dtlb_load.walks_2m", 0},     {"dtlb_store.walks_2m", 0}};
	json_t *d = json_object(), *m = json_object();
	pmu_derived(PMU_WF_ICL, c, ARRAY_SIZE(c), 100, d, m);
	assert_float_equal(value(d, "walks_per_access"), 0.0, 0);
	assert_null(json_object_get(d, "cycles_per_walk")); /* 0 / 0 */
	assert_null(json_object_get(d, "page_size_mix"));
	assert_non_null(json_object_get(m, "page_size_mix"));
	json_decref(d);
	json_decref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_skl_formulas), cmocka_unit_test(test_missing_inputs_are_not_invented),
		cmocka_unit_test(test_hsw_and_icl_formulas), cmocka_unit_test(test_amd),
		cmocka_unit_test(test_zero_walks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
