/* findings.c - what the numbers of results files say (see findings.h). */
#include "analysis/findings.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 96
#define MAX_KNEES 8
#define MAX_WS_PTS 256

/* A large-page backing steps "where 4K does" when its first knee is within
 * this factor of 4K's; 2M pages would move it ~512x. */
#define SPLINTER_REACH_FACTOR 2.0
/* ...and costs "the same" when its chase latency is within this ratio. */
#define SPLINTER_COST_RATIO 1.25

/* One curve: mode x host backing x guest page (NULL: native). */
struct series {
	const char *mode, *backing, *gp;
};

struct kn {
	size_t idx;          /* in derived.knees */
	uint64_t ws, below, above;
	long long pages;
	double before, after;
	const char *level;   /* the TLB level's name, or NULL */
	long long entries, level_page, reach;
};

/* A sentence under construction (open_memstream). */
struct sb {
	char *buf;
	size_t len;
	FILE *f;
};

static int sb_open(struct sb *s)
{
	s->buf = NULL;
	s->len = 0;
	s->f = open_memstream(&s->buf, &s->len);
	return s->f ? 0 : -1;
}

static void sb_printf(struct sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(s->f, fmt, ap);
	va_end(ap);
}

/* Close and hand over the text (NULL when out of memory). */
static char *sb_take(struct sb *s)
{
	if (fclose(s->f) != 0) {
		free(s->buf);
		return NULL;
	}
	return s->buf;
}

const char *finding_kind_name(enum finding_kind kind)
{
	static const char *const names[FK_KIND_COUNT] = {
		[FK_NOTHING] = "nothing-measured", [FK_NO_VM] = "no-guest",	  [FK_REACH] = "tlb-reach",
		[FK_REACH_GAIN] = "reach-gain",	   [FK_SPLINTER] = "splintered",  [FK_LEVEL_COST] = "level-cost",
		[FK_GAIN] = "large-page-gain",	   [FK_TAX] = "guest-tax",	  [FK_TCG] = "tcg-function-only",
		[FK_MMU] = "mmu-mode",		   [FK_PTUPDATE] = "page-table-update", [FK_CTXSW] = "context-switch",
		[FK_KVM_MAP] = "kvm-mapping",
	};
	return kind < FK_KIND_COUNT ? names[kind] : "?";
}

void fmt_ns(char *buf, size_t len, double ns)
{
	double a = fabs(ns);
	if (!isfinite(ns))
		snprintf(buf, len, "-");
	else if (a >= 1e9)
		snprintf(buf, len, "%.3g s", ns / 1e9);
	else if (a >= 1e6)
		snprintf(buf, len, "%.3g ms", ns / 1e6);
	else if (a >= 1e3)
		snprintf(buf, len, "%.3g µs", ns / 1e3);
	else
		snprintf(buf, len, "%.3g ns", ns);
}

/* "256 KiB", "11.3 MiB". */
static void fmt_bytes(char *buf, size_t len, double b)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;
	while (b >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	snprintf(buf, len, "%.3g %s", b, u[i]);
}

static long long backing_page_bytes(const char *b)
{
	if (!b)
		return 0;
	if (!strcmp(b, "4k"))
		return 4096;
	if (!strcmp(b, "thp") || !strcmp(b, "hugetlb-2m") || !strcmp(b, "2m"))
		return 2 << 20;
	if (!strcmp(b, "hugetlb-1g") || !strcmp(b, "1g"))
		return 1 << 30;
	return 0;
}

/* The page size a TLB entry of the series can have: the smaller of the
 * guest's and the host's. */
static long long series_page_bytes(const struct series *s)
{
	long long h = backing_page_bytes(s->backing);
	if (!s->gp)
		return h;
	long long g = backing_page_bytes(s->gp);
	return g && g < h ? g : h;
}

static int eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static int native(const char *mode)
{
	return !strcmp(mode, "native");
}

static int series_eq(const struct series *a, const struct series *b)
{
	return eq(a->mode, b->mode) && eq(a->backing, b->backing) && eq(a->gp, b->gp);
}

static void series_name(char *buf, size_t len, const struct series *s)
{
	if (s->gp)
		snprintf(buf, len, "%s, %s guest pages on %s host backing", s->mode, s->gp, s->backing);
	else
		snprintf(buf, len, "%s, %s backing", s->mode, s->backing);
}

static const json_t *meas_json(const struct res_file *f, const struct res_meas *m)
{
	return json_array_get(json_object_get(f->root, "measurements"), m->index);
}

/* Timings that are the hardware's: not TCG emulation. */
static int timing_valid(const struct res_meas *m)
{
	return strcmp(m->mode, "qemu-tcg") && !m->timing_invalid;
}

static int is_large(const char *backing)
{
	return backing_page_bytes(backing) > 4096;
}

/* The made measurement of kernel in series s at ws (first match), or NULL. */
static const struct res_meas *find_meas(const struct res_file *f, const char *kernel, const struct series *s,
					uint64_t ws)
{
	for (size_t i = 0; i < f->nmeas; i++) {
		const struct res_meas *m = &f->meas[i];
		if (m->skipped || !m->has_summary || !m->has_ws || m->working_set_bytes != ws || strcmp(m->kernel, kernel))
			continue;
		if (eq(m->mode, s->mode) && eq(m->backing, s->backing) && eq(m->guest_page, s->gp))
			return m;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Sorted distinct working sets of the series' chase measurements. */
static size_t chase_ws(const struct res_file *f, const struct series *s, uint64_t *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < f->nmeas && n < cap; i++) {
		const struct res_meas *m = &f->meas[i];
		if (m->skipped || !m->has_ws || strcmp(m->kernel, "chase") || !eq(m->mode, s->mode) ||
		    !eq(m->backing, s->backing) || !eq(m->guest_page, s->gp))
			continue;
		size_t j = 0;
		while (j < n && out[j] != m->working_set_bytes)
			j++;
		if (j == n)
			out[n++] = m->working_set_bytes;
	}
	qsort(out, n, sizeof(*out), cmp_u64);
	return n;
}

/* ---- the findings list ---- */

struct ctx {
	const struct res_file *files;
	size_t nfiles;
	struct findings *out;
	nb_error *err;
	int oom;
};

static struct finding *add(struct ctx *c, enum finding_kind kind, size_t file, char *text)
{
	if (!text) {
		c->oom = 1;
		return NULL;
	}
	if (c->out->n == c->out->cap) {
		size_t cap = c->out->cap ? 2 * c->out->cap : 32;
		struct finding *v = realloc(c->out->v, cap * sizeof(*v));
		if (!v) {
			free(text);
			c->oom = 1;
			return NULL;
		}
		c->out->v = v;
		c->out->cap = cap;
	}
	struct finding *x = &c->out->v[c->out->n++];
	*x = (struct finding){.kind = kind, .file = file, .text = text, .value = NAN, .lo = NAN, .hi = NAN, .unit = ""};
	return x;
}

static void src_add(struct ctx *c, struct finding *x, size_t file, const struct res_meas *m, const char *what)
{
	if (!x || (m && x->nsrc && x->src[x->nsrc - 1].meas == m->index))
		return;
	for (size_t i = 0; m && i < x->nsrc; i++)
		if (x->src[i].file == file && x->src[i].meas == m->index)
			return;
	struct finding_src *v = realloc(x->src, (x->nsrc + 1) * sizeof(*v));
	if (!v) {
		c->oom = 1;
		return;
	}
	x->src = v;
	struct finding_src *s = &v[x->nsrc++];
	*s = (struct finding_src){.file = file, .meas = m ? m->index : SIZE_MAX, .label = m ? m->label : NULL};
	if (m)
		snprintf(s->what, sizeof(s->what), "measurements[%zu]", m->index);
	else
		snprintf(s->what, sizeof(s->what), "%s", what ? what : "");
}

static void set_num(struct finding *x, double v, double lo, double hi, const char *unit)
{
	if (!x)
		return;
	x->value = v;
	x->lo = lo;
	x->hi = hi;
	x->unit = unit;
}

static void set_key(struct finding *x, const char *kind, const struct series *s, const char *extra)
{
	if (x)
		snprintf(x->key, sizeof(x->key), "%s|%s|%s|%s|%s", kind, s ? s->mode : "", s ? s->backing : "",
			 s && s->gp ? s->gp : "", extra ? extra : "");
}

/* ---- series and knees ---- */

static size_t collect_series(const struct res_file *f, struct series *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < f->nmeas && n < cap; i++) {
		const struct res_meas *m = &f->meas[i];
		if (m->skipped || strcmp(m->kernel, "chase") || !m->has_ws)
			continue;
		struct series s = {m->mode, m->backing, m->guest_page};
		size_t j = 0;
		while (j < n && !series_eq(&out[j], &s))
			j++;
		if (j == n)
			out[n++] = s;
	}
	return n;
}

