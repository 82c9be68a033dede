/* machine.h - facts about the machine a run happens on (what `nestbench info` shows).
 *
 * Every fact is gathered by a real probe (CPUID, /proc, /sys, /dev/kvm,
 * hwloc); what cannot be read is reported as null with the reason rather
 * than guessed.  The JSON object is also the `host` member of every results
 * file, so compare and report can put machines side by side.
 */
#ifndef NESTBENCH_MACHINE_H
#define NESTBENCH_MACHINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* How the *local* KVM virtualizes guest memory: "ept", "npt", "shadow",
 * "pvm-shadow", "unknown", or "none" when there is no KVM at all.
 * `why` (may be NULL) receives the evidence, e.g. "kvm_pvm loaded, tdp_mmu=N". */
const char *machine_mmu_virt_mode(char *why, size_t whylen);

/* The full fact sheet:
 * { "cpu": {vendor, family, model, stepping, name, pcid, invpcid},
 *   "tsc": {ticks_per_ns, invariant, overhead_ticks},
 *   "hypervisor": {present, signature} ,
 *   "kernel": {release, version, page_table_isolation},
 *   "thp": {enabled, defrag},
 *   "hugepages": (hugepool_json()),
 *   "kvm": {dev_present, usable, api_version, mmu_virt_mode, evidence, reason},
 *   "topology": (topology_json()),
 *   "perf_event_paranoid": N,
 *   "hostname": "...", "user_is_root": bool }
 * A fact that cannot be read is null; its section then has a "reason"
 * string (top level: "perf_event_paranoid_reason").  kvm.reason is null
 * exactly when kvm.usable is true, else it says why and how to fix it.
 */
json_t *machine_facts_json(void);

/* Human-readable rendering of machine_facts_json() for `nestbench info`. */
void machine_facts_print(FILE *out, const json_t *facts);

/* ---- Pure decoders behind the facts, exposed so unit tests can feed them
 * known register values and sysfs evidence. ---- */

/* Family, model and stepping as the vendors' manuals display them: the
 * extended family is added only when the base family is 0xF, the extended
 * model is prepended only when the base family is 0x6 or 0xF. */
struct cpu_signature {
	unsigned family, model, stepping;
};
void cpuid_decode_signature(uint32_t leaf1_eax, struct cpu_signature *out);

/* Concatenate three CPUID registers as little-endian 4-byte strings, up to
 * the first NUL, e.g. (ebx, edx, ecx) of leaf 0 -> "GenuineIntel" and
 * (ebx, ecx, edx) of leaf 0x40000000 -> "KVMKVMKVM". */
void cpuid_regs_string(uint32_t r0, uint32_t r1, uint32_t r2, char out[13]);

/* What /sys/module says about the local KVM.  Parameter values are the
 * file contents ("Y", "N", "1", "0"), "" when the module or file is absent. */
struct mmu_evidence {
	bool dev_kvm;          /* /dev/kvm exists */
	bool kvm_loaded;       /* /sys/module/kvm */
	bool kvm_intel_loaded; /* /sys/module/kvm_intel */
	bool kvm_amd_loaded;   /* /sys/module/kvm_amd */
	bool kvm_pvm_loaded;   /* /sys/module/kvm_pvm */
	char ept[8];           /* kvm_intel/parameters/ept */
	char npt[8];           /* kvm_amd/parameters/npt */
	char tdp_mmu[8];       /* kvm/parameters/tdp_mmu */
	bool cpu_hypervisor;   /* CPUID.1:ECX[31]: this kernel itself runs in a VM */
};

/* Is the local KVM's hardware-assisted paging itself nested (kvm_intel or
 * kvm_amd with EPT/NPT on a CPU that says it is virtual)?  Then a micro-VM
 * walks three levels of translation, the outer one the host's. */
bool mmu_virt_nested(const struct mmu_evidence *ev);

/* The KVM module parameters that drive exit, interrupt and paging costs
 * where they exist: {"kvm.nx_huge_pages": "auto", "kvm_amd.avic": "N", ...},
 * null for each one this kernel does not have. */
json_t *kvm_params_json(void);

/* Read the evidence from this machine. */
void mmu_evidence_collect(struct mmu_evidence *ev);
/* The decision behind machine_mmu_virt_mode(); `why` as there. */
const char *mmu_virt_mode_decide(const struct mmu_evidence *ev, char *why, size_t whylen);

#endif
