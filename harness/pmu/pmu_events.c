/* pmu_events.c - per-microarchitecture page-walk event tables (see pmu_events.h). */
#include "harness/pmu/pmu_events.h"

#include <cpuid.h>
#include <perfmon/pfmlib_perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/commalist.h"
#include "harness/pmu/pmu_raw.h"

/* One table entry: a libpfm4 string (without the "pmu::" prefix), or, where
 * libpfm4 does not know the event, a raw config with its source document.
 * A libpfm4 string with a numeric unit mask also names its source. */
struct ev_def {
	const char *key;
	const char *pfm;
	uint64_t raw;
	const char *source;
};

struct set_def {
	const char *pmus[4]; /* libpfm4 PMU names using this table */
	const char *vendor;
	enum pmu_walk_formula formula;
	const struct ev_def *ev;
	size_t n;
	const char *note;
};

#define COMMON_INTEL                                    \
	{"cycles", "UNHALTED_CORE_CYCLES", 0, NULL},    \
	{"instructions", "INST_RETIRED:ANY_P", 0, NULL}

/* Haswell: WALK_DURATION counts walker-busy cycles; :c=1 makes it cycles with
 * a walk active (the Page_Walks_Utilization input); no 1G completion umask. */
#define HSW_BODY(T, E)                                                    \
	{T ".walk_pending", E ":WALK_DURATION", 0, NULL},                 \
	{T ".walk_active", E ":WALK_DURATION:c=1", 0, NULL},              \
	{T ".walks", E ":WALK_COMPLETED", 0, NULL},                       \
	{T ".walks_4k", E ":WALK_COMPLETED_4K", 0, NULL},                 \
	{T ".walks_2m", E ":WALK_COMPLETED_2M_4M", 0, NULL},              \
	{T ".stlb_hit", E ":STLB_HIT", 0, NULL}

static const struct ev_def hsw_events[] = {
	COMMON_INTEL,
	HSW_BODY("dtlb_load", "DTLB_LOAD_MISSES"),
	HSW_BODY("dtlb_store", "DTLB_STORE_MISSES"),
	{"itlb.walk_pending", "ITLB_MISSES:WALK_DURATION", 0, NULL},
	{"itlb.walk_active", "ITLB_MISSES:WALK_DURATION:c=1", 0, NULL},
	{"itlb.walks", "ITLB_MISSES:WALK_COMPLETED", 0, NULL},
	{"itlb.stlb_hit", "ITLB_MISSES:STLB_HIT", 0, NULL},
	{"ept.walk_pending", "EPT:WALK_CYCLES", 0, NULL},
};

static const struct ev_def bdw_events[] = {
	COMMON_INTEL,
	HSW_BODY("dtlb_load", "DTLB_LOAD_MISSES"),
	{"dtlb_load.walks_1g", "DTLB_LOAD_MISSES:WALK_COMPLETED_1G", 0, NULL},
	HSW_BODY("dtlb_store", "DTLB_STORE_MISSES"),
	{"dtlb_store.walks_1g", "DTLB_STORE_MISSES:WALK_COMPLETED_1G", 0, NULL},
	{"itlb.walk_pending", "ITLB_MISSES:WALK_DURATION", 0, NULL},
	{"itlb.walk_active", "ITLB_MISSES:WALK_DURATION:c=1", 0, NULL},
	{"itlb.walks", "ITLB_MISSES:WALK_COMPLETED", 0, NULL},
	{"itlb.stlb_hit", "ITLB_MISSES:STLB_HIT", 0, NULL},
	{"ept.walk_pending", "EPT:WALK_CYCLES", 0, NULL},
};

/* Skylake onwards: WALK_ACTIVE (= WALK_PENDING with cmask 1) and WALK_PENDING. */
#define SKL_BODY(T, E)                                                    \
	{T ".walk_active", E ":WALK_ACTIVE", 0, NULL},                    \
	{T ".walk_pending", E ":WALK_PENDING", 0, NULL},                  \
	{T ".walks", E ":WALK_COMPLETED", 0, NULL},                       \
	{T ".walks_4k", E ":WALK_COMPLETED_4K", 0, NULL},                 \
	{T ".walks_2m", E ":WALK_COMPLETED_2M_4M", 0, NULL},              \
	{T ".stlb_hit", E ":STLB_HIT", 0, NULL}

