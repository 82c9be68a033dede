/* Unit tests: size parsing and formatting, number parsing, atomic writes,
 * mkdir -p, and the results document round trip (writer -> strict reader). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/resfile.h"
#include "harness/run/results.h"
#include "core/stats.h"
#include "core/util.h"

static void sizes_parse(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t out;
	} ok[] = {
		{"4096", 4096},      {"4k", 4096},          {"4K", 4096},       {"2m", 2u << 20},
		{"64M", 64u << 20},  {"1g", 1u << 30},      {"1GiB", 1u << 30}, {"16kb", 16u << 10},
		{"3t", 3ull << 40},  {"0", 0},              {"512B", 512},
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		size_t v = 1;
		nb_error err;
		assert_int_equal(parse_size(ok[i].in, &v, &err), 0);
		assert_int_equal(v, ok[i].out);
	}
	static const char *const bad[] = {"", "k", "-4k", "+4k", "1.5m", "4kk", "4 k", "4x", "12q",
					  "99999999999999999999", "16777216t", " 4k"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		size_t v = 7;
		nb_error err = {{0}};
		assert_int_equal(parse_size(bad[i], &v, &err), -1);
		assert_int_equal(v, 7);
		assert_true(strlen(err.msg) > 10);
	}
	nb_error err;
	assert_int_equal(parse_size(NULL, &(size_t){0}, &err), -1);
}

static void sizes_format(void **state)
{
	(void)state;
	char b[32];
	format_size(4096, b, sizeof(b));
	assert_string_equal(b, "4K");
	format_size(2u << 20, b, sizeof(b));
	assert_string_equal(b, "2M");
	format_size(1536u << 10, b, sizeof(b));
	assert_string_equal(b, "1536K");
	format_size(1u << 30, b, sizeof(b));
	assert_string_equal(b, "1G");
	format_size(100, b, sizeof(b));
	assert_string_equal(b, "100B");
}

static void uints_parse(void **state)
{
	(void)state;
	unsigned long v;
	nb_error err;
	assert_int_equal(parse_uint("42", 100, &v, &err), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_uint("101", 100, &v, &err), -1);
	assert_int_equal(parse_uint("-1", 100, &v, &err), -1);
	assert_int_equal(parse_uint("4x", 100, &v, &err), -1);
	assert_int_equal(parse_uint("", 100, &v, &err), -1);
}

static size_t entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void atomic_write_and_failure_leave_nothing_half_done(void **state)
{
	(void)state;
	char dir[] = "/tmp/nestbench-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/out.json", dir);
	nb_error err;
	assert_int_equal(write_file_atomic(path, "{}\n", 3, &err), 0);
	char buf[16];
	assert_int_equal(read_small_file(path, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "{}");
	assert_int_equal(entries(dir), 1); /* no temporary left */

	/* Renaming onto a directory fails: the old content stays, no temporary remains. */
	char sub[140];
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	char inner[160];
	snprintf(inner, sizeof(inner), "%s/x", sub);
	assert_int_equal(mkdir(inner, 0755), 0);
	assert_int_equal(write_file_atomic(sub, "zz", 2, &err), -1);
	assert_non_null(strstr(err.msg, "rename"));
	assert_int_equal(entries(dir), 2);
	assert_int_equal(write_file_atomic("/nonexistent-dir/x.json", "zz", 2, &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent-dir/x.json"));

	rmdir(inner);
	rmdir(sub);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

static void mkdir_parents_creates_the_chain(void **state)
{
	(void)state;
	char dir[] = "/tmp/nestbench-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char deep[160];
	snprintf(deep, sizeof(deep), "%s/a/b/c", dir);
	assert_int_equal(mkdir_parents(deep, 0755), 0);
	assert_int_equal(mkdir_parents(deep, 0755), 0); /* exists: fine */
	struct stat st;
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	for (int i = 0; i < 3; i++) {
		rmdir(deep);
		char *slash = strrchr(deep, '/');
		*slash = '\0';
	}
	assert_int_equal(rmdir(dir), 0);
}

/* What run writes, the strict reader of compare/report accepts, and the
 * numbers survive the trip. */
static void results_round_trip(void **state)
{
	(void)state;
	json_t *host = json_pack("{s:{s:s, s:i, s:i, s:s}, s:{}, s:{s:b}, s:{s:s}, s:{s:s}, s:{}}", "cpu", "vendor",
				 "GenuineIntel", "family", 6, "model", 167, "name", "test cpu", "tsc", "hypervisor",
				 "present", 0, "kernel", "release", "6.0", "kvm", "mmu_virt_mode", "none", "topology");
	json_t *config = json_pack("{s:s, s:[s], s:[s], s:i, s:i, s:f, s:[s]}", "suite", "smoke", "kernels", "chase",
				   "backings", "4k", "samples", 5, "warmup_samples", 1, "target_sample_ns", 1e6,
				   "command_line", "run");
	json_t *doc = results_new(host, config, "2026-11-22T00:00:00Z");
	assert_non_null(doc);
	const double samples[] = {1.5, 1.25, 1.75, 1.5, 1.5};
	struct summary s;
	assert_int_equal(summarize(samples, 5, &s), 0);
	json_t *sj = json_array();
	for (int i = 0; i < 5; i++)
		json_array_append_new(sj, json_real(samples[i]));
	json_t *m = json_pack("{s:s, s:s, s:s, s:{s:s, s:i, s:i, s:f}, s:i, s:i, s:s, s:{s:i}, s:o, s:o, s:n, s:[]}",
			      "kernel", "chase", "family", "chase", "mode", "native", "backing", "requested", "4k",
			      "requested_page_bytes", 4096, "verified_page_bytes", 4096, "coverage", 1.0,
			      "working_set_bytes", 65536, "cpu", 1, "metric", "ns_per_access", "params", "stride_bytes",
			      4096, "samples", sj, "summary", summary_json(&s), "skipped", "flags");
	json_array_append_new(json_object_get(doc, "measurements"), m);
	struct measurement skipped;
	record_skipped(&skipped, "chase", "chase", "ns_per_access", "native",
		       json_pack("{s:s}", "requested", "hugetlb-1g"), 0, 1, "no 1G pool");
	json_array_append_new(json_object_get(doc, "measurements"), results_measurement_json(&skipped));

	char dir[] = "/tmp/nestbench-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/r.json", dir);
	nb_error err;
	assert_int_equal(results_write(doc, path, &err), 0);
	json_decref(doc);

	struct res_file rf;
	int rc = res_load(&rf, path, &err);
	if (rc)
		fail_msg("strict reader rejected the writer's output: %s", err.msg);
	assert_int_equal(rf.nmeas, 2);
	assert_string_equal(rf.meas[0].kernel, "chase");
	assert_int_equal(rf.meas[0].working_set_bytes, 65536);
	assert_float_equal(rf.meas[0].summary.median, 1.5, 1e-12);
	assert_true(rf.meas[1].skipped != NULL);
	res_free(&rf);
	unlink(path);
	rmdir(dir);
}

/* Control bytes from outside become visible escapes; text stays as it is. */
static void visible_escapes_controls(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	fputs_visible("a\nb\x1b[2J\t\r\x7f\xc2\x9b ok \xc3\xa9", f);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(text, "a\\nb\\x1b[2J\\t\\r\\x7f\\u009b ok \xc3\xa9");
	free(text);
}

static void test_format_ns(void **state)
{
	(void)state;
	char b[32];
	format_ns(b, sizeof(b), 735);
	assert_string_equal(b, "735 ns");
	format_ns(b, sizeof(b), 2300);
	assert_string_equal(b, "2.3 µs");
	format_ns(b, sizeof(b), 1.2e6);
	assert_string_equal(b, "1.2 ms");
	format_ns(b, sizeof(b), 3.1e9);
	assert_string_equal(b, "3.1 s");
	format_ns(b, sizeof(b), NAN);
	assert_string_equal(b, "-");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sizes_parse),
		cmocka_unit_test(visible_escapes_controls),
		cmocka_unit_test(sizes_format),
		cmocka_unit_test(uints_parse),
		cmocka_unit_test(atomic_write_and_failure_leave_nothing_half_done),
		cmocka_unit_test(mkdir_parents_creates_the_chain),
		cmocka_unit_test(results_round_trip),
		cmocka_unit_test(test_format_ns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
