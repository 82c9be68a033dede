/* test_machine.c - machine facts, CPUID decoding, MMU mode decision, topology and pinning. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness/host/cpustate.h"
#include "harness/host/machine.h"
#include "harness/host/topology.h"

/* ---- MMU virtualization mode: every branch of the decision ---- */

static struct mmu_evidence evidence(void)
{
	struct mmu_evidence ev;
	memset(&ev, 0, sizeof(ev));
	return ev;
}

static void test_mmu_ept(void **state)
{
	(void)state;
	struct mmu_evidence ev = evidence();
	ev.dev_kvm = ev.kvm_loaded = ev.kvm_intel_loaded = true;
	strcpy(ev.ept, "Y");
	strcpy(ev.tdp_mmu, "Y");
	char why[160];
	assert_string_equal(mmu_virt_mode_decide(&ev, why, sizeof(why)), "ept");
	assert_string_equal(why, "kvm_intel ept=Y, tdp_mmu=Y");
}

static void test_mmu_npt(void **state)
{
	(void)state;
	struct mmu_evidence ev = evidence();
	ev.dev_kvm = ev.kvm_loaded = ev.kvm_amd_loaded = true;
	strcpy(ev.npt, "1"); /* older kernels expose npt as an int */
	char why[160];
	assert_string_equal(mmu_virt_mode_decide(&ev, why, sizeof(why)), "npt");
	assert_non_null(strstr(why, "kvm_amd npt=1"));
	strcpy(ev.npt, "Y");
	assert_string_equal(mmu_virt_mode_decide(&ev, NULL, 0), "npt");
}

/* EPT/NPT on a CPU with the hypervisor bit: nested, and the evidence says so;
 * the same module on bare metal, or PVM in a VM, is not. */
static void test_mmu_nested(void **state)
{
	(void)state;
	struct mmu_evidence ev = {.dev_kvm = true, .kvm_loaded = true, .kvm_amd_loaded = true, .cpu_hypervisor = true};
	strcpy(ev.npt, "Y");
	strcpy(ev.tdp_mmu, "Y");
	char why[320];
	assert_string_equal(mmu_virt_mode_decide(&ev, why, sizeof(why)), "npt");
	assert_true(mmu_virt_nested(&ev));
	assert_non_null(strstr(why, "nested"));
	ev.cpu_hypervisor = false;
	assert_false(mmu_virt_nested(&ev));
	assert_string_equal(mmu_virt_mode_decide(&ev, why, sizeof(why)), "npt");
	assert_null(strstr(why, "nested"));
	struct mmu_evidence pvm = {.dev_kvm = true, .kvm_loaded = true, .kvm_pvm_loaded = true, .cpu_hypervisor = true};
	assert_false(mmu_virt_nested(&pvm));
}

static void test_mmu_pvm(void **state)
{
	(void)state;
	struct mmu_evidence ev = evidence();
	ev.dev_kvm = ev.kvm_loaded = ev.kvm_pvm_loaded = true;
	strcpy(ev.tdp_mmu, "N");
	char why[160];
	assert_string_equal(mmu_virt_mode_decide(&ev, why, sizeof(why)), "pvm-shadow");
	assert_string_equal(why, "kvm_pvm loaded, tdp_mmu=N");
}

static void test_mmu_shadow(void **state)
{
	(void)state;
	struct mmu_evidence ev = evidence();
	ev.dev_kvm = ev.kvm_loaded = ev.kvm_intel_loaded = true;
	strcpy(ev.ept, "N");
	char why[160];
	assert_string_equal(mmu_virt_mode_decide(&ev, why, sizeof(why)), "shadow");
	assert_non_null(strstr(why, "ept=N"));

	ev = evidence();
	ev.dev_kvm = ev.kvm_loaded = ev.kvm_amd_loaded = true;
	strcpy(ev.npt, "0");
	assert_string_equal(mmu_virt_mode_decide(&ev, why, sizeof(why)), "shadow");
	assert_non_null(strstr(why, "npt=0"));
	strcpy(ev.npt, "N");
	assert_string_equal(mmu_virt_mode_decide(&ev, why, sizeof(why)), "shadow");
}

