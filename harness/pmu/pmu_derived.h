/* pmu_derived.h - page-walk metrics derived from the counts a session read.
 *
 * walks_per_access, walk_cycles_per_access, cycles_per_walk,
 * walk_cycle_fraction (top-down Page_Walks_Utilization, per generation),
 * load_walk_active_fraction, ept_walk_cycles_per_access and page_size_mix.
 * Each metric names its inputs and formula; a metric whose inputs were not all
 * read is not produced, and "missing" says why (AMD: no walk-cycle event).
 */
#ifndef NESTBENCH_PMU_DERIVED_H
#define NESTBENCH_PMU_DERIVED_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "harness/pmu/pmu_events.h"

/* A count that was really read (scaled for multiplexing). */
struct pmu_count {
	const char *key;
	double value;
};

/* Add each metric that can be computed to `derived` ({"value", "inputs",
 * "formula"}) and, for each that cannot, a sentence to `missing`.
 * total_ops: operations (accesses) done while counting; 0 = unknown. */
void pmu_derived(enum pmu_walk_formula formula, const struct pmu_count *counts, size_t n, uint64_t total_ops,
		 json_t *derived, json_t *missing);

#endif
