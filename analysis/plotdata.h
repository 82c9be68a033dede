/* plotdata.h - turn results files into the data files the gnuplot templates read.
 *
 * Each writer picks the measurements of one plot, groups them into series
 * (identity without the working set, per file), and writes NAME.dat in the
 * report directory in the layout its template documents.  Labels go through
 * plot_label() (escape.h) and are quoted, so a data file never holds a quote,
 * newline or anything gnuplot would read as more than text.
 * Each returns the number of series written (0: nothing to plot) or -1.
 */
#ifndef NESTBENCH_PLOTDATA_H
#define NESTBENCH_PLOTDATA_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/resfile.h"

struct plot_src {
	const struct res_file *files;
	size_t n;
	int dirfd;                 /* the report directory */
};

/* latency.dat (+ latency-knees.dat, *nknees points): the chase family
 * without its -ctl controls, median and 95% interval vs working set. */
int plot_latency(const struct plot_src *s, int *nknees, nb_error *err);
/* translation.dat: derived.translation of every file. */
int plot_translation(const struct plot_src *s, nb_error *err);
/* gains.dat: the large-page gain, 4K chase latency / large-page chase
 * latency of the same mode and guest page, vs working set, per backing;
 * interval from the two 95% intervals (conservative). */
int plot_gains(const struct plot_src *s, nb_error *err);
/* NAME.dat for the heatmap of file `f` at working set ws: guest/native ratio
 * per (host backing, guest page).  Returns the number of cells. */
int plot_heatmap(const struct plot_src *s, size_t f, uint64_t ws, const char *name, nb_error *err);
/* Working sets with at least one VM chase measurement with a guest page, in
 * file f: the largest one, or 0 when none. */
uint64_t heatmap_default_ws(const struct res_file *f);
/* NAME.dat: bars for one family ("ptupdate", "ctxsw"). */
int plot_bars(const struct plot_src *s, const char *family, const char *kernel, const char *name, nb_error *err);
/* NAME.dat: one pmu.derived value (e.g. "walk_cycle_fraction") vs working set. */
int plot_pmu_sweep(const struct plot_src *s, const char *key, const char *name, nb_error *err);
/* pmu-page-mix.dat: walks_4k/walks_2m/walks_1g as fractions. */
int plot_pmu_pagemix(const struct plot_src *s, const char *name, nb_error *err);

#endif
