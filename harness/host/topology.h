/* topology.h - CPU topology and thread pinning through hwloc.
 *
 * PUs are named by their OS index (what taskset and /proc/cpuinfo use).
 * The first pin saves the calling thread's original affinity so it can be
 * restored when the run ends.
 */
#ifndef NESTBENCH_TOPOLOGY_H
#define NESTBENCH_TOPOLOGY_H

#include <jansson.h>

#include "core/util.h"

int topology_init(nb_error *err);
void topology_fini(void);

/* Number of PUs this process may run on. */
int topology_pu_count(void);
/* Is `pu` an OS index this process may run on? */
int topology_pu_allowed(int pu);

/* The PU to measure on by default: one whose core has no other allowed PU
 * where possible (no SMT sibling), preferring the last core (CPU 0 tends to
 * take more interrupts). */
int topology_default_measure_pu(void);

/* Fill out[0..n) with n PUs on distinct cores where possible (distinct PUs
 * at least), the first being `first` if >= 0.  Returns 0, or 1 when fewer
 * than n PUs are allowed (reason in err). */
int topology_pick_pus(int n, int first, int *out, nb_error *err);

/* Bind the calling thread to one PU; save the original affinity first. */
int topology_pin_self(int pu, nb_error *err);
/* Restore the calling thread's affinity from before the first pin. */
void topology_restore_affinity(void);
/* The PU the calling thread runs on now (sched_getcpu). */
int topology_current_pu(void);
/* Involuntary context switches of the calling thread so far (-1: unknown):
 * a change across a timed sample says another task ran on its PU then. */
long topology_self_preemptions(void);

/* {"packages":N,"cores":N,"pus":N,"numa_nodes":N,
 *  "caches":[{"level":1,"type":"data","size_bytes":N,"line_bytes":N,"ways":N,"count":N},...],
 *  "allowed_pus":[...],"default_measure_pu":N}
 * Unknown cache attributes are null; "fully_associative":true replaces ways
 * where hwloc says so.  When hwloc fails every member is null and "reason"
 * says why. */
json_t *topology_json(void);

#endif
