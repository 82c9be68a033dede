/* knees.c - step detection on sweep curves (see knees.h). */
#include "harness/run/knees.h"

/* One point-to-point rise that noise cannot explain: at least 5% and the
 * confidence intervals apart.  A knee is a run of such rises adding up to
 * min_ratio, since with several points per octave a TLB level fills up over
 * more than one step. */
static int rises(const struct curve_point *a, const struct curve_point *b)
{
	return a->median > 0 && b->median >= a->median * 1.05 && b->ci_low > a->ci_high;
}

size_t find_knees(const struct curve_point *pts, size_t n, double min_ratio, struct knee *out, size_t cap)
{
	size_t k = 0;
	size_t i = 1;
	while (i < n && k < cap) {
		if (!rises(&pts[i - 1], &pts[i])) {
			i++;
			continue;
		}
		size_t start = i - 1, best = i;
		double best_ratio = pts[i].median / pts[i - 1].median;
		while (i + 1 < n && rises(&pts[i], &pts[i + 1])) {
			i++;
			double r = pts[i].median / pts[i - 1].median;
			if (r > best_ratio) {
				best_ratio = r;
				best = i;
			}
		}
		if (pts[i].median < pts[start].median * min_ratio) {
			i++;
			continue;
		}
		out[k].index = best;
		out[k].working_set_bytes = pts[best].working_set_bytes;
		out[k].pages = pts[best].pages;
		out[k].before = pts[start].median;
		out[k].after = pts[i].median;
		k++;
		i++;
	}
	return k;
}