#define ITLB_SKL                                                             \
	{"itlb.walk_active", "ITLB_MISSES:WALK_ACTIVE", 0, NULL},            \
	{"itlb.walk_pending", "ITLB_MISSES:WALK_PENDING", 0, NULL},          \
	{"itlb.walks", "ITLB_MISSES:WALK_COMPLETED", 0, NULL},               \
	{"itlb.stlb_hit", "ITLB_MISSES:STLB_HIT", 0, NULL}

static const struct ev_def skl_events[] = {
	COMMON_INTEL,
	SKL_BODY("dtlb_load", "DTLB_LOAD_MISSES"),
	{"dtlb_load.walks_1g", "DTLB_LOAD_MISSES:WALK_COMPLETED_1G", 0, NULL},
	SKL_BODY("dtlb_store", "DTLB_STORE_MISSES"),
	{"dtlb_store.walks_1g", "DTLB_STORE_MISSES:WALK_COMPLETED_1G", 0, NULL},
	ITLB_SKL,
	{"ept.walk_pending", "EPT:WALK_PENDING", 0, NULL},
};

/* Ice Lake client: no EPT event and no 1G completion umask is documented. */
static const struct ev_def icl_events[] = {
	COMMON_INTEL,
	SKL_BODY("dtlb_load", "DTLB_LOAD_MISSES"),
	SKL_BODY("dtlb_store", "DTLB_STORE_MISSES"),
	ITLB_SKL,
};

/* Ice Lake server: libpfm4 4.13 names no 1G completion, Intel documents umask 0x08. */
#define ICX_JSON "Linux tools/perf/pmu-events/arch/x86/icelakex/virtual-memory.json"
static const struct ev_def icx_events[] = {
	COMMON_INTEL,
	SKL_BODY("dtlb_load", "DTLB_LOAD_MISSES"),
	{"dtlb_load.walks_1g", "DTLB_LOAD_MISSES:0x8", 0,
	 ICX_JSON ": DTLB_LOAD_MISSES.WALK_COMPLETED_1G, EventCode 0x08 UMask 0x8"},
	SKL_BODY("dtlb_store", "DTLB_STORE_MISSES"),
	{"dtlb_store.walks_1g", "DTLB_STORE_MISSES:0x8", 0,
	 ICX_JSON ": DTLB_STORE_MISSES.WALK_COMPLETED_1G, EventCode 0x49 UMask 0x8"},
	ITLB_SKL,
};

static const struct ev_def spr_events[] = {
	COMMON_INTEL,
	SKL_BODY("dtlb_load", "DTLB_LOAD_MISSES"),
	{"dtlb_load.walks_1g", "DTLB_LOAD_MISSES:WALK_COMPLETED_1G", 0, NULL},
	SKL_BODY("dtlb_store", "DTLB_STORE_MISSES"),
	{"dtlb_store.walks_1g", "DTLB_STORE_MISSES:WALK_COMPLETED_1G", 0, NULL},
	ITLB_SKL,
};