static void test_mmu_unknown(void **state)
{
	(void)state;
	char why[160];
	/* kvm without any vendor module we know: tdp_mmu is the evidence shown. */
	struct mmu_evidence ev = evidence();
	ev.dev_kvm = ev.kvm_loaded = true;
	strcpy(ev.tdp_mmu, "Y");
	assert_string_equal(mmu_virt_mode_decide(&ev, why, sizeof(why)), "unknown");
	assert_non_null(strstr(why, "tdp_mmu=Y"));

	/* Vendor module loaded but its parameter unreadable. */
	ev = evidence();
	ev.dev_kvm = ev.kvm_loaded = ev.kvm_intel_loaded = true;
	assert_string_equal(mmu_virt_mode_decide(&ev, why, sizeof(why)), "unknown");
	assert_non_null(strstr(why, "ept"));

	/* /dev/kvm without a kvm module in sysfs. */
	ev = evidence();
	ev.dev_kvm = true;
	assert_string_equal(mmu_virt_mode_decide(&ev, why, sizeof(why)), "unknown");
}

static void test_mmu_none(void **state)
{
	(void)state;
	struct mmu_evidence ev = evidence();
	char why[160];
	assert_string_equal(mmu_virt_mode_decide(&ev, why, sizeof(why)), "none");
	assert_non_null(strstr(why, "no /dev/kvm"));
}

static void test_mmu_precedence(void **state)
{
	(void)state;
	/* Hardware TDP wins over PVM; PVM wins over a vendor module with TDP off. */
	struct mmu_evidence ev = evidence();
	ev.dev_kvm = ev.kvm_loaded = ev.kvm_pvm_loaded = ev.kvm_intel_loaded = true;
	strcpy(ev.ept, "Y");
	assert_string_equal(mmu_virt_mode_decide(&ev, NULL, 0), "ept");
	strcpy(ev.ept, "N");
	assert_string_equal(mmu_virt_mode_decide(&ev, NULL, 0), "pvm-shadow");
}

static void test_mmu_small_why(void **state)
{
	(void)state;
	struct mmu_evidence ev = evidence();
	ev.kvm_loaded = ev.kvm_pvm_loaded = true;
	char why[8];
	assert_string_equal(mmu_virt_mode_decide(&ev, why, sizeof(why)), "pvm-shadow");
	assert_int_equal(strlen(why), sizeof(why) - 1);
}

static void test_mmu_live_matches_decision(void **state)
{
	(void)state;
	struct mmu_evidence ev;
	mmu_evidence_collect(&ev);
	char why1[160], why2[160];
	assert_string_equal(machine_mmu_virt_mode(why1, sizeof(why1)), mmu_virt_mode_decide(&ev, why2, sizeof(why2)));
	assert_string_equal(why1, why2);
}

/* ---- CPUID decoding from known register values ---- */

static void check_sig(uint32_t eax, unsigned family, unsigned model, unsigned stepping)
{
	struct cpu_signature s;
	cpuid_decode_signature(eax, &s);
	assert_int_equal(s.family, family);
	assert_int_equal(s.model, model);
	assert_int_equal(s.stepping, stepping);
}

static void test_cpuid_signature(void **state)
{
	(void)state;
	check_sig(0x00B00F20u, 0x1a, 0x02, 0);  /* AMD Zen 5 EPYC: ext family 0xb */
	check_sig(0x00A10F11u, 0x19, 0x11, 1);  /* AMD Zen 4 Genoa */
	check_sig(0x00020F12u, 0x0f, 0x21, 2);  /* AMD K8: family 0xF takes the ext model */
	check_sig(0x000806F8u, 0x06, 0x8f, 8);  /* Intel Sapphire Rapids */
	check_sig(0x000A0671u, 0x06, 0xa7, 1);  /* Intel Rocket Lake */
	check_sig(0x00010543u, 0x05, 0x04, 3);  /* family 5: ext model ignored */
	check_sig(0x0FF00F00u, 0x10e, 0x00, 0); /* largest ext family */
}

