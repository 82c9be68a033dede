/* run_summary.h - the table printed on the terminal at the end of a run. */
#ifndef NESTBENCH_RUN_SUMMARY_H
#define NESTBENCH_RUN_SUMMARY_H

#include <jansson.h>
#include <stdio.h>

#include "harness/run/records.h"

/* From the run's records: per backing, working set, chase and chase-ctl
 * medians (paired by identity, core/identity.h), translation cost, the other
 * native kernels, then the knees of doc.derived and any skipped backings. */
void run_summary_print(FILE *out, const struct run_records *rs, const json_t *doc);

/* A median with its 95% interval in the median's unit: "2.96 ns [2.94, 2.97]". */
void summary_fmt_ci(char *buf, size_t len, const struct summary *s);

/* The skipped cells grouped by reason, with counts (the details stay in
 * the results file). */
void run_summary_skipped(FILE *out, const struct run_records *rs);

/* The findings of the run's document (what its numbers say, in sentences),
 * printed first.  Defined in analysis/findings_out.c and declared there
 * too (analysis/findings.h): harness/ does not include analysis/, the call
 * is resolved at link time as the CLI reaches cmd_report.  0 or -1. */
int findings_print_doc(FILE *out, const json_t *doc);

#endif
