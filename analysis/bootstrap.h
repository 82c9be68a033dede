/* bootstrap.h - confidence intervals for the ratio of two medians.
 *
 * Method (percentile bootstrap): the two sample sets are resampled
 * independently with replacement, `iters` times; each round gives
 * median(B*) / median(A*).  A resample's median is drawn directly from its
 * exact distribution (an order statistic of uniforms, bootstrap.c) instead
 * of drawing and sorting n values, so the cost is O(n log n) once plus
 * O(iters), whatever the number of samples.  The 95% interval is the 2.5th and 97.5th
 * percentile of those ratios (linear interpolation between order
 * statistics, "type 7").  The point estimate is median(B) / median(A) of the
 * samples themselves.  The difference is significant when the interval
 * excludes 1.
 *
 * The random numbers come from the project's seeded splitmix64 (core/rng.h),
 * so a given seed gives the same intervals on every machine and every run.
 */
#ifndef NESTBENCH_BOOTSTRAP_H
#define NESTBENCH_BOOTSTRAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "core/util.h"

#define BOOT_DEFAULT_ITERS 2000
#define BOOT_DEFAULT_SEED 0x6e65737462656e63ull /* "nestbenc" */
/* Fewer samples than this on either side: no significance is claimed. */
#define BOOT_MIN_SAMPLES 5

/* FNV-1a of a string: mixes a measurement's identity into the seed so each
 * comparison's interval does not depend on the order of comparisons. */
uint64_t hash_string(const char *s);

#include "core/stats.h" /* median_of */

/* Quantile q in [0,1] of sorted values, type 7. */
double quantile_sorted(const double *sorted, size_t n, double q);

struct ratio_ci {
	double median_a, median_b;
	double ratio, lo, hi;  /* B/A and its 95% interval */
	int enough_samples;    /* both sides have >= BOOT_MIN_SAMPLES */
	int significant;       /* bootstrap_ratio: enough_samples and the interval excludes 1;
				* compare (match.c) also needs the corrected test below */
	double p;              /* two-sided Mann-Whitney p of the two sets (mw_p_two_sided) */
	double q;              /* p adjusted for the number of rows compared (bh_adjust); 1 untested */
};

/* Returns 0, or -1 when a side is empty or median(A) is 0 (no ratio exists). */
int bootstrap_ratio(const double *a, size_t na, const double *b, size_t nb, unsigned iters, uint64_t seed,
		    struct ratio_ci *out, nb_error *err);

/* Two-sided p of the Mann-Whitney U test (Wilcoxon rank sum) of a against
 * b: distribution-free, valid for the small replicate counts rounds give
 * (n = 5 a side: the smallest p is 2/252 = 0.0079).  Exact (the null
 * distribution of U counted, ties as 1/2) while both sides have at most
 * MW_EXACT_MAX values, else the normal approximation with the tie
 * correction.  1 when a side is empty. */
#define MW_EXACT_MAX 40
double mw_p_two_sided(const double *a, size_t na, const double *b, size_t nb);

/* Benjamini-Hochberg: q[i] = the adjusted p of p[i] among the n tested,
 * min over j with p_(j) >= p[i] of n * p_(j) / j, at most 1.  A test is
 * significant at false discovery rate alpha when q[i] <= alpha.  Returns 0,
 * -1 out of memory. */
int bh_adjust(const double *p, size_t n, double *q);

#endif
