/* knees.c - step detection on sweep curves and TLB level naming (see knees.h). */
#include "harness/run/knees.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static double ref_at(const struct curve_point *pts, const double *ref, size_t i)
{
	return ref && ref[i] > 0 ? ref[i] : pts[i].median;
}

/* One point-to-point rise that noise cannot explain: at least 5% of the
 * reference latency and the confidence intervals apart.  A knee is a run of
 * such rises adding up to min_ratio, since with several points per octave a
 * TLB level fills up over more than one step. */
static int rises(const struct curve_point *pts, const double *ref, size_t i)
{
	const struct curve_point *a = &pts[i - 1], *b = &pts[i];
	double r = ref_at(pts, ref, i - 1);
	return r > 0 && b->median - a->median >= r * 0.05 && b->ci_low > a->ci_high;
}

size_t find_knees(const struct curve_point *pts, size_t n, double min_ratio, struct knee *out, size_t cap)
{
	return find_knees_ref(pts, NULL, n, min_ratio, out, cap);
}

size_t find_knees_ref(const struct curve_point *pts, const double *ref, size_t n, double min_ratio, struct knee *out,
		      size_t cap)
{
	size_t k = 0;
	size_t i = 1;
	while (i < n && k < cap) {
		if (!rises(pts, ref, i)) {
			i++;
			continue;
		}
		size_t start = i - 1, best = i;
		/* The largest rise relative to its reference (on a raw curve: the
		 * largest ratio between neighbours). */
		double best_rise = (pts[i].median - pts[i - 1].median) / ref_at(pts, ref, i - 1);
		while (i + 1 < n && rises(pts, ref, i + 1)) {
			i++;
			double r = (pts[i].median - pts[i - 1].median) / ref_at(pts, ref, i - 1);
			if (r > best_rise) {
				best_rise = r;
				best = i;
			}
		}
		/* The whole run against the reference where it started: on a raw
		 * curve this is after / before >= min_ratio as it always was. */
		if (pts[i].median - pts[start].median < ref_at(pts, ref, start) * (min_ratio - 1.0)) {
			i++;
			continue;
		}
		out[k].index = best;
		out[k].working_set_bytes = pts[best].working_set_bytes;
		out[k].pages = pts[best].pages;
		out[k].before = pts[start].median;
		out[k].after = pts[i].median;
		out[k].below_index = start;
		out[k].above_index = i;
		k++;
		i++;
	}
	return k;
}

int knee_match_level(const struct tlb_geometry *g, uint64_t page_bytes, uint64_t below, uint64_t above,
		     struct knee_level *out)
{
	if (!g || page_bytes == 0 || below == 0 || above < below)
		return -1;
	double mid = sqrt((double)below * (double)above);
	const struct tlb_level *best = NULL;
	double best_dist = 0;
	for (size_t i = 0; i < g->n; i++) {
		const struct tlb_level *l = &g->lv[i];
		if (l->page_bytes != page_bytes || !l->loads || l->entries == 0)
			continue;
		double reach = (double)l->page_bytes * l->entries;
		double dist = fabs(log(reach / mid));
		if (!best || dist < best_dist) {
			best = l;
			best_dist = dist;
		}
	}
	if (!best)
		return -1;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", best->name);
	out->entries = best->entries;
	out->page_bytes = best->page_bytes;
	out->reach_bytes = best->page_bytes * best->entries;
	out->consistent = (double)below <= (double)out->reach_bytes * 1.05 &&
			  (double)above >= (double)out->reach_bytes * 0.95;
	return 0;
}

char *knee_bytes_text(uint64_t bytes, char *buf, size_t len)
{
	static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	/* Whole numbers as such, others to three significant digits (11.3 MiB). */
	if (fabs(v - round(v)) < 1e-9)
		snprintf(buf, len, "%.0f %s", v, unit[u]);
	else if (v < 10)
		snprintf(buf, len, "%.2f %s", v, unit[u]);
	else if (v < 100)
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	else
		snprintf(buf, len, "%.0f %s", v, unit[u]);
	return buf;
}

char *knee_text(const struct knee_level *lv, uint64_t page_bytes, uint64_t below, uint64_t above, char *buf,
		size_t len)
{
	char b[24], a[24], r[24], p[16];
	knee_bytes_text(below, b, sizeof(b));
	knee_bytes_text(above, a, sizeof(a));
	tlb_page_name(page_bytes, p, sizeof(p));
	if (!lv)
		snprintf(buf, len, "no data TLB for %s pages reported by CPUID; measured step between %s and %s", p, b, a);
	else
		snprintf(buf, len, "%s: %u entries x %s = %s; measured step between %s and %s: %s", lv->name, lv->entries,
			 p, knee_bytes_text(lv->reach_bytes, r, sizeof(r)), b, a,
			 lv->consistent ? "consistent" : "inconsistent");
	return buf;
}
