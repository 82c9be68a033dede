/* derive.c - figures derived from a run's measurements (see derive.h). */
#include "harness/run/derive.h"

#include <string.h>

#include "core/thresholds.h"
#include "harness/run/knees.h"
#include "harness/run/plan.h"
#include "harness/run/run_vm.h"

/* Translation cost: chase minus the chase-ctl measured with the same
 * identity (mode, backing, working set, guest page and its built size, TLB
 * locality), so a pair never mixes two configurations.  stride_bytes is
 * set aside: the control walks one line per element whatever the chase's
 * stride, that is what makes it the control. */
void derive_translation(json_t *doc, const struct run_records *rs)
{
	json_t *out = json_object_get(json_object_get(doc, "derived"), "translation");
	for (size_t i = 0; i < rs->n; i++) {
		const struct run_record *a = &rs->r[i];
		if (strcmp(a->kernel, "chase") || a->skipped)
			continue;
		const struct run_record *b = records_find_like(rs, a, "chase-ctl", a->mode, "stride_bytes");
		if (!b)
			continue;
		json_t *e = json_pack("{s:s, s:s, s:I, s:f, s:f, s:f}", "mode", a->mode, "backing", a->backing,
				      "working_set_bytes", (json_int_t)a->working_set_bytes, "ns_per_access",
				      a->summary.median - b->summary.median, "ci95_low",
				      a->summary.ci95_low - b->summary.ci95_high, "ci95_high",
				      a->summary.ci95_high - b->summary.ci95_low);
		if (a->guest_page)
			json_object_set_new(e, "guest_page", json_string(a->guest_page));
		json_array_append_new(out, e);
	}
}

/* Knees of every swept curve: per kernel, backing, and mode (native, and
 * each guest page size of a VM run). */
void derive_knees(json_t *doc, const struct run_records *rs, const struct run_config *cfg)
{
	json_t *out = json_object_get(json_object_get(doc, "derived"), "knees");
	struct {
		const char *mode, *guest; /* guest: guest_page.requested, NULL for native */
	} curves[1 + 3];
	size_t ncurves = 0;
	if (cfg->modes & RUN_MODE_NATIVE) {
		curves[ncurves].mode = "native";
		curves[ncurves++].guest = NULL;
	}
	for (size_t g = 0; (cfg->modes & RUN_MODE_VM) && g < cfg->nguest_pages && ncurves < 4; g++) {
		curves[ncurves].mode = "vm";
		curves[ncurves++].guest = run_vm_guest_page_name(cfg->guest_pages[g]);
	}
	for (size_t ki = 0; ki < cfg->nkernels; ki++) {
		const struct kernel_desc *k = cfg->kernels[ki];
		if (!(k->flags & KERNEL_SWEEPS_WS))
			continue;
		for (size_t ci = 0; ci < ncurves; ci++)
			for (size_t bi = 0; bi < cfg->nbackings; bi++) {
				const char *bname = backing_name(cfg->backings[bi]);
				struct curve_point pts[RUN_MAX_POINTS];
				size_t n = 0;
				for (size_t idx = 0; idx < rs->n && n < RUN_MAX_POINTS; idx++) {
					const struct run_record *m = &rs->r[idx];
					const char *g = m->guest_page;
					if (strcmp(m->kernel, k->name) || strcmp(m->mode, curves[ci].mode) ||
					    strcmp(g ? g : "", curves[ci].guest ? curves[ci].guest : "") ||
					    strcmp(m->backing, bname) || m->skipped)
						continue;
					pts[n].working_set_bytes = m->working_set_bytes;
					pts[n].pages = (size_t)json_integer_value(json_object_get(m->params, "verified_pages"));
					pts[n].median = m->summary.median;
					pts[n].ci_low = m->summary.ci95_low;
					pts[n].ci_high = m->summary.ci95_high;
					n++;
				}
				struct knee kn[RUN_MAX_POINTS];
				size_t nk = find_knees(pts, n, THRESH_KNEE_STEP, kn, RUN_MAX_POINTS);
				for (size_t i = 0; i < nk; i++) {
					json_t *e = json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:f}", "kernel", k->name, "mode",
							      curves[ci].mode, "backing", bname, "working_set_bytes",
							      (json_int_t)kn[i].working_set_bytes, "pages",
							      (json_int_t)(kn[i].pages ? kn[i].pages : 1), "ns_before",
							      kn[i].before, "ns_after", kn[i].after);
					if (curves[ci].guest)
						json_object_set_new(e, "guest_page", json_string(curves[ci].guest));
					json_array_append_new(out, e);
				}
			}
	}
}
