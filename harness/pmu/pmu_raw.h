/* pmu_raw.h - raw PERF_TYPE_RAW encodings for CPUs libpfm4 does not know.
 *
 * Debian's libpfm4 4.13 has no Zen 5 PMU, so on such CPUs the page-walk event
 * set is built from this table instead.  Every entry names the document its
 * event code and unit mask come from; an event that could not be confirmed in
 * a document is left out, never guessed.
 */
#ifndef NESTBENCH_PMU_RAW_H
#define NESTBENCH_PMU_RAW_H

#include <stddef.h>
#include <stdint.h>

struct pmu_raw_event {
	const char *key;    /* nestbench event name, e.g. "dtlb.walks_4k" */
	uint64_t config;    /* perf_event_attr.config for PERF_TYPE_RAW */
	const char *source; /* where the encoding is documented */
};

struct pmu_raw_table {
	const char *name;   /* "zen5"; the event set is reported as "raw:zen5" */
	const char *vendor; /* CPUID vendor string */
	unsigned family;    /* CPUID family (base + extended) the table applies to */
	const char *family_source;
	const char *note;   /* limitations, printed with the set */
	const struct pmu_raw_event *events;
	size_t nevents;
};

/* AMD PerfEvtSel layout (as perf's amd core PMU takes it in config):
 * event[7:0] in bits 7:0, unit mask in bits 15:8, event[11:8] in bits 35:32. */
static inline uint64_t pmu_raw_amd_config(unsigned event, unsigned umask)
{
	return (uint64_t)(event & 0xffu) | ((uint64_t)(umask & 0xffu) << 8) |
	       ((uint64_t)((event >> 8) & 0xfu) << 32);
}

/* The table for a CPU (vendor string and family from CPUID), or NULL. */
const struct pmu_raw_table *pmu_raw_for_cpu(const char *vendor, unsigned family);
/* The table called `name` ("zen5"), or NULL. */
const struct pmu_raw_table *pmu_raw_by_name(const char *name);

#endif
