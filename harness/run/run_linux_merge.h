/* run_linux_merge.h - a Linux guest's results in the run's document: its
 * measurements as mode "linux", the cells of a guest that did not run, and
 * the terminal's line for them. */
#ifndef NESTBENCH_RUN_LINUX_MERGE_H
#define NESTBENCH_RUN_LINUX_MERGE_H

#include <jansson.h>
#include <stdio.h>

#include "harness/run/run.h"

/* Merge a guest's results document into doc: its measurements (mode
 * "linux", host_backing and timing_valid added), and its host facts as
 * "guest_host" (the first guest's).  Returns how many were merged, -1 when
 * guest is not a results document. */
long run_linux_merge(json_t *doc, const json_t *guest, const json_t *host_backing, int timing_valid);

/* The linux cells of one host backing that did not run: one per kernel and
 * guest backing, failed (failed != 0) or skipped, with the reason. */
void run_linux_unrun_cells(json_t *doc, const struct run_config *cfg, const json_t *host_backing, int timing_valid,
			   const char *reason, int failed);

/* The terminal's line(s) for the linux measurements ("TCG: function only"). */
void run_linux_print_summary(FILE *out, const json_t *doc);

#endif
