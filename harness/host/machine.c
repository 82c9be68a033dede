/* machine.c - gather the machine facts: CPUID, TSC, hypervisor, kernel, THP, KVM.
 *
 * Every fact comes from a probe; one that cannot be read is JSON null and
 * its section carries a "reason", so a results file never holds a guess.
 */
#include "harness/host/machine.h"
#include "harness/host/cpustate.h"
#include "harness/host/tlb.h"
#include "harness/pmu/pmu.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "harness/mem/hugepool.h"
#include "harness/host/topology.h"
#include "core/tsc.h"
#include "core/util.h"

/* Strings from CPUID, uname and sysfs are not guaranteed UTF-8; jansson
 * refuses those, and a fact that cannot be stored is null, not dropped. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	return j ? j : json_null();
}

void cpuid_decode_signature(uint32_t eax, struct cpu_signature *out)
{
	unsigned base_family = (eax >> 8) & 0xf;
	unsigned base_model = (eax >> 4) & 0xf;
	out->stepping = eax & 0xf;
	out->family = base_family;
	if (base_family == 0xf)
		out->family += (eax >> 20) & 0xff;
	out->model = base_model;
	if (base_family == 0x6 || base_family == 0xf)
		out->model |= ((eax >> 16) & 0xf) << 4;
}

void cpuid_regs_string(uint32_t r0, uint32_t r1, uint32_t r2, char out[13])
{
	uint32_t regs[3] = {r0, r1, r2};
	for (int i = 0; i < 3; i++)
		for (int b = 0; b < 4; b++)
			out[i * 4 + b] = (char)((regs[i] >> (8 * b)) & 0xff);
	out[12] = '\0';
}

/* The brand string of leaves 0x80000002..4, without the padding spaces some
 * vendors put around it. */
static json_t *cpu_brand_json(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000004u)
		return json_null();
	char brand[49];
	for (unsigned i = 0; i < 3; i++) {
		__get_cpuid(0x80000002u + i, &a, &b, &c, &d);
		uint32_t regs[4] = {a, b, c, d};
		for (unsigned r = 0; r < 4; r++)
			for (unsigned k = 0; k < 4; k++)
				brand[i * 16 + r * 4 + k] = (char)((regs[r] >> (8 * k)) & 0xff);
	}
	brand[48] = '\0';
	/* A NUL inside a leaf ends the string there. */
	size_t len = strnlen(brand, 48);
	const char *start = brand;
	while (*start == ' ')
		start++;
	while (len > 0 && brand[len - 1] == ' ')
		brand[--len] = '\0';
	return jstr(start);
}

static json_t *cpu_json(void)
{
	json_t *o = json_object();
	unsigned a, b, c, d;
	if (!__get_cpuid(0, &a, &b, &c, &d)) {
		json_object_set_new(o, "vendor", json_null());
		json_object_set_new(o, "reason", json_string("cpuid is not available"));
		return o;
	}
	unsigned max_leaf = a;
	char vendor[13];
	cpuid_regs_string(b, d, c, vendor);
	json_object_set_new(o, "vendor", jstr(vendor));

	a = c = 0;
	__get_cpuid(1, &a, &b, &c, &d);
	struct cpu_signature sig;
	cpuid_decode_signature(a, &sig);
	json_object_set_new(o, "family", json_integer(sig.family));
	json_object_set_new(o, "model", json_integer(sig.model));
	json_object_set_new(o, "stepping", json_integer(sig.stepping));
	json_object_set_new(o, "name", cpu_brand_json());
	json_object_set_new(o, "pcid", json_boolean((c >> 17) & 1));

	bool invpcid = false;
	if (max_leaf >= 7) {
		__cpuid_count(7, 0, a, b, c, d);
		invpcid = (b >> 10) & 1;
	}
	json_object_set_new(o, "invpcid", json_boolean(invpcid));
	return o;
}

