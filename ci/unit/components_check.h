/* components_check.h - the invariants of params.components (bench/kutil.h
 * ku_components) for the kernel unit tests: the parts named are there and
 * measured, the net is (gross - baseline) * scale within rounding, and the
 * samples kept are those the test ran at its one iteration count.  Header-
 * only, included after cmocka by test_ptupdate.c and test_ctxsw.c. */
#ifndef NESTBENCH_COMPONENTS_CHECK_H
#define NESTBENCH_COMPONENTS_CHECK_H

#include <math.h>

#include <jansson.h>

static double comp_part(const json_t *c, const char *name)
{
	json_t *p = json_object_get(json_object_get(c, "parts"), name);
	if (!p)
		fail_msg("components: no part %s", name);
	assert_true(json_is_number(json_object_get(p, "ns_per_op")));
	assert_true(json_is_string(json_object_get(p, "what")));
	return json_number_value(json_object_get(p, "ns_per_op"));
}

/* Returns the components object; samples = the kernel's sample calls at iters. */
static const json_t *assert_components(const json_t *params, const char *gross, const char *baseline, double scale,
				       const char *unit, unsigned samples, uint64_t iters)
{
	const json_t *c = json_object_get(params, "components");
	if (!json_is_object(c))
		fail_msg("no params.components");
	assert_string_equal(json_string_value(json_object_get(c, "gross")), gross);
	assert_string_equal(json_string_value(json_object_get(c, "baseline")), baseline);
	assert_true(json_number_value(json_object_get(c, "scale")) == scale);
	assert_true(json_is_true(json_object_get(json_object_get(json_object_get(c, "parts"), gross), "measured")));
	assert_true(json_is_true(json_object_get(json_object_get(json_object_get(c, "parts"), baseline), "measured")));
	const json_t *net = json_object_get(c, "net");
	assert_string_equal(json_string_value(json_object_get(net, "unit")), unit);
	double g = comp_part(c, gross), b = comp_part(c, baseline);
	double v = json_number_value(json_object_get(net, "value"));
	assert_true(fabs(v - (g - b) * scale) <= 1e-6 * (fabs(g) + fabs(b)) + 1e-9);
	/* A baseline is a real measurement: it took time. */
	assert_true(b > 0);
	assert_int_equal(json_integer_value(json_object_get(c, "samples")), samples);
	assert_int_equal(json_integer_value(json_object_get(c, "iterations_per_sample")), (json_int_t)iters);
	assert_true(json_is_string(json_object_get(c, "how")));
	return c;
}

#endif
