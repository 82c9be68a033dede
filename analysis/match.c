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
			nb_error e;
			if (bootstrap_ratio(a->samples, a->n, b->samples, b->n, iters, seed ^ hash_string(a->key), &r->ci,
					    &e)) {
				snprintf(r->why, sizeof(r->why), "%.150s", e.msg);
				continue;
			}
			r->have_ratio = 1;
			if (!r->ci.enough_samples)
				snprintf(r->why, sizeof(r->why), "fewer than %d samples on a side: no significance claimed",
					 BOOT_MIN_SAMPLES);
			else if (!r->lower_is_better)
				snprintf(r->why, sizeof(r->why), "metric direction unknown: not gated");
			if (threshold_pct >= 0 && r->ci.significant && r->lower_is_better &&
			    (r->ci.ratio - 1.0) * 100.0 > threshold_pct) {
				r->regression = 1;
				out->regressions++;
			}
		}
		for (size_t i = 0; i < B->nmeas; i++) {
			const struct res_meas *b = &B->meas[i];
			if (!is_duplicate(&ix[fb], b) && !index_find(&ix[0], b->key) &&
			    add_un(&un, fb, 0, b, "not in the baseline", NULL))
				goto oom;
		}
	}
	rc = 0;
	out->rows = rows.p;
	out->nrows = rows.n;
	out->un = un.p;
	out->nun = un.n;
	rows.p = un.p = NULL;
oom:
	if (rc)
		nb_fail(err, "out of memory comparing results");
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
