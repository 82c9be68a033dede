/* findings_series.c - the curves the findings read: series (mode x backing x guest page),
 * their knees from derived.knees and host.tlb, plateaus, lookups of
 * measurements, and the formatting of numbers and ratios.
 * (see findings.h; shared parts in findings_impl.h). */
#include "analysis/findings_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* "256 KiB", "11.3 MiB". */
void fnd_fmt_bytes(char *buf, size_t len, double b)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;
	while (b >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	snprintf(buf, len, "%.3g %s", b, u[i]);
}

long long fnd_backing_page_bytes(const char *b)
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
	long long h = fnd_backing_page_bytes(s->backing);
	if (!s->gp)
		return h;
	long long g = fnd_backing_page_bytes(s->gp);
	return g && g < h ? g : h;
}

int fnd_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

int fnd_native(const char *mode)
{
	return !strcmp(mode, "native");
}

int fnd_series_eq(const struct series *a, const struct series *b)
{
	return fnd_eq(a->mode, b->mode) && fnd_eq(a->backing, b->backing) && fnd_eq(a->gp, b->gp);
}

void fnd_series_name(char *buf, size_t len, const struct series *s)
{
	if (s->gp)
		snprintf(buf, len, "%s, %s guest pages on %s host backing", s->mode, s->gp, s->backing);
	else
		snprintf(buf, len, "%s, %s backing", s->mode, s->backing);
}

const json_t *fnd_meas_json(const struct res_file *f, const struct res_meas *m)
{
	return json_array_get(json_object_get(f->root, "measurements"), m->index);
}

/* Timings that are the hardware's: not TCG emulation. */
int fnd_timing_valid(const struct res_meas *m)
{
	return strcmp(m->mode, "qemu-tcg") && !m->timing_invalid;
}

int fnd_is_large(const char *backing)
{
	return fnd_backing_page_bytes(backing) > 4096;
}

/* The made measurement of kernel in series s at ws (first match), or NULL. */
const struct res_meas *fnd_find_meas(const struct res_file *f, const char *kernel, const struct series *s,
				     uint64_t ws)
{
	for (size_t i = 0; i < f->nmeas; i++) {
		const struct res_meas *m = &f->meas[i];
		if (m->skipped || !m->has_summary || !m->has_ws || m->working_set_bytes != ws || strcmp(m->kernel, kernel))
			continue;
		if (fnd_eq(m->mode, s->mode) && fnd_eq(m->backing, s->backing) && fnd_eq(m->guest_page, s->gp))
			return m;
	}
	return NULL;
}

int fnd_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Sorted distinct working sets of the series' chase measurements. */
size_t fnd_chase_ws(const struct res_file *f, const struct series *s, uint64_t *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < f->nmeas && n < cap; i++) {
		const struct res_meas *m = &f->meas[i];
		if (m->skipped || !m->has_ws || strcmp(m->kernel, "chase") || !fnd_eq(m->mode, s->mode) ||
		    !fnd_eq(m->backing, s->backing) || !fnd_eq(m->guest_page, s->gp))
			continue;
		size_t j = 0;
		while (j < n && out[j] != m->working_set_bytes)
			j++;
		if (j == n)
			out[n++] = m->working_set_bytes;
	}
	qsort(out, n, sizeof(*out), fnd_cmp_u64);
	return n;
}

size_t fnd_collect_series(const struct res_file *f, struct series *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < f->nmeas && n < cap; i++) {
		const struct res_meas *m = &f->meas[i];
		if (m->skipped || strcmp(m->kernel, "chase") || !m->has_ws)
			continue;
		struct series s = {m->mode, m->backing, m->guest_page};
		size_t j = 0;
		while (j < n && !fnd_series_eq(&out[j], &s))
			j++;
		if (j == n)
			out[n++] = s;
	}
	return n;
}

