/* cpustate.h - the state of the measuring PU's CPU (host.cpu_state).
 *
 * What moves a latency figure without changing the code: the frequency
 * governor and boost, the effective clock (APERF/MPERF over a short busy
 * spin on the PU), whether the PU's SMT sibling is busy, automatic NUMA
 * balancing (it unmaps pages to sample them: faults inside samples), and
 * the PU's memory node (the harness prefers it for its buffers,
 * harness/mem/backing.c).  Each fact is read from sysfs, procfs or the msr
 * device; one that cannot be read is null with the reason.
 *
 * The readers take the roots of /sys, /proc and /dev so the unit tests can
 * give them a tree of their own.
 */
#ifndef NESTBENCH_CPUSTATE_H
#define NESTBENCH_CPUSTATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct cpustate_roots {
	const char *sys, *proc, *dev; /* "/sys", "/proc", "/dev" */
	unsigned spin_ms;             /* APERF/MPERF and sibling sampling interval (0: 20 ms) */
};

/* { "pu": N,
 *   "cpufreq": {driver, governor, cur_khz, min_khz, max_khz, reason},
 *   "boost": {enabled, source, reason},
 *   "aperf_mperf": {ratio, interval_ms, reason},
 *   "smt": {siblings: [..], sibling_busy_fraction, sibling_idle, reason},
 *   "numa_balancing": N|null, "numa_balancing_reason": "..."|absent,
 *   "node": N|null } */
json_t *cpustate_json(const struct cpustate_roots *roots, int pu);

/* ---- pure helpers, exposed for the tests ---- */

/* "0-3,8,10-11\n" -> 0 1 2 3 8 10 11; returns the count (at most cap), -1 if malformed. */
int cpustate_parse_cpulist(const char *text, int *out, int cap);

/* The "cpuN ..." line of /proc/stat: busy (user+nice+system+irq+softirq+
 * steal) and total jiffies.  0, or -1 when there is no such line. */
int cpustate_stat_times(const char *stat_text, int pu, uint64_t *busy, uint64_t *total);

/* Busy share between two readings; -1 when no time passed. */
double cpustate_busy_fraction(uint64_t busy0, uint64_t total0, uint64_t busy1, uint64_t total1);

/* APERF/MPERF deltas -> the ratio (effective / base clock); -1 when MPERF
 * did not move (the counters are not running). */
double cpustate_aperf_ratio(uint64_t aperf0, uint64_t mperf0, uint64_t aperf1, uint64_t mperf1);

#endif