static long long jint(const json_t *o, const char *k, long long dflt)
{
	const json_t *v = json_object_get(o, k);
	return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : dflt;
}

/* The host.tlb level that a step between below and above is, for pages of
 * page_bytes: its reach inside the bracket (a quarter either side). */
static const json_t *tlb_level_for(const struct res_file *f, long long page_bytes, uint64_t below, uint64_t above)
{
	const json_t *levels = json_object_get(json_object_get(json_object_get(f->root, "host"), "tlb"), "levels");
	const json_t *best = NULL;
	size_t i;
	const json_t *l;
	json_array_foreach(levels, i, l) {
		long long pb = jint(l, "page_bytes", -1), reach = jint(l, "reach_bytes", -1);
		if (pb != page_bytes || reach <= 0 || !json_is_string(json_object_get(l, "name")))
			continue;
		if ((double)reach >= below * 0.75 && (double)reach <= above * 1.25) {
			best = l;
			if ((uint64_t)reach >= below && (uint64_t)reach <= above)
				break;
		}
	}
	return best;
}

/* The knees of series s, in working-set order: those found on the
 * translation curve when the file has them, else the chase's. */
static size_t series_knees(const struct res_file *f, const struct series *s, struct kn *out, size_t cap)
{
	const json_t *arr = json_object_get(json_object_get(f->root, "derived"), "knees");
	int want_translation = 0;
	for (size_t pass = 0; pass < 2; pass++) {
		size_t n = 0;
		for (size_t i = 0; i < f->nknees && n < cap; i++) {
			const struct res_derived_point *k = &f->knees[i];
			if (!eq(k->mode, s->mode) || !eq(k->backing, s->backing) || !eq(k->guest_page, s->gp))
				continue;
			const json_t *kj = json_array_get(arr, i);
			const char *curve = json_string_value(json_object_get(kj, "curve"));
			if (pass == 0) {
				if (curve && !strcmp(curve, "translation"))
					want_translation = 1;
				continue;
			}
			if (want_translation ? !(curve && !strcmp(curve, "translation"))
					     : (curve ? strcmp(curve, "chase") != 0 : strcmp(k->kernel, "chase") != 0))
				continue;
			struct kn *x = &out[n++];
			*x = (struct kn){.idx = i, .ws = k->working_set_bytes, .pages = k->pages, .before = k->lo,
					 .after = k->y, .above = k->working_set_bytes, .entries = -1, .reach = -1};
			const json_t *br = json_object_get(kj, "bracket");
			if (json_is_object(br) && jint(br, "below_bytes", -1) > 0 && jint(br, "above_bytes", -1) > 0) {
				x->below = (uint64_t)jint(br, "below_bytes", 0);
				x->above = (uint64_t)jint(br, "above_bytes", 0);
			} else {
				/* Today's knee sits at the point after its largest rise: the
				 * step lies between the measured point before it and it. */
				uint64_t ws[MAX_WS_PTS];
				size_t nw = chase_ws(f, s, ws, MAX_WS_PTS);
				x->below = x->ws;
				for (size_t j = 0; j < nw; j++)
					if (ws[j] < x->ws)
						x->below = ws[j];
			}
			const json_t *lv = json_object_get(kj, "level");
			if (!json_is_object(lv))
				lv = tlb_level_for(f, series_page_bytes(s), x->below, x->above);
			if (json_is_object(lv) && json_is_string(json_object_get(lv, "name"))) {
				x->level = json_string_value(json_object_get(lv, "name"));
				x->entries = jint(lv, "entries", -1);
				x->level_page = jint(lv, "page_bytes", -1);
				x->reach = jint(lv, "reach_bytes", -1);
			}
		}
		if (pass == 1) {
			/* derived.knees is written in order; sort anyway (untrusted). */
			for (size_t a = 1; a < n; a++)
				for (size_t b = a; b > 0 && out[b - 1].ws > out[b].ws; b--) {
					struct kn t = out[b];
					out[b] = out[b - 1];
					out[b - 1] = t;
				}
			return n;
		}
	}
	return 0;
}

static void knee_name(char *buf, size_t len, const struct kn *k, size_t i)
{
	if (k->level)
		snprintf(buf, len, "%s", k->level);
	else
		snprintf(buf, len, "step %zu", i + 1);
}

/* The working set in the middle of plateau p of a curve with knees k
 * (plateau p: from knee p-1 to knee p; the last one open), among ws[]
 * for which keep() holds; 0 when none. */
static uint64_t plateau_ws(const struct kn *k, size_t nk, size_t p, const uint64_t *ws, size_t nws)
{
	uint64_t lo = p ? k[p - 1].above : 0, hi = p < nk ? k[p].below : UINT64_MAX;
	size_t first = SIZE_MAX, last = 0;
	for (size_t i = 0; i < nws; i++)
		if (ws[i] >= lo && ws[i] <= hi) {
			if (first == SIZE_MAX)
				first = i;
			last = i;
		}
	if (first == SIZE_MAX)
		return 0;
	return ws[first + (last - first) / 2];
}

/* ---- the findings, one function each ---- */

static void f_reach(struct ctx *c, size_t fi, const struct series *s, const struct kn *k, size_t nk)
{
	const struct res_file *f = &c->files[fi];
	char sn[160], a[32], b[32], e[32];
	struct sb t;
	if (!nk || sb_open(&t))
		return;
	series_name(sn, sizeof(sn), s);
	sb_printf(&t, "TLB reach, %s: the chase steps up %s", sn, nk == 1 ? "once" : "");
	if (nk > 1)
		sb_printf(&t, "%zu times", nk);
	for (size_t i = 0; i < nk; i++) {
		fmt_bytes(a, sizeof(a), (double)k[i].below);
		fmt_bytes(b, sizeof(b), (double)k[i].above);
		sb_printf(&t, "%s ", i ? ";" : ":");
		if (k[i].level && k[i].entries > 0 && k[i].level_page > 0 && k[i].reach > 0) {
			fmt_bytes(e, sizeof(e), (double)k[i].reach);
			char pg[32];
			format_size((size_t)k[i].level_page, pg, sizeof(pg));
			sb_printf(&t, "%s: %lld entries x %s = %s; ", k[i].level, k[i].entries, pg, e);
		} else if (k[i].level) {
			sb_printf(&t, "%s: ", k[i].level);
		}
		sb_printf(&t, "steps between %s and %s (%.3g -> %.3g ns per access)", a, b, k[i].before, k[i].after);
	}
	sb_printf(&t, ".");
	struct finding *x = add(c, FK_REACH, fi, sb_take(&t));
	if (x)
		x->detail = 1;
	set_num(x, (double)k[0].above, (double)k[0].below, (double)k[0].above, "bytes");
	set_key(x, "reach", s, NULL);
	for (size_t i = 0; i < nk; i++) {
		char w[40];
		snprintf(w, sizeof(w), "derived.knees[%zu]", k[i].idx);
		src_add(c, x, fi, NULL, w);
		src_add(c, x, fi, find_meas(f, "chase", s, k[i].above), NULL);
	}
}

