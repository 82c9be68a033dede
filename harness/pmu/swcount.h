/* swcount.h - software perf events around a measured region.
 *
 * page-faults, minor/major faults, context switches, CPU migrations and
 * task-clock work on every machine, PMU or not (they are kernel software
 * events), so every measurement records them, and kernels use them as proof
 * that they did what they claim (one fault per page touched, zero
 * migrations when pinned, ...).
 */
#ifndef NESTBENCH_SWCOUNT_H
#define NESTBENCH_SWCOUNT_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/util.h"

enum swc_event {
	SWC_PAGE_FAULTS,
	SWC_MINOR_FAULTS,
	SWC_MAJOR_FAULTS,
	SWC_CONTEXT_SWITCHES,
	SWC_CPU_MIGRATIONS,
	SWC_TASK_CLOCK_NS,
	SWC_COUNT
};

struct swcount {
	int fd[SWC_COUNT]; /* -1 where the event could not be opened */
	int open_errno[SWC_COUNT];
};

/* JSON key of each event: "page_faults", ..., "task_clock_ns". */
const char *swcount_name(enum swc_event ev);

/* Open the events, disabled, for thread `tid` (0 = the calling thread) on any
 * CPU.  inherit != 0 also counts children created after opening (fork/threads).
 * Returns 0 when at least one event opened, -1 (reason in err) when none did. */
int swcount_open(struct swcount *sc, pid_t tid, int inherit, nb_error *err);
/* Zero all counts; enable / disable counting (counts accumulate over
 * several start/stop pairs until the next reset). */
void swcount_reset(struct swcount *sc);
void swcount_start(struct swcount *sc);
void swcount_stop(struct swcount *sc);
/* Read the counts; events that could not be opened read as UINT64_MAX. */
void swcount_read(const struct swcount *sc, uint64_t out[SWC_COUNT]);
void swcount_close(struct swcount *sc);

/* {"page_faults": N, ...}, events that could not be opened as null.
 */
json_t *swcount_json(const struct swcount *sc, const uint64_t counts[SWC_COUNT]);

#endif
