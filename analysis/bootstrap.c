/* bootstrap.c - seeded percentile bootstrap of a ratio of medians. */
#include "analysis/bootstrap.h"

#include <math.h>
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

/* Uniform in (0, 1), never 0 or 1 (logarithms below). */
static double unit_open(struct rng *r)
{
	return ((double)(rng_next(r) >> 11) + 0.5) * 0x1p-53;
}

static double std_normal(struct rng *r)
{
	return sqrt(-2.0 * log(unit_open(r))) * cos(6.283185307179586 * unit_open(r));
}

/* Gamma(a, 1) for a >= 1: Marsaglia and Tsang, "A simple method for
 * generating gamma variables" (2000). */
static double gamma_ge1(struct rng *r, double a)
{
	double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
	for (;;) {
		double x, v;
		do {
			x = std_normal(r);
			v = 1.0 + c * x;
		} while (v <= 0);
		v = v * v * v;
		double u = unit_open(r);
		if (u < 1.0 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
			return d * v;
	}
}

static double beta(struct rng *r, double a, double b)
{
	double x = gamma_ge1(r, a), y = gamma_ge1(r, b);
	return x / (x + y);
}

/* The sample that a uniform draw u picks: a draw with replacement. */
static double pick(const double *sorted, size_t n, double u)
{
	size_t i = (size_t)(u * (double)n);
	return sorted[i < n ? i : n - 1];
}

/* The median of one resample (n draws with replacement) of sorted data, in
 * O(1) whatever n is.  A draw with replacement is pick(U) for a uniform U,
 * and pick() is monotone, so the k-th smallest of n draws is pick() of the
 * k-th smallest of n uniforms, which is Beta(k, n + 1 - k).  For even n the
 * median (type 7) also needs the next order statistic: the smallest of the
 * other n - k uniforms above it, U(k) + (1 - U(k)) * Beta(1, n - k).  So the
 * resampled median has exactly the distribution that resampling all n
 * values and sorting them would give, at a cost that does not grow with n:
 * compare of a file with a million samples per measurement takes as long
 * as one with ten, apart from sorting each side once. */
static double resampled_median(const double *sorted, size_t n, struct rng *r)
{
	if (n == 1)
		return sorted[0];
	size_t k = (n + 1) / 2;
	double v = beta(r, (double)k, (double)(n + 1 - k));
	if (n % 2)
		return pick(sorted, n, v);
	double w = v + (1.0 - v) * (1.0 - pow(unit_open(r), 1.0 / (double)(n - k)));
	return 0.5 * (pick(sorted, n, v) + pick(sorted, n, w));
}

static double *sorted_copy(const double *x, size_t n)
{
	double *s = malloc(n * sizeof(*s));
	if (s) {
		memcpy(s, x, n * sizeof(*s));
		qsort(s, n, sizeof(*s), cmp_double);
	}
	return s;
}

int bootstrap_ratio(const double *a, size_t na, const double *b, size_t nb, unsigned iters, uint64_t seed,
		    struct ratio_ci *out, nb_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!na || !nb)
		return nb_fail(err, "no samples to compare");
	if (iters < 100)
		iters = 100;
	double *sa = sorted_copy(a, na), *sb = sorted_copy(b, nb);
	double *ratios = malloc(iters * sizeof(*ratios));
	if (!sa || !sb || !ratios) {
		free(sa);
		free(sb);
		free(ratios);
		return nb_fail(err, "out of memory for the bootstrap");
	}
	out->median_a = quantile_sorted(sa, na, 0.5);
	out->median_b = quantile_sorted(sb, nb, 0.5);
	int rc = 0;
	if (!(out->median_a > 0)) {
		rc = nb_fail(err, "the baseline median is 0, so no ratio exists");
		goto done;
	}
	out->ratio = out->median_b / out->median_a;
	out->enough_samples = na >= BOOT_MIN_SAMPLES && nb >= BOOT_MIN_SAMPLES;

	struct rng r;
	rng_seed(&r, seed);
	size_t kept = 0;
	for (unsigned i = 0; i < iters; i++) {
		double ma = resampled_median(sa, na, &r);
		double mb = resampled_median(sb, nb, &r);
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
done:
	free(sa);
	free(sb);
	free(ratios);
	return rc;
}

/* ---- Mann-Whitney U ---- */

/* U = #{(i, j): b[j] > a[i]} + #{b[j] == a[i]} / 2, in halves. */
/* First index of sorted s[0..n) whose value is > x (above = 1) or >= x. */
static size_t bound(const double *s, size_t n, double x, int above)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (above ? s[mid] <= x : s[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Twice U: for each a, the b above it count 2, the b equal to it 1.  Over
 * a sorted copy of b, so a file of a million samples a side (one from
 * before rounds) costs n log n, not n squared. */
static unsigned long long u_halves(const double *a, size_t na, const double *b, size_t nb)
{
	double *s = malloc(nb * sizeof(*s));
	if (!s)
		return (unsigned long long)na * nb; /* out of memory: U at its mean, no evidence */
	memcpy(s, b, nb * sizeof(*s));
	qsort(s, nb, sizeof(*s), cmp_double);
	unsigned long long u2 = 0;
	for (size_t i = 0; i < na; i++) {
		size_t ge = bound(s, nb, a[i], 0), gt = bound(s, nb, a[i], 1);
		u2 += 2 * (unsigned long long)(nb - gt) + (gt - ge);
	}
	free(s);
	return u2;
}

/* The null distribution of U for (m, n) without ties, as probabilities
 * dist[0..m*n]: f(m, n, u) = f(m-1, n, u-n) + f(m, n-1, u) counted over
 * n, then divided by C(m+n, m).  NULL out of memory. */
static double *u_distribution(size_t m, size_t n)
{
	size_t top = m * n;
	/* f[k][u] for the current m, k = 0..n. */
	double *f = calloc((n + 1) * (top + 1), sizeof(double));
	double *g = calloc((n + 1) * (top + 1), sizeof(double));
	if (!f || !g) {
		free(f);
		free(g);
		return NULL;
	}
#define F(t, k, u) (t)[(k) * (top + 1) + (u)]
	for (size_t k = 0; k <= n; k++)
		F(f, k, 0) = 1; /* m = 0: U = 0 */
	for (size_t mm = 1; mm <= m; mm++) {
		memset(g, 0, (n + 1) * (top + 1) * sizeof(double));
		F(g, 0, 0) = 1; /* n = 0: U = 0 */
		for (size_t k = 1; k <= n; k++)
			for (size_t u = 0; u <= mm * k; u++)
				F(g, k, u) = (u >= k ? F(f, k, u - k) : 0) + F(g, k - 1, u);
		double *t = f;
		f = g;
		g = t;
	}
	double total = 0;
	for (size_t u = 0; u <= top; u++)
		total += F(f, n, u);
	double *dist = malloc((top + 1) * sizeof(double));
	if (dist)
		for (size_t u = 0; u <= top; u++)
			dist[u] = F(f, n, u) / total;
#undef F
	free(f);
	free(g);
	return dist;
}

static double erfc_tail(double z)
{
	return 0.5 * erfc(z / sqrt(2.0));
}

/* Mid-ranks of the pooled values: the tie correction's sum of t^3 - t. */
static double tie_term(const double *a, size_t na, const double *b, size_t nb)
{
	size_t n = na + nb;
	double *all = malloc(n * sizeof(*all));
	if (!all)
		return 0;
	memcpy(all, a, na * sizeof(*all));
	memcpy(all + na, b, nb * sizeof(*all));
	qsort(all, n, sizeof(*all), cmp_double);
	double t3 = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && all[j] == all[i])
			j++;
		double t = (double)(j - i);
		t3 += t * t * t - t;
		i = j;
	}
	free(all);
	return t3;
}

double mw_p_two_sided(const double *a, size_t na, const double *b, size_t nb)
{
	if (!na || !nb)
		return 1.0;
	unsigned long long u2 = u_halves(a, na, b, nb);
	double p;
	if (na <= MW_EXACT_MAX && nb <= MW_EXACT_MAX) {
		/* Rows of one comparison mostly share their counts (5 rounds a
		 * side): the last distribution is kept for the next. */
		static double *cache;
		static size_t cm, cn;
		if (!cache || cm != na || cn != nb) {
			free(cache);
			cache = u_distribution(na, nb);
			cm = na;
			cn = nb;
		}
		const double *d = cache;
		if (!d)
			return 1.0; /* out of memory: claim nothing */
		size_t top = na * nb;
		size_t lo = (size_t)(u2 / 2), hi = (size_t)((u2 + 1) / 2); /* U <= lo, U >= hi */
		double below = 0, above = 0;
		for (size_t u = 0; u <= top; u++) {
			if (u <= lo)
				below += d[u];
			if (u >= hi)
				above += d[u];
		}
		p = 2 * (below < above ? below : above);
	} else {
		double m = (double)na, n = (double)nb, N = m + n;
		double mean = m * n / 2;
		double var = m * n / 12 * ((N + 1) - tie_term(a, na, b, nb) / (N * (N - 1)));
		if (!(var > 0))
			return 1.0;
		double z = (fabs((double)u2 / 2 - mean) - 0.5) / sqrt(var); /* continuity correction */
		p = z <= 0 ? 1.0 : 2 * erfc_tail(z);
	}
	return p > 1 ? 1.0 : p;
}

struct pidx {
	double p;
	size_t i;
};

static int cmp_pidx(const void *x, const void *y)
{
	const struct pidx *a = x, *b = y;
	if (a->p != b->p)
		return (a->p > b->p) - (a->p < b->p);
	return (a->i > b->i) - (a->i < b->i);
}

int bh_adjust(const double *p, size_t n, double *q)
{
	if (!n)
		return 0;
	struct pidx *s = malloc(n * sizeof(*s));
	if (!s)
		return -1;
	for (size_t i = 0; i < n; i++)
		s[i] = (struct pidx){p[i], i};
	qsort(s, n, sizeof(*s), cmp_pidx);
	double run = 1.0;
	for (size_t k = n; k-- > 0;) {
		double v = s[k].p * (double)n / (double)(k + 1);
		if (v < run)
			run = v;
		q[s[k].i] = run;
	}
	free(s);
	return 0;
}