static json_t *tsc_json(void)
{
	json_t *o = json_object();
	json_object_set_new(o, "ticks_per_ns", json_real(tsc_ticks_per_ns()));
	json_object_set_new(o, "invariant", json_boolean(tsc_is_invariant()));
	json_object_set_new(o, "overhead_ticks", json_integer((json_int_t)tsc_overhead_ticks()));
	return o;
}

static json_t *hypervisor_json(void)
{
	json_t *o = json_object();
	unsigned a, b, c = 0, d;
	bool present = __get_cpuid(1, &a, &b, &c, &d) && ((c >> 31) & 1);
	json_object_set_new(o, "present", json_boolean(present));
	if (!present) {
		json_object_set_new(o, "signature", json_null());
		return o;
	}
	/* Leaf 0x40000000 is outside the ranges __get_cpuid checks: it exists
	 * only when the hypervisor bit is set, which it is here. */
	__cpuid(0x40000000u, a, b, c, d);
	char sig[13];
	cpuid_regs_string(b, c, d, sig);
	json_object_set_new(o, "signature", jstr(sig));
	return o;
}

/* "always [madvise] never" -> "madvise". */
static int bracketed_choice(const char *text, char *out, size_t len)
{
	const char *open = strchr(text, '[');
	const char *close = open ? strchr(open, ']') : NULL;
	if (!close || (size_t)(close - open - 1) >= len)
		return -1;
	memcpy(out, open + 1, (size_t)(close - open - 1));
	out[close - open - 1] = '\0';
	return 0;
}

static json_t *thp_json(void)
{
	static const char *const keys[] = {"enabled", "defrag"};
	json_t *o = json_object();
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		char path[96], text[256], choice[64];
		snprintf(path, sizeof(path), "/sys/kernel/mm/transparent_hugepage/%s", keys[i]);
		if (read_small_file(path, text, sizeof(text)) < 0) {
			json_object_set_new(o, keys[i], json_null());
			char reason[160];
			snprintf(reason, sizeof(reason), "cannot read %s: %s (kernel without transparent hugepages?)",
				 path, strerror(errno));
			json_object_set_new(o, "reason", json_string(reason));
		} else if (bracketed_choice(text, choice, sizeof(choice)) != 0) {
			json_object_set_new(o, keys[i], json_null());
			json_object_set_new(o, "reason", json_string("unexpected format of transparent_hugepage files"));
		} else {
			json_object_set_new(o, keys[i], json_string(choice));
		}
	}
	return o;
}

static json_t *kernel_json(void)
{
	json_t *o = json_object();
	struct utsname u;
	if (uname(&u) == 0) {
		json_object_set_new(o, "release", jstr(u.release));
		json_object_set_new(o, "version", jstr(u.version));
	} else {
		json_object_set_new(o, "release", json_null());
		json_object_set_new(o, "version", json_null());
	}
	/* The meltdown file says whether KPTI is on ("Mitigation: PTI") or not
	 * needed ("Not affected"); KPTI makes every syscall switch page tables. */
	const char *path = "/sys/devices/system/cpu/vulnerabilities/meltdown";
	char text[256];
	if (read_small_file(path, text, sizeof(text)) >= 0) {
		json_object_set_new(o, "page_table_isolation", jstr(text));
	} else {
		char reason[160];
		snprintf(reason, sizeof(reason), "cannot read %s: %s", path, strerror(errno));
		json_object_set_new(o, "page_table_isolation", json_null());
		json_object_set_new(o, "reason", json_string(reason));
	}
	return o;
}

/* Can this process create VMs?  Fills api_version and returns NULL when it
 * can, or the reason with the fix. */
