/* pmu_events.h - the page-walk event set for a CPU, resolved to perf_event_attr.
 *
 * A table per microarchitecture names the events by libpfm4 string
 * (Intel hsw/bdw, skl/skx/clx, icl/icx, spr; AMD Zen 2/3/4) and libpfm4
 * encodes them (pfm_get_os_event_encoding, PFM_OS_PERF_EVENT_EXT).  Where
 * libpfm4 has no PMU for the running CPU (Zen 5 with libpfm4 4.13) the raw
 * table of pmu_raw.h is used.  `--events` replaces the set with the user's
 * libpfm4 strings.  Each event carries a short nestbench name ("key") that the
 * derived metrics (pmu_derived.h) look up.
 */
#ifndef NESTBENCH_PMU_EVENTS_H
#define NESTBENCH_PMU_EVENTS_H

#include <linux/perf_event.h>
#include <stddef.h>

#include "core/util.h"

#define PMU_MAX_EVENTS 32

/* How "fraction of cycles in page walks" is computed for a generation. */
enum pmu_walk_formula {
	PMU_WF_NONE, /* unknown CPU or user-chosen events: no formula */
	PMU_WF_HSW,  /* Haswell/Broadwell: WALK_DURATION:c=1 sums + 7 x completions, / cycles */
	PMU_WF_SKL,  /* Skylake..Cascade Lake: WALK_PENDING sums incl. EPT, / (2 x cycles) */
	PMU_WF_ICL,  /* Ice Lake: WALK_PENDING sums, / (2 x cycles) */
	PMU_WF_GLC,  /* Sapphire Rapids (Golden Cove): WALK_PENDING sums, / (4 x cycles) */
	PMU_WF_AMD   /* AMD: no walk-cycle event exists */
};

struct pmu_event {
	char key[64];        /* nestbench name: "cycles", "dtlb_load.walk_pending", ... */
	char pfm[160];       /* libpfm4 string asked for, "" for a raw table entry */
	char pfm_fstr[256];  /* libpfm4's fully qualified string, "" if not encoded by libpfm4 */
	char source[224];    /* document of a raw encoding or raw unit mask, else "" */
	int kind_software;   /* 1 for PERF_TYPE_SOFTWARE events */
	int encoded;         /* attr is valid */
	char why[256];       /* why the event could not be encoded, when !encoded */
	struct perf_event_attr attr;
};

struct pmu_eventset {
	char name[64];      /* "skx", "amd64_fam19h_zen3", "raw:zen5", "override", "none" */
	char desc[128];     /* libpfm4's description of the PMU, or the raw table's note */
	char vendor[16];    /* "intel", "amd", "" */
	enum pmu_walk_formula formula;
	int group_size;     /* hardware events per perf group */
	char note[256];     /* limitations worth printing ("" if none) */
	size_t n;
	struct pmu_event ev[PMU_MAX_EVENTS];
};

/* Initialize libpfm4 once per process (idempotent).  LIBPFM_FORCE_PMU and
 * LIBPFM_ENCODE_INACTIVE are read at the first call. */
int pmu_pfm_init(nb_error *err);

/* The set for the running CPU: the table of the core PMU libpfm4 detects,
 * else the raw table for the CPU, else an empty set named "none" with the
 * reason in note.  With override (comma-separated libpfm4 strings) the set is
 * those events, named "override"; an override event libpfm4 cannot encode is
 * an error (-1).  Table events libpfm4 cannot encode stay in the set with
 * encoded = 0 and the reason in why. */
int pmu_eventset_resolve(const char *override, struct pmu_eventset *set, nb_error *err);

/* The set of a named table: a libpfm4 PMU name ("skx", "amd64_fam19h_zen3")
 * encoded with fully qualified names (needs LIBPFM_ENCODE_INACTIVE=1 when the
 * PMU is not this CPU's), or "raw:<table>" ("raw:zen5").  -1 if unknown. */
int pmu_eventset_for(const char *name, struct pmu_eventset *set, nb_error *err);

/* Names of the libpfm4 PMUs that have a table, NULL-terminated (for tests/help). */
const char *const *pmu_eventset_table_names(void);

/* Index of the event called key in set, or -1. */
int pmu_eventset_find(const struct pmu_eventset *set, const char *key);

/* CPUID vendor string and family/model (family = base + extended). */
void pmu_cpu_id(char vendor[13], unsigned *family, unsigned *model);

#endif
