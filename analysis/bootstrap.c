/* bootstrap.c - seeded percentile bootstrap of a ratio of medians. */
#include "bootstrap.h"

#include <stdlib.h>
#include <string.h>

uint64_t hash_string(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double quantile_sorted(const double *sorted, size_t n, double q)
{
	if (n == 1)
		return sorted[0];
	double h = (double)(n - 1) * q;
	size_t lo = (size_t)h;
	if (lo >= n - 1)
		return sorted[n - 1];
	return sorted[lo] + (h - (double)lo) * (sorted[lo + 1] - sorted[lo]);
}

/* Median of a scratch array (sorted in place). */
static double median_inplace(double *x, size_t n)
{
	qsort(x, n, sizeof(*x), cmp_double);
	return quantile_sorted(x, n, 0.5);
}

int bootstrap_ratio(const double *a, size_t na, const double *b, size_t nb, unsigned iters, uint64_t seed,
		    struct ratio_ci *out, nb_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!na || !nb)
		return nb_fail(err, "no samples to compare");
	if (iters < 100)
		iters = 100;
	out->median_a = median_of(a, na);
	out->median_b = median_of(b, nb);
	if (!(out->median_a > 0))
		return nb_fail(err, "the baseline median is 0, so no ratio exists");
	out->ratio = out->median_b / out->median_a;
	out->enough_samples = na >= BOOT_MIN_SAMPLES && nb >= BOOT_MIN_SAMPLES;

	size_t scratch_n = na > nb ? na : nb;
	double *scratch = malloc(scratch_n * sizeof(*scratch));
	double *ratios = malloc(iters * sizeof(*ratios));
	if (!scratch || !ratios) {
		free(scratch);
		free(ratios);
		return nb_fail(err, "out of memory for the bootstrap");
	}
	struct rng r;
	rng_seed(&r, seed);
	size_t kept = 0;
	for (unsigned i = 0; i < iters; i++) {
		for (size_t k = 0; k < na; k++)
			scratch[k] = a[rng_below(&r, na)];
		double ma = median_inplace(scratch, na);
		for (size_t k = 0; k < nb; k++)
			scratch[k] = b[rng_below(&r, nb)];
		double mb = median_inplace(scratch, nb);
		/* A resample whose baseline median is 0 has no ratio; it can only
		 * happen when zeros are among the samples, and it is left out. */
		if (ma > 0)
			ratios[kept++] = mb / ma;
	}
	if (kept == 0) {
		out->lo = out->hi = out->ratio;
	} else {
		qsort(ratios, kept, sizeof(*ratios), cmp_double);
		out->lo = quantile_sorted(ratios, kept, 0.025);
		out->hi = quantile_sorted(ratios, kept, 0.975);
	}
	out->significant = out->enough_samples && (out->lo > 1.0 || out->hi < 1.0);
	free(scratch);
	free(ratios);
	return 0;
}