static const struct res_derived_point *translation_at(const struct res_file *f, const struct series *s, uint64_t ws,
						      size_t *idx)
{
	for (size_t i = 0; i < f->ntranslation; i++) {
		const struct res_derived_point *p = &f->translation[i];
		if (p->working_set_bytes == ws && eq(p->mode, s->mode) && eq(p->backing, s->backing) &&
		    eq(p->guest_page, s->gp)) {
			*idx = i;
			return p;
		}
	}
	return NULL;
}

/* The translation plateau between knees: what each level costs. */
static void f_level_cost(struct ctx *c, size_t fi, const struct series *s, const struct kn *k, size_t nk)
{
	const struct res_file *f = &c->files[fi];
	uint64_t ws[MAX_WS_PTS];
	size_t nws = 0;
	for (size_t i = 0; i < f->ntranslation && nws < MAX_WS_PTS; i++) {
		const struct res_derived_point *p = &f->translation[i];
		if (eq(p->mode, s->mode) && eq(p->backing, s->backing) && eq(p->guest_page, s->gp))
			ws[nws++] = p->working_set_bytes;
	}
	qsort(ws, nws, sizeof(*ws), cmp_u64);
	if (!nk || !nws)
		return;
	char sn[160], nm[64], w[32], v[32], lo[32], hi[32];
	struct sb t;
	if (sb_open(&t))
		return;
	series_name(sn, sizeof(sn), s);
	sb_printf(&t, "Cost of each level, %s:", sn);
	int any = 0;
	double last = NAN, llo = NAN, lhi = NAN;
	size_t used[MAX_KNEES + 1];
	size_t nused = 0;
	for (size_t p = 1; p <= nk; p++) {
		uint64_t at = plateau_ws(k, nk, p, ws, nws);
		size_t ti;
		const struct res_derived_point *tp = at ? translation_at(f, s, at, &ti) : NULL;
		if (!tp)
			continue;
		knee_name(nm, sizeof(nm), &k[p - 1], p - 1);
		fmt_bytes(w, sizeof(w), (double)at);
		fmt_ns(v, sizeof(v), tp->y);
		fmt_ns(lo, sizeof(lo), tp->lo);
		fmt_ns(hi, sizeof(hi), tp->hi);
		sb_printf(&t, "%s past %s translation adds %s per access [%s, %s] (at %s)", any ? ";" : "", nm, v, lo, hi,
			  w);
		any = 1;
		last = tp->y;
		llo = tp->lo;
		lhi = tp->hi;
		used[nused++] = ti;
	}
	sb_printf(&t, ".");
	char *text = sb_take(&t);
	if (!any) {
		free(text);
		return;
	}
	struct finding *x = add(c, FK_LEVEL_COST, fi, text);
	if (x)
		x->detail = 1;
	set_num(x, last, llo, lhi, "ns");
	set_key(x, "level-cost", s, NULL);
	for (size_t i = 0; i < nused; i++) {
		char what[40];
		const struct res_derived_point *tp = &f->translation[used[i]];
		snprintf(what, sizeof(what), "derived.translation[%zu]", used[i]);
		src_add(c, x, fi, NULL, what);
		src_add(c, x, fi, find_meas(f, "chase", s, tp->working_set_bytes), NULL);
		src_add(c, x, fi, find_meas(f, "chase-ctl", s, tp->working_set_bytes), NULL);
	}
}

/* Said beside a ratio whose interval holds 1: not a difference the data shows. */
static const char *spans1(double lo, double hi)
{
	return lo <= 1 && hi >= 1 ? ", no clear difference" : "";
}

/* A speed-up r = slow/fast with its interval, said as "1.5x faster [1.4, 1.6]" or, below 1,
 * "2.1x slower [1.9, 2.3]" (the reciprocal), never "0.47x faster". */
static void faster(struct sb *t, double r, double lo, double hi)
{
	if (r >= 1 || !(r > 0))
		sb_printf(t, "%.2fx faster [%.2f, %.2f%s]", r, lo, hi, spans1(lo, hi));
	else
		sb_printf(t, "%.2fx slower [%.2f, %.2f%s]", 1 / r, hi > 0 ? 1 / hi : NAN, lo > 0 ? 1 / lo : NAN,
			  spans1(lo, hi));
}

/* Ratio a/b of two measurements' medians with a conservative interval
 * from their own intervals. */
static double ratio(const struct res_meas *a, const struct res_meas *b, double *lo, double *hi)
{
	*lo = b->summary.ci95_high > 0 ? a->summary.ci95_low / b->summary.ci95_high : NAN;
	*hi = b->summary.ci95_low > 0 ? a->summary.ci95_high / b->summary.ci95_low : NAN;
	return b->summary.median > 0 ? a->summary.median / b->summary.median : NAN;
}

static void verified_of(const struct res_file *f, const struct series *s, char *buf, size_t len)
{
	for (size_t i = 0; i < f->nmeas; i++) {
		const struct res_meas *m = &f->meas[i];
		if (!m->skipped && !strcmp(m->kernel, "chase") && eq(m->mode, s->mode) && eq(m->backing, s->backing) &&
		    eq(m->guest_page, s->gp) && m->verified_page_bytes > 0) {
			char p[32];
			format_size((size_t)m->verified_page_bytes, p, sizeof(p));
			snprintf(buf, len, "verified %s pages", p);
			return;
		}
	}
	snprintf(buf, len, "pages unverified");
}

static void knee_list(struct sb *t, const struct kn *k, size_t nk)
{
	char b[32];
	for (size_t i = 0; i < nk; i++) {
		fmt_bytes(b, sizeof(b), (double)k[i].above);
		sb_printf(t, "%s%s", i ? (i + 1 == nk ? " and " : ", ") : "", b);
	}
	if (!nk)
		sb_printf(t, "nowhere");
}