/* AMD: L1_DTLB_MISS with an L2-miss unit mask is a table walk for that size. */
#define AMD_DTLB                                                                      \
	{"cycles", "CYCLES_NOT_IN_HALT", 0, NULL},                                    \
	{"instructions", "RETIRED_INSTRUCTIONS", 0, NULL},                            \
	{"dtlb.walks_4k", "L1_DTLB_MISS:TLB_RELOAD_4K_L2_MISS", 0, NULL},             \
	{"dtlb.walks_coalesced", "L1_DTLB_MISS:TLB_RELOAD_COALESCED_PAGE_MISS", 0, NULL}, \
	{"dtlb.walks_2m", "L1_DTLB_MISS:TLB_RELOAD_2M_L2_MISS", 0, NULL},             \
	{"dtlb.walks_1g", "L1_DTLB_MISS:TLB_RELOAD_1G_L2_MISS", 0, NULL},             \
	{"dtlb.l2_hit_4k", "L1_DTLB_MISS:TLB_RELOAD_4K_L2_HIT", 0, NULL},             \
	{"dtlb.l2_hit_coalesced", "L1_DTLB_MISS:TLB_RELOAD_COALESCED_PAGE_HIT", 0, NULL}, \
	{"dtlb.l2_hit_2m", "L1_DTLB_MISS:TLB_RELOAD_2M_L2_HIT", 0, NULL},             \
	{"dtlb.l2_hit_1g", "L1_DTLB_MISS:TLB_RELOAD_1G_L2_HIT", 0, NULL},             \
	{"itlb.walks_4k", "L1_ITLB_MISS_L2_ITLB_MISS:IF4K", 0, NULL},                 \
	{"itlb.walks_2m", "L1_ITLB_MISS_L2_ITLB_MISS:IF2M", 0, NULL},                 \
	{"itlb.walks_1g", "L1_ITLB_MISS_L2_ITLB_MISS:IF1G", 0, NULL},                 \
	{"itlb.l2_hit", "L1_ITLB_MISS_L2_ITLB_HIT", 0, NULL}

/* PMCx046 (table walker) is unknown to libpfm4: raw, from the Linux event files. */
#define TABLEWALKER(DIR)                                                                   \
	{"tablewalker.dside", NULL, 0x0346,                                                \
	 "Linux tools/perf/pmu-events/arch/x86/" DIR "/memory.json: ls_tablewalker.dside, " \
	 "EventCode 0x46 UMask 0x03"},                                                     \
	{"tablewalker.iside", NULL, 0x0c46,                                                \
	 "Linux tools/perf/pmu-events/arch/x86/" DIR "/memory.json: ls_tablewalker.iside, " \
	 "EventCode 0x46 UMask 0x0c"}

static const struct ev_def zen2_events[] = {AMD_DTLB, TABLEWALKER("amdzen2")};
static const struct ev_def zen3_events[] = {
	AMD_DTLB,
	{"itlb.walks_coalesced", "L1_ITLB_MISS_L2_ITLB_MISS:COALESCED4K", 0, NULL},
	TABLEWALKER("amdzen3"),
};
static const struct ev_def zen4_events[] = {
	AMD_DTLB,
	{"itlb.walks_coalesced", "L1_ITLB_MISS_L2_ITLB_MISS:COALESCED4K", 0, NULL},
};

#define AMD_NOTE "AMD has no walk-cycle event: walk cost comes from walk counts plus timing"

static const struct set_def sets[] = {
	{{"hsw", "hsw_ep"}, "intel", PMU_WF_HSW, hsw_events, ARRAY_SIZE(hsw_events), ""},
	{{"bdw", "bdw_ep"}, "intel", PMU_WF_HSW, bdw_events, ARRAY_SIZE(bdw_events), ""},
	{{"skl", "skx", "clx"}, "intel", PMU_WF_SKL, skl_events, ARRAY_SIZE(skl_events), ""},
	{{"icl"}, "intel", PMU_WF_ICL, icl_events, ARRAY_SIZE(icl_events),
	 "no EPT walk event and no 1G walk completion are documented for Ice Lake client"},
	{{"icx"}, "intel", PMU_WF_ICL, icx_events, ARRAY_SIZE(icx_events), "no EPT walk event is documented for Ice Lake"},
	{{"spr"}, "intel", PMU_WF_GLC, spr_events, ARRAY_SIZE(spr_events),
	 "no EPT walk event is documented for Sapphire Rapids"},
	{{"amd64_fam17h_zen2"}, "amd", PMU_WF_AMD, zen2_events, ARRAY_SIZE(zen2_events), AMD_NOTE},
	{{"amd64_fam19h_zen3"}, "amd", PMU_WF_AMD, zen3_events, ARRAY_SIZE(zen3_events), AMD_NOTE},
	{{"amd64_fam19h_zen4"}, "amd", PMU_WF_AMD, zen4_events, ARRAY_SIZE(zen4_events), AMD_NOTE},
};

