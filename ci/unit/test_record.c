/* The measurement record writer (harness/run/results.c): every record kind
 * becomes the schema-v1 object the strict reader accepts, with the fields
 * the old JSON builders wrote; the writer owns the record's JSON parts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/resfile.h"
#include "harness/run/results.h"

static const double samples[] = {2.0, 1.0, 3.0, 2.0, 2.0};

static json_t *backing(void)
{
	return json_pack("{s:s, s:i, s:i, s:f}", "requested", "4k", "requested_page_bytes", 4096,
			 "verified_page_bytes", 4096, "coverage", 1.0);
}

static void measured(struct measurement *r)
{
	*r = (struct measurement){.kernel = "chase", .family = "chase", .metric = "ns_per_access", .mode = "native",
				  .backing = backing(), .working_set_bytes = 65536, .cpu = 1,
				  .params = json_pack("{s:i}", "stride_bytes", 4096), .iterations_per_sample = 1000,
				  .samples = samples, .nsamples = 5};
	assert_int_equal(summarize(samples, 5, &r->summary), 0);
}

static void measured_fields(void **state)
{
	(void)state;
	struct measurement r;
	measured(&r);
	r.alt_metric = "cycles_per_access";
	r.alt_per_op = 2.0;
	r.counters = json_pack("{s:i}", "page_faults", 0);
	json_t *m = results_measurement_json(&r);
	assert_null(r.backing); /* ownership moved to the object */
	assert_string_equal(json_string_value(json_object_get(m, "kernel")), "chase");
	assert_string_equal(json_string_value(json_object_get(m, "mode")), "native");
	assert_int_equal(json_integer_value(json_object_get(m, "working_set_bytes")), 65536);
	assert_int_equal(json_integer_value(json_object_get(m, "cpu")), 1);
	assert_int_equal(json_integer_value(json_object_get(m, "iterations_per_sample")), 1000);
	assert_int_equal(json_array_size(json_object_get(m, "samples")), 5);
	assert_float_equal(json_real_value(json_object_get(json_object_get(m, "summary"), "median")), 2.0, 1e-12);
	assert_true(json_is_null(json_object_get(m, "skipped")));
	assert_null(json_object_get(m, "failed"));
	assert_float_equal(json_real_value(json_object_get(
				   json_object_get(json_object_get(m, "alt_metrics"), "cycles_per_access"), "median")),
			   4.0, 1e-12);
	assert_true(json_is_object(json_object_get(m, "counters")));
	assert_true(json_is_array(json_object_get(m, "flags")));
	assert_null(json_object_get(m, "pmu"));
	assert_null(json_object_get(m, "kvm"));
	assert_null(json_object_get(m, "guest_page")); /* native: no guest fields */
	assert_null(json_object_get(m, "mmu_virt_mode"));
	json_decref(m);
}

/* A measured cell at working set 0 keeps the number; a skipped one writes null. */
static void skipped_and_failed(void **state)
{
	(void)state;
	struct measurement r;
	record_skipped(&r, "fault", "ptupdate", "ns_per_op", "native", json_pack("{s:s}", "requested", "hugetlb-1g"), 0, -1,
		       "no 1G pool");
	json_t *m = results_measurement_json(&r);
	assert_string_equal(json_string_value(json_object_get(m, "skipped")), "no 1G pool");
	assert_true(json_is_null(json_object_get(m, "working_set_bytes")));
	assert_true(json_is_null(json_object_get(m, "cpu")));
	assert_true(json_is_null(json_object_get(m, "summary")));
	assert_int_equal(json_array_size(json_object_get(m, "samples")), 0);
	assert_int_equal(json_object_size(json_object_get(m, "params")), 0);
	assert_null(json_object_get(m, "iterations_per_sample"));
	assert_null(json_object_get(m, "failed"));
	json_decref(m);

	record_skipped(&r, "chase", "chase", "ns_per_access", "vm", backing(), 4096, 2, "watchdog");
	r.failed = 1;
	r.guest_page = "2m";
	r.mmu_virt_mode = "ept";
	m = results_measurement_json(&r);
	assert_string_equal(json_string_value(json_object_get(m, "skipped")), "failed: watchdog");
	assert_true(json_is_true(json_object_get(m, "failed")));
	assert_int_equal(json_integer_value(json_object_get(m, "working_set_bytes")), 4096);
	json_t *gp = json_object_get(m, "guest_page");
	assert_string_equal(json_string_value(json_object_get(gp, "requested")), "2m");
	assert_true(json_is_null(json_object_get(gp, "built_page_bytes")));
	assert_string_equal(json_string_value(json_object_get(m, "mmu_virt_mode")), "ept");
	json_decref(m);

	measured(&r);
	r.working_set_bytes = 0;
	m = results_measurement_json(&r);
	assert_true(json_is_integer(json_object_get(m, "working_set_bytes")));
	json_decref(m);
}

/* Every kind of record in one document, read back by the strict reader. */
static void reader_accepts_every_kind(void **state)
{
	(void)state;
	json_t *host = json_pack("{s:{s:s, s:i, s:i, s:s}, s:{}, s:{s:b}, s:{s:s}, s:{s:s}, s:{}}", "cpu", "vendor",
				 "GenuineIntel", "family", 6, "model", 167, "name", "test cpu", "tsc", "hypervisor",
				 "present", 0, "kernel", "release", "6.0", "kvm", "mmu_virt_mode", "ept", "topology");
	json_t *config = json_pack("{s:s, s:[s], s:[s], s:i, s:i, s:f, s:[s]}", "suite", "smoke", "kernels", "chase",
				   "backings", "4k", "samples", 5, "warmup_samples", 1, "target_sample_ns", 1e6,
				   "command_line", "run");
	json_t *doc = results_new(host, config, "2026-11-22T00:00:00Z");
	json_t *ms = json_object_get(doc, "measurements");
	struct measurement r;
	measured(&r);
	json_array_append_new(ms, results_measurement_json(&r));
	measured(&r);
	r.mode = "vm";
	r.guest_page = "4k";
	r.guest_built_page_bytes = 4096;
	r.mmu_virt_mode = "ept";
	r.kvm = json_pack("{s:i}", "exits", 3);
	json_array_append_new(ms, results_measurement_json(&r));
	record_skipped(&r, "chase", "chase", "ns_per_access", "native", json_pack("{s:s}", "requested", "hugetlb-1g"), 0, 1,
		       "no 1G pool");
	json_array_append_new(ms, results_measurement_json(&r));
	record_skipped(&r, "chase", "chase", "ns_per_access", "vm", backing(), 65536, 1, "guest fault");
	r.failed = 1;
	r.guest_page = "2m";
	r.mmu_virt_mode = "ept";
	json_array_append_new(ms, results_measurement_json(&r));
	assert_int_equal(results_count_failed(doc), 1);

	char *text = json_dumps(doc, 0);
	json_decref(doc);
	struct res_file rf;
	nb_error err;
	int rc = res_parse(&rf, "records", text, strlen(text), &err);
	free(text);
	if (rc)
		fail_msg("strict reader rejected the records: %s", err.msg);
	assert_int_equal(rf.nmeas, 4);
	assert_string_equal(rf.meas[1].guest_page, "4k");
	assert_int_equal(rf.meas[1].guest_built_page_bytes, 4096);
	assert_true(rf.meas[2].skipped != NULL);
	assert_string_equal(rf.meas[3].skipped, "failed: guest fault");
	res_free(&rf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(measured_fields),
		cmocka_unit_test(skipped_and_failed),
		cmocka_unit_test(reader_accepts_every_kind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
