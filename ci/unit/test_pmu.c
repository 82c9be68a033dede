/* test_pmu.c - real perf_event_open groups: software events through the
 * group path, the hardware path on this machine (ENOENT where there is no
 * PMU), guest-mode flags, info and list output. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness/pmu/pmu.h"

#define PAGES 512

static json_t *event(json_t *session, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(session, "events"), i, e) if (!strcmp(
		json_string_value(json_object_get(e, "name")), name)) return e;
	fail_msg("no event %s", name);
	return NULL;
}

static json_int_t count(json_t *session, const char *name)
{
	json_t *e = event(session, name);
	assert_true(json_is_true(json_object_get(e, "available")));
	return json_integer_value(json_object_get(e, "count"));
}

/* Touch `pages` fresh anonymous pages between start and stop.  Not
 * instrumented: ASan's checks of the stores would fault in its shadow pages
 * (one per 8 touched pages) inside the counted region. */
__attribute__((no_sanitize_address)) static void touch_pages(struct pmu_session *s, size_t pages)
{
	long pg = sysconf(_SC_PAGESIZE);
	volatile char *p = mmap(NULL, pages * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	/* keep THP out so that one fault is one page */
	madvise((void *)(uintptr_t)p, pages * (size_t)pg, MADV_NOHUGEPAGE);
	pmu_session_start(s);
	for (size_t i = 0; i < pages; i++)
		p[i * (size_t)pg] = 1;
	pmu_session_stop(s);
	munmap((void *)(uintptr_t)p, pages * (size_t)pg);
}

static int hardware_here(void)
{
	json_t *info = pmu_info_json();
	int hw = json_is_true(json_object_get(info, "hardware_counting"));
	json_decref(info);
	return hw;
}

static void test_software_group_counts_faults(void **state)
{
	(void)state;
	nb_error err;
	struct pmu_request rq = {0};
	struct pmu_session *s = pmu_session_open(&rq, &err);
	assert_non_null(s);
	touch_pages(s, PAGES);
	json_t *j = pmu_session_json(s, PAGES);
	assert_true(json_is_true(json_object_get(j, "software_available")));
	json_int_t pf = count(j, "page_faults"), minor = count(j, "minor_faults");
	print_message("page faults %lld for %d pages\n", (long long)pf, PAGES);
	assert_true(pf >= PAGES && pf <= PAGES + 8);
	assert_true(minor >= PAGES && minor <= PAGES + 8);
	assert_int_equal(count(j, "major_faults"), 0);
	assert_true(count(j, "task_clock_ns") > 0);
	/* all six in one group, never multiplexed */
	json_int_t group = json_integer_value(json_object_get(event(j, "page_faults"), "group"));
	for (const char *const *n = (const char *const[]){"minor_faults", "major_faults", "context_switches",
							   "cpu_migrations", "task_clock_ns", NULL};
	     *n; n++) {
		json_t *e = event(j, *n);
		assert_int_equal(json_integer_value(json_object_get(e, "group")), group);
		assert_float_equal(json_real_value(json_object_get(e, "scaling")), 1.0, 0);
		assert_int_equal(json_integer_value(json_object_get(e, "time_enabled")),
				 json_integer_value(json_object_get(e, "time_running")));
	}
	json_decref(j);
	pmu_session_close(s);
}

static void test_counts_accumulate_across_samples(void **state)
{
	(void)state;
	nb_error err;
	struct pmu_request rq = {0};
	struct pmu_session *s = pmu_session_open(&rq, &err);
	assert_non_null(s);
	touch_pages(s, PAGES);
	touch_pages(s, PAGES);
	json_t *j = pmu_session_json(s, 2 * PAGES);
	json_int_t pf = count(j, "page_faults");
	assert_true(pf >= 2 * PAGES && pf <= 2 * PAGES + 16);
	json_decref(j);
	pmu_session_close(s);
}

/* Six libpfm4-named software events given with --events go through the
 * hardware path: split into groups of at most group_size, read and scaled. */
static void test_override_groups_split(void **state)
{
	(void)state;
	nb_error err;
	struct pmu_request rq = {
		.events = "perf::PERF_COUNT_SW_PAGE_FAULTS,perf::PERF_COUNT_SW_PAGE_FAULTS_MIN,"
			  "perf::PERF_COUNT_SW_CONTEXT_SWITCHES,perf::PERF_COUNT_SW_CPU_MIGRATIONS,"
			  "perf::PERF_COUNT_SW_TASK_CLOCK,perf::PERF_COUNT_SW_PAGE_FAULTS_MAJ",
		.no_software = 1,
	};
	struct pmu_session *s = pmu_session_open(&rq, &err);
	assert_non_null(s);
	touch_pages(s, PAGES);
	json_t *j = pmu_session_json(s, PAGES);
	assert_string_equal(json_string_value(json_object_get(j, "pmu")), "override");
	json_int_t gs = json_integer_value(json_object_get(j, "group_size"));
	assert_true(gs >= 1 && gs < 6);
	assert_int_equal(json_array_size(json_object_get(j, "events")), 6);
	json_int_t pf = count(j, "perf::PERF_COUNT_SW_PAGE_FAULTS");
	assert_true(pf >= PAGES && pf <= PAGES + 8);
	json_int_t first = json_integer_value(json_object_get(event(j, "perf::PERF_COUNT_SW_PAGE_FAULTS"), "group"));
	json_int_t last = json_integer_value(json_object_get(event(j, "perf::PERF_COUNT_SW_PAGE_FAULTS_MAJ"), "group"));
	assert_true(last > first); /* six events did not fit one group */
	assert_non_null(json_object_get(json_object_get(j, "derived_missing"), "walks_per_access"));
	json_decref(j);
	pmu_session_close(s);
}

static void test_hardware_path_here(void **state)
{
	(void)state;
	nb_error err;
	struct pmu_request rq = {0};
	struct pmu_session *s = pmu_session_open(&rq, &err);
	assert_non_null(s);
	touch_pages(s, 16);
	json_t *j = pmu_session_json(s, 16);
	int hw = hardware_here();
	assert_int_equal(json_is_true(json_object_get(j, "available")), hw);
	json_t *cyc = event(j, "cycles");
	assert_string_equal(json_string_value(json_object_get(cyc, "kind")), "hardware");
	assert_non_null(json_object_get(json_object_get(cyc, "encoding"), "config"));
	if (!hw) {
		/* the real failure: per event available:false, errno and how to enable it */
		assert_true(json_is_false(json_object_get(cyc, "available")));
		int e = (int)json_integer_value(json_object_get(cyc, "errno"));
		assert_true(e > 0);
		assert_true(json_is_null(json_object_get(cyc, "count")));
		assert_non_null(json_string_value(json_object_get(cyc, "why")));
		assert_string_equal(json_string_value(json_object_get(j, "reason")), pmu_errno_sentence(e));
		if (e == ENOENT) {
			assert_string_equal(json_string_value(json_object_get(cyc, "errno_name")), "ENOENT");
			assert_non_null(strstr(json_string_value(json_object_get(j, "reason")), "vPMU"));
		}
		/* no derived metric from counts that were not read */
		assert_int_equal(json_object_size(json_object_get(j, "derived")), 0);
		assert_true(json_object_size(json_object_get(j, "derived_missing")) > 0);
	} else {
		assert_true(json_integer_value(json_object_get(cyc, "count")) > 0);
	}
	json_decref(j);
	pmu_session_close(s);
}

static void test_guest_mode_flags(void **state)
{
	(void)state;
	nb_error err;
	struct pmu_request rq = {.guest = 1};
	struct pmu_session *s = pmu_session_open(&rq, &err);
	assert_non_null(s);
	json_t *j = pmu_session_json(s, 0);
	assert_true(json_is_true(json_object_get(j, "guest_mode")));
	json_t *enc = json_object_get(event(j, "cycles"), "encoding");
	assert_true(json_is_true(json_object_get(enc, "exclude_host")));
	assert_true(json_is_false(json_object_get(enc, "exclude_guest")));
	/* software events still count the thread on the host */
	enc = json_object_get(event(j, "page_faults"), "encoding");
	assert_true(json_is_false(json_object_get(enc, "exclude_host")));
	json_decref(j);
	pmu_session_close(s);

	struct pmu_request native = {0};
	s = pmu_session_open(&native, &err);
	j = pmu_session_json(s, 0);
	enc = json_object_get(event(j, "cycles"), "encoding");
	assert_true(json_is_false(json_object_get(enc, "exclude_host")));
	assert_true(json_is_true(json_object_get(enc, "exclude_guest")));
	json_decref(j);
	pmu_session_close(s);
}

static void test_bad_override(void **state)
{
	(void)state;
	nb_error err;
	struct pmu_request rq = {.events = "NOT_AN_EVENT_AT_ALL"};
	assert_null(pmu_session_open(&rq, &err));
	assert_non_null(strstr(err.msg, "NOT_AN_EVENT_AT_ALL"));
}

static void test_info_and_list(void **state)
{
	(void)state;
	json_t *info = pmu_info_json();
	assert_true(json_is_boolean(json_object_get(info, "hardware_counting")));
	assert_true(json_is_true(json_object_get(info, "software_counting")));
	assert_non_null(json_string_value(json_object_get(info, "event_set")));
	assert_true(json_is_integer(json_object_get(info, "perf_event_paranoid")));
	if (json_is_false(json_object_get(info, "hardware_counting")))
		assert_non_null(json_string_value(json_object_get(info, "reason")));
	json_decref(info);

	char *buf = NULL;
	size_t len = 0;
	nb_error err;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(pmu_list_events(f, 0, NULL, &err), 0);
	fclose(f);
	assert_non_null(strstr(buf, "event set: "));
	assert_non_null(strstr(buf, "cycles"));
	free(buf);

	f = open_memstream(&buf, &len);
	assert_int_equal(pmu_list_events(f, 1, NULL, &err), 0);
	fclose(f);
	json_error_t jerr;
	json_t *j = json_loads(buf, 0, &jerr);
	assert_non_null(j);
	assert_true(json_array_size(json_object_get(j, "events")) >= 2);
	json_t *e0 = json_array_get(json_object_get(j, "events"), 0);
	assert_true(json_is_boolean(json_object_get(e0, "opens")));
	json_decref(j);
	free(buf);

	f = open_memstream(&buf, &len);
	assert_int_equal(pmu_list_events(f, 0, "BOGUS_EVENT", &err), -1);
	fclose(f);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_software_group_counts_faults), cmocka_unit_test(test_counts_accumulate_across_samples),
		cmocka_unit_test(test_override_groups_split),        cmocka_unit_test(test_hardware_path_here),
		cmocka_unit_test(test_guest_mode_flags),             cmocka_unit_test(test_bad_override),
		cmocka_unit_test(test_info_and_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
