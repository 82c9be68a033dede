/* mmu_mode.c - how the local KVM virtualizes guest memory (EPT, NPT, shadow, PVM).
 *
 * The answer decides what a micro-VM run measures, so it comes from the
 * module parameters the kernel exposes, never from the CPU model: a host may
 * run kvm_intel with ept=N, and a guest may run PVM (shadow paging without
 * any hardware virtualization).
 */
#include "harness/host/machine.h"

#include <cpuid.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util.h"

static bool path_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void read_param(const char *path, char *out, size_t len)
{
	if (read_small_file(path, out, len) < 0)
		out[0] = '\0';
}

void mmu_evidence_collect(struct mmu_evidence *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->dev_kvm = path_exists("/dev/kvm");
	ev->kvm_loaded = path_exists("/sys/module/kvm");
	ev->kvm_intel_loaded = path_exists("/sys/module/kvm_intel");
	ev->kvm_amd_loaded = path_exists("/sys/module/kvm_amd");
	ev->kvm_pvm_loaded = path_exists("/sys/module/kvm_pvm");
	read_param("/sys/module/kvm_intel/parameters/ept", ev->ept, sizeof(ev->ept));
	read_param("/sys/module/kvm_amd/parameters/npt", ev->npt, sizeof(ev->npt));
	read_param("/sys/module/kvm/parameters/tdp_mmu", ev->tdp_mmu, sizeof(ev->tdp_mmu));
	unsigned a, b, c, d;
	ev->cpu_hypervisor = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 31));
}

bool mmu_virt_nested(const struct mmu_evidence *ev)
{
	char why[8];
	const char *m = mmu_virt_mode_decide(ev, why, sizeof(why));
	return ev->cpu_hypervisor && (!strcmp(m, "ept") || !strcmp(m, "npt"));
}

json_t *kvm_params_json(void)
{
	static const char *const params[] = {
		"kvm.nx_huge_pages", "kvm.tdp_mmu",       "kvm.mmio_caching", "kvm.halt_poll_ns",
		"kvm_intel.ept",     "kvm_intel.eptad",   "kvm_intel.pml",    "kvm_intel.vpid",
		"kvm_intel.enable_apicv", "kvm_intel.nested", "kvm_amd.npt",  "kvm_amd.avic",
		"kvm_amd.x2avic",    "kvm_amd.nested",    "kvm_amd.vgif",     "kvm_amd.vls",
	};
	json_t *o = json_object();
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		char mod[32], path[160], val[64];
		const char *dot = strchr(params[i], '.');
		snprintf(mod, sizeof(mod), "%.*s", (int)(dot - params[i]), params[i]);
		snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", mod, dot + 1);
		json_object_set_new(o, params[i], read_small_file(path, val, sizeof(val)) >= 0 ? json_string(val) : json_null());
	}
	return o;
}

/* Boolean module parameters read "Y"/"N"; older kvm_amd exposed npt as an int. */
static bool param_on(const char *v)
{
	return !strcmp(v, "Y") || !strcmp(v, "1");
}

static bool param_off(const char *v)
{
	return !strcmp(v, "N") || !strcmp(v, "0");
}

static const char *shown(const char *v)
{
	return v[0] ? v : "unreadable";
}

const char *mmu_virt_mode_decide(const struct mmu_evidence *ev, char *why, size_t whylen)
{
	char scratch[160];
	if (!why || whylen == 0) {
		why = scratch;
		whylen = sizeof(scratch);
	}
	const char *tdp = shown(ev->tdp_mmu);

	/* Hardware two-dimensional paging first: if the vendor module has it
	 * on, guests walk guest and host tables in hardware. */
	const char *nested = ev->cpu_hypervisor ? " (nested: this kernel runs in a VM, so the guest's walk has a "
						  "third dimension, the outer host's)"
						: "";
	if (ev->kvm_intel_loaded && param_on(ev->ept)) {
		snprintf(why, whylen, "kvm_intel ept=%s, tdp_mmu=%s%s", ev->ept, tdp, nested);
		return "ept";
	}
	if (ev->kvm_amd_loaded && param_on(ev->npt)) {
		snprintf(why, whylen, "kvm_amd npt=%s, tdp_mmu=%s%s", ev->npt, tdp, nested);
		return "npt";
	}
	/* PVM runs guests without VMX/SVM and always shadows their page tables. */
	if (ev->kvm_pvm_loaded) {
		snprintf(why, whylen, "kvm_pvm loaded, tdp_mmu=%s", tdp);
		return "pvm-shadow";
	}
	if (ev->kvm_intel_loaded && param_off(ev->ept)) {
		snprintf(why, whylen, "kvm_intel ept=%s, tdp_mmu=%s", ev->ept, tdp);
		return "shadow";
	}
	if (ev->kvm_amd_loaded && param_off(ev->npt)) {
		snprintf(why, whylen, "kvm_amd npt=%s, tdp_mmu=%s", ev->npt, tdp);
		return "shadow";
	}
	if (ev->kvm_intel_loaded || ev->kvm_amd_loaded) {
		snprintf(why, whylen, "%s loaded but its %s parameter is unreadable, tdp_mmu=%s",
			 ev->kvm_intel_loaded ? "kvm_intel" : "kvm_amd", ev->kvm_intel_loaded ? "ept" : "npt",
			 tdp);
		return "unknown";
	}
	if (ev->kvm_loaded) {
		snprintf(why, whylen, "kvm loaded without kvm_intel, kvm_amd or kvm_pvm%s, tdp_mmu=%s",
			 ev->dev_kvm ? "" : " (no /dev/kvm)", tdp);
		return "unknown";
	}
	if (ev->dev_kvm) {
		snprintf(why, whylen, "/dev/kvm present but no kvm module in /sys/module");
		return "unknown";
	}
	snprintf(why, whylen, "no /dev/kvm and no kvm module loaded");
	return "none";
}

const char *machine_mmu_virt_mode(char *why, size_t whylen)
{
	struct mmu_evidence ev;
	mmu_evidence_collect(&ev);
	return mmu_virt_mode_decide(&ev, why, whylen);
}