static void test_cpuid_strings(void **state)
{
	(void)state;
	char s[13];
	cpuid_regs_string(0x756e6547u, 0x49656e69u, 0x6c65746eu, s); /* leaf 0 ebx, edx, ecx */
	assert_string_equal(s, "GenuineIntel");
	cpuid_regs_string(0x68747541u, 0x69746e65u, 0x444d4163u, s);
	assert_string_equal(s, "AuthenticAMD");
	cpuid_regs_string(0x4b4d564bu, 0x564b4d56u, 0x0000004du, s); /* 0x40000000 ebx, ecx, edx */
	assert_string_equal(s, "KVMKVMKVM");
	cpuid_regs_string(0x7263694du, 0x666f736fu, 0x76482074u, s);
	assert_string_equal(s, "Microsoft Hv");
}

/* The live decoding agrees with what the kernel decoded into /proc/cpuinfo. */
static void test_cpuid_matches_proc(void **state)
{
	(void)state;
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		skip();
	char line[512], vendor[64] = "";
	long family = -1, model = -1;
	while (fgets(line, sizeof(line), f) && (family < 0 || model < 0 || !vendor[0])) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		if (!strncmp(line, "vendor_id", 9))
			sscanf(colon + 1, " %63s", vendor);
		else if (!strncmp(line, "cpu family", 10))
			family = strtol(colon + 1, NULL, 10);
		else if (!strncmp(line, "model\t", 6))
			model = strtol(colon + 1, NULL, 10);
	}
	fclose(f);
	if (family < 0 || model < 0 || !vendor[0])
		skip();
	json_t *facts = machine_facts_json();
	json_t *cpu = json_object_get(facts, "cpu");
	assert_string_equal(json_string_value(json_object_get(cpu, "vendor")), vendor);
	assert_int_equal(json_integer_value(json_object_get(cpu, "family")), family);
	assert_int_equal(json_integer_value(json_object_get(cpu, "model")), model);
	json_decref(facts);
	topology_fini();
}

/* ---- The fact sheet: every key, with the right type ---- */

static const json_t *sect(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	assert_true(json_is_object(v));
	return v;
}

static void want(const json_t *o, const char *key, json_type type, int nullable)
{
	const json_t *v = json_object_get(o, key);
	if (!v)
		fail_msg("missing key '%s'", key);
	if (nullable && json_is_null(v))
		return;
	if (json_typeof(v) != type)
		fail_msg("key '%s' has json type %d, want %d", key, (int)json_typeof(v), (int)type);
}

static void want_bool(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_boolean(v))
		fail_msg("key '%s' is not a boolean", key);
}

static void test_facts_keys(void **state)
{
	(void)state;
	json_t *f = machine_facts_json();
	assert_non_null(f);

	const json_t *cpu = sect(f, "cpu");
	want(cpu, "vendor", JSON_STRING, 0);
	want(cpu, "family", JSON_INTEGER, 0);
	want(cpu, "model", JSON_INTEGER, 0);
	want(cpu, "stepping", JSON_INTEGER, 0);
	want(cpu, "name", JSON_STRING, 1);
	want_bool(cpu, "pcid");
	want_bool(cpu, "invpcid");

	const json_t *tsc = sect(f, "tsc");
	want(tsc, "ticks_per_ns", JSON_REAL, 0);
	assert_true(json_real_value(json_object_get(tsc, "ticks_per_ns")) > 0);
	want_bool(tsc, "invariant");
	want(tsc, "overhead_ticks", JSON_INTEGER, 0);

	const json_t *hv = sect(f, "hypervisor");
	want_bool(hv, "present");
	if (json_is_true(json_object_get(hv, "present")))
		want(hv, "signature", JSON_STRING, 0);
	else
		assert_true(json_is_null(json_object_get(hv, "signature")));

	const json_t *k = sect(f, "kernel");
	want(k, "release", JSON_STRING, 0);
	want(k, "version", JSON_STRING, 0);
	want(k, "page_table_isolation", JSON_STRING, 1);

	const json_t *thp = sect(f, "thp");
	want(thp, "enabled", JSON_STRING, 1);
	want(thp, "defrag", JSON_STRING, 1);
	const char *en = json_string_value(json_object_get(thp, "enabled"));
	if (en) /* the bracketed choice only */
		assert_null(strpbrk(en, "[] "));

	want(f, "hugepages", JSON_OBJECT, 1);

	const json_t *kvm = sect(f, "kvm");
	want_bool(kvm, "dev_present");
	want_bool(kvm, "usable");
	want(kvm, "api_version", JSON_INTEGER, 1);
	want(kvm, "mmu_virt_mode", JSON_STRING, 0);
	want(kvm, "evidence", JSON_STRING, 0);
	want(kvm, "reason", JSON_STRING, 1);
	/* A reason exactly when KVM is not usable. */
	assert_int_equal(json_is_true(json_object_get(kvm, "usable")), json_is_null(json_object_get(kvm, "reason")));
	assert_int_equal(json_is_true(json_object_get(kvm, "dev_present")), access("/dev/kvm", F_OK) == 0);
	assert_string_equal(json_string_value(json_object_get(kvm, "mmu_virt_mode")), machine_mmu_virt_mode(NULL, 0));

	const json_t *t = sect(f, "topology");
	want(t, "packages", JSON_INTEGER, 0);
	want(t, "cores", JSON_INTEGER, 0);
	want(t, "pus", JSON_INTEGER, 0);
	want(t, "numa_nodes", JSON_INTEGER, 0);
	want(t, "caches", JSON_ARRAY, 0);
	want(t, "allowed_pus", JSON_ARRAY, 0);
	want(t, "default_measure_pu", JSON_INTEGER, 0);
	size_t i;
	const json_t *c;
	json_array_foreach(json_object_get(t, "caches"), i, c)
	{
		want(c, "level", JSON_INTEGER, 0);
		want(c, "type", JSON_STRING, 0);
		want(c, "size_bytes", JSON_INTEGER, 1);
		want(c, "line_bytes", JSON_INTEGER, 1);
		want(c, "ways", JSON_INTEGER, 1);
		want(c, "count", JSON_INTEGER, 0);
		assert_true(json_integer_value(json_object_get(c, "count")) >= 1);
	}

	want(f, "perf_event_paranoid", JSON_INTEGER, 1);
	want(f, "hostname", JSON_STRING, 1);
	want_bool(f, "user_is_root");
	assert_int_equal(json_is_true(json_object_get(f, "user_is_root")), geteuid() == 0);
	json_decref(f);
	topology_fini();
}

