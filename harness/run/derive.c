/* derive.c - figures derived from a run's measurements (see derive.h). */
#include "harness/run/derive.h"

#include <string.h>

#include "core/thresholds.h"
#include "harness/run/knees.h"
#include "harness/run/plan.h"
#include "harness/run/run_vm.h"

/* VM measurements pair only within one guest page size (native ones have none). */
static int same_guest_page(const json_t *a, const json_t *b)
{
	const json_t *ga = json_object_get(json_object_get(a, "guest_page"), "requested");
	const json_t *gb = json_object_get(json_object_get(b, "guest_page"), "requested");
	return (!ga && !gb) || (ga && gb && json_equal(ga, gb));
}

/* Translation cost: chase minus chase-ctl at each (backing, working set). */
void derive_translation(json_t *doc)
{
	json_t *ms = json_object_get(doc, "measurements"), *out = json_object_get(json_object_get(doc, "derived"),
										  "translation");
	size_t i, j;
	json_t *a, *b;
	json_array_foreach(ms, i, a) {
		if (strcmp(json_string_value(json_object_get(a, "kernel")), "chase") || !json_is_null(json_object_get(a, "skipped")))
			continue;
		json_array_foreach(ms, j, b) {
			if (strcmp(json_string_value(json_object_get(b, "kernel")), "chase-ctl") ||
			    !json_is_null(json_object_get(b, "skipped")) ||
			    !json_equal(json_object_get(a, "working_set_bytes"), json_object_get(b, "working_set_bytes")) ||
			    !json_equal(json_object_get(json_object_get(a, "backing"), "requested"),
					json_object_get(json_object_get(b, "backing"), "requested")) ||
			    !json_equal(json_object_get(a, "mode"), json_object_get(b, "mode")) ||
			    !same_guest_page(a, b))
				continue;
			json_t *sa = json_object_get(a, "summary"), *sb = json_object_get(b, "summary");
			double d = json_real_value(json_object_get(sa, "median")) - json_real_value(json_object_get(sb, "median"));
			double lo = json_real_value(json_object_get(sa, "ci95_low")) -
				    json_real_value(json_object_get(sb, "ci95_high"));
			double hi = json_real_value(json_object_get(sa, "ci95_high")) -
				    json_real_value(json_object_get(sb, "ci95_low"));
			json_array_append_new(out, json_pack("{s:O, s:O, s:O, s:f, s:f, s:f}", "mode",
							     json_object_get(a, "mode"), "backing",
							     json_object_get(json_object_get(a, "backing"), "requested"),
							     "working_set_bytes", json_object_get(a, "working_set_bytes"),
							     "ns_per_access", d, "ci95_low", lo, "ci95_high", hi));
			json_t *gp = json_object_get(json_object_get(a, "guest_page"), "requested");
			if (gp)
				json_object_set(json_array_get(out, json_array_size(out) - 1), "guest_page", gp);
			break;
		}
	}
}

/* Knees of every swept curve: per kernel, backing, and mode (native, and
 * each guest page size of a VM run). */
void derive_knees(json_t *doc, const struct run_config *cfg)
{
	json_t *ms = json_object_get(doc, "measurements");
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
				size_t n = 0, idx;
				json_t *m;
				json_array_foreach(ms, idx, m) {
					const char *g = json_string_value(
						json_object_get(json_object_get(m, "guest_page"), "requested"));
					if (n == RUN_MAX_POINTS || strcmp(json_string_value(json_object_get(m, "kernel")), k->name) ||
					    strcmp(json_string_value(json_object_get(m, "mode")), curves[ci].mode) ||
					    strcmp(g ? g : "", curves[ci].guest ? curves[ci].guest : "") ||
					    strcmp(json_string_value(json_object_get(json_object_get(m, "backing"), "requested")),
						   bname) ||
					    !json_is_null(json_object_get(m, "skipped")))
						continue;
					json_t *s = json_object_get(m, "summary");
					pts[n].working_set_bytes = (size_t)json_integer_value(json_object_get(m, "working_set_bytes"));
					pts[n].pages = (size_t)json_integer_value(
						json_object_get(json_object_get(m, "params"), "verified_pages"));
					pts[n].median = json_real_value(json_object_get(s, "median"));
					pts[n].ci_low = json_real_value(json_object_get(s, "ci95_low"));
					pts[n].ci_high = json_real_value(json_object_get(s, "ci95_high"));
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