/* Reach gain of a large-page backing over 4K, or splintering. */
static void f_reach_gain(struct ctx *c, size_t fi, const struct series *L, const struct kn *kl, size_t nl,
			 const struct series *F, const struct kn *kf, size_t nf)
{
	const struct res_file *f = &c->files[fi];
	if (!nf)
		return;
	char sn[160], a[32], b[32];
	uint64_t wl[MAX_WS_PTS];
	size_t nwl = chase_ws(f, L, wl, MAX_WS_PTS);
	if (!nwl)
		return;
	struct sb t;
	if (nl) {
		double r = (double)kl[0].above / (double)kf[0].above;
		/* Splintered: the knees start where 4K's do and the costs match
		 * on every plateau of the 4K curve (no gain anywhere). */
		uint64_t wf[MAX_WS_PTS], common[MAX_WS_PTS];
		size_t nwf = chase_ws(f, F, wf, MAX_WS_PTS), nc = 0, compared = 0, same = 0;
		for (size_t i = 0; i < nwf; i++)
			if (find_meas(f, "chase", L, wf[i]))
				common[nc++] = wf[i];
		const struct res_meas *ml = NULL, *mf = NULL;
		for (size_t p = 1; p <= nf; p++) {
			uint64_t at = plateau_ws(kf, nf, p, common, nc);
			if (!at)
				continue;
			const struct res_meas *a1 = find_meas(f, "chase", L, at), *b1 = find_meas(f, "chase", F, at);
			double lo, hi, q = ratio(a1, b1, &lo, &hi);
			compared++;
			same += q < SPLINTER_COST_RATIO && q > 1 / SPLINTER_COST_RATIO;
			ml = a1;
			mf = b1;
		}
		/* At least two of 4K's steps: one step alone is as likely a data-cache one. */
		if (r < SPLINTER_REACH_FACTOR && r > 1 / SPLINTER_REACH_FACTOR && compared >= 2 && same == compared) {
			if (sb_open(&t))
				return;
			char ver[48];
			verified_of(f, L, ver, sizeof(ver));
			series_name(sn, sizeof(sn), L);
			sb_printf(&t, "Splintered: %s (%s) steps where 4k does (", sn, ver);
			knee_list(&t, kl, nl);
			sb_printf(&t, " vs ");
			knee_list(&t, kf, nf);
			sb_printf(&t, ")");
			double rr = NAN, rlo = NAN, rhi = NAN;
			if (ml && mf) {
				rr = ratio(ml, mf, &rlo, &rhi);
				fmt_bytes(a, sizeof(a), (double)ml->working_set_bytes);
				sb_printf(&t, " and costs the same past each of 4k's steps (%zu compared; at %s %.2fx 4k's "
					      "latency [%.2f, %.2f])",
					  compared, a, rr, rlo, rhi);
			}
			if (!native(L->mode))
				sb_printf(&t, ": the guest's large pages are mapped with small pages below it (KVM's "
					      "mapping of the VM's memory, or the layer under this host), so they cannot "
					      "help here. What would fix it: back the VM's memory with huge pages on the "
					      "host (hugetlb or THP for the VMM) on a host that itself has large pages.");
			else if (f->hypervisor_present)
				sb_printf(&t, ": this machine is itself a guest, and the hypervisor below maps its memory "
					      "with 4K pages, so large pages cannot help here. What would fix it: a host "
					      "that backs this guest with huge pages (an instance type or hypervisor "
					      "configuration with huge-page-backed guest memory), or bare metal.");
			else
				sb_printf(&t, ": the large pages bring no TLB reach on this machine. What would fix it: "
					      "check that the pages are really large (verified page size, coverage) and "
					      "that nothing below splits them.");
			struct finding *x = add(c, FK_SPLINTER, fi, sb_take(&t));
			set_num(x, r, rlo, rhi, "x");
			set_key(x, "splinter", L, NULL);
			for (size_t i = 0; i < nl; i++)
				src_add(c, x, fi, find_meas(f, "chase", L, kl[i].above), NULL);
			for (size_t i = 0; i < nf; i++)
				src_add(c, x, fi, find_meas(f, "chase", F, kf[i].above), NULL);
			src_add(c, x, fi, ml, NULL);
			src_add(c, x, fi, mf, NULL);
			return;
		}
		if (r < SPLINTER_REACH_FACTOR)
			return;
		if (sb_open(&t))
			return;
		series_name(sn, sizeof(sn), L);
		fmt_bytes(a, sizeof(a), (double)kl[0].above);
		fmt_bytes(b, sizeof(b), (double)kf[0].above);
		sb_printf(&t, "Large pages extend TLB reach %.0fx, %s: its first step is at %s, 4k's at %s.", r, sn, a, b);
		struct finding *x = add(c, FK_REACH_GAIN, fi, sb_take(&t));
		set_num(x, r, (double)kl[0].below / (double)kf[0].above, (double)kl[0].above / (double)kf[0].below, "x");
		set_key(x, "reach-gain", L, NULL);
		src_add(c, x, fi, find_meas(f, "chase", L, kl[0].above), NULL);
		src_add(c, x, fi, find_meas(f, "chase", F, kf[0].above), NULL);
		return;
	}
	/* No step at all up to the largest measured working set. */
	uint64_t top = wl[nwl - 1];
	if (top < 2 * kf[0].above)
		return;
	if (sb_open(&t))
		return;
	series_name(sn, sizeof(sn), L);
	fmt_bytes(a, sizeof(a), (double)top);
	fmt_bytes(b, sizeof(b), (double)kf[0].above);
	double r = (double)top / (double)kf[0].above;
	sb_printf(&t, "Large pages extend TLB reach at least %.0fx, %s: no step up to %s, the largest measured; 4k "
		      "steps first at %s.",
		  r, sn, a, b);
	struct finding *x = add(c, FK_REACH_GAIN, fi, sb_take(&t));
	set_num(x, r, r, NAN, "x");
	set_key(x, "reach-gain", L, NULL);
	src_add(c, x, fi, find_meas(f, "chase", L, top), NULL);
	src_add(c, x, fi, find_meas(f, "chase", F, kf[0].above), NULL);
}

/* The large-page gain on each plateau of the 4K curve. */
static void f_gain(struct ctx *c, size_t fi, const struct series *L, const struct series *F, const struct kn *kf,
		   size_t nf)
{
	const struct res_file *f = &c->files[fi];
	uint64_t wf[MAX_WS_PTS], common[MAX_WS_PTS];
	size_t nwf = chase_ws(f, F, wf, MAX_WS_PTS), nc = 0;
	for (size_t i = 0; i < nwf; i++)
		if (find_meas(f, "chase", L, wf[i]))
			common[nc++] = wf[i];
	if (!nc)
		return;
	char sn[160], nm[64], w[32], va[32], vb[32];
	struct sb t;
	if (sb_open(&t))
		return;
	series_name(sn, sizeof(sn), L);
	sb_printf(&t, "Large-page gain, %s instead of 4k:", sn);
	int any = 0;
	double last = NAN, llo = NAN, lhi = NAN;
	const struct res_meas *srcs[2 * (MAX_KNEES + 1)];
	size_t ns = 0;
	for (size_t p = nf ? 1 : 0; p <= nf; p++) {
		uint64_t at = plateau_ws(kf, nf, p, common, nc);
		if (!at)
			continue;
		const struct res_meas *ma = find_meas(f, "chase", F, at), *mb = find_meas(f, "chase", L, at);
		double lo, hi, r = ratio(ma, mb, &lo, &hi);
		if (p)
			knee_name(nm, sizeof(nm), &kf[p - 1], p - 1);
		fmt_bytes(w, sizeof(w), (double)at);
		fmt_ns(va, sizeof(va), ma->summary.median);
		fmt_ns(vb, sizeof(vb), mb->summary.median);
		sb_printf(&t, "%s ", any ? ";" : "");
		faster(&t, r, lo, hi);
		sb_printf(&t, " at %s%s%s%s (%s vs %s)", w, p ? " (past 4k's " : "", p ? nm : "", p ? ")" : "", vb, va);
		any = 1;
		last = r;
		llo = lo;
		lhi = hi;
		srcs[ns++] = ma;
		srcs[ns++] = mb;
	}
	sb_printf(&t, ".");
	char *text = sb_take(&t);
	if (!any) {
		free(text);
		return;
	}
	struct finding *x = add(c, FK_GAIN, fi, text);
	if (x)
		x->detail = 1;
	set_num(x, last, llo, lhi, "x");
	set_key(x, "gain", L, NULL);
	for (size_t i = 0; i < ns; i++)
		src_add(c, x, fi, srcs[i], NULL);
}

/* guest/native per guest page x host backing on each plateau of the native curve. */
static void f_tax(struct ctx *c, size_t fi, const struct series *S, const struct kn *kn, size_t nk)
{
	const struct res_file *f = &c->files[fi];
	struct series N = {"native", S->backing, NULL};
	uint64_t ws[MAX_WS_PTS], common[MAX_WS_PTS];
	size_t nws = chase_ws(f, S, ws, MAX_WS_PTS), nc = 0;
	for (size_t i = 0; i < nws; i++)
		if (find_meas(f, "chase", &N, ws[i]))
			common[nc++] = ws[i];
	if (!nc)
		return;
	char nm[64], w[32], va[32], vb[32];
	struct sb t;
	if (sb_open(&t))
		return;
	sb_printf(&t, "Guest's tax, %s guest pages on %s host backing (%s): a chase access costs", S->gp ? S->gp : "?",
		  S->backing, S->mode);
	int any = 0;
	double last = NAN, llo = NAN, lhi = NAN;
	const struct res_meas *srcs[2 * (MAX_KNEES + 1)];
	size_t ns = 0;
	uint64_t prev = 0;
	for (size_t p = 0; p <= nk; p++) {
		uint64_t at = plateau_ws(kn, nk, p, common, nc);
		if (!at || at == prev)
			continue;
		prev = at;
		const struct res_meas *mv = find_meas(f, "chase", S, at), *mn = find_meas(f, "chase", &N, at);
		double lo, hi, r = ratio(mv, mn, &lo, &hi);
		fmt_bytes(w, sizeof(w), (double)at);
		fmt_ns(va, sizeof(va), mv->summary.median);
		fmt_ns(vb, sizeof(vb), mn->summary.median);
		if (p)
			knee_name(nm, sizeof(nm), &kn[p - 1], p - 1);
		sb_printf(&t, "%s %.2fx native [%.2f, %.2f%s] at %s%s%s (%s vs %s)", any ? ";" : "", r, lo, hi,
			  spans1(lo, hi), w, p ? ", past native's " : "", p ? nm : "", va, vb);
		any = 1;
		last = r;
		llo = lo;
		lhi = hi;
		srcs[ns++] = mv;
		srcs[ns++] = mn;
	}
	sb_printf(&t, ".");
	char *text = sb_take(&t);
	if (!any) {
		free(text);
		return;
	}
	struct finding *x = add(c, FK_TAX, fi, text);
	if (x)
		x->detail = 1;
	set_num(x, last, llo, lhi, "x");
	set_key(x, "tax", S, NULL);
	for (size_t i = 0; i < ns; i++)
		src_add(c, x, fi, srcs[i], NULL);
}

