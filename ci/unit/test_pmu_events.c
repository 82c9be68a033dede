/* test_pmu_events.c - page-walk event tables encode to the documented configs.
 *
 * libpfm4 initializes once per process and LIBPFM_FORCE_PMU activates one PMU
 * per process, so each named PMU is checked in its own child process, with
 * LIBPFM_ENCODE_INACTIVE=1 so that PMUs this machine lacks still encode.
 * Expected configs are event | umask << 8 | cmask << 24 (Intel) and
 * event | umask << 8 (AMD) as documented in the Linux perf event files
 * (tools/perf/pmu-events/arch/x86/<cpu>/ JSON files).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <perfmon/pfmlib.h>

#include "harness/pmu/pmu_events.h"
#include "harness/pmu/pmu_raw.h"

struct expect {
	const char *key;
	uint64_t config;
};

/* In a child: reinitialize libpfm4 with the environment given, build the set
 * of `name`, check every event encoded and the listed configs; exit status 0
 * when all hold (details on stderr otherwise). */
static int check_in_child(const char *name, const char *force, const struct expect *ex, size_t n,
			  const char *const *absent)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		pfm_terminate();
		setenv("LIBPFM_ENCODE_INACTIVE", "1", 1);
		if (force)
			setenv("LIBPFM_FORCE_PMU", force, 1);
		static struct pmu_eventset set;
		nb_error err;
		int rc = force ? pmu_eventset_resolve(NULL, &set, &err) : pmu_eventset_for(name, &set, &err);
		if (rc) {
			fprintf(stderr, "%s: %s\n", name, err.msg);
			_exit(1);
		}
		if (strcmp(set.name, name)) {
			fprintf(stderr, "resolved %s, expected %s\n", set.name, name);
			_exit(2);
		}
		for (size_t i = 0; i < set.n; i++) {
			if (!set.ev[i].encoded) {
				fprintf(stderr, "%s %s: %s\n", name, set.ev[i].key, set.ev[i].why);
				_exit(3);
			}
			if (set.ev[i].attr.type != PERF_TYPE_RAW || !set.ev[i].attr.exclude_guest) {
				fprintf(stderr, "%s %s: type %u exclude_guest %u\n", name, set.ev[i].key,
					set.ev[i].attr.type, set.ev[i].attr.exclude_guest);
				_exit(4);
			}
		}
		for (size_t i = 0; i < n; i++) {
			int k = pmu_eventset_find(&set, ex[i].key);
			if (k < 0 || set.ev[k].attr.config != ex[i].config) {
				fprintf(stderr, "%s %s: config 0x%llx, documented 0x%llx\n", name, ex[i].key,
					k < 0 ? 0ULL : (unsigned long long)set.ev[k].attr.config,
					(unsigned long long)ex[i].config);
				_exit(5);
			}
		}
		for (size_t i = 0; absent && absent[i]; i++)
			if (pmu_eventset_find(&set, absent[i]) >= 0) {
				fprintf(stderr, "%s has %s, which is not documented for it\n", name, absent[i]);
				_exit(6);
			}
		_exit(0);
	}
	int status = 0;
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

static const struct expect skx[] = {
	{"cycles", 0x3c},
	{"instructions", 0xc0},
	{"dtlb_load.walk_active", 0x1001008},  /* 0x08 umask 0x10 cmask 1 */
	{"dtlb_load.walk_pending", 0x1008},
	{"dtlb_load.walks", 0xe08},
	{"dtlb_load.walks_4k", 0x208},
	{"dtlb_load.walks_2m", 0x408},
	{"dtlb_load.walks_1g", 0x808},
	{"dtlb_load.stlb_hit", 0x2008},
	{"dtlb_store.walk_active", 0x1001049},
	{"dtlb_store.walks_1g", 0x849},
	{"itlb.walk_pending", 0x1085},
	{"itlb.walks", 0xe85},
	{"ept.walk_pending", 0x104f},
};

static void test_skx_family(void **state)
{
	(void)state;
	assert_int_equal(check_in_child("skx", NULL, skx, ARRAY_SIZE(skx), NULL), 0);
	assert_int_equal(check_in_child("clx", NULL, skx, ARRAY_SIZE(skx), NULL), 0);
	assert_int_equal(check_in_child("skl", NULL, skx, ARRAY_SIZE(skx), NULL), 0);
}

