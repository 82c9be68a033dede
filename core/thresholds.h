/* thresholds.h - the one set of limits at which a measurement earns a flag
 * (the run writes it into the results file) or a caveat (the report prints
 * it).  Both sides include this header, so what `run` flags and what
 * `report` warns about cannot drift apart again. */
#ifndef NESTBENCH_THRESHOLDS_H
#define NESTBENCH_THRESHOLDS_H

/* Samples whose coefficient of variation exceeds this are "noisy".  At the
 * default 31 samples a cv of 10% makes the 95% CI of the median about as
 * wide as the differences compare is asked to find (a few percent), so a
 * reader must know before trusting one. */
#define THRESH_NOISY_CV 0.10

/* Below this share of the buffer on the requested page size a measurement
 * is flagged.  0.95 rather than 0.90: the report has always cautioned
 * below 0.95, and 5-10% of a sweep on 4K pages already adds page walks that
 * show as a step on a hugepage curve beyond the 4K TLB reach; the run now
 * flags exactly what the report cautions about. */
#define THRESH_MIN_COVERAGE 0.95

/* A latency curve has a knee where the median steps up by this factor
 * between neighbouring working sets (harness/run/knees.c): large enough
 * that noise never makes one, small enough to see one more level of the
 * TLB/cache hierarchy missing. */
#define THRESH_KNEE_STEP 1.25

#endif