/* The large-page gain in one sentence per mode: every large-page backing
 * (x guest page) against 4K at the largest working set both have. */
static void f_gain_summary(struct ctx *c, size_t fi, const struct series *s, size_t ns)
{
	const struct res_file *f = &c->files[fi];
	const char *modes[8];
	size_t nm = 0;
	for (size_t i = 0; i < ns && nm < 8; i++) {
		size_t j = 0;
		while (j < nm && strcmp(modes[j], s[i].mode))
			j++;
		if (j == nm)
			modes[nm++] = s[i].mode;
	}
	for (size_t mo = 0; mo < nm; mo++) {
		struct sb t;
		if (sb_open(&t))
			return;
		sb_printf(&t, "Large-page gain (%s; 4k latency / large-page latency at the largest working set both "
			      "have):",
			  modes[mo]);
		int any = 0;
		double first = NAN, flo = NAN, fhi = NAN;
		const struct res_meas *srcs[2 * MAX_SERIES];
		size_t nsrc = 0;
		for (size_t i = 0; i < ns; i++) {
			if (strcmp(s[i].mode, modes[mo]) || !is_large(s[i].backing))
				continue;
			struct series F = {s[i].mode, "4k", s[i].gp};
			uint64_t ws[MAX_WS_PTS];
			size_t nws = chase_ws(f, &s[i], ws, MAX_WS_PTS);
			const struct res_meas *ml = NULL, *m4 = NULL;
			for (size_t k = nws; k-- > 0 && !m4;) {
				ml = find_meas(f, "chase", &s[i], ws[k]);
				m4 = find_meas(f, "chase", &F, ws[k]);
			}
			if (!ml || !m4 || !timing_valid(ml))
				continue;
			double lo, hi, r = ratio(m4, ml, &lo, &hi);
			char w[32];
			fmt_bytes(w, sizeof(w), (double)ml->working_set_bytes);
			if (s[i].gp)
				sb_printf(&t, "%s %s on %s ", any ? ";" : "", s[i].gp, s[i].backing);
			else
				sb_printf(&t, "%s %s ", any ? ";" : "", s[i].backing);
			faster(&t, r, lo, hi);
			sb_printf(&t, " at %s", w);
			if (!any) {
				first = r;
				flo = lo;
				fhi = hi;
			}
			any = 1;
			srcs[nsrc++] = m4;
			srcs[nsrc++] = ml;
		}
		sb_printf(&t, ".");
		char *text = sb_take(&t);
		if (!any) {
			free(text);
			continue;
		}
		struct finding *x = add(c, FK_GAIN, fi, text);
		set_num(x, first, flo, fhi, "x");
		set_key(x, "gain-summary", NULL, modes[mo]);
		for (size_t i = 0; i < nsrc; i++)
			src_add(c, x, fi, srcs[i], NULL);
	}
}

/* How KVM mapped the VM's memory: per guest page x host backing, the
 * chase at its largest working set with KVM's page counts. */
static void f_kvm_map(struct ctx *c, size_t fi, const struct series *s, size_t ns)
{
	const struct res_file *f = &c->files[fi];
	struct sb t;
	int any = 0;
	size_t split = 0, split_4k_guest = 0, large_host = 0;
	const struct res_meas *srcs[MAX_SERIES];
	size_t nsrc = 0;
	if (sb_open(&t))
		return;
	sb_printf(&t, "How KVM mapped the guest's memory (its page counts, at the largest working set):");
	for (size_t i = 0; i < ns; i++) {
		if (native(s[i].mode) || !s[i].gp)
			continue;
		uint64_t ws[MAX_WS_PTS];
		size_t nws = chase_ws(f, &s[i], ws, MAX_WS_PTS);
		const struct res_meas *m = NULL;
		const json_t *vm = NULL;
		for (size_t k = nws; k-- > 0 && !vm;) {
			m = find_meas(f, "chase", &s[i], ws[k]);
			vm = m ? json_object_get(json_object_get(json_object_get(meas_json(f, m), "kvm"), "stats"), "vm")
			       : NULL;
			if (!json_is_object(vm) || !json_is_integer(json_object_get(vm, "pages_4k")))
				vm = NULL;
		}
		if (!vm)
			continue;
		long long p4 = jint(vm, "pages_4k", 0), p2 = jint(vm, "pages_2m", 0), p1 = jint(vm, "pages_1g", 0);
		sb_printf(&t, "%s %s guest pages on %s: %lld x 4K, %lld x 2M, %lld x 1G", any ? ";" : "", s[i].gp,
			  s[i].backing, p4, p2, p1);
		any = 1;
		srcs[nsrc++] = m;
		if (is_large(s[i].backing)) {
			large_host++;
			if (!p2 && !p1) {
				split++;
				split_4k_guest += backing_page_bytes(s[i].gp) == 4096;
				sb_printf(&t, " (the large host pages mapped as 4K%s)",
					  backing_page_bytes(s[i].gp) == 4096 ? ": KVM follows the guest's 4K pages" : "");
			}
		}
	}
	if (large_host && split == large_host)
		sb_printf(&t, ". Every large host backing was mapped with 4K pages: in this VM large host pages "
			      "cannot help. What would fix it: large guest pages (--guest-page 2m), or a KVM that maps "
			      "guest memory with large pages (EPT/NPT with huge-page-backed memory slots).");
	else if (split)
		sb_printf(&t, ". %zu of %zu large-host-backing cells were mapped with 4K pages only (splintered by "
			      "KVM)%s.",
			  split, large_host,
			  split == split_4k_guest ? ", each with 4K guest pages: large host pages help this VM only "
						    "with large guest pages"
						  : "");
	else
		sb_printf(&t, ".");
	char *text = sb_take(&t);
	if (!any) {
		free(text);
		return;
	}
	struct finding *x = add(c, FK_KVM_MAP, fi, text);
	set_num(x, (double)split, NAN, NAN, "cells mapped with 4K only");
	set_key(x, "kvm-map", NULL, NULL);
	for (size_t i = 0; i < nsrc; i++)
		src_add(c, x, fi, srcs[i], NULL);
}

/* The heatmap in words: per guest mode, every guest page x host backing at
 * the largest working set it shares with native. */
