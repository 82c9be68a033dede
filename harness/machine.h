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
 */
json_t *machine_facts_json(void);

/* Human-readable rendering of machine_facts_json() for `nestbench info`. */
void machine_facts_print(FILE *out, const json_t *facts);

#endif
