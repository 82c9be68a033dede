/* point.h - one measurement: a kernel at one working set on one backing
 * with one set of options, natively or in a VM.  It sets the kernel up,
 * opens its counters, times its samples (measure.c), checks the counters
 * against the kernel's claim, and appends the measurement (or a skipped or
 * failed one) to the results document. */
#ifndef NESTBENCH_POINT_H
#define NESTBENCH_POINT_H

#include <jansson.h>
#include <stddef.h>

#include "harness/mem/backing.h"
#include "harness/run/records.h"
#include "harness/run/run.h"

/* What one measurement reads and updates of its run. */
struct point_run {
	const struct run_config *cfg;
	json_t *doc;       /* the first PMU measurement writes the top-level "pmu" */
	struct run_records *recs; /* measurements are written here (records.h) */
	int have_sw;       /* software perf events can be opened here */
	int pmu_described; /* the run-level "pmu" object has been written */
	int progress;      /* a line per measurement on stderr */
	size_t done, total;
};

/* 0 when the measurement (or a skipped or failed VM cell) was recorded;
 * -1 on an error that ends the run (reported on stderr). */
int point_measure(struct point_run *pr, const struct kernel_desc *k, struct buffer *buf, size_t ws, int cpu,
		  const struct kernel_options *opt);

/* Two native kernels at one working set, timed sample by sample in turn
 * (measure_interleaved): a chase and its control.  Each is recorded as
 * point_measure records it, with params.interleaved naming the other; one
 * that skips leaves the other timed alone. */
int point_measure_pair(struct point_run *pr, const struct kernel_desc *const k[2], struct buffer *buf, size_t ws,
		       int cpu, const struct kernel_options *opt);

#endif