static void f_tax_summary(struct ctx *c, size_t fi, const struct series *s, size_t ns)
{
	const struct res_file *f = &c->files[fi];
	const char *modes[8];
	size_t nm = 0;
	for (size_t i = 0; i < ns && nm < 8; i++) {
		size_t j = 0;
		if (native(s[i].mode))
			continue;
		while (j < nm && strcmp(modes[j], s[i].mode))
			j++;
		if (j == nm)
			modes[nm++] = s[i].mode;
	}
	for (size_t mo = 0; mo < nm; mo++) {
		struct sb t;
		if (sb_open(&t))
			return;
		sb_printf(&t, "Guest's tax (%s/native, chase latency at the largest working set both have), guest page "
			      "on host backing:",
			  modes[mo]);
		int any = 0;
		double first = NAN, flo = NAN, fhi = NAN;
		const struct res_meas *srcs[2 * MAX_SERIES];
		size_t nsrc = 0;
		for (size_t i = 0; i < ns; i++) {
			if (strcmp(s[i].mode, modes[mo]))
				continue;
			struct series N = {"native", s[i].backing, NULL};
			uint64_t ws[MAX_WS_PTS];
			size_t nws = chase_ws(f, &s[i], ws, MAX_WS_PTS);
			const struct res_meas *mv = NULL, *mn = NULL;
			for (size_t k = nws; k-- > 0 && !mn;) {
				mv = find_meas(f, "chase", &s[i], ws[k]);
				mn = find_meas(f, "chase", &N, ws[k]);
			}
			if (!mv || !mn || !timing_valid(mv))
				continue;
			double lo, hi, r = ratio(mv, mn, &lo, &hi);
			char w[32];
			fmt_bytes(w, sizeof(w), (double)mv->working_set_bytes);
			sb_printf(&t, "%s %s on %s %.2fx [%.2f, %.2f%s] at %s", any ? ";" : "", s[i].gp ? s[i].gp : "?",
				  s[i].backing, r, lo, hi, spans1(lo, hi), w);
			if (!any) {
				first = r;
				flo = lo;
				fhi = hi;
			}
			any = 1;
			srcs[nsrc++] = mv;
			srcs[nsrc++] = mn;
		}
		sb_printf(&t, ".");
		char *text = sb_take(&t);
		if (!any) {
			free(text);
			continue;
		}
		struct finding *x = add(c, FK_TAX, fi, text);
		set_num(x, first, flo, fhi, "x");
		set_key(x, "tax-summary", NULL, modes[mo]);
		for (size_t i = 0; i < nsrc; i++)
			src_add(c, x, fi, srcs[i], NULL);
	}
}

static void f_tcg(struct ctx *c, size_t fi)
{
	const struct res_file *f = &c->files[fi];
	size_t n = 0;
	const char *mode = NULL;
	for (size_t i = 0; i < f->nmeas; i++)
		if (!f->meas[i].skipped && !native(f->meas[i].mode) && !timing_valid(&f->meas[i])) {
			n++;
			mode = f->meas[i].mode;
		}
	if (!n)
		return;
	struct sb t;
	if (sb_open(&t))
		return;
	sb_printf(&t, "TCG: function only. %zu %s measurement%s ran under QEMU's emulator (timing_valid false): they "
		      "show that the kernels work in the guest; their timings are the emulator's, not the hardware's, "
		      "and are not compared with native.",
		  n, mode, n == 1 ? "" : "s");
	struct finding *x = add(c, FK_TCG, fi, sb_take(&t));
	set_num(x, (double)n, NAN, NAN, "measurements");
	set_key(x, "tcg", NULL, mode);
	for (size_t i = 0; i < f->nmeas; i++)
		if (!f->meas[i].skipped && !native(f->meas[i].mode) && !timing_valid(&f->meas[i]))
			src_add(c, x, fi, &f->meas[i], NULL);
}

/* A non-native measurement's native counterpart: same kernel, backing, working set. */
static const struct res_meas *native_of(const struct res_file *f, const struct res_meas *m)
{
	for (size_t i = 0; i < f->nmeas; i++) {
		const struct res_meas *n = &f->meas[i];
		if (n->skipped || !n->has_summary || !native(n->mode) || strcmp(n->kernel, m->kernel) ||
		    strcmp(n->backing, m->backing) || n->has_ws != m->has_ws || n->working_set_bytes != m->working_set_bytes)
			continue;
		return n;
	}
	return NULL;
}

static int has_guest(const struct res_file *f, int made)
{
	for (size_t i = 0; i < f->nmeas; i++)
		if (!native(f->meas[i].mode) && (!made || !f->meas[i].skipped))
			return 1;
	return 0;
}

/* "ns_per_fault" -> "per fault". */
static void metric_words(char *buf, size_t len, const char *metric)
{
	const char *m = strncmp(metric, "ns_", 3) ? metric : metric + 3;
	snprintf(buf, len, "%s", m);
	for (char *p = buf; *p; p++)
		if (*p == '_')
			*p = ' ';
}

static void f_mmu(struct ctx *c, size_t fi)
{
	const struct res_file *f = &c->files[fi];
	const char *mm = f->mmu_virt_mode ? f->mmu_virt_mode : "unknown";
	int shadow = !strcmp(mm, "shadow") || !strcmp(mm, "pvm-shadow");
	int tdp = !strcmp(mm, "ept") || !strcmp(mm, "npt");
	if (!shadow && !tdp && !has_guest(f, 1))
		return;
	struct sb t;
	if (sb_open(&t))
		return;
	if (shadow)
		sb_printf(&t, "MMU mode %s: the hypervisor keeps shadow page tables, so every guest page-table update "
			      "traps to it; a guest TLB miss walks one dimension.",
			  mm);
	else if (tdp)
		sb_printf(&t, "MMU mode %s: guest page-table updates run without exits; the price is the "
			      "two-dimensional walk on a guest TLB miss (the guest's tax).",
			  mm);
	else
		sb_printf(&t, "MMU mode %s: the host did not say how guest memory is translated.", mm);
	/* The evidence: the guest kernel's own page-table figures beside the
	 * host's (bench/guest_kernel.c names each one's host counterpart). */
	static const struct {
		const char *guest, *host;
		int same_unit; /* per the same operation: a ratio means something */
	} pairs[] = {{"guest-fault", "fault", 1},
		     {"guest-protect", "mprotect", 0},
		     {"guest-unmap", "mmap-munmap", 0},
		     {"guest-ctxsw", "pipe-proc", 0}};
	double worst = NAN, wlo = NAN, whi = NAN;
	const struct res_meas *used[8];
	size_t nused = 0;
	int said = 0;
	for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
		const struct res_meas *g = NULL, *n = NULL;
		for (size_t i = 0; i < f->nmeas; i++) {
			const struct res_meas *m = &f->meas[i];
			if (m->skipped || !m->has_summary || !timing_valid(m))
				continue;
			if (!g && !native(m->mode) && !strcmp(m->kernel, pairs[k].guest) &&
			    (!strcmp(m->backing, "4k") || !g))
				g = m;
			/* the host's on the same backing, its smallest region */
			if (native(m->mode) && !strcmp(m->kernel, pairs[k].host) && (!n || m->working_set_bytes < n->working_set_bytes))
				n = m;
		}
		if (!g)
			continue;
		if (n && strcmp(n->backing, g->backing)) {
			const struct res_meas *same = NULL;
			for (size_t i = 0; i < f->nmeas; i++) {
				const struct res_meas *m = &f->meas[i];
				if (!m->skipped && m->has_summary && native(m->mode) && !strcmp(m->kernel, pairs[k].host) &&
				    !strcmp(m->backing, g->backing) && (!same || m->working_set_bytes < same->working_set_bytes))
					same = m;
			}
			if (same)
				n = same;
		}
		char a[32], b[32], mg[64], mn[64];
		fmt_ns(a, sizeof(a), g->summary.median);
		metric_words(mg, sizeof(mg), g->metric);
		sb_printf(&t, "%s %s %s %s", said ? ";" : " The guest kernel's own figures:", g->kernel, a, mg);
		said = 1;
		used[nused++] = g;
		if (!n)
			continue;
		fmt_ns(b, sizeof(b), n->summary.median);
		metric_words(mn, sizeof(mn), n->metric);
		used[nused++] = n;
		if (pairs[k].same_unit) {
			double lo, hi, r = ratio(g, n, &lo, &hi);
			sb_printf(&t, ", %.3gx native %s's %s %s [%.3g, %.3g]", r, n->kernel, b, mn, lo, hi);
			if (!isfinite(worst)) {
				worst = r;
				wlo = lo;
				whi = hi;
			}
		} else {
			sb_printf(&t, " (native %s: %s %s)", n->kernel, b, mn);
		}
	}
	if (said)
		sb_printf(&t, ".");
	else if (has_guest(f, 1))
		sb_printf(&t, " No guest page-table figure in this file to show it.");
	int shown = nused > 0;
	struct finding *x = add(c, FK_MMU, fi, sb_take(&t));
	set_key(x, "mmu", NULL, NULL);
	if (shown) {
		set_num(x, worst, wlo, whi, "x");
		for (size_t i = 0; i < nused; i++)
			src_add(c, x, fi, used[i], NULL);
	}
}

