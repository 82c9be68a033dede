/* machine_print.c - the human-readable fact sheet of `nestbench info`.
 *
 * It renders the JSON (not the live machine), so the same code can show the
 * `host` member of a results file from another machine; every member is
 * therefore looked up defensively and a missing or mistyped one prints as
 * "unknown".  Where a feature is missing, a "to enable" line says how.
 */
#include "harness/mem/hugepool.h"
#include "harness/host/machine.h"
#include "harness/host/tlb.h"

#include <stdarg.h>
#include <string.h>

#include "core/util.h"

#define KEY_WIDTH 22

static void section(FILE *out, const char *title)
{
	fprintf(out, "%s\n", title);
}

static void kv(FILE *out, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void kv(FILE *out, const char *key, const char *fmt, ...)
{
	char label[64];
	snprintf(label, sizeof(label), "%s:", key);
	fprintf(out, "  %-*s ", KEY_WIDTH, label);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

static const json_t *member(const json_t *o, const char *key)
{
	return json_is_object(o) ? json_object_get(o, key) : NULL;
}

/* A string member, or `dflt` when it is absent, null or not a string. */
static const char *str(const json_t *o, const char *key, const char *dflt)
{
	const json_t *v = member(o, key);
	return json_is_string(v) ? json_string_value(v) : dflt;
}

/* A function, not jansson's macro: that one evaluates its argument twice. */
static bool is_true(const json_t *o, const char *key)
{
	const json_t *v = member(o, key);
	return v && json_is_true(v);
}

static const char *yesno(const json_t *o, const char *key)
{
	const json_t *v = member(o, key);
	return json_is_boolean(v) ? (json_is_true(v) ? "yes" : "no") : "unknown";
}

static bool integer(const json_t *o, const char *key, long long *out)
{
	const json_t *v = member(o, key);
	if (!json_is_integer(v))
		return false;
	*out = json_integer_value(v);
	return true;
}

static void kv_int(FILE *out, const char *key, const json_t *o, const char *member_key)
{
	long long v;
	if (integer(o, member_key, &v))
		kv(out, key, "%lld", v);
	else
		kv(out, key, "unknown");
}

/* "unknown (reason)" when the section says why a fact is missing. */
static void kv_str(FILE *out, const char *key, const json_t *o, const char *member_key)
{
	const char *v = str(o, member_key, NULL);
	const char *reason = str(o, "reason", NULL);
	if (v)
		kv(out, key, "%s", v);
	else if (reason)
		kv(out, key, "unknown (%s)", reason);
	else
		kv(out, key, "unknown");
}

static void print_cpu(FILE *out, const json_t *cpu)
{
	section(out, "CPU");
	kv_str(out, "vendor", cpu, "vendor");
	kv_str(out, "name", cpu, "name");
	long long fam, model, step;
	if (integer(cpu, "family", &fam) && integer(cpu, "model", &model) && integer(cpu, "stepping", &step))
		kv(out, "family/model/stepping", "0x%llx/0x%llx/%lld (%lld/%lld/%lld)", fam, model, step, fam, model,
		   step);
	else
		kv(out, "family/model/stepping", "unknown");
	kv(out, "pcid", "%s", yesno(cpu, "pcid"));
	kv(out, "invpcid", "%s", yesno(cpu, "invpcid"));
}

static void print_tsc(FILE *out, const json_t *tsc)
{
	section(out, "TSC");
	const json_t *r = member(tsc, "ticks_per_ns");
	if (json_is_number(r))
		kv(out, "ticks per ns", "%.4f", json_number_value(r));
	else
		kv(out, "ticks per ns", "unknown");
	kv(out, "invariant", "%s", yesno(tsc, "invariant"));
	long long ov;
	if (integer(tsc, "overhead_ticks", &ov))
		kv(out, "read overhead", "%lld ticks", ov);
	else
		kv(out, "read overhead", "unknown");
}

static void print_hypervisor(FILE *out, const json_t *hv)
{
	section(out, "Hypervisor");
	kv(out, "present", "%s", yesno(hv, "present"));
	if (is_true(hv, "present"))
		kv(out, "signature", "%s", str(hv, "signature", "unknown"));
}

static void print_kernel(FILE *out, const json_t *k)
{
	section(out, "Kernel");
	kv_str(out, "release", k, "release");
	kv_str(out, "version", k, "version");
	kv_str(out, "page table isolation", k, "page_table_isolation");
}

static void print_thp(FILE *out, const json_t *thp)
{
	section(out, "THP");
	kv_str(out, "enabled", thp, "enabled");
	kv_str(out, "defrag", thp, "defrag");
	const char *en = str(thp, "enabled", NULL);
	if (en && !strcmp(en, "never"))
		kv(out, "to enable", "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled");
}

/* Pages that runs killed outright added and never gave back (poolledger.h). */
static void print_left_behind(FILE *out, size_t page_bytes)
{
	struct ledger_entry e[LEDGER_MAX_ENTRIES];
	size_t n = hugepool_left_behind(page_bytes, e, ARRAY_SIZE(e));
	for (size_t i = 0; i < n; i++)
		kv(out, "left behind", "%ld pages left by a run that did not finish (pid %d, gone); "
		   "`nestbench cleanup` gives them back", e[i].pages, (int)e[i].pid);
}

static void print_hugepages(FILE *out, const json_t *huge, bool root)
{
	section(out, "Hugepages");
	if (!json_is_object(huge) || json_object_size(huge) == 0) {
		kv(out, "pools", "unknown");
		return;
	}
	const char *key;
	const json_t *pool;
	/* jansson's iterators take a non-const object but do not modify it. */
	json_object_foreach((json_t *)(uintptr_t)huge, key, pool)
	{
		char label[32];
		snprintf(label, sizeof(label), "%s pool", key);
		long long total, nfree;
		if (!integer(pool, "total", &total) || !integer(pool, "free", &nfree)) {
			kv(out, label, "not available (kernel has no %s hugetlb pool)", key);
			continue;
		}
		kv(out, label, "%lld pages, %lld free", total, nfree);
		size_t bytes;
		if (parse_size(key, &bytes, NULL) == 0)
			print_left_behind(out, bytes);
		/* As root, `run` grows the pools it needs and puts them back itself. */
		if (total == 0 && parse_size(key, &bytes, NULL) == 0)
			kv(out, "to enable", "%s /sys/kernel/mm/hugepages/hugepages-%zukB/nr_hugepages%s",
			   root ? "echo N >" : "echo N | sudo tee", bytes / 1024,
			   root ? " (or let 'nestbench run' reserve and restore it)" : "");
	}
}

static void print_kvm(FILE *out, const json_t *kvm)
{
	section(out, "KVM");
	kv(out, "/dev/kvm", "%s", is_true(kvm, "dev_present") ? "present" : "absent");
	long long api;
	if (is_true(kvm, "usable") && integer(kvm, "api_version", &api))
		kv(out, "usable", "yes (api version %lld)", api);
	else
		kv(out, "usable", "%s", yesno(kvm, "usable"));
	kv(out, "mmu virtualization", "%s%s", str(kvm, "mmu_virt_mode", "unknown"),
	   is_true(kvm, "nested") ? " (nested)" : "");
	kv(out, "evidence", "%s", str(kvm, "evidence", "unknown"));
	/* The parameters this kernel has, one line: what drives exit and IPI costs. */
	const char *name;
	const json_t *v;
	char params[512] = "";
	size_t at = 0;
	json_object_foreach((json_t *)(uintptr_t)json_object_get(kvm, "params"), name, v)
		if (json_is_string(v) && at < sizeof(params))
			at += (size_t)snprintf(params + at, sizeof(params) - at, "%s%s=%s", at ? " " : "", name,
					       json_string_value(v));
	if (at)
		kv(out, "parameters", "%s", params);
	const char *reason = str(kvm, "reason", NULL);
	if (reason)
		kv(out, "why not, fix", "%s", reason);
}

static void cache_label(const json_t *c, char *buf, size_t len)
{
	long long level = 0;
	integer(c, "level", &level);
	const char *type = str(c, "type", "");
	const char *suffix = !strcmp(type, "data") ? "d" : !strcmp(type, "instruction") ? "i" : "";
	snprintf(buf, len, "L%lld%s", level, suffix);
}

static void print_caches(FILE *out, const json_t *caches)
{
	size_t i;
	const json_t *c;
	json_array_foreach(caches, i, c)
	{
		char label[16], size[32] = "? size", line[32] = "? line", ways[32] = "? ways";
		cache_label(c, label, sizeof(label));
		long long v;
		if (integer(c, "size_bytes", &v) && v > 0)
			format_size((size_t)v, size, sizeof(size));
		if (integer(c, "line_bytes", &v))
			snprintf(line, sizeof(line), "%lldB lines", v);
		if (integer(c, "ways", &v))
			snprintf(ways, sizeof(ways), "%lld-way", v);
		else if (is_true(c, "fully_associative"))
			snprintf(ways, sizeof(ways), "fully associative");
		long long count = 0;
		integer(c, "count", &count);
		kv(out, label, "%s, %s, %s, x%lld", size, line, ways, count);
	}
}

static void print_topology(FILE *out, const json_t *t)
{
	section(out, "Topology");
	kv_int(out, "packages", t, "packages");
	kv_int(out, "cores", t, "cores");
	kv_int(out, "pus", t, "pus");
	kv_int(out, "numa nodes", t, "numa_nodes");
	const json_t *allowed = member(t, "allowed_pus");
	if (json_is_array(allowed)) {
		char list[256] = "";
		size_t used = 0, i;
		const json_t *pu;
		json_array_foreach(allowed, i, pu)
		{
			int n = snprintf(list + used, sizeof(list) - used, "%s%lld", i ? "," : "",
					 (long long)json_integer_value(pu));
			if (n < 0 || (size_t)n >= sizeof(list) - used)
				break;
			used += (size_t)n;
		}
		kv(out, "allowed pus", "%s", list);
	} else {
		kv_str(out, "allowed pus", t, "allowed_pus");
	}
	kv_int(out, "default measure pu", t, "default_measure_pu");
	const json_t *caches = member(t, "caches");
	if (json_is_array(caches))
		print_caches(out, caches);
}

static void print_perf(FILE *out, const json_t *facts, bool root)
{
	section(out, "Perf");
	long long p;
	if (!integer(facts, "perf_event_paranoid", &p)) {
		kv(out, "perf_event_paranoid", "unknown (%s)", str(facts, "perf_event_paranoid_reason", "not recorded"));
		return;
	}
	kv(out, "perf_event_paranoid", "%lld%s", p, root ? " (root: not restricted by it)" : "");
	if (p > 1 && !root)
		kv(out, "to enable", "sudo sysctl -w kernel.perf_event_paranoid=1 (or run as root)");
}

static void print_pmu(FILE *out, const json_t *pmu)
{
	section(out, "PMU");
	if (!pmu) {
		kv(out, "state", "unknown");
		return;
	}
	kv(out, "event set", "%s", str(pmu, "event_set", "none (libpfm4 knows no PMU for this CPU)"));
	if (json_is_string(json_object_get(pmu, "event_set_note")))
		kv(out, "note", "%s", str(pmu, "event_set_note", ""));
	kv(out, "kernel cpu pmu", "%s", yesno(pmu, "kernel_cpu_pmu"));
	kv(out, "hardware counting", "%s", yesno(pmu, "hardware_counting"));
	if (!is_true(pmu, "hardware_counting"))
		kv(out, "why not, fix", "%s: %s", str(pmu, "errno_name", "?"), str(pmu, "reason", "unknown"));
	kv(out, "software counting", "%s", yesno(pmu, "software_counting"));
}

static void print_tlb(FILE *out, const json_t *tlb)
{
	section(out, "Data TLBs (CPUID)");
	if (!strcmp(str(tlb, "source", ""), "")) {
		kv(out, "unavailable", "%s", str(tlb, "unavailable", "unknown"));
		return;
	}
	kv(out, "source", "%s", str(tlb, "source", "?"));
	size_t i;
	const json_t *l;
	json_array_foreach(member(tlb, "levels"), i, l)
	{
		long long page = 0, entries = 0, ways = 0, reach = 0;
		integer(l, "page_bytes", &page);
		integer(l, "entries", &entries);
		integer(l, "ways", &ways);
		integer(l, "reach_bytes", &reach);
		char label[64], w[24], pg[16];
		snprintf(label, sizeof(label), "%s %s", str(l, "name", "?"),
			 tlb_page_name(page > 0 ? (uint64_t)page : 0, pg, sizeof(pg)));
		if (ways)
			snprintf(w, sizeof(w), "%lld-way", ways);
		else
			snprintf(w, sizeof(w), "fully associative");
		kv(out, label, "%lld entries, %s, reach %lld KiB", entries, w, reach >> 10);
	}
}

/* A fact's value, or "unavailable: <reason>". */
static void kv_or_reason(FILE *out, const char *key, const json_t *o, const char *member_key)
{
	const json_t *v = member(o, member_key);
	long long n;
	if (strcmp(str(o, member_key, ""), ""))
		kv(out, key, "%s", str(o, member_key, ""));
	else if (integer(o, member_key, &n))
		kv(out, key, "%lld", n);
	else if (v && json_typeof(v) == JSON_REAL)
		kv(out, key, "%.3f", json_real_value(v));
	else if (v && (json_typeof(v) == JSON_TRUE || json_typeof(v) == JSON_FALSE))
		kv(out, key, "%s", json_typeof(v) == JSON_TRUE ? "yes" : "no");
	else
		kv(out, key, "unavailable: %s", str(o, "reason", "unknown"));
}

static void print_cpu_state(FILE *out, const json_t *st)
{
	section(out, "CPU state");
	kv_int(out, "pu", st, "pu");
	kv_or_reason(out, "governor", member(st, "cpufreq"), "governor");
	kv_or_reason(out, "boost", member(st, "boost"), "enabled");
	kv_or_reason(out, "aperf/mperf", member(st, "aperf_mperf"), "ratio");
	kv_or_reason(out, "smt sibling idle", member(st, "smt"), "sibling_idle");
	kv_int(out, "numa balancing", st, "numa_balancing");
	kv_int(out, "memory node", st, "node");
}

void machine_facts_print(FILE *out, const json_t *facts)
{
	bool root = is_true(facts, "user_is_root");
	section(out, "Host");
	kv(out, "hostname", "%s", str(facts, "hostname", "unknown"));
	kv(out, "user is root", "%s", yesno(facts, "user_is_root"));
	print_cpu(out, member(facts, "cpu"));
	print_tsc(out, member(facts, "tsc"));
	print_hypervisor(out, member(facts, "hypervisor"));
	print_kernel(out, member(facts, "kernel"));
	print_thp(out, member(facts, "thp"));
	print_hugepages(out, member(facts, "hugepages"), root);
	print_kvm(out, member(facts, "kvm"));
	print_topology(out, member(facts, "topology"));
	print_perf(out, facts, root);
	print_pmu(out, member(facts, "pmu"));
	print_tlb(out, member(facts, "tlb"));
	print_cpu_state(out, member(facts, "cpu_state"));
}
