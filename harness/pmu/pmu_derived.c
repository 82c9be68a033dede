/* pmu_derived.c - derived page-walk metrics (see pmu_derived.h). */
#include "harness/pmu/pmu_derived.h"

#include <string.h>

#include "core/util.h"

struct ctx {
	const struct pmu_count *counts;
	size_t n;
	uint64_t ops;
	json_t *derived, *missing;
};

static int lookup(const struct ctx *c, const char *key, double *out)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->counts[i].key, key)) {
			*out = c->counts[i].value;
			return 0;
		}
	return -1;
}

/* Sum of the NULL-terminated keys with weights (NULL weights = all 1);
 * -1 naming the first key that was not read. */
static int sum(const struct ctx *c, const char *const *keys, const double *weights, double *out,
	       const char **absent)
{
	double s = 0;
	for (size_t i = 0; keys[i]; i++) {
		double v;
		if (lookup(c, keys[i], &v)) {
			*absent = keys[i];
			return -1;
		}
		s += (weights ? weights[i] : 1.0) * v;
	}
	*out = s;
	return 0;
}

static json_t *inputs_json(const char *const *a, const char *const *b)
{
	json_t *arr = json_array();
	for (size_t i = 0; a && a[i]; i++)
		json_array_append_new(arr, json_string(a[i]));
	for (size_t i = 0; b && b[i]; i++)
		json_array_append_new(arr, json_string(b[i]));
	return arr;
}

static void put(struct ctx *c, const char *name, json_t *value, const char *const *in_a, const char *const *in_b,
		const char *formula)
{
	json_t *m = json_object();
	json_object_set_new(m, "value", value);
	json_object_set_new(m, "inputs", inputs_json(in_a, in_b));
	json_object_set_new(m, "formula", json_string(formula));
	json_object_set_new(c->derived, name, m);
}

static void miss(struct ctx *c, const char *name, const char *why, const char *absent)
{
	char buf[256];
	if (absent)
		snprintf(buf, sizeof(buf), "%s was not read", absent);
	json_object_set_new(c->missing, name, json_string(absent ? buf : why));
}

/* num / den, or a "missing" entry: inputs absent, zero denominator, no ops. */
static void ratio(struct ctx *c, const char *name, const char *const *num_keys, const double *num_w,
		  const char *const *den_keys, double den_scale, const char *formula)
{
	double num, den;
	const char *absent = NULL;
	if (sum(c, num_keys, num_w, &num, &absent) || (den_keys && sum(c, den_keys, NULL, &den, &absent))) {
		miss(c, name, NULL, absent);
		return;
	}
	if (!den_keys) {
		if (!c->ops) {
			miss(c, name, "the number of accesses was not given", NULL);
			return;
		}
		den = (double)c->ops;
	}
	den *= den_scale;
	if (den <= 0) {
		miss(c, name, "the denominator counted zero", NULL);
		return;
	}
	put(c, name, json_real(num / den), num_keys, den_keys, formula);
}

static const char *const intel_walks[] = {"dtlb_load.walks", "dtlb_store.walks", NULL};
static const char *const intel_pending[] = {"dtlb_load.walk_pending", "dtlb_store.walk_pending", NULL};
static const char *const amd_walks[] = {"dtlb.walks_4k", "dtlb.walks_coalesced", "dtlb.walks_2m", "dtlb.walks_1g",
					NULL};
static const char *const cycles[] = {"cycles", NULL};

static void page_size_mix(struct ctx *c, int amd)
{
	static const char *const names[] = {"4k", "coalesced", "2m", "1g"};
	static const char *const amd_keys[][3] = {{"dtlb.walks_4k", NULL, NULL},
						  {"dtlb.walks_coalesced", NULL, NULL},
						  {"dtlb.walks_2m", NULL, NULL},
						  {"dtlb.walks_1g", NULL, NULL}};
	static const char *const intel_keys[][3] = {{"dtlb_load.walks_4k", "dtlb_store.walks_4k", NULL},
						    {NULL, NULL, NULL},
						    {"dtlb_load.walks_2m", "dtlb_store.walks_2m", NULL},
						    {"dtlb_load.walks_1g", "dtlb_store.walks_1g", NULL}};
	double v[4] = {0}, total = 0;
	int have[4] = {0};
	const char *inputs[9];
	size_t ni = 0;
	for (int s = 0; s < 4; s++) {
		const char *const *keys = amd ? amd_keys[s] : intel_keys[s];
		const char *absent = NULL;
		if (!keys[0])
			continue; /* Intel has no coalesced pages */
		if (sum(c, keys, NULL, &v[s], &absent))
			continue; /* e.g. no 1G completion event on this CPU */
		have[s] = 1;
		total += v[s];
		for (size_t k = 0; keys[k]; k++)
			inputs[ni++] = keys[k];
	}
	inputs[ni] = NULL;
	if (!have[0] || !have[2]) {
		miss(c, "page_size_mix", "4K and 2M walk completions were not both read", NULL);
		return;
	}
	if (total <= 0) {
		miss(c, "page_size_mix", "no page walk completed", NULL);
		return;
	}
	json_t *mix = json_object();
	for (int s = 0; s < 4; s++)
		if (have[s])
			json_object_set_new(mix, names[s], json_real(v[s] / total));
	put(c, "page_size_mix", mix, inputs, NULL,
	    amd ? "dtlb.walks_<size> / sum of dtlb.walks_<size>"
		: "(dtlb_load.walks_<size> + dtlb_store.walks_<size>) / sum over sizes; sizes without an event are absent");
}