static void test_hsw_bdw(void **state)
{
	(void)state;
	static const struct expect hsw[] = {
		{"dtlb_load.walk_pending", 0x1008},   /* WALK_DURATION */
		{"dtlb_load.walk_active", 0x1001008}, /* WALK_DURATION:c=1 */
		{"dtlb_store.walk_active", 0x1001049},
		{"itlb.walk_active", 0x1001085},
		{"dtlb_load.walks", 0xe08},
		{"ept.walk_pending", 0x104f}, /* EPT.WALK_CYCLES */
	};
	static const char *const no_1g[] = {"dtlb_load.walks_1g", NULL};
	assert_int_equal(check_in_child("hsw", NULL, hsw, ARRAY_SIZE(hsw), no_1g), 0);
	static const struct expect bdw[] = {{"dtlb_load.walks_1g", 0x808}, {"dtlb_store.walks_1g", 0x849}};
	assert_int_equal(check_in_child("bdw", NULL, bdw, ARRAY_SIZE(bdw), NULL), 0);
}

static void test_icl_icx_spr(void **state)
{
	(void)state;
	static const char *const no_ept[] = {"ept.walk_pending", NULL};
	static const char *const icl_absent[] = {"ept.walk_pending", "dtlb_load.walks_1g", NULL};
	static const struct expect icl[] = {{"dtlb_load.walk_active", 0x1001008}, {"itlb.walk_pending", 0x1085}};
	assert_int_equal(check_in_child("icl", NULL, icl, ARRAY_SIZE(icl), icl_absent), 0);
	/* icelakex virtual-memory.json: WALK_COMPLETED_1G umask 0x8, not named in libpfm4 4.13 */
	static const struct expect icx[] = {{"dtlb_load.walks_1g", 0x808}, {"dtlb_store.walks_1g", 0x849}};
	assert_int_equal(check_in_child("icx", NULL, icx, ARRAY_SIZE(icx), no_ept), 0);
	/* Sapphire Rapids moved the TLB events (libpfm4 spr table): loads 0x12, stores 0x13, code 0x11 */
	static const struct expect spr[] = {{"dtlb_load.walk_active", 0x1001012},
					    {"dtlb_load.walks_1g", 0x812},
					    {"dtlb_store.walks_1g", 0x813},
					    {"itlb.walks", 0xe11}};
	assert_int_equal(check_in_child("spr", NULL, spr, ARRAY_SIZE(spr), no_ept), 0);
}

static const struct expect zen_common[] = {
	{"cycles", 0x76},         {"instructions", 0xc0},      {"dtlb.walks_4k", 0x1045},
	{"dtlb.walks_coalesced", 0x2045}, {"dtlb.walks_2m", 0x4045}, {"dtlb.walks_1g", 0x8045},
	{"dtlb.l2_hit_4k", 0x0145}, {"dtlb.l2_hit_1g", 0x0845}, {"itlb.walks_4k", 0x0185},
	{"itlb.walks_2m", 0x0285}, {"itlb.walks_1g", 0x0485},  {"itlb.l2_hit", 0x84},
};

static void test_amd_zen(void **state)
{
	(void)state;
	assert_int_equal(check_in_child("amd64_fam17h_zen2", NULL, zen_common, ARRAY_SIZE(zen_common), NULL), 0);
	assert_int_equal(check_in_child("amd64_fam19h_zen3", NULL, zen_common, ARRAY_SIZE(zen_common), NULL), 0);
	assert_int_equal(check_in_child("amd64_fam19h_zen4", NULL, zen_common, ARRAY_SIZE(zen_common), NULL), 0);
	/* the table walker, raw PMCx046: D-side umask 0x03, I-side 0x0c (Zen 2/3 only) */
	static const struct expect tw[] = {{"tablewalker.dside", 0x0346}, {"tablewalker.iside", 0x0c46}};
	assert_int_equal(check_in_child("amd64_fam19h_zen3", NULL, tw, ARRAY_SIZE(tw), NULL), 0);
	static const char *const no_tw[] = {"tablewalker.dside", NULL};
	assert_int_equal(check_in_child("amd64_fam19h_zen4", NULL, NULL, 0, no_tw), 0);
}