static char *render(const json_t *facts)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	machine_facts_print(out, facts);
	fclose(out);
	return text;
}

static void test_print(void **state)
{
	(void)state;
	json_t *f = machine_facts_json();
	char *text = render(f);
	assert_non_null(strstr(text, "\nKVM\n"));
	assert_non_null(strstr(text, "  mmu virtualization:"));
	assert_non_null(strstr(text, machine_mmu_virt_mode(NULL, 0)));
	assert_non_null(strstr(text, json_string_value(json_object_get(json_object_get(f, "cpu"), "vendor"))));
	free(text);
	json_decref(f);
	topology_fini();

	/* A results file from elsewhere may hold anything: wrong types print as unknown. */
	json_t *bad = json_pack("{s:i, s:{s:i}, s:[], s:{s:s}, s:{s:[{s:s}]}}", "cpu", 3, "kvm", "usable", 7,
				"topology", "hugepages", "2M", "x", "tsc", "caches", "level", "x");
	assert_non_null(bad);
	text = render(bad);
	assert_non_null(strstr(text, "unknown"));
	free(text);
	json_decref(bad);
	json_t *empty = json_object();
	text = render(empty);
	assert_non_null(strstr(text, "Topology"));
	free(text);
	json_decref(empty);
}

/* ---- Topology and pinning ---- */

static void test_topology_pus(void **state)
{
	(void)state;
	nb_error err;
	assert_int_equal(topology_init(&err), 0);
	cpu_set_t set;
	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	assert_true(topology_pu_count() >= 1);
	assert_int_equal(topology_pu_count(), CPU_COUNT(&set));
	int pu = topology_default_measure_pu();
	assert_true(topology_pu_allowed(pu));
	assert_true(CPU_ISSET(pu, &set));
	assert_false(topology_pu_allowed(-1));
	assert_false(topology_pu_allowed(CPU_SETSIZE + 5));
	topology_fini();
}

