/* plan.h - what a run measures, before anything is measured: the sweep
 * buffer a backing needs, the cells of each non-sweeping kernel (size x
 * thread count x placement x variant x mode, in the order they are
 * measured) and how many measurements a backing makes (the progress line's
 * total).  Nothing here touches the machine but the PU count. */
#ifndef NESTBENCH_PLAN_H
#define NESTBENCH_PLAN_H

#include <stddef.h>

#include "harness/run/run.h"

/* The most working-set points a sweep has (the knees' curves hold as many). */
#define RUN_MAX_POINTS 256

/* The most bytes any kernel needs of the sweep buffer over the points. */
size_t plan_buffer_need(const struct run_config *cfg, const size_t *points, size_t npoints);

/* Measurements per point of a non-sweeping kernel in the run's modes:
 * native, and one per guest page for kernels that run guests themselves. */
unsigned plan_mode_count(const struct run_config *cfg, const struct kernel_desc *k);

/* Measurements one backing makes (sweeping kernels natively at every point,
 * every non-sweeping kernel's cells); the VM chase counts its own. */
size_t plan_per_backing_total(const struct run_config *cfg, size_t npoints);

/* Measurements one backing makes over R base rounds: the sweeping kernels'
 * in every round, the cells' in the first min(R, ROUNDS_CELLS) (rounds.h). */
size_t plan_round_total(const struct run_config *cfg, size_t npoints, unsigned rounds);

/* Called once per cell with its working set and options; nonzero stops. */
typedef int (*plan_cell_fn)(void *arg, size_t working_set_bytes, const struct kernel_options *opt);

/* Every cell of non-sweeping kernel k, native first, then the guest side of
 * the same cell at each guest page.  -1 as soon as fn returns nonzero (the
 * walk stops there), else 0. */
int plan_fixed_cells(const struct run_config *cfg, const struct kernel_desc *k, plan_cell_fn fn, void *arg);

#endif