static const char *const table_names[] = {"hsw", "hsw_ep", "bdw", "bdw_ep", "skl", "skx", "clx", "icl", "icx",
					  "spr", "amd64_fam17h_zen2", "amd64_fam19h_zen3", "amd64_fam19h_zen4",
					  "raw:zen5", NULL};

/* Hardware events per group: libpfm4's generic counter count, capped at 4 so
 * that a group still fits with SMT siblings sharing counters or an NMI
 * watchdog holding one (a group that does not fit never counts). */
#define MAX_GROUP 4

const char *const *pmu_eventset_table_names(void)
{
	return table_names;
}

int pmu_pfm_init(nb_error *err)
{
	int ret = pfm_initialize();
	if (ret != PFM_SUCCESS)
		return nb_fail(err, "cannot initialize libpfm4: %s", pfm_strerror(ret));
	return 0;
}

void pmu_cpu_id(char vendor[13], unsigned *family, unsigned *model)
{
	unsigned a = 0, b = 0, c = 0, d = 0;
	memset(vendor, 0, 13);
	*family = *model = 0;
	if (!__get_cpuid(0, &a, &b, &c, &d))
		return;
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return;
	unsigned base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
	*family = base_family == 0xf ? base_family + ((a >> 20) & 0xff) : base_family;
	*model = (base_family == 0x6 || base_family == 0xf) ? (((a >> 16) & 0xf) << 4) | base_model : base_model;
}

int pmu_eventset_find(const struct pmu_eventset *set, const char *key)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->ev[i].key, key))
			return (int)i;
	return -1;
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

/* Encode one libpfm4 string into ev; 0 or a libpfm4 error code. */
static int encode_pfm(struct pmu_event *ev, const char *str)
{
	char *fstr = NULL;
	pfm_perf_encode_arg_t arg;
	memset(&arg, 0, sizeof(arg));
	memset(&ev->attr, 0, sizeof(ev->attr));
	arg.size = sizeof(arg);
	arg.attr = &ev->attr;
	arg.fstr = &fstr;
	/* user and kernel: walks in the kernel (fault handling) belong to the
	 * measured operation; pmu.c drops the kernel if paranoid forbids it */
	int ret = pfm_get_os_event_encoding(str, PFM_PLM0 | PFM_PLM3, PFM_OS_PERF_EVENT_EXT, &arg);
	copy_str(ev->pfm, sizeof(ev->pfm), str);
	if (ret != PFM_SUCCESS) {
		ev->encoded = 0;
		snprintf(ev->why, sizeof(ev->why), "libpfm4 cannot encode '%s': %s", str, pfm_strerror(ret));
		free(fstr);
		return ret;
	}
	ev->attr.size = sizeof(ev->attr);
	ev->encoded = 1;
	ev->kind_software = ev->attr.type == PERF_TYPE_SOFTWARE;
	copy_str(ev->pfm_fstr, sizeof(ev->pfm_fstr), fstr);
	free(fstr);
	return 0;
}

static void encode_raw(struct pmu_event *ev, uint64_t config, const char *source)
{
	memset(&ev->attr, 0, sizeof(ev->attr));
	ev->attr.size = sizeof(ev->attr);
	ev->attr.type = PERF_TYPE_RAW;
	ev->attr.config = config;
	ev->attr.exclude_guest = 1; /* as libpfm4 does for host counting */
	ev->encoded = 1;
	ev->pfm[0] = ev->pfm_fstr[0] = 0;
	copy_str(ev->source, sizeof(ev->source), source);
}

static int pmu_counters(const char *pmu_name)
{
	pfm_pmu_t p;
	pfm_for_all_pmus(p)
	{
		pfm_pmu_info_t info;
		memset(&info, 0, sizeof(info));
		info.size = sizeof(info);
		if (pfm_get_pmu_info(p, &info) == PFM_SUCCESS && info.name && !strcmp(info.name, pmu_name))
			return info.num_cntrs;
	}
	return 0;
}

