/* pmu_raw.c - raw encodings for CPUs libpfm4 4.13 misses (see pmu_raw.h). */
#include "harness/pmu/pmu_raw.h"

#include <string.h>

#include "core/util.h"

#define ZEN5_LS "Linux tools/perf/pmu-events/arch/x86/amdzen5/load-store.json"
#define ZEN5_MEM "Linux tools/perf/pmu-events/arch/x86/amdzen5/memory.json"
#define ZEN5_EX "Linux tools/perf/pmu-events/arch/x86/amdzen5/execution.json"

/* Zen 5 (family 1Ah).  No table-walker event (PMCx046 on Zen 2/3) appears in
 * the Zen 5 event files, so it is not here; AMD has no walk-cycle event at all. */
static const struct pmu_raw_event zen5_events[] = {
	{"cycles", 0x76, ZEN5_LS ": ls_not_halted_cyc, EventCode 0x76"},
	{"instructions", 0xc0, ZEN5_EX ": ex_ret_instr, EventCode 0xc0"},
	{"dtlb.walks_4k", 0x1045, ZEN5_LS ": ls_l1_d_tlb_miss.tlb_reload_4k_l2_miss, EventCode 0x45 UMask 0x10"},
	{"dtlb.walks_coalesced", 0x2045, ZEN5_LS ": ls_l1_d_tlb_miss.tlb_reload_coalesced_page_miss, EventCode 0x45 UMask 0x20"},
	{"dtlb.walks_2m", 0x4045, ZEN5_LS ": ls_l1_d_tlb_miss.tlb_reload_2m_l2_miss, EventCode 0x45 UMask 0x40"},
	{"dtlb.walks_1g", 0x8045, ZEN5_LS ": ls_l1_d_tlb_miss.tlb_reload_1g_l2_miss, EventCode 0x45 UMask 0x80"},
	{"dtlb.l2_hit_4k", 0x0145, ZEN5_LS ": ls_l1_d_tlb_miss.tlb_reload_4k_l2_hit, EventCode 0x45 UMask 0x01"},
	{"dtlb.l2_hit_coalesced", 0x0245, ZEN5_LS ": ls_l1_d_tlb_miss.tlb_reload_coalesced_page_hit, EventCode 0x45 UMask 0x02"},
	{"dtlb.l2_hit_2m", 0x0445, ZEN5_LS ": ls_l1_d_tlb_miss.tlb_reload_2m_l2_hit, EventCode 0x45 UMask 0x04"},
	{"dtlb.l2_hit_1g", 0x0845, ZEN5_LS ": ls_l1_d_tlb_miss.tlb_reload_1g_l2_hit, EventCode 0x45 UMask 0x08"},
	{"itlb.walks_4k", 0x0185, ZEN5_MEM ": bp_l1_tlb_miss_l2_tlb_miss.if4k, EventCode 0x85 UMask 0x01"},
	{"itlb.walks_2m", 0x0285, ZEN5_MEM ": bp_l1_tlb_miss_l2_tlb_miss.if2m, EventCode 0x85 UMask 0x02"},
	{"itlb.walks_1g", 0x0485, ZEN5_MEM ": bp_l1_tlb_miss_l2_tlb_miss.if1g, EventCode 0x85 UMask 0x04"},
	{"itlb.walks_coalesced", 0x0885, ZEN5_MEM ": bp_l1_tlb_miss_l2_tlb_miss.coalesced_4k, EventCode 0x85 UMask 0x08"},
	{"itlb.l2_hit", 0x84, ZEN5_MEM ": bp_l1_tlb_miss_l2_tlb_hit, EventCode 0x84"},
};

static const struct pmu_raw_table tables[] = {
	{
		.name = "zen5",
		.vendor = "AuthenticAMD",
		.family = 0x1a,
		.family_source = "Linux tools/perf/pmu-events/arch/x86/mapfile.csv maps AuthenticAMD family 26 (1Ah) to amdzen5",
		.note = "raw encodings (libpfm4 has no PMU for this CPU); no table-walker event is documented for Zen 5 "
			"and AMD has no walk-cycle event",
		.events = zen5_events,
		.nevents = ARRAY_SIZE(zen5_events),
	},
};

const struct pmu_raw_table *pmu_raw_for_cpu(const char *vendor, unsigned family)
{
	for (size_t i = 0; i < ARRAY_SIZE(tables); i++)
		if (vendor && !strcmp(vendor, tables[i].vendor) && family == tables[i].family)
			return &tables[i];
	return NULL;
}

const struct pmu_raw_table *pmu_raw_by_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(tables); i++)
		if (name && !strcmp(name, tables[i].name))
			return &tables[i];
	return NULL;
}
