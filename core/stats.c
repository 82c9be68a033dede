/* stats.c - summary statistics (see stats.h). */
#include "core/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median_sorted(const double *v, size_t n)
{
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

double median_of(const double *v, size_t n)
{
	if (n == 0)
		return NAN;
	double *s = malloc(n * sizeof(*s));
	if (!s)
		return NAN;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	double m = median_sorted(s, n);
	free(s);
	return m;
}

/* log C(n, k) via lgamma: exact enough for coverage sums at any n we use. */
static double log_choose(size_t n, size_t k)
{
	return lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1);
}

double median_ci_coverage(size_t n, size_t j)
{
	if (j < 1 || 2 * j > n + 1)
		return 0.0;
	/* P(j <= B <= n - j) for B ~ Bin(n, 1/2). */
	double p = 0.0;
	for (size_t i = j; i <= n - j; i++)
		p += exp(log_choose(n, i) - (double)n * log(2.0));
	return p;
}

/* The order-statistic interval of sorted s[0..n): the largest rank j whose
 * coverage stays at or above 95%, else [min, max] with its lower coverage
 * (n = 5: 1 - 2/32 = 93.75%, said as it is). */
static void median_interval(const double *s, size_t n, struct summary *out)
{
	size_t best = 0;
	for (size_t j = 1; 2 * j <= n + 1; j++) {
		if (median_ci_coverage(n, j) >= 0.95)
			best = j;
		else
			break;
	}
	if (best) {
		out->ci95_low = s[best - 1];
		out->ci95_high = s[n - best];
		out->ci_coverage = median_ci_coverage(n, best);
	} else {
		out->ci95_low = s[0];
		out->ci95_high = s[n - 1];
		out->ci_coverage = median_ci_coverage(n, 1);
	}
}

static double *sorted_finite_copy(const double *v, size_t n)
{
	if (n == 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return NULL;
	double *s = malloc(n * sizeof(*s));
	if (!s)
		return NULL;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return s;
}

int summarize_rounds(const double *round_medians, size_t nrounds, const double *samples, size_t nsamples,
		     struct summary *out)
{
	if (summarize(samples, nsamples, out))
		return -1;
	if (nrounds < 2)
		return 0; /* one round: the samples are all there is */
	double *r = sorted_finite_copy(round_medians, nrounds);
	if (!r)
		return -1;
	out->median = median_sorted(r, nrounds);
	median_interval(r, nrounds, out);
	out->ci_method = CI_METHOD_ROUNDS;
	free(r);
	return 0;
}

int summarize(const double *samples, size_t n, struct summary *out)
{
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(samples[i]))
			return -1;
	double *s = malloc(n * sizeof(*s));
	if (!s)
		return -1;
	memcpy(s, samples, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);

	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += s[i];
	double mean = sum / (double)n, ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += (s[i] - mean) * (s[i] - mean);

	out->n = n;
	out->min = s[0];
	out->max = s[n - 1];
	out->median = median_sorted(s, n);
	out->mean = mean;
	out->stddev = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
	out->cv = mean > 0 ? out->stddev / mean : 0.0;

	median_interval(s, n, out);
	out->ci_method = CI_METHOD_SAMPLES;
	free(s);
	return 0;
}

json_t *summary_json(const struct summary *s)
{
	return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:s}", "median", s->median, "min", s->min, "mean",
			 s->mean, "stddev", s->stddev, "cv", s->cv, "ci95_low", s->ci95_low, "ci95_high", s->ci95_high,
			 "ci_coverage", s->ci_coverage, "ci_method", s->ci_method ? s->ci_method : CI_METHOD_SAMPLES);
}

json_t *samples_json(const double *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_real(v[i]));
	return a;
}
