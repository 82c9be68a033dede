/* stats.h - summary statistics of a measurement's samples.
 *
 * The confidence interval of the median comes from order statistics: the
 * interval [x(j), x(n-j+1)] covers the true median with probability
 * P(j <= B <= n-j), B ~ Binomial(n, 1/2), no assumption about the
 * distribution (benchmark samples are skewed and often bimodal).  j is the
 * largest rank that keeps the coverage at or above 95%; with fewer than six
 * samples no such j exists and the interval is [min, max] with its lower
 * coverage reported.
 */
#ifndef NESTBENCH_STATS_H
#define NESTBENCH_STATS_H

#include <jansson.h>
#include <stddef.h>

struct summary {
	size_t n;
	double median, min, max, mean, stddev, cv;
	double ci95_low, ci95_high;
	double ci_coverage; /* the exact coverage of [ci95_low, ci95_high] */
	const char *ci_method; /* static: what the interval is made of (CI_METHOD_*) */
};

/* The interval's unit, written as summary.ci_method. */
#define CI_METHOD_SAMPLES "order statistics of the samples"
#define CI_METHOD_ROUNDS "order statistics of the round medians"


/* Summarize n >= 1 samples (the input is not modified).  Returns 0, -1 when
 * n == 0 or a sample is not a finite number. */
int summarize(const double *samples, size_t n, struct summary *out);

/* A measurement made in rounds (harness/run/rounds.c): the median and the
 * interval come from the n >= 1 round medians, each round being one
 * replicate (its own chain seed, its own place in a random order, minutes
 * apart from the others), so the interval covers run-to-run variance and not
 * just the spread of consecutive slices of one allocation.  min, max, mean,
 * stddev and cv still describe all the samples, as they do for one round.
 * With fewer than two rounds this is summarize() of the samples.  Returns 0,
 * -1 on empty or non-finite input. */
int summarize_rounds(const double *round_medians, size_t nrounds, const double *samples, size_t nsamples,
		     struct summary *out);

/* Median of n values (copied and sorted internally). */
double median_of(const double *v, size_t n);

/* Coverage of the order-statistic interval of ranks [j, n-j+1] (1-based). */
double median_ci_coverage(size_t n, size_t j);

/* {"median":..,"min":..,"mean":..,"stddev":..,"cv":..,"ci95_low":..,"ci95_high":..,
 *  "ci_coverage":..,"ci_method":..} */
json_t *summary_json(const struct summary *s);

/* The samples as a JSON array of numbers (the `samples` of a measurement). */
json_t *samples_json(const double *v, size_t n);

#endif
