/* knees.h - find where a latency-vs-working-set curve steps up.
 *
 * A knee is a run of consecutive significant rises (each >= 5% with
 * non-overlapping confidence intervals, so noise does not make knees) that
 * adds up to at least `min_ratio`.  It is placed at the point of the largest
 * single rise and reports the values before and after the whole run.
 */
#ifndef NESTBENCH_KNEES_H
#define NESTBENCH_KNEES_H

#include <stddef.h>

struct curve_point {
	size_t working_set_bytes;
	size_t pages;
	double median, ci_low, ci_high;
};

struct knee {
	size_t index;      /* curve point at the largest rise */
	size_t working_set_bytes;
	size_t pages;
	double before, after;
};

size_t find_knees(const struct curve_point *pts, size_t n, double min_ratio, struct knee *out, size_t cap);

#endif
