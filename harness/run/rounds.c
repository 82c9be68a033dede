/* rounds.c - rounds: the order, the chain seeds and the merge (see rounds.h). */
#include "harness/run/rounds.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/stats.h"
#include "core/thresholds.h"
#include "core/util.h"

/* splitmix64's finalizer: a round's stream from the run's seed. */
static uint64_t mix(uint64_t x)
{
	struct rng r;
	rng_seed(&r, x);
	return rng_next(&r);
}

void rounds_order(uint64_t seed, unsigned round, size_t *order, size_t n)
{
	struct rng r;
	/* A stream of its own: not the chain's (rounds_chain_seed), not another
	 * round's.  The round goes through the mixer too: seeds that differ by
	 * a multiple of splitmix64's increment are one stream shifted, and
	 * Fisher-Yates would then turn one round's order into the last one's
	 * rotated by a position. */
	rng_seed(&r, mix(mix(seed ^ 0x726f756e64730000ull) ^ (round + 1)));
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)rng_below(&r, i);
		size_t t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
}

uint64_t rounds_chain_seed(uint64_t seed, unsigned round)
{
	return round == 0 ? seed : mix(seed + round);
}

unsigned rounds_samples_per_round(unsigned samples, unsigned rounds)
{
	if (rounds <= 1)
		return samples ? samples : 1;
	unsigned n = (samples + rounds - 1) / rounds;
	return n ? n : 1;
}

unsigned rounds_warmup_per_round(unsigned warmup, unsigned rounds)
{
	if (rounds <= 1 || warmup == 0)
		return warmup;
	unsigned n = (warmup + rounds - 1) / rounds;
	return n ? n : 1;
}

double rounds_half_width_pct(double median, double lo, double hi)
{
	if (!(median > 0))
		return INFINITY;
	return (hi - lo) / 2 / median * 100;
}

/* ---- the holder ---- */

struct held {
	char *key;
	uint64_t hash;
	unsigned seen_round;  /* the last round it was seen in, + 1 (0: never) */
	size_t unit;
	struct measurement m; /* the first round's JSON parts (owned), or the skip */
	char *mmu;            /* m.mmu_virt_mode, copied (the VM that lent it may be gone) */
	char *skip;           /* the reason, copied; NULL: measured */
	double *samples;
	size_t nsamples, cap;
	unsigned n;           /* rounds measured */
	double medians[ROUNDS_MAX];
	uint64_t seeds[ROUNDS_MAX];
	size_t positions[ROUNDS_MAX];
	uint64_t iters[ROUNDS_MAX];
	size_t counts[ROUNDS_MAX];
	size_t retaken[ROUNDS_MAX];
};

struct rounds_hold {
	struct run_records *recs;
	double target_pct;
	unsigned round;
	uint64_t seed;
	size_t unit, position;
	struct held *p;
	size_t n, cap;
	int lost; /* out of memory while holding: the run must not pretend */
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

static void drop_parts(struct measurement *m)
{
	json_decref(m->backing);
	json_decref(m->params);
	json_decref(m->counters);
	json_decref(m->pmu);
	json_decref(m->flags);
	json_decref(m->kvm);
	json_decref(m->rounds);
	json_decref(m->page_check);
	m->backing = m->params = m->counters = m->pmu = m->flags = m->kvm = m->rounds = m->page_check = NULL;
}

/* A round's cv of two or three samples says nothing: the merged
 * measurement's noisy flag is made again from all of them. */
static int is_round_local(const char *flag)
{
	return !strncmp(flag, "noisy: ", 7);
}

/* The first round's flags without the round-local ones, then each later
 * round's flags that are not there yet (a check that failed in one round). */
static void merge_flags(json_t *into, const json_t *from)
{
	size_t i, j;
	json_t *f, *g;
	json_array_foreach(from, i, f) {
		const char *s = json_string_value(f);
		if (!s || is_round_local(s))
			continue;
		int have = 0;
		json_array_foreach(into, j, g)
			have |= json_is_string(g) && !strcmp(json_string_value(g), s);
		if (!have)
			json_array_append(into, f);
	}
}

static struct held *find_or_add(struct rounds_hold *h, char *key)
{
	uint64_t hash = fnv(key);
	/* The first point with this key not yet seen in this round: two cells
	 * with one identity stay two points. */
	for (size_t i = 0; i < h->n; i++)
		if (h->p[i].hash == hash && h->p[i].seen_round != h->round + 1 && !strcmp(h->p[i].key, key)) {
			free(key);
			return &h->p[i];
		}
	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 256;
		struct held *np = realloc(h->p, nc * sizeof(*np));
		if (!np) {
			free(key);
			return NULL;
		}
		h->p = np;
		h->cap = nc;
	}
	struct held *p = &h->p[h->n++];
	memset(p, 0, sizeof(*p));
	p->key = key;
	p->hash = hash;
	return p;
}