/* alt_metrics.ns_per_mib.median of a measurement, or NAN. */
static double per_mib(const struct res_file *f, const struct res_meas *m)
{
	const json_t *v = json_object_get(json_object_get(json_object_get(meas_json(f, m), "alt_metrics"), "ns_per_mib"),
					  "median");
	return json_is_number(v) && json_number_value(v) > 0 ? json_number_value(v) : NAN;
}

/* The variant of a measurement (placement or threads) as a short string. */
static void variant_of(const struct res_meas *m, char *buf, size_t len)
{
	const json_t *p = json_object_get(m->params, "placement"), *t = json_object_get(m->params, "threads");
	if (json_is_string(p))
		snprintf(buf, len, "%s", json_string_value(p));
	else if (json_is_integer(t))
		snprintf(buf, len, "T=%lld", (long long)json_integer_value(t));
	else
		buf[0] = '\0';
}

/* Per kernel of a family (native), per backing at the kernel's largest
 * working set: medians in words, and the interesting ratio. */
static void f_family(struct ctx *c, size_t fi, const char *family, enum finding_kind kind)
{
	const struct res_file *f = &c->files[fi];
	const char *kernels[32];
	size_t nk = 0;
	for (size_t i = 0; i < f->nmeas && nk < 32; i++) {
		const struct res_meas *m = &f->meas[i];
		if (m->skipped || !m->has_summary || strcmp(m->family, family) || !native(m->mode))
			continue;
		size_t j = 0;
		while (j < nk && strcmp(kernels[j], m->kernel))
			j++;
		if (j == nk)
			kernels[nk++] = m->kernel;
	}
	for (size_t k = 0; k < nk; k++) {
		/* The first measurement fixes the variant; the largest working set of it. */
		const struct res_meas *first = NULL;
		uint64_t top = 0;
		char var[48] = "", v2[48];
		for (size_t i = 0; i < f->nmeas; i++) {
			const struct res_meas *m = &f->meas[i];
			if (m->skipped || !m->has_summary || strcmp(m->kernel, kernels[k]) || !native(m->mode))
				continue;
			variant_of(m, v2, sizeof(v2));
			if (!first) {
				first = m;
				snprintf(var, sizeof(var), "%s", v2);
			}
			if (!strcmp(v2, var) && m->working_set_bytes > top)
				top = m->working_set_bytes;
		}
		const struct res_meas *by[8];
		size_t nb = 0;
		for (size_t i = 0; i < f->nmeas && nb < 8; i++) {
			const struct res_meas *m = &f->meas[i];
			if (m->skipped || !m->has_summary || strcmp(m->kernel, kernels[k]) || !native(m->mode) ||
			    m->working_set_bytes != top)
				continue;
			variant_of(m, v2, sizeof(v2));
			size_t j = 0;
			while (j < nb && strcmp(by[j]->backing, m->backing))
				j++;
			if (!strcmp(v2, var) && j == nb)
				by[nb++] = m;
		}
		if (!nb)
			continue;
		char mw[64], a[32], lo[32], hi[32], w[32];
		struct sb t;
		if (sb_open(&t))
			return;
		metric_words(mw, sizeof(mw), first->metric);
		sb_printf(&t, "%s%s%s%s", kernels[k], *var ? " (" : "", var, *var ? ")" : "");
		if (top) {
			fmt_bytes(w, sizeof(w), (double)top);
			sb_printf(&t, " at %s", w);
		}
		sb_printf(&t, ":");
		const struct res_meas *b4k = NULL, *best = NULL, *lo_m = by[0], *hi_m = by[0];
		for (size_t i = 0; i < nb; i++) {
			const struct res_meas *m = by[i];
			fmt_ns(a, sizeof(a), m->summary.median);
			fmt_ns(lo, sizeof(lo), m->summary.ci95_low);
			fmt_ns(hi, sizeof(hi), m->summary.ci95_high);
			sb_printf(&t, "%s %s %s [%s, %s] with %s", i ? ";" : "", a, mw, lo, hi, m->backing);
			double pm = per_mib(f, m);
			if (isfinite(pm) && is_large(m->backing)) {
				fmt_ns(a, sizeof(a), pm / 256);
				sb_printf(&t, " (%s per 4K of memory)", a);
			}
			if (!strcmp(m->backing, "4k"))
				b4k = m;
			if (m->summary.median < lo_m->summary.median)
				lo_m = m;
			if (m->summary.median > hi_m->summary.median)
				hi_m = m;
		}
		double r = NAN, rlo = NAN, rhi = NAN;
		if (kind == FK_PTUPDATE && b4k) {
			/* Per MiB of memory when the kernel says it: the page-size gain. */
			for (size_t i = 0; i < nb; i++) {
				double a4 = per_mib(f, b4k), al = per_mib(f, by[i]);
				if (!is_large(by[i]->backing) || !isfinite(a4) || !isfinite(al))
					continue;
				double q = a4 / al;
				if (!best || q > r) {
					best = by[i];
					r = q;
				}
			}
			if (best)
				sb_printf(&t, ". Per MiB of memory %s is %.3gx cheaper than 4k", best->backing, r);
		}
		if (!best && nb > 1) {
			r = ratio(hi_m, lo_m, &rlo, &rhi);
			sb_printf(&t, ". The backing changes it by at most %.2fx [%.2f, %.2f] (%s vs %s)", r, rlo, rhi,
				  hi_m->backing, lo_m->backing);
		}
		/* The guest beside native, when measured. */
		for (size_t i = 0; i < f->nmeas; i++) {
			const struct res_meas *m = &f->meas[i];
			if (m->skipped || !m->has_summary || native(m->mode) || strcmp(m->kernel, kernels[k]) ||
			    !timing_valid(m))
				continue;
			const struct res_meas *n = native_of(f, m);
			if (!n)
				continue;
			double l2, h2, q = ratio(m, n, &l2, &h2);
			fmt_ns(a, sizeof(a), m->summary.median);
			sb_printf(&t, ". In the guest (%s, %s guest pages on %s): %s, %.2fx native [%.2f, %.2f]", m->mode,
				  m->guest_page ? m->guest_page : "?", m->backing, a, q, l2, h2);
			break;
		}
		sb_printf(&t, ".");
		struct finding *x = add(c, kind, fi, sb_take(&t));
		if (x)
			x->detail = 1;
		if (isfinite(r))
			set_num(x, r, rlo, rhi, "x");
		else if (x)
			set_num(x, by[0]->summary.median, by[0]->summary.ci95_low, by[0]->summary.ci95_high, "ns");
		set_key(x, family, NULL, kernels[k]);
		for (size_t i = 0; i < nb; i++)
			src_add(c, x, fi, by[i], NULL);
	}
}