static void test_topology_pick(void **state)
{
	(void)state;
	nb_error err;
	assert_int_equal(topology_init(&err), 0);
	int n = topology_pu_count();
	int *out = calloc((size_t)n + 1, sizeof(int));
	assert_non_null(out);
	assert_int_equal(topology_pick_pus(n, -1, out, &err), 0);
	assert_int_equal(out[0], topology_default_measure_pu());
	for (int i = 0; i < n; i++) {
		assert_true(topology_pu_allowed(out[i]));
		for (int j = 0; j < i; j++)
			assert_int_not_equal(out[i], out[j]);
	}
	int last = out[n - 1];
	assert_int_equal(topology_pick_pus(1, last, out, &err), 0);
	assert_int_equal(out[0], last);
	/* More PUs than allowed: a skip with the reason. */
	assert_int_equal(topology_pick_pus(n + 1, -1, out, &err), 1);
	assert_non_null(strstr(err.msg, "cpus"));
	assert_int_equal(topology_pick_pus(1, CPU_SETSIZE + 5, out, &err), -1);
	assert_int_equal(topology_pick_pus(0, -1, out, &err), -1);
	free(out);
	topology_fini();
}

static void test_pin_restore(void **state)
{
	(void)state;
	nb_error err;
	assert_int_equal(topology_init(&err), 0);
	cpu_set_t before, during, after;
	assert_int_equal(sched_getaffinity(0, sizeof(before), &before), 0);
	int pu = topology_default_measure_pu();

	assert_int_equal(topology_pin_self(pu, &err), 0);
	assert_int_equal(sched_getaffinity(0, sizeof(during), &during), 0);
	assert_int_equal(CPU_COUNT(&during), 1);
	assert_true(CPU_ISSET(pu, &during));
	assert_int_equal(topology_current_pu(), pu);

	/* A second pin keeps the first saved affinity. */
	int other = topology_pu_count() > 1 ? (pu == 0 ? 1 : 0) : pu;
	if (topology_pu_allowed(other)) {
		assert_int_equal(topology_pin_self(other, &err), 0);
		assert_int_equal(topology_current_pu(), other);
	}
	assert_int_equal(topology_pin_self(CPU_SETSIZE + 5, &err), -1);
	assert_non_null(strstr(err.msg, "cannot pin"));

	topology_restore_affinity();
	assert_int_equal(sched_getaffinity(0, sizeof(after), &after), 0);
	assert_true(CPU_EQUAL(&before, &after));
	topology_restore_affinity(); /* idempotent */
	assert_int_equal(sched_getaffinity(0, sizeof(after), &after), 0);
	assert_true(CPU_EQUAL(&before, &after));
	topology_fini();
}

/* ---- the CPU state (harness/host/cpustate.c) ---- */

static void test_cpustate_helpers(void **state)
{
	(void)state;
	int l[16];
	assert_int_equal(cpustate_parse_cpulist("0-3,8,10-11\n", l, 16), 7);
	assert_int_equal(l[3], 3);
	assert_int_equal(l[4], 8);
	assert_int_equal(l[6], 11);
	assert_int_equal(cpustate_parse_cpulist("5", l, 16), 1);
	assert_int_equal(cpustate_parse_cpulist("3-1", l, 16), -1);
	assert_int_equal(cpustate_parse_cpulist("x", l, 16), -1);
	const char *stat = "cpu  9 9 9 9 9 9 9 9 0 0\ncpu0 10 1 5 100 4 1 1 2 0 0\ncpu1 1 0 0 50 0 0 0 0 0 0\n";
	uint64_t b, t;
	assert_int_equal(cpustate_stat_times(stat, 0, &b, &t), 0);
	assert_int_equal(b, 10 + 1 + 5 + 1 + 1 + 2);
	assert_int_equal(t, b + 100 + 4);
	assert_int_equal(cpustate_stat_times(stat, 2, &b, &t), -1);
	assert_float_equal(cpustate_busy_fraction(10, 100, 30, 200), 0.2, 1e-12);
	assert_true(cpustate_busy_fraction(10, 100, 10, 100) < 0);
	assert_float_equal(cpustate_aperf_ratio(1000, 1000, 3400, 3000), 1.2, 1e-12);
	assert_true(cpustate_aperf_ratio(5, 5, 9, 5) < 0);
}

