/* run_summary.h - the table printed on the terminal at the end of a run. */
#ifndef NESTBENCH_RUN_SUMMARY_H
#define NESTBENCH_RUN_SUMMARY_H

#include <jansson.h>
#include <stdio.h>

/* Per backing: working set, chase and chase-ctl medians, translation cost,
 * then the knees and any skipped backings. */
void run_summary_print(FILE *out, const json_t *doc);

#endif