static int take_skip(struct held *p, struct measurement *m)
{
	drop_parts(&p->m);
	free(p->skip);
	free(p->mmu);
	p->m = *m;
	p->skip = strdup(m->skipped);
	p->mmu = m->mmu_virt_mode ? strdup(m->mmu_virt_mode) : NULL;
	p->m.samples = NULL;
	p->m.nsamples = 0;
	p->n = 0; /* its measured rounds, if any, are dropped (rounds.h) */
	p->nsamples = 0;
	return p->skip ? 0 : -1;
}

static int take_round(struct rounds_hold *h, struct held *p, struct measurement *m)
{
	if (p->n == ROUNDS_MAX) {
		drop_parts(m);
		return 0;
	}
	if (p->nsamples + m->nsamples > p->cap) {
		size_t nc = p->cap ? p->cap : 16;
		while (nc < p->nsamples + m->nsamples)
			nc *= 2;
		double *ns = realloc(p->samples, nc * sizeof(*ns));
		if (!ns) {
			drop_parts(m);
			return -1;
		}
		p->samples = ns;
		p->cap = nc;
	}
	memcpy(p->samples + p->nsamples, m->samples, m->nsamples * sizeof(double));
	p->nsamples += m->nsamples;
	p->medians[p->n] = median_of(m->samples, m->nsamples);
	p->seeds[p->n] = h->seed;
	p->positions[p->n] = h->position;
	p->iters[p->n] = m->iterations_per_sample;
	p->counts[p->n] = m->nsamples;
	p->retaken[p->n] = m->retaken;
	if (p->n == 0) {
		p->m = *m;
		p->m.samples = NULL;
		p->mmu = m->mmu_virt_mode ? strdup(m->mmu_virt_mode) : NULL;
		json_t *kept = json_array();
		merge_flags(kept, m->flags);
		json_decref(p->m.flags);
		p->m.flags = kept;
	} else {
		merge_flags(p->m.flags, m->flags);
		/* The page check of the round whose range changed (THP split or
		 * collapse, migration, a fallback) is the one to keep; with no
		 * change in any, the latest round's, whose "after" is the last. */
		if (m->page_check && !json_is_true(json_object_get(p->m.page_check, "changed"))) {
			json_decref(p->m.page_check);
			p->m.page_check = m->page_check;
			m->page_check = NULL;
		}
		drop_parts(m);
	}
	p->n++;
	return 0;
}

/* A point is its unit's measurement of one kernel in one mode (and guest
 * page), the n-th such of a visit: not its identity, since some kernels
 * record outcomes among their parameters (vm-lifecycle's boot time) and a
 * round that skipped a point records it without the parameters the others
 * had. */
static char *point_key(const struct rounds_hold *h, const struct measurement *m)
{
	char *k = NULL;
	if (asprintf(&k, "%zu|%s|%s|%s", h->unit, m->kernel, m->mode, m->guest_page ? m->guest_page : "-") < 0)
		return NULL;
	return k;
}

static int hold(void *arg, struct measurement *m)
{
	struct rounds_hold *h = arg;
	char *key = point_key(h, m);
	struct held *p = key ? find_or_add(h, key) : NULL;
	if (!p) {
		drop_parts(m);
		h->lost = 1;
		return -1;
	}
	p->seen_round = h->round + 1;
	p->unit = h->unit;
	int rc;
	if (p->skip) {
		drop_parts(m); /* skipped or failed once: that is its record */
		rc = 0;
	} else if (m->skipped) {
		rc = take_skip(p, m);
	} else {
		rc = take_round(h, p, m);
	}
	if (rc)
		h->lost = 1;
	return rc;
}

struct rounds_hold *rounds_hold_new(struct run_records *recs, double target_pct)
{
	struct rounds_hold *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->recs = recs;
	h->target_pct = target_pct;
	recs->hold = hold;
	recs->hold_arg = h;
	return h;
}

void rounds_hold_round(struct rounds_hold *h, unsigned round, uint64_t seed)
{
	h->round = round;
	h->seed = seed;
}

void rounds_hold_unit(struct rounds_hold *h, size_t unit, size_t position)
{
	h->unit = unit;
	h->position = position;
}

static int merged_summary(const struct held *p, struct summary *s)
{
	return summarize_rounds(p->medians, p->n, p->samples, p->nsamples, s);
}

int rounds_hold_unit_imprecise(const struct rounds_hold *h, size_t unit)
{
	for (size_t i = 0; i < h->n; i++) {
		const struct held *p = &h->p[i];
		struct summary s;
		if (p->unit != unit || p->skip || !p->n || p->n == ROUNDS_MAX || merged_summary(p, &s))
			continue;
		if (rounds_half_width_pct(s.median, s.ci95_low, s.ci95_high) > h->target_pct)
			return 1;
	}
	return 0;
}

static json_t *reals(const double *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_real(v[i]));
	return a;
}

static json_t *ints(const uint64_t *v, size_t n, int mask)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)(mask ? v[i] & INT64_MAX : v[i])));
	return a;
}

static json_t *sizes(const size_t *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)v[i]));
	return a;
}

