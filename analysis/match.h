/* match.h - pair up measurements of several results files and compare them.
 *
 * The first file is the baseline A; every other file B is compared with it.
 * For each identity (identity.h) found in both, a row holds the medians and
 * the bootstrap ratio B/A with its 95% interval.  Nothing is dropped
 * silently: identities in one file only, skipped on either side, with a
 * different metric, or repeated within a file are listed as unmatched with
 * the reason.
 */
#ifndef NESTBENCH_MATCH_H
#define NESTBENCH_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/bootstrap.h"
#include "analysis/resfile.h"

struct cmp_row {
	size_t file_b;               /* index of B in the file list (>= 1) */
	const struct res_meas *a, *b;
	int have_ratio;              /* 0: why says why (e.g. baseline median 0) */
	struct ratio_ci ci;
	int lower_is_better;         /* 1 for time metrics (ns_..., cycles_...), 0 unknown */
	int regression;              /* significant slowdown, the interval's lower bound above the threshold */
	int rounds;                  /* the replicates are rounds (else samples: a file from before rounds) */
	size_t na, nb;               /* replicates a side */
	char why[160];
};

struct cmp_unmatched {
	size_t file;                 /* the file the measurement is in */
	size_t other;                /* the file it was looked for in */
	const struct res_meas *m;
	char why[200];               /* "not in B", "skipped in B: <reason>", ... */
};

struct comparison {
	struct cmp_row *rows;
	size_t nrows;
	struct cmp_unmatched *un;
	size_t nun;
	int regressions;             /* rows with regression set */
	size_t tested;               /* rows with enough replicates: the m of the correction */
	size_t significant;          /* rows significant after the correction */
	size_t not_gated;            /* time rows the gate left out: too few replicates (their notes say) */
};

/* Replicates: a measurement's round medians (rounds.medians), or for files
 * from before rounds its samples.  Significance: the Mann-Whitney U test of
 * the two sides' replicates (mw_p_two_sided), corrected for the number of
 * rows tested by Benjamini-Hochberg at a false discovery rate of
 * CMP_FDR, and the bootstrap interval excluding 1.  The gate trips on a
 * significant slowdown whose interval's lower bound lies above 1 +
 * threshold. */
#define CMP_FDR 0.05
#define CMP_CORRECTION "Benjamini-Hochberg"

/* Is a larger value of this metric worse?  Time-like units are ("ns_", "us_",
 * "ms_", "s_", "cycles_", "ticks_" prefixes); others are not gated. */
int metric_lower_is_better(const char *metric);

/* Compare files[1..n-1] with files[0].  threshold_pct < 0: no gate.
 * Returns 0, -1 (out of memory) or -2: a gate was asked for but no row it
 * would judge has BOOT_MIN_SAMPLES replicates on each side (err says which
 * and how many; a gate that cannot trip must not pass).  Rows with too few
 * are left out of the gate and counted (not_gated). */
int compare_files(const struct res_file *files, size_t n, double threshold_pct, unsigned iters, uint64_t seed,
		  struct comparison *out, nb_error *err);
void comparison_free(struct comparison *c);

#endif