static void test_forced_pmu_is_detected(void **state)
{
	(void)state;
	/* with LIBPFM_FORCE_PMU the CPU's table is the forced PMU's */
	assert_int_equal(check_in_child("skx", "skx", skx, ARRAY_SIZE(skx), NULL), 0);
	assert_int_equal(check_in_child("amd64_fam19h_zen3", "amd64_fam19h_zen3", zen_common, ARRAY_SIZE(zen_common), NULL),
			 0);
}

static void test_raw_zen5(void **state)
{
	(void)state;
	static const struct expect zen5[] = {
		{"cycles", 0x76},        {"instructions", 0xc0},          {"dtlb.walks_4k", 0x1045},
		{"dtlb.walks_coalesced", 0x2045}, {"dtlb.walks_2m", 0x4045}, {"dtlb.walks_1g", 0x8045},
		{"dtlb.l2_hit_4k", 0x0145}, {"dtlb.l2_hit_coalesced", 0x0245}, {"dtlb.l2_hit_2m", 0x0445},
		{"dtlb.l2_hit_1g", 0x0845}, {"itlb.walks_4k", 0x0185},    {"itlb.walks_2m", 0x0285},
		{"itlb.walks_1g", 0x0485},  {"itlb.walks_coalesced", 0x0885}, {"itlb.l2_hit", 0x84},
	};
	struct pmu_eventset *set = calloc(1, sizeof(*set));
	nb_error err;
	assert_non_null(set);
	assert_int_equal(pmu_eventset_for("raw:zen5", set, &err), 0);
	assert_string_equal(set->name, "raw:zen5");
	assert_int_equal(set->formula, PMU_WF_AMD);
	assert_int_equal(set->n, ARRAY_SIZE(zen5));
	for (size_t i = 0; i < ARRAY_SIZE(zen5); i++) {
		int k = pmu_eventset_find(set, zen5[i].key);
		assert_true(k >= 0);
		assert_int_equal(set->ev[k].attr.type, PERF_TYPE_RAW);
		assert_int_equal(set->ev[k].attr.config, zen5[i].config);
		assert_true(strlen(set->ev[k].source) > 20); /* every raw entry cites its document */
	}
	assert_int_equal(pmu_eventset_find(set, "tablewalker.dside"), -1); /* not documented for Zen 5 */
	free(set);
	assert_non_null(pmu_raw_for_cpu("AuthenticAMD", 0x1a));
	assert_null(pmu_raw_for_cpu("AuthenticAMD", 0x19));
	assert_null(pmu_raw_for_cpu("GenuineIntel", 0x1a));
	assert_int_equal(pmu_raw_amd_config(0x45, 0x10), 0x1045);
	assert_int_equal(pmu_raw_amd_config(0x120, 0x01), 0x100000120ULL); /* event[11:8] -> bits 35:32 */
}

static void test_unknown_names(void **state)
{
	(void)state;
	struct pmu_eventset *set = calloc(1, sizeof(*set));
	nb_error err;
	assert_int_equal(pmu_eventset_for("raw:zen9", set, &err), -1);
	assert_non_null(strstr(err.msg, "zen9"));
	assert_int_equal(pmu_eventset_for("nehalem", set, &err), -1);
	assert_int_equal(pmu_eventset_resolve("NO_SUCH_EVENT_XYZ", set, &err), -1);
	assert_non_null(strstr(err.msg, "NO_SUCH_EVENT_XYZ"));
	assert_int_equal(pmu_eventset_resolve(" , ", set, &err), -1);
	assert_int_equal(pmu_eventset_resolve("perf::PERF_COUNT_SW_PAGE_FAULTS,perf::PERF_COUNT_HW_CPU_CYCLES", set, &err),
			 0);
	assert_string_equal(set->name, "override");
	assert_int_equal(set->n, 2);
	assert_true(set->ev[0].kind_software);
	assert_false(set->ev[1].kind_software);
	free(set);
}

static void test_every_table_name_resolves(void **state)
{
	(void)state;
	for (const char *const *n = pmu_eventset_table_names(); *n; n++)
		assert_int_equal(check_in_child(*n, NULL, NULL, 0, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_skx_family),     cmocka_unit_test(test_hsw_bdw),
		cmocka_unit_test(test_icl_icx_spr),    cmocka_unit_test(test_amd_zen),
		cmocka_unit_test(test_forced_pmu_is_detected), cmocka_unit_test(test_raw_zen5),
		cmocka_unit_test(test_unknown_names),  cmocka_unit_test(test_every_table_name_resolves),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