static void put(const char *dir, const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	/* mkdir -p of the parent */
	for (char *p = path + strlen(dir) + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(path, 0755);
			*p = '/';
		}
	if (!text) {
		mkdir(path, 0755);
		return;
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_cpustate_tree(void **state)
{
	(void)state;
	char root[] = "/tmp/nb-cpustate-XXXXXX";
	assert_non_null(mkdtemp(root));
	put(root, "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "performance\n");
	put(root, "sys/devices/system/cpu/cpu0/cpufreq/scaling_driver", "acpi-cpufreq\n");
	put(root, "sys/devices/system/cpu/cpu0/cpufreq/scaling_max_freq", "3500000\n");
	put(root, "sys/devices/system/cpu/cpufreq/boost", "0\n");
	put(root, "sys/devices/system/cpu/cpu0/topology/thread_siblings_list", "0,2\n");
	put(root, "sys/devices/system/cpu/cpu0/node1", NULL);
	put(root, "sys/devices/system/cpu/cpu1/topology/thread_siblings_list", "1\n");
	put(root, "proc/stat", "cpu2 1 0 0 5 0 0 0 0\n");
	put(root, "proc/sys/kernel/numa_balancing", "1\n");
	char sys[600], proc[600], dev[600];
	snprintf(sys, sizeof(sys), "%s/sys", root);
	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(dev, sizeof(dev), "%s/dev", root);
	struct cpustate_roots r = {sys, proc, dev, 5};
	json_t *o = cpustate_json(&r, 0);
	const json_t *f = json_object_get(o, "cpufreq");
	assert_string_equal(json_string_value(json_object_get(f, "governor")), "performance");
	assert_string_equal(json_string_value(json_object_get(f, "driver")), "acpi-cpufreq");
	assert_int_equal(json_integer_value(json_object_get(f, "max_khz")), 3500000);
	assert_true(json_is_null(json_object_get(f, "cur_khz")));
	assert_true(json_is_null(json_object_get(f, "reason")));
	const json_t *b = json_object_get(o, "boost");
	assert_true(json_is_false(json_object_get(b, "enabled")));
	assert_string_equal(json_string_value(json_object_get(b, "source")), "cpufreq/boost");
	/* No msr device in the tree: null, with the reason and the fix. */
	const json_t *a = json_object_get(o, "aperf_mperf");
	assert_true(json_is_null(json_object_get(a, "ratio")));
	assert_non_null(strstr(json_string_value(json_object_get(a, "reason")), "modprobe msr"));
	/* The sibling is named; the same /proc/stat twice gives no time: unknown. */
	const json_t *smt = json_object_get(o, "smt");
	assert_int_equal(json_array_size(json_object_get(smt, "siblings")), 1);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(smt, "siblings"), 0)), 2);
	assert_true(json_is_null(json_object_get(smt, "sibling_idle")));
	assert_non_null(json_string_value(json_object_get(smt, "reason")));
	assert_int_equal(json_integer_value(json_object_get(o, "numa_balancing")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "node")), 1);
	json_decref(o);

	/* cpu1: no cpufreq, no sibling, no node entry. */
	o = cpustate_json(&r, 1);
	assert_true(json_is_null(json_object_get(json_object_get(o, "cpufreq"), "governor")));
	assert_non_null(json_string_value(json_object_get(json_object_get(o, "cpufreq"), "reason")));
	assert_int_equal(json_array_size(json_object_get(json_object_get(o, "smt"), "siblings")), 0);
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(o, "smt"), "reason")), "no SMT sibling"));
	assert_true(json_is_null(json_object_get(o, "node")));
	json_decref(o);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mmu_ept),
		cmocka_unit_test(test_mmu_npt),
		cmocka_unit_test(test_mmu_nested),
		cmocka_unit_test(test_mmu_pvm),
		cmocka_unit_test(test_mmu_shadow),
		cmocka_unit_test(test_mmu_unknown),
		cmocka_unit_test(test_mmu_none),
		cmocka_unit_test(test_mmu_precedence),
		cmocka_unit_test(test_mmu_small_why),
		cmocka_unit_test(test_mmu_live_matches_decision),
		cmocka_unit_test(test_cpuid_signature),
		cmocka_unit_test(test_cpuid_strings),
		cmocka_unit_test(test_cpuid_matches_proc),
		cmocka_unit_test(test_facts_keys),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_topology_pus),
		cmocka_unit_test(test_topology_pick),
		cmocka_unit_test(test_pin_restore),
		cmocka_unit_test(test_cpustate_helpers),
		cmocka_unit_test(test_cpustate_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
