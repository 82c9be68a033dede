/* knees.h - find where a latency-vs-working-set curve steps up, and name
 * the TLB level a step belongs to.
 *
 * A knee is a run of consecutive significant rises (each at least 5% of the
 * reference latency with non-overlapping confidence intervals, so noise does
 * not make knees) that adds up to at least `min_ratio`.  On a raw latency
 * curve the reference is the curve itself.  On the translation curve (chase
 * minus chase-ctl, which sits near zero, or below it, while the TLBs still
 * hold every page) the reference is the chase's own latency: a step is then
 * measured against the access it is part of.
 *
 * Each knee is a bracket: the largest working set below the step (the point
 * before the run of rises) and the smallest above it (the point the run
 * ends on); the TLB level whose reach (entries x page size) lies in or at
 * the edge of the bracket is what the step is consistent with.
 */
#ifndef NESTBENCH_KNEES_H
#define NESTBENCH_KNEES_H

#include <stddef.h>
#include <stdint.h>

#include "harness/host/tlb.h"

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
	size_t below_index, above_index; /* the bracket: last point before the rises, the point they end on */
};

size_t find_knees(const struct curve_point *pts, size_t n, double min_ratio, struct knee *out, size_t cap);
/* As find_knees, each rise compared with ref[i] (the latency a point is
 * part of; ref NULL or ref[i] <= 0: the point's own median). */
size_t find_knees_ref(const struct curve_point *pts, const double *ref, size_t n, double min_ratio, struct knee *out,
		      size_t cap);

/* The TLB level a step between below and above bytes (on pages of
 * page_bytes) is measured against: among the levels of g with that page size
 * that translate loads, the one whose reach is nearest the bracket (in
 * ratio).  consistent: below <= reach x 1.05 and above >= reach x 0.95 (the
 * step starts once the level is full; the margins allow a level that
 * thrashes a few entries early from set conflicts).  Returns 0, or -1 when g
 * has no such level (out untouched). */
struct knee_level {
	char name[32];
	unsigned entries;
	uint64_t page_bytes, reach_bytes;
	int consistent;
};
int knee_match_level(const struct tlb_geometry *g, uint64_t page_bytes, uint64_t below, uint64_t above,
		     struct knee_level *out);

/* "L2 dTLB: 2048 entries x 4K = 8 MiB; measured step between 8 MiB and
 * 11.3 MiB: consistent" (lv NULL: "no TLB for 2M pages reported; measured
 * step between ...").  Returns buf. */
char *knee_text(const struct knee_level *lv, uint64_t page_bytes, uint64_t below, uint64_t above, char *buf,
		size_t len);

/* "8 MiB", "11.3 MiB", "364 KiB", "1 GiB" (buf >= 24). */
char *knee_bytes_text(uint64_t bytes, char *buf, size_t len);

#endif