static void pmu_desc(const char *pmu_name, char *out, size_t len)
{
	pfm_pmu_t p;
	out[0] = 0;
	pfm_for_all_pmus(p)
	{
		pfm_pmu_info_t info;
		memset(&info, 0, sizeof(info));
		info.size = sizeof(info);
		if (pfm_get_pmu_info(p, &info) == PFM_SUCCESS && info.name && !strcmp(info.name, pmu_name)) {
			copy_str(out, len, info.desc);
			return;
		}
	}
}

static int group_size_for(const char *pmu_name)
{
	int n = pmu_counters(pmu_name);
	return n > 0 && n < MAX_GROUP ? n : MAX_GROUP;
}

static const struct set_def *set_for_pmu(const char *pmu_name)
{
	for (size_t i = 0; i < ARRAY_SIZE(sets); i++)
		for (size_t j = 0; j < ARRAY_SIZE(sets[i].pmus) && sets[i].pmus[j]; j++)
			if (!strcmp(sets[i].pmus[j], pmu_name))
				return &sets[i];
	return NULL;
}

static void fill_from_def(struct pmu_eventset *set, const char *pmu_name, const struct set_def *def)
{
	memset(set, 0, sizeof(*set));
	copy_str(set->name, sizeof(set->name), pmu_name);
	pmu_desc(pmu_name, set->desc, sizeof(set->desc));
	copy_str(set->vendor, sizeof(set->vendor), def->vendor);
	copy_str(set->note, sizeof(set->note), def->note);
	set->formula = def->formula;
	set->group_size = group_size_for(pmu_name);
	for (size_t i = 0; i < def->n && set->n < PMU_MAX_EVENTS; i++) {
		struct pmu_event *ev = &set->ev[set->n++];
		copy_str(ev->key, sizeof(ev->key), def->ev[i].key);
		if (!def->ev[i].pfm) {
			encode_raw(ev, def->ev[i].raw, def->ev[i].source);
			continue;
		}
		char qualified[160];
		snprintf(qualified, sizeof(qualified), "%s::%s", pmu_name, def->ev[i].pfm);
		copy_str(ev->source, sizeof(ev->source), def->ev[i].source);
		encode_pfm(ev, qualified);
	}
}

static void fill_from_raw(struct pmu_eventset *set, const struct pmu_raw_table *t)
{
	memset(set, 0, sizeof(*set));
	snprintf(set->name, sizeof(set->name), "raw:%s", t->name);
	copy_str(set->desc, sizeof(set->desc), t->family_source);
	copy_str(set->vendor, sizeof(set->vendor), "amd");
	copy_str(set->note, sizeof(set->note), t->note);
	set->formula = PMU_WF_AMD;
	set->group_size = MAX_GROUP;
	for (size_t i = 0; i < t->nevents && set->n < PMU_MAX_EVENTS; i++) {
		struct pmu_event *ev = &set->ev[set->n++];
		copy_str(ev->key, sizeof(ev->key), t->events[i].key);
		encode_raw(ev, t->events[i].config, t->events[i].source);
	}
}

int pmu_eventset_for(const char *name, struct pmu_eventset *set, nb_error *err)
{
	if (pmu_pfm_init(err))
		return -1;
	if (!strncmp(name, "raw:", 4)) {
		const struct pmu_raw_table *t = pmu_raw_by_name(name + 4);
		if (!t)
			return nb_fail(err, "no raw event table called '%s' (known: raw:zen5)", name + 4);
		fill_from_raw(set, t);
		return 0;
	}
	const struct set_def *def = set_for_pmu(name);
	if (!def)
		return nb_fail(err, "no page-walk event table for libpfm4 PMU '%s'", name);
	fill_from_def(set, name, def);
	return 0;
}