long long fnd_jint(const json_t *o, const char *k, long long dflt)
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
		long long pb = fnd_jint(l, "page_bytes", -1), reach = fnd_jint(l, "reach_bytes", -1);
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
size_t fnd_series_knees(const struct res_file *f, const struct series *s, struct kn *out, size_t cap)
{
	const json_t *arr = json_object_get(json_object_get(f->root, "derived"), "knees");
	int want_translation = 0;
	for (size_t pass = 0; pass < 2; pass++) {
		size_t n = 0;
		for (size_t i = 0; i < f->nknees && n < cap; i++) {
			const struct res_derived_point *k = &f->knees[i];
			if (!fnd_eq(k->mode, s->mode) || !fnd_eq(k->backing, s->backing) || !fnd_eq(k->guest_page, s->gp))
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
			if (json_is_object(br) && fnd_jint(br, "below_bytes", -1) > 0 && fnd_jint(br, "above_bytes", -1) > 0) {
				x->below = (uint64_t)fnd_jint(br, "below_bytes", 0);
				x->above = (uint64_t)fnd_jint(br, "above_bytes", 0);
			} else {
				/* Today's knee sits at the point after its largest rise: the
				 * step lies between the measured point before it and it. */
				uint64_t ws[MAX_WS_PTS];
				size_t nw = fnd_chase_ws(f, s, ws, MAX_WS_PTS);
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
				x->entries = fnd_jint(lv, "entries", -1);
				x->level_page = fnd_jint(lv, "page_bytes", -1);
				x->reach = fnd_jint(lv, "reach_bytes", -1);
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

void fnd_knee_name(char *buf, size_t len, const struct kn *k, size_t i)
{
	if (k->level)
		snprintf(buf, len, "%s", k->level);
	else
		snprintf(buf, len, "step %zu", i + 1);
}

/* The working set in the middle of plateau p of a curve with knees k
 * (plateau p: from knee p-1 to knee p; the last one open), among ws[]
 * for which keep() holds; 0 when none. */
uint64_t fnd_plateau_ws(const struct kn *k, size_t nk, size_t p, const uint64_t *ws, size_t nws)
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

/* Said beside a ratio whose interval holds 1: not a difference the data shows. */
const char *fnd_spans1(double lo, double hi)
{
	return lo <= 1 && hi >= 1 ? ", no clear difference" : "";
}

/* A speed-up r = slow/fast with its interval, said as "1.5x faster [1.4, 1.6]" or, below 1,
 * "2.1x slower [1.9, 2.3]" (the reciprocal), never "0.47x faster". */
void fnd_faster(struct sb *t, double r, double lo, double hi)
{
	if (r >= 1 || !(r > 0))
		fnd_sb_printf(t, "%.2fx faster [%.2f, %.2f%s]", r, lo, hi, fnd_spans1(lo, hi));
	else
		fnd_sb_printf(t, "%.2fx slower [%.2f, %.2f%s]", 1 / r, hi > 0 ? 1 / hi : NAN, lo > 0 ? 1 / lo : NAN,
			      fnd_spans1(lo, hi));
}

/* Ratio a/b of two measurements' medians with a conservative interval
 * from their own intervals. */
double fnd_ratio(const struct res_meas *a, const struct res_meas *b, double *lo, double *hi)
{
	*lo = b->summary.ci95_high > 0 ? a->summary.ci95_low / b->summary.ci95_high : NAN;
	*hi = b->summary.ci95_low > 0 ? a->summary.ci95_high / b->summary.ci95_low : NAN;
	return b->summary.median > 0 ? a->summary.median / b->summary.median : NAN;
}

int fnd_has_guest(const struct res_file *f, int made)
{
	for (size_t i = 0; i < f->nmeas; i++)
		if (!fnd_native(f->meas[i].mode) && (!made || !f->meas[i].skipped))
			return 1;
	return 0;
}

/* "ns_per_fault" -> "per fault". */
void fnd_metric_words(char *buf, size_t len, const char *metric)
{
	const char *m = strncmp(metric, "ns_", 3) ? metric : metric + 3;
	snprintf(buf, len, "%s", m);
	for (char *p = buf; *p; p++)
		if (*p == '_')
			*p = ' ';
}

int fnd_pr_open(struct plateau_ratios *pr)
{
	memset(pr, 0, sizeof(*pr));
	pr->last = pr->lo = pr->hi = NAN;
	return fnd_sb_open(&pr->t);
}

void fnd_pr_keep(struct plateau_ratios *pr, double r, double lo, double hi, const struct res_meas *a,
		 const struct res_meas *b)
{
	pr->any = 1;
	pr->last = r;
	pr->lo = lo;
	pr->hi = hi;
	if (pr->ns + 2 <= sizeof(pr->srcs) / sizeof(pr->srcs[0])) {
		pr->srcs[pr->ns++] = a;
		pr->srcs[pr->ns++] = b;
	}
}

void fnd_pr_finish(struct ctx *c, size_t fi, struct plateau_ratios *pr, enum finding_kind kind, const char *key,
		   const struct series *s)
{
	fnd_sb_printf(&pr->t, ".");
	char *text = fnd_sb_take(&pr->t);
	if (!pr->any) {
		free(text);
		return;
	}
	struct finding *x = fnd_add(c, kind, fi, text);
	if (x)
		x->detail = 1;
	fnd_set_num(x, pr->last, pr->lo, pr->hi, "x");
	fnd_set_key(x, key, s, NULL);
	for (size_t i = 0; i < pr->ns; i++)
		fnd_src_add(c, x, fi, pr->srcs[i], NULL);
}
