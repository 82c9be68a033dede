/* record.h - one measurement as the harness knows it, before it is JSON.
 *
 * The native path (point.c) and the VM chase (run_vm.c) fill a struct
 * measurement; results_measurement_json() (results.c) alone turns it into
 * the results file's measurement object (schema v1), so every field has one
 * writer and one spelling.  What kernels or other rooms build as JSON stays
 * JSON here (params, backing, counters, pmu, kvm): the record carries it
 * and the writer takes ownership.  A record with `skipped` set is a skipped
 * cell (or a failed one, with `failed`): no samples, summary null.  While
 * a run's rounds are measured, records go to the holder of rounds.c, which
 * keeps the first round's JSON parts: a new owned part must be handled
 * there too (take_round, drop_parts). */
#ifndef NESTBENCH_RECORD_H
#define NESTBENCH_RECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/stats.h"

struct measurement {
	const char *kernel, *family, *metric;
	const char *mode;             /* "native" or "vm" */
	json_t *backing;              /* owned: the backing's facts (buffer_json) or what was requested */
	size_t working_set_bytes;     /* skipped cells: 0 is written as null */
	int cpu;                      /* skipped cells: < 0 is written as null */
	json_t *params;               /* owned, NULL: {}; the kernel's parameters */
	uint64_t iterations_per_sample;
	unsigned retaken;             /* timed samples taken again after a preemption (measure.h) */
	const double *samples;        /* borrowed, nsamples of them */
	size_t nsamples;
	struct summary summary;
	const char *alt_metric;       /* NULL: none; else median and CI times alt_per_op */
	double alt_per_op;
	json_t *counters;             /* owned, NULL: not counted */
	json_t *pmu;                  /* owned, NULL: no PMU part */
	json_t *flags;                /* owned, NULL: [] */
	json_t *kvm;                  /* owned, NULL: not a VM of ours */
	const char *guest_page;       /* mode vm: the requested guest page ("4k", "2m", "1g"); NULL native */
	uint64_t guest_built_page_bytes; /* 0: not built (null) */
	const char *mmu_virt_mode;    /* mode vm: how this host virtualizes memory */
	json_t *rounds;               /* owned, NULL: none; the rounds it was measured in (rounds.c) */
	json_t *page_check;           /* owned, NULL: none; the touched range's page sizes before and after */
	const char *skipped;          /* NULL: measured; else the reason */
	int failed;                   /* a cell attempted and failed: "skipped": "failed: <reason>" */
};

/* A skipped cell's record (the caller may add guest fields or set failed). */
void record_skipped(struct measurement *m, const char *kernel, const char *family, const char *metric,
		    const char *mode, json_t *backing, size_t working_set_bytes, int cpu, const char *reason);

#endif