static const char *kvm_probe(const struct mmu_evidence *ev, long *api_version, char *buf, size_t len)
{
	*api_version = -1;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EACCES || errno == EPERM)
			return "cannot open /dev/kvm (not root): add yourself to the kvm group";
		if (errno == ENOENT && !ev->kvm_loaded)
			return "no /dev/kvm, no kvm module loaded: modprobe kvm_intel or modprobe kvm_amd";
		if (errno == ENOENT)
			return "no /dev/kvm although kvm is loaded: enable VT-x/AMD-V (or nested virtualization) "
			       "and modprobe kvm_intel or kvm_amd";
		snprintf(buf, len, "cannot open /dev/kvm: %s", strerror(errno));
		return buf;
	}
	int v = ioctl(fd, KVM_GET_API_VERSION, 0);
	int e = errno;
	close(fd);
	if (v < 0) {
		snprintf(buf, len, "KVM_GET_API_VERSION failed: %s", strerror(e));
		return buf;
	}
	*api_version = v;
	if (v != KVM_API_VERSION) {
		snprintf(buf, len, "kvm api version %d, nestbench needs %d", v, KVM_API_VERSION);
		return buf;
	}
	return NULL;
}

static json_t *kvm_json(void)
{
	json_t *o = json_object();
	struct mmu_evidence ev;
	mmu_evidence_collect(&ev);
	char why[320], buf[160];
	const char *mode = mmu_virt_mode_decide(&ev, why, sizeof(why));
	long api;
	const char *reason = kvm_probe(&ev, &api, buf, sizeof(buf));

	json_object_set_new(o, "dev_present", json_boolean(ev.dev_kvm));
	json_object_set_new(o, "usable", json_boolean(reason == NULL));
	json_object_set_new(o, "api_version", api >= 0 ? json_integer(api) : json_null());
	json_object_set_new(o, "mmu_virt_mode", json_string(mode));
	json_object_set_new(o, "nested", json_boolean(mmu_virt_nested(&ev)));
	json_object_set_new(o, "params", kvm_params_json());
	json_object_set_new(o, "evidence", json_string(why));
	json_object_set_new(o, "reason", reason ? json_string(reason) : json_null());
	return o;
}

json_t *machine_facts_json(void)
{
	json_t *o = json_object();
	json_object_set_new(o, "cpu", cpu_json());
	json_object_set_new(o, "tsc", tsc_json());
	json_object_set_new(o, "hypervisor", hypervisor_json());
	json_object_set_new(o, "kernel", kernel_json());
	json_object_set_new(o, "thp", thp_json());
	json_t *huge = hugepool_json();
	json_object_set_new(o, "hugepages", huge ? huge : json_null());
	json_object_set_new(o, "kvm", kvm_json());
	json_t *topo = topology_json();
	json_object_set_new(o, "topology", topo ? topo : json_null());

	long paranoid;
	const char *ppath = "/proc/sys/kernel/perf_event_paranoid";
	if (read_long_file(ppath, &paranoid) == 0) {
		json_object_set_new(o, "perf_event_paranoid", json_integer(paranoid));
	} else {
		char reason[160];
		snprintf(reason, sizeof(reason), "cannot read %s: %s (kernel without perf events?)", ppath,
			 strerror(errno));
		json_object_set_new(o, "perf_event_paranoid", json_null());
		json_object_set_new(o, "perf_event_paranoid_reason", json_string(reason));
	}

	char host[256];
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		json_object_set_new(o, "hostname", jstr(host));
	} else {
		json_object_set_new(o, "hostname", json_null());
	}
	json_object_set_new(o, "user_is_root", json_boolean(geteuid() == 0));
	json_object_set_new(o, "pmu", pmu_info_json());
	struct tlb_geometry tlb;
	tlb_probe(&tlb);
	json_object_set_new(o, "tlb", tlb_geometry_json(&tlb));
	/* Of the default measuring PU; a run measuring on another replaces it. */
	int pu = topology_default_measure_pu();
	json_object_set_new(o, "cpu_state", cpustate_json(NULL, pu >= 0 ? pu : 0));
	return o;
}