/* The core PMU libpfm4 detected on this CPU (not the generic perf PMUs), or NULL. */
static const char *detected_core_pmu(void)
{
	/* LIBPFM_FORCE_PMU makes that PMU the default one, but libpfm4 still
	 * reports the CPU's own as present too: prefer the forced one. */
	const char *forced = getenv("LIBPFM_FORCE_PMU");
	pfm_pmu_t p;
	pfm_for_all_pmus(p)
	{
		pfm_pmu_info_t info;
		memset(&info, 0, sizeof(info));
		info.size = sizeof(info);
		if (forced && pfm_get_pmu_info(p, &info) == PFM_SUCCESS && info.is_present && info.name &&
		    !strcmp(info.name, forced))
			return info.name;
	}
	pfm_for_all_pmus(p)
	{
		pfm_pmu_info_t info;
		memset(&info, 0, sizeof(info));
		info.size = sizeof(info);
		if (pfm_get_pmu_info(p, &info) != PFM_SUCCESS || !info.is_present || info.type != PFM_PMU_TYPE_CORE)
			continue;
		if (!strcmp(info.name, "perf") || !strcmp(info.name, "perf_raw"))
			continue;
		return info.name;
	}
	return NULL;
}

struct override_walk {
	struct pmu_eventset *set;
	nb_error *err;
};

/* One event of --events (spaces after a comma allowed). */
static int override_event(const char *tok, void *arg)
{
	struct override_walk *w = arg;
	struct pmu_eventset *set = w->set;
	while (*tok == ' ')
		tok++;
	if (!*tok)
		return 0;
	if (set->n == PMU_MAX_EVENTS)
		return nb_fail(w->err, "too many events in --events (at most %d)", PMU_MAX_EVENTS);
	struct pmu_event *ev = &set->ev[set->n++];
	copy_str(ev->key, sizeof(ev->key), tok);
	if (encode_pfm(ev, tok))
		return nb_fail(w->err, "%s (see 'nestbench list events' for this CPU's events)", ev->why);
	return 0;
}

static int resolve_override(const char *override, struct pmu_eventset *set, nb_error *err)
{
	memset(set, 0, sizeof(*set));
	copy_str(set->name, sizeof(set->name), "override");
	copy_str(set->desc, sizeof(set->desc), "events given with --events");
	set->formula = PMU_WF_NONE;
	const char *core = detected_core_pmu();
	set->group_size = core ? group_size_for(core) : MAX_GROUP;
	copy_str(set->note, sizeof(set->note), "user-chosen events: derived walk metrics are not computed");
	struct override_walk w = {set, err};
	int rc = *override ? comma_list_each(override, override_event, &w, err) : 0;
	if (rc)
		return -1;
	if (!set->n)
		return nb_fail(err, "--events is empty: give comma-separated libpfm4 event names");
	return 0;
}

int pmu_eventset_resolve(const char *override, struct pmu_eventset *set, nb_error *err)
{
	if (pmu_pfm_init(err))
		return -1;
	if (override)
		return resolve_override(override, set, err);

	const char *core = detected_core_pmu();
	if (core && set_for_pmu(core)) {
		fill_from_def(set, core, set_for_pmu(core));
		return 0;
	}
	char vendor[13];
	unsigned family, model;
	pmu_cpu_id(vendor, &family, &model);
	const struct pmu_raw_table *t = pmu_raw_for_cpu(vendor, family);
	if (t) {
		fill_from_raw(set, t);
		return 0;
	}
	/* No page-walk table: keep the generic cycles/instructions so that the
	 * result still says whether hardware counting works here. */
	memset(set, 0, sizeof(*set));
	copy_str(set->name, sizeof(set->name), core ? core : "generic");
	if (core)
		pmu_desc(core, set->desc, sizeof(set->desc));
	snprintf(set->note, sizeof(set->note),
		 "no page-walk event table for this CPU (%s family 0x%x model 0x%x, libpfm4 PMU %s)", vendor, family,
		 model, core ? core : "none");
	set->formula = PMU_WF_NONE;
	set->group_size = MAX_GROUP;
	static const char *const generic[][2] = {{"cycles", "perf::PERF_COUNT_HW_CPU_CYCLES"},
						 {"instructions", "perf::PERF_COUNT_HW_INSTRUCTIONS"}};
	for (size_t i = 0; i < ARRAY_SIZE(generic); i++) {
		struct pmu_event *ev = &set->ev[set->n++];
		copy_str(ev->key, sizeof(ev->key), generic[i][0]);
		encode_pfm(ev, generic[i][1]);
	}
	return 0;
}
