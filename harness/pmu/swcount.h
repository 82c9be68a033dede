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
	/* 1 where the event counts user mode only (exclude_kernel): opened so
	 * on purpose, or because perf_event_paranoid refused kernel counting. */
	int user_only[SWC_COUNT];
};

/* JSON key of each event: "page_faults", ..., "task_clock_ns". */
const char *swcount_name(enum swc_event ev);

/* Open the events, disabled, for thread `tid` (0 = the calling thread) on any
 * CPU.  inherit != 0 also counts children created after opening (fork/threads).
 * Returns 0 when at least one event opened, -1 (reason in err) when none did. */
int swcount_open(struct swcount *sc, pid_t tid, int inherit, nb_error *err);
/* The same, counting user mode only whatever the privileges (what an
 * unprivileged process gets under perf_event_paranoid >= 2). */
int swcount_open_user_only(struct swcount *sc, pid_t tid, int inherit, nb_error *err);

/* Whether an event, counted in user mode only, still counts what it names.
 * Context switches and migrations happen in the kernel and are raised with
 * kernel registers: exclude_kernel hides every one of them (they read 0, a
 * count that proves nothing).  Page faults taken from user mode are raised
 * with the user's registers and still count (faults in kernel mode, e.g.
 * in copy_to_user, do not); task-clock counts time either way. */
int swcount_blind_user_only(enum swc_event ev);

/* This process's view: can it count kernel-side events?  1 yes, 0 user mode
 * only (reason: perf_event_paranoid and privileges, in why), probed once. */
int swcount_kernel_allowed(char *why, size_t whylen);
/* /proc/sys/kernel/perf_event_paranoid, or INT_MIN when unreadable. */
int swcount_paranoid(void);
/* Zero all counts; enable / disable counting (counts accumulate over
 * several start/stop pairs until the next reset). */
void swcount_reset(struct swcount *sc);
void swcount_start(struct swcount *sc);
void swcount_stop(struct swcount *sc);
/* Read the counts; events that could not be opened read as UINT64_MAX, and
 * so do events counted in user mode only that are blind there
 * (swcount_blind_user_only): a 0 from them would pass for a proof. */
void swcount_read(const struct swcount *sc, uint64_t out[SWC_COUNT]);
void swcount_close(struct swcount *sc);

/* {"page_faults": N, ..., "includes_kernel": bool}: events that could not be
 * opened, or are blind in user mode, as null; includes_kernel false when
 * the events count user mode only (then context_switches and
 * cpu_migrations are null: blind there), null when none opened. */
json_t *swcount_json(const struct swcount *sc, const uint64_t counts[SWC_COUNT]);

#endif