static json_t *rounds_json(const struct held *p, double hw, double target)
{
	return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o?, s:f, s:b}", "n", (json_int_t)p->n, "medians",
			 reals(p->medians, p->n), "seeds", ints(p->seeds, p->n, 1), "positions",
			 sizes(p->positions, p->n), "samples", sizes(p->counts, p->n), "retaken",
			 sizes(p->retaken, p->n), "iterations_per_sample", ints(p->iters, p->n, 0), "half_width_pct",
			 isfinite(hw) ? json_real(hw) : NULL, "precision_target_pct", target, "precision_met",
			 hw <= target);
}

/* "chase vm 2m thp 64 MiB" and the parameters that tell cells apart. */
static json_t *missed_entry(const struct held *p, double hw)
{
	char w[32];
	format_size(p->m.working_set_bytes, w, sizeof(w));
	const char *backing = json_string_value(json_object_get(p->m.backing, "requested"));
	char label[256];
	int len = snprintf(label, sizeof(label), "%s %s%s%s %s %s", p->m.kernel, p->m.mode,
			   p->m.guest_page ? " " : "", p->m.guest_page ? p->m.guest_page : "", backing ? backing : "?", w);
	static const char *const tell[] = {"variant", "placement", "threads"};
	for (size_t i = 0; i < ARRAY_SIZE(tell) && len > 0 && (size_t)len < sizeof(label); i++) {
		json_t *v = json_object_get(p->m.params, tell[i]);
		if (json_is_string(v))
			len += snprintf(label + len, sizeof(label) - (size_t)len, " %s", json_string_value(v));
		else if (json_is_integer(v))
			len += snprintf(label + len, sizeof(label) - (size_t)len, " %s=%lld", tell[i],
					(long long)json_integer_value(v));
	}
	return json_pack("{s:s, s:o?, s:I}", "label", label, "half_width_pct", isfinite(hw) ? json_real(hw) : NULL,
			 "rounds", (json_int_t)p->n);
}

struct by_unit {
	size_t unit, i;
};

static int cmp_by_unit(const void *a, const void *b)
{
	const struct by_unit *x = a, *y = b;
	if (x->unit != y->unit)
		return (x->unit > y->unit) - (x->unit < y->unit);
	return (x->i > y->i) - (x->i < y->i);
}

int rounds_hold_finish(struct rounds_hold *h, json_t **missed, size_t *nmeasured)
{
	struct run_records *recs = h->recs;
	recs->hold = NULL;
	recs->hold_arg = NULL;
	*missed = json_array();
	*nmeasured = 0;
	int rc = h->lost ? -1 : 0;
	/* In plan order (the units'), whatever order the first round drew. */
	struct by_unit *ord = malloc((h->n ? h->n : 1) * sizeof(*ord));
	if (!ord) {
		recs->lost = 1;
		return -1;
	}
	for (size_t i = 0; i < h->n; i++)
		ord[i] = (struct by_unit){h->p[i].unit, i};
	qsort(ord, h->n, sizeof(*ord), cmp_by_unit);
	for (size_t oi = 0; oi < h->n; oi++) {
		struct held *p = &h->p[ord[oi].i];
		struct measurement m = p->m;
		m.mmu_virt_mode = p->mmu;
		if (p->skip) {
			m.skipped = p->skip;
		} else {
			if (merged_summary(p, &m.summary)) {
				/* (A round's samples were checked finite when it was summarized.) */
				drop_parts(&p->m);
				rc = -1;
				continue;
			}
			double hw = rounds_half_width_pct(m.summary.median, m.summary.ci95_low, m.summary.ci95_high);
			m.samples = p->samples;
			m.nsamples = p->nsamples;
			m.rounds = rounds_json(p, hw, h->target_pct);
			size_t retaken = 0;
			for (unsigned r = 0; r < p->n; r++)
				retaken += p->retaken[r];
			if (retaken)
				json_array_append_new(m.flags, json_sprintf("%zu timed samples taken again: the measuring "
									    "thread was preempted during them",
									    retaken));
			if (m.summary.cv > THRESH_NOISY_CV)
				json_array_append_new(m.flags, json_sprintf("noisy: cv %.1f%%", m.summary.cv * 100));
			if (!(hw <= h->target_pct))
				json_array_append_new(*missed, missed_entry(p, hw));
			(*nmeasured)++;
		}
		if (records_write(recs, &m))
			rc = -1;
		memset(&p->m, 0, sizeof(p->m)); /* the writer took the parts */
	}
	free(ord);
	if (rc)
		recs->lost = 1;
	return rc;
}

void rounds_hold_free(struct rounds_hold *h)
{
	if (!h)
		return;
	if (h->recs->hold_arg == h) {
		h->recs->hold = NULL;
		h->recs->hold_arg = NULL;
	}
	for (size_t i = 0; i < h->n; i++) {
		drop_parts(&h->p[i].m);
		free(h->p[i].key);
		free(h->p[i].mmu);
		free(h->p[i].skip);
		free(h->p[i].samples);
	}
	free(h->p);
	free(h);
}
