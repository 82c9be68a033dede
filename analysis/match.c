/* match.c - matching measurements across results files by identity. */
#include "analysis/match.h"

#include <stdlib.h>
#include <string.h>

int metric_lower_is_better(const char *metric)
{
	static const char *const prefixes[] = {"ns_", "us_", "ms_", "s_", "cycles_", "ticks_"};
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (!strncmp(metric, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

/* Measurements of one file sorted by key (then by position), for lookup. */
struct index {
	const struct res_meas **by_key;
	size_t n;
};

static int cmp_meas(const void *x, const void *y)
{
	const struct res_meas *a = *(const struct res_meas *const *)x, *b = *(const struct res_meas *const *)y;
	int c = strcmp(a->key, b->key);
	if (c)
		return c;
	return (a->index > b->index) - (a->index < b->index);
}

static int index_build(struct index *ix, const struct res_file *f)
{
	ix->n = f->nmeas;
	ix->by_key = malloc((f->nmeas ? f->nmeas : 1) * sizeof(*ix->by_key));
	if (!ix->by_key)
		return -1;
	for (size_t i = 0; i < f->nmeas; i++)
		ix->by_key[i] = &f->meas[i];
	qsort(ix->by_key, ix->n, sizeof(*ix->by_key), cmp_meas);
	return 0;
}

/* First occurrence (in file order) of key, or NULL. */
static const struct res_meas *index_find(const struct index *ix, const char *key)
{
	size_t lo = 0, hi = ix->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ix->by_key[mid]->key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ix->n && !strcmp(ix->by_key[lo]->key, key) ? ix->by_key[lo] : NULL;
}

static int is_duplicate(const struct index *ix, const struct res_meas *m)
{
	return index_find(ix, m->key) != m;
}

struct growbuf {
	void *p;
	size_t n, cap, size;
};

static void *grow(struct growbuf *g)
{
	if (g->n == g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 16;
		void *np = realloc(g->p, nc * g->size);
		if (!np)
			return NULL;
		g->p = np;
		g->cap = nc;
	}
	void *slot = (char *)g->p + g->n++ * g->size;
	memset(slot, 0, g->size);
	return slot;
}

static int add_un(struct growbuf *u, size_t file, size_t other, const struct res_meas *m, const char *why,
		  const char *detail)
{
	struct cmp_unmatched *e = grow(u);
	if (!e)
		return -1;
	e->file = file;
	e->other = other;
	e->m = m;
	snprintf(e->why, sizeof(e->why), "%s%s", why, detail ? detail : "");
	return 0;
}

/* Benjamini-Hochberg over the rows with enough replicates; significant:
 * q <= CMP_FDR and the interval excludes 1. */
static int correct(struct cmp_row *rows, size_t n, struct comparison *out)
{
	double *p = malloc((n ? n : 1) * sizeof(*p)), *q = malloc((n ? n : 1) * sizeof(*q));
	size_t m = 0;
	if (!p || !q) {
		free(p);
		free(q);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (rows[i].have_ratio && rows[i].ci.enough_samples)
			p[m++] = rows[i].ci.p;
	if (bh_adjust(p, m, q)) {
		free(p);
		free(q);
		return -1;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct cmp_row *r = &rows[i];
		if (!r->have_ratio || !r->ci.enough_samples) {
			r->ci.significant = 0;
			continue;
		}
		r->ci.q = q[k++];
		r->ci.significant = r->ci.q <= CMP_FDR && (r->ci.lo > 1.0 || r->ci.hi < 1.0);
		out->significant += r->ci.significant;
	}
	out->tested = m;
	free(p);
	free(q);
	return 0;
}

/* The gate: a regression is a significant slowdown whose lower bound is
 * beyond the threshold.  A row it would judge with too few replicates is
 * not gated (its note says why); when no row can be gated at all, the gate
 * is refused: one that cannot trip must not pass. */
static int gate(struct cmp_row *rows, size_t n, double threshold_pct, struct comparison *out, nb_error *err)
{
	if (threshold_pct < 0)
		return 0;
	const struct cmp_row *few = NULL;
	size_t gated = 0;
	for (size_t i = 0; i < n; i++) {
		struct cmp_row *r = &rows[i];
		if (!r->have_ratio || !r->lower_is_better)
			continue;
		if (!r->ci.enough_samples) {
			few = few ? few : r;
			out->not_gated++;
			continue;
		}
		gated++;
		if (r->ci.significant && (r->ci.lo - 1.0) * 100.0 > threshold_pct) {
			r->regression = 1;
			out->regressions++;
		}
	}
	if (!gated && few)
		return nb_fail(err, "refusing to gate: no row has enough replicates; %.80s has %zu and %zu %s (at least %d a "
			       "side are needed for a test that can find anything; run with --rounds %d or more)",
			       few->a->label, few->na, few->nb, few->rounds ? "rounds" : "samples", BOOT_MIN_SAMPLES,
			       BOOT_MIN_SAMPLES), -2;
	return 0;
}

int compare_files(const struct res_file *files, size_t n, double threshold_pct, unsigned iters, uint64_t seed,
		  struct comparison *out, nb_error *err)
{
	memset(out, 0, sizeof(*out));
	struct growbuf rows = {.size = sizeof(struct cmp_row)}, un = {.size = sizeof(struct cmp_unmatched)};
	struct index *ix = calloc(n ? n : 1, sizeof(*ix));
	int rc = -1;
	if (!ix)
		goto oom;
	for (size_t f = 0; f < n; f++)
		if (index_build(&ix[f], &files[f]))
			goto oom;
	/* Repeated identities: the first occurrence is compared, the rest listed. */
	for (size_t f = 0; f < n; f++)
		for (size_t i = 0; i < files[f].nmeas; i++)
			if (is_duplicate(&ix[f], &files[f].meas[i]) &&
			    add_un(&un, f, f, &files[f].meas[i], "same identity as an earlier measurement in this file",
				   NULL))
				goto oom;
	for (size_t fb = 1; fb < n; fb++) {
		const struct res_file *A = &files[0], *B = &files[fb];
		for (size_t i = 0; i < A->nmeas; i++) {
			const struct res_meas *a = &A->meas[i];
			if (is_duplicate(&ix[0], a))
				continue;
			const struct res_meas *b = index_find(&ix[fb], a->key);
			if (!b) {
				if (add_un(&un, 0, fb, a, "not in the other file", NULL))
					goto oom;
				continue;
			}
			if (a->skipped || b->skipped) {
				const struct res_meas *s = a->skipped ? a : b;
				if (add_un(&un, a->skipped ? 0 : fb, a->skipped ? fb : 0, s, "skipped: ", s->skipped))
					goto oom;
				continue;
			}
			if (strcmp(a->metric, b->metric)) {
				if (add_un(&un, fb, 0, b, "metric differs from the baseline's: ", b->metric))
					goto oom;
				continue;
			}
			struct cmp_row *r = grow(&rows);
			if (!r)
				goto oom;
			r->file_b = fb;
			r->a = a;
			r->b = b;
			r->lower_is_better = metric_lower_is_better(a->metric);
			/* The replicates: rounds on both sides, else (a file from
			 * before rounds) the samples, said in the note. */
			r->rounds = a->nrounds && b->nrounds;
			const double *xa = r->rounds ? a->rounds : a->samples, *xb = r->rounds ? b->rounds : b->samples;
			r->na = r->rounds ? a->nrounds : a->n;
			r->nb = r->rounds ? b->nrounds : b->n;
			nb_error e;
			if (bootstrap_ratio(xa, r->na, xb, r->nb, iters, seed ^ hash_string(a->key), &r->ci, &e)) {
				snprintf(r->why, sizeof(r->why), "%.150s", e.msg);
				continue;
			}
			r->have_ratio = 1;
			r->ci.q = 1;
			r->ci.p = r->ci.enough_samples ? mw_p_two_sided(xa, r->na, xb, r->nb) : 1;
			if (!r->ci.enough_samples)
				snprintf(r->why, sizeof(r->why), "fewer than %d %s on a side (%zu, %zu): no significance claimed",
					 BOOT_MIN_SAMPLES, r->rounds ? "rounds" : "samples", r->na, r->nb);
			else if (!r->rounds)
				snprintf(r->why, sizeof(r->why), "no rounds in %s: replicates are samples, blind to run-to-run "
					 "variance", a->nrounds ? "this file" : "the baseline");
			else if (!r->lower_is_better)
				snprintf(r->why, sizeof(r->why), "metric direction unknown: not gated");
		}
		for (size_t i = 0; i < B->nmeas; i++) {
			const struct res_meas *b = &B->meas[i];
			if (!is_duplicate(&ix[fb], b) && !index_find(&ix[0], b->key) &&
			    add_un(&un, fb, 0, b, "not in the baseline", NULL))
				goto oom;
		}
	}
	if (correct(rows.p, rows.n, out))
		goto oom;
	rc = gate(rows.p, rows.n, threshold_pct, out, err);
	if (rc)
		goto fail;
	out->rows = rows.p;
	out->nrows = rows.n;
	out->un = un.p;
	out->nun = un.n;
	rows.p = un.p = NULL;
oom:
	if (rc)
		nb_fail(err, "out of memory comparing results");
fail:
	if (ix)
		for (size_t f = 0; f < n; f++)
			free(ix[f].by_key);
	free(ix);
	free(rows.p);
	free(un.p);
	return rc;
}

void comparison_free(struct comparison *c)
{
	free(c->rows);
	free(c->un);
	memset(c, 0, sizeof(*c));
}