static void walk_fraction(struct ctx *c, enum pmu_walk_formula f)
{
	static const char *const hsw_keys[] = {"itlb.walk_active", "dtlb_load.walk_active", "dtlb_store.walk_active",
					       "itlb.walks",       "dtlb_load.walks",       "dtlb_store.walks",
					       NULL};
	static const double hsw_w[] = {1, 1, 1, 7, 7, 7};
	static const char *const skl_keys[] = {"itlb.walk_pending", "dtlb_load.walk_pending", "dtlb_store.walk_pending",
					       "ept.walk_pending", NULL};
	static const char *const icl_keys[] = {"itlb.walk_pending", "dtlb_load.walk_pending", "dtlb_store.walk_pending",
					       NULL};
	switch (f) {
	case PMU_WF_HSW:
		ratio(c, "walk_cycle_fraction", hsw_keys, hsw_w, cycles, 1.0,
		      "(itlb.walk_active + dtlb_load.walk_active + dtlb_store.walk_active + 7 * (itlb.walks + "
		      "dtlb_load.walks + dtlb_store.walks)) / cycles (Haswell/Broadwell Page_Walks_Utilization)");
		break;
	case PMU_WF_SKL:
		ratio(c, "walk_cycle_fraction", skl_keys, NULL, cycles, 2.0,
		      "(itlb.walk_pending + dtlb_load.walk_pending + dtlb_store.walk_pending + ept.walk_pending) / "
		      "(2 * cycles) (Skylake Page_Walks_Utilization)");
		break;
	case PMU_WF_ICL:
		ratio(c, "walk_cycle_fraction", icl_keys, NULL, cycles, 2.0,
		      "(itlb.walk_pending + dtlb_load.walk_pending + dtlb_store.walk_pending) / (2 * cycles) "
		      "(Ice Lake Page_Walks_Utilization)");
		break;
	case PMU_WF_GLC:
		ratio(c, "walk_cycle_fraction", icl_keys, NULL, cycles, 4.0,
		      "(itlb.walk_pending + dtlb_load.walk_pending + dtlb_store.walk_pending) / (4 * cycles) "
		      "(Golden Cove Page_Walks_Utilization)");
		break;
	default:
		break;
	}
}

void pmu_derived(enum pmu_walk_formula formula, const struct pmu_count *counts, size_t n, uint64_t total_ops,
		 json_t *derived, json_t *missing)
{
	struct ctx c = {counts, n, total_ops, derived, missing};
	static const char *const names[] = {"walks_per_access", "walk_cycles_per_access", "cycles_per_walk",
					    "walk_cycle_fraction", "page_size_mix"};
	if (formula == PMU_WF_NONE) {
		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			miss(&c, names[i], "no page-walk event table for these events", NULL);
		return;
	}
	if (formula == PMU_WF_AMD) {
		ratio(&c, "walks_per_access", amd_walks, NULL, NULL, 1.0,
		      "(dtlb.walks_4k + dtlb.walks_coalesced + dtlb.walks_2m + dtlb.walks_1g) / accesses");
		static const char *const amd_none = "AMD has no walk-cycle event: use walks_per_access with the timing";
		miss(&c, "walk_cycles_per_access", amd_none, NULL);
		miss(&c, "cycles_per_walk", amd_none, NULL);
		miss(&c, "walk_cycle_fraction", amd_none, NULL);
		page_size_mix(&c, 1);
		return;
	}
	ratio(&c, "walks_per_access", intel_walks, NULL, NULL, 1.0, "(dtlb_load.walks + dtlb_store.walks) / accesses");
	ratio(&c, "walk_cycles_per_access", intel_pending, NULL, NULL, 1.0,
	      "(dtlb_load.walk_pending + dtlb_store.walk_pending) / accesses");
	ratio(&c, "cycles_per_walk", intel_pending, NULL, intel_walks, 1.0,
	      "(dtlb_load.walk_pending + dtlb_store.walk_pending) / (dtlb_load.walks + dtlb_store.walks)");
	walk_fraction(&c, formula);
	static const char *const load_active[] = {"dtlb_load.walk_active", NULL};
	ratio(&c, "load_walk_active_fraction", load_active, NULL, cycles, 1.0, "dtlb_load.walk_active / cycles");
	static const char *const ept[] = {"ept.walk_pending", NULL};
	if (formula == PMU_WF_HSW || formula == PMU_WF_SKL)
		ratio(&c, "ept_walk_cycles_per_access", ept, NULL, NULL, 1.0, "ept.walk_pending / accesses");
	else
		miss(&c, "ept_walk_cycles_per_access", "no EPT walk event is documented for this CPU", NULL);
	page_size_mix(&c, 0);
}