/* Every cell skipped: why, grouped by reason. */
static void f_nothing(struct ctx *c, size_t fi)
{
	const struct res_file *f = &c->files[fi];
	for (size_t i = 0; i < f->nmeas; i++)
		if (!f->meas[i].skipped)
			return;
	struct sb t;
	if (sb_open(&t))
		return;
	sb_printf(&t, "Nothing was measured: all %zu cell%s skipped", f->nmeas, f->nmeas == 1 ? " was" : "s were");
	const char *seen[16];
	size_t ns = 0;
	for (size_t i = 0; i < f->nmeas && ns < 16; i++) {
		const char *why = f->meas[i].skipped;
		size_t j = 0, cnt = 0;
		while (j < ns && strcmp(seen[j], why))
			j++;
		if (j < ns)
			continue;
		seen[ns++] = why;
		for (size_t k = 0; k < f->nmeas; k++)
			cnt += !strcmp(f->meas[k].skipped, why);
		sb_printf(&t, "%s %zu x %s", ns == 1 ? ":" : ";", cnt, why);
	}
	sb_printf(&t, ".");
	struct finding *x = add(c, FK_NOTHING, fi, sb_take(&t));
	set_num(x, (double)f->nmeas, NAN, NAN, "cells");
	set_key(x, "nothing", NULL, NULL);
	for (size_t i = 0; i < f->nmeas && i < 64; i++)
		src_add(c, x, fi, &f->meas[i], NULL);
}

static void f_no_vm(struct ctx *c, size_t fi)
{
	const struct res_file *f = &c->files[fi];
	if (!f->nmeas || has_guest(f, 1))
		return;
	const json_t *kvm = json_object_get(json_object_get(f->root, "host"), "kvm");
	const char *reason = json_string_value(json_object_get(kvm, "reason"));
	int usable = json_is_true(json_object_get(kvm, "usable"));
	struct sb t;
	if (sb_open(&t))
		return;
	if (has_guest(f, 0))
		sb_printf(&t, "No guest measurements: every guest cell was skipped (the reasons are among the caveats).");
	else if (!usable)
		sb_printf(&t, "No guest measurements: /dev/kvm is not usable here (%s), so the run was native only.",
			  reason ? reason : "no reason recorded");
	else
		sb_printf(&t, "No guest measurements: the run was native only (--mode native) although /dev/kvm is "
			      "usable; `nestbench run --mode both` adds the guest's tax and the MMU mode's "
			      "consequence.");
	struct finding *x = add(c, FK_NO_VM, fi, sb_take(&t));
	set_key(x, "no-vm", NULL, NULL);
	for (size_t i = 0; i < f->nmeas; i++)
		if (!native(f->meas[i].mode))
			src_add(c, x, fi, &f->meas[i], NULL);
}

static void file_findings(struct ctx *c, size_t fi)
{
	const struct res_file *f = &c->files[fi];
	struct series s[MAX_SERIES];
	size_t ns = collect_series(f, s, MAX_SERIES);
	f_nothing(c, fi);
	f_no_vm(c, fi);
	struct kn(*knees)[MAX_KNEES] = calloc(MAX_SERIES, sizeof(*knees));
	size_t nk[MAX_SERIES];
	if (!knees) {
		c->oom = 1;
		return;
	}
	for (size_t i = 0; i < ns; i++)
		nk[i] = series_knees(f, &s[i], knees[i], MAX_KNEES);
	/* Reach, cost per level, splintering and gains: per mode and guest page,
	 * each large backing against the 4K one. */
	for (size_t i = 0; i < ns; i++) {
		uint64_t w1[1];
		if (chase_ws(f, &s[i], w1, 1) && !timing_valid(find_meas(f, "chase", &s[i], w1[0])))
			continue;
		f_reach(c, fi, &s[i], knees[i], nk[i]);
		f_level_cost(c, fi, &s[i], knees[i], nk[i]);
	}
	for (size_t i = 0; i < ns; i++) {
		if (!is_large(s[i].backing))
			continue;
		uint64_t w1[1];
		if (chase_ws(f, &s[i], w1, 1) && !timing_valid(find_meas(f, "chase", &s[i], w1[0])))
			continue;
		struct series F = {s[i].mode, "4k", s[i].gp};
		for (size_t j = 0; j < ns; j++)
			if (series_eq(&s[j], &F)) {
				f_reach_gain(c, fi, &s[i], knees[i], nk[i], &s[j], knees[j], nk[j]);
				f_gain(c, fi, &s[i], &s[j], knees[j], nk[j]);
			}
	}
	/* The guest's tax, on the plateaus of the native 4K curve. */
	size_t nat4k = SIZE_MAX;
	for (size_t j = 0; j < ns; j++)
		if (native(s[j].mode) && !strcmp(s[j].backing, "4k"))
			nat4k = j;
	for (size_t i = 0; i < ns; i++) {
		if (native(s[i].mode))
			continue;
		uint64_t w1[1];
		if (chase_ws(f, &s[i], w1, 1) && !timing_valid(find_meas(f, "chase", &s[i], w1[0])))
			continue;
		size_t nj = SIZE_MAX;
		for (size_t j = 0; j < ns; j++)
			if (native(s[j].mode) && eq(s[j].backing, s[i].backing))
				nj = j;
		if (nj == SIZE_MAX || !nk[nj])
			nj = nat4k;
		f_tax(c, fi, &s[i], nj == SIZE_MAX ? NULL : knees[nj], nj == SIZE_MAX ? 0 : nk[nj]);
	}
	f_tax_summary(c, fi, s, ns);
	f_gain_summary(c, fi, s, ns);
	f_kvm_map(c, fi, s, ns);
	f_tcg(c, fi);
	f_mmu(c, fi);
	f_family(c, fi, "ptupdate", FK_PTUPDATE);
	f_family(c, fi, "ctxsw", FK_CTXSW);
	free(knees);
}

int findings_build(const struct res_file *files, size_t n, struct findings *out, nb_error *err)
{
	*out = (struct findings){0};
	struct ctx c = {.files = files, .nfiles = n, .out = out, .err = err};
	for (size_t fi = 0; fi < n && !c.oom; fi++)
		file_findings(&c, fi);
	if (c.oom) {
		findings_free(out);
		return nb_fail(err, "out of memory building the findings");
	}
	/* Per file, what a reader came for first: splintering, the guest's tax,
	 * reach and gain, then the details (stable: insertion order within a kind). */
	static const int prio[FK_KIND_COUNT] = {
		[FK_NOTHING] = 0, [FK_NO_VM] = 1,   [FK_SPLINTER] = 2,	[FK_TAX] = 3,	   [FK_REACH_GAIN] = 4,
		[FK_GAIN] = 5,	  [FK_MMU] = 6,	    [FK_TCG] = 7,	[FK_REACH] = 8,	   [FK_LEVEL_COST] = 9,
		[FK_PTUPDATE] = 10, [FK_CTXSW] = 11, [FK_KVM_MAP] = 3,
	};
	for (size_t a = 1; a < out->n; a++)
		for (size_t b = a; b > 0; b--) {
			struct finding *x = &out->v[b - 1], *y = &out->v[b];
			int px = prio[x->kind] + 100 * x->detail, py = prio[y->kind] + 100 * y->detail;
			if (x->file < y->file || (x->file == y->file && px <= py))
				break;
			struct finding t = *x;
			*x = *y;
			*y = t;
		}
	/* Several files: each finding against the first file's of the same key. */
	for (size_t i = 0; i < out->n; i++) {
		struct finding *x = &out->v[i];
		if (!x->file || !isfinite(x->value))
			continue;
		for (size_t j = 0; j < out->n && out->v[j].file == 0; j++)
			if (!strcmp(out->v[j].key, x->key) && isfinite(out->v[j].value) && out->v[j].value != 0) {
				x->has_vs_first = 1;
				x->vs_first = x->value / out->v[j].value;
				break;
			}
	}
	return 0;
}

void findings_free(struct findings *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		free(fs->v[i].text);
		free(fs->v[i].src);
	}
	free(fs->v);
	*fs = (struct findings){0};
}

size_t findings_count(const struct findings *fs, enum finding_kind kind)
{
	size_t n = 0;
	for (size_t i = 0; i < fs->n; i++)
		n += fs->v[i].kind == kind;
	return n;
}

const struct finding *findings_first(const struct findings *fs, size_t file, enum finding_kind kind)
{
	for (size_t i = 0; i < fs->n; i++)
		if (fs->v[i].kind == kind && fs->v[i].file == file)
			return &fs->v[i];
	return NULL;
}
