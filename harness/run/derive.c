/* derive.c - figures derived from a run's measurements (see derive.h). */
#include "harness/run/derive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/thresholds.h"
#include "harness/host/tlb.h"
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

/* The page size a record's translations are cached at: the verified page
 * of its buffer (the requested one when unverified), and in a VM the smaller
 * of that and the guest's page (a TLB entry caches the combined
 * translation, never larger than either level's page). */
static uint64_t record_page_bytes(const struct run_record *m)
{
	const json_t *b = m->backing_json;
	json_int_t v = json_integer_value(json_object_get(b, "verified_page_bytes"));
	if (v <= 0)
		v = json_integer_value(json_object_get(b, "requested_page_bytes"));
	uint64_t page = v > 0 ? (uint64_t)v : 4096;
	if (m->guest_built_page_bytes && m->guest_built_page_bytes < page)
		page = m->guest_built_page_bytes;
	return page;
}

/* One knee before it is written: which curve and where. */
struct found_knee {
	const char *kernel, *mode, *guest, *backing, *curve;
	struct knee k;
	size_t below_bytes, above_bytes, below_pages, above_pages;
	uint64_t page_bytes;
};

static size_t point_pages(const struct run_record *m)
{
	json_int_t v = json_integer_value(json_object_get(m->params, "verified_pages"));
	return v > 0 ? (size_t)v : 0;
}

/* Knees of one (kernel, mode, guest page, backing) curve into out[]. */
static size_t curve_knees(const struct run_records *rs, const struct kernel_desc *k, const char *mode,
			  const char *guest, const char *bname, struct found_knee *out, size_t cap)
{
	struct curve_point raw[RUN_MAX_POINTS], tr[RUN_MAX_POINTS];
	double tref[RUN_MAX_POINTS];
	const struct run_record *rawr[RUN_MAX_POINTS], *trr[RUN_MAX_POINTS];
	size_t n = 0, nt = 0;
	int is_chase = !strcmp(k->name, "chase");
	for (size_t idx = 0; idx < rs->n && n < RUN_MAX_POINTS; idx++) {
		const struct run_record *m = &rs->r[idx];
		const char *g = m->guest_page;
		if (strcmp(m->kernel, k->name) || strcmp(m->mode, mode) || strcmp(g ? g : "", guest ? guest : "") ||
		    strcmp(m->backing, bname) || m->skipped)
			continue;
		raw[n] = (struct curve_point){m->working_set_bytes, point_pages(m), m->summary.median,
					      m->summary.ci95_low, m->summary.ci95_high};
		rawr[n++] = m;
		const struct run_record *c = is_chase ? records_find_like(rs, m, "chase-ctl", m->mode, "stride_bytes") : NULL;
		if (c) {
			/* chase minus its control: translation, and the chase's own
			 * latency as the scale a step is measured against. */
			tr[nt] = (struct curve_point){m->working_set_bytes, point_pages(m),
						      m->summary.median - c->summary.median,
						      m->summary.ci95_low - c->summary.ci95_high,
						      m->summary.ci95_high - c->summary.ci95_low};
			tref[nt] = m->summary.median;
			trr[nt++] = m;
		}
	}
	/* The translation curve where the chase has controls at two or more
	 * sizes; the raw curve otherwise (and for every other kernel). */
	int use_tr = is_chase && nt >= 2;
	const struct curve_point *pts = use_tr ? tr : raw;
	const struct run_record *const *recs = use_tr ? trr : rawr;
	size_t np = use_tr ? nt : n;
	struct knee kn[RUN_MAX_POINTS];
	size_t nk = find_knees_ref(pts, use_tr ? tref : NULL, np, THRESH_KNEE_STEP, kn, RUN_MAX_POINTS);
	size_t w = 0;
	for (size_t i = 0; i < nk && w < cap; i++, w++) {
		struct found_knee *f = &out[w];
		f->kernel = k->name;
		f->mode = mode;
		f->guest = guest;
		f->backing = bname;
		f->curve = use_tr ? "translation" : "chase";
		f->k = kn[i];
		f->below_bytes = pts[kn[i].below_index].working_set_bytes;
		f->above_bytes = pts[kn[i].above_index].working_set_bytes;
		f->below_pages = pts[kn[i].below_index].pages;
		f->above_pages = pts[kn[i].above_index].pages;
		f->page_bytes = record_page_bytes(recs[kn[i].above_index]);
	}
	return w;
}

static int brackets_overlap(const struct found_knee *a, const struct found_knee *b)
{
	return a->below_bytes <= b->above_bytes && b->below_bytes <= a->above_bytes;
}

/* A large-page curve's knee that sits where a 4K curve of the same kernel,
 * mode and guest page has one: the large pages did not change the reach
 * (the backing is not what the TLB caches, or the step is not a TLB's). */
static int at_4k_knee(const struct found_knee *f, const struct found_knee *all, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct found_knee *o = &all[i];
		if (o->page_bytes != 4096 || strcmp(o->kernel, f->kernel) || strcmp(o->mode, f->mode) ||
		    strcmp(o->curve, f->curve) || strcmp(o->guest ? o->guest : "", f->guest ? f->guest : ""))
			continue;
		if (brackets_overlap(o, f))
			return 1;
	}
	return 0;
}

static json_t *knee_json(const struct found_knee *f, const struct tlb_geometry *tlb, const struct found_knee *all,
			 size_t n)
{
	json_t *e = json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:f}", "kernel", f->kernel, "mode", f->mode, "backing",
			      f->backing, "working_set_bytes", (json_int_t)f->k.working_set_bytes, "pages",
			      (json_int_t)(f->k.pages ? f->k.pages : 1), "ns_before", f->k.before, "ns_after",
			      f->k.after);
	if (f->guest)
		json_object_set_new(e, "guest_page", json_string(f->guest));
	json_object_set_new(e, "curve", json_string(f->curve));
	json_object_set_new(e, "bracket",
			    json_pack("{s:I, s:I, s:I, s:I}", "below_bytes", (json_int_t)f->below_bytes, "above_bytes",
				      (json_int_t)f->above_bytes, "below_pages", (json_int_t)f->below_pages,
				      "above_pages", (json_int_t)f->above_pages));
	json_object_set_new(e, "page_bytes", json_integer((json_int_t)f->page_bytes));
	char text[320];
	struct knee_level lv;
	int is_chase = !strcmp(f->kernel, "chase");
	if (is_chase && knee_match_level(tlb, f->page_bytes, f->below_bytes, f->above_bytes, &lv) == 0) {
		json_object_set_new(e, "level",
				    json_pack("{s:s, s:i, s:I, s:I, s:b}", "name", lv.name, "entries", (int)lv.entries,
					      "page_bytes", (json_int_t)lv.page_bytes, "reach_bytes",
					      (json_int_t)lv.reach_bytes, "consistent", lv.consistent));
		knee_text(&lv, f->page_bytes, f->below_bytes, f->above_bytes, text, sizeof(text));
	} else if (is_chase) {
		json_object_set_new(e, "level", json_null());
		knee_text(NULL, f->page_bytes, f->below_bytes, f->above_bytes, text, sizeof(text));
	} else {
		/* The control is mapped to pay no translation: its steps should be
		 * the caches'.  One where a 4K TLB level fills (its chain has one
		 * line per 4K of the chase) says its large pages were cached as 4K
		 * entries: under a hypervisor a TLB entry is never larger than the
		 * host's page, whatever the guest maps. */
		char b[24], a[24], r[24];
		knee_bytes_text(f->below_bytes, b, sizeof(b));
		knee_bytes_text(f->above_bytes, a, sizeof(a));
		int at_tlb = !strcmp(f->kernel, "chase-ctl") &&
			     knee_match_level(tlb, 4096, f->below_bytes, f->above_bytes, &lv) == 0 && lv.consistent;
		if (at_tlb) {
			json_object_set_new(e, "level",
					    json_pack("{s:s, s:i, s:I, s:I, s:b}", "name", lv.name, "entries",
						      (int)lv.entries, "page_bytes", (json_int_t)lv.page_bytes,
						      "reach_bytes", (json_int_t)lv.reach_bytes, "consistent", 1));
			snprintf(text, sizeof(text),
				 "%s steps where the %s (%u entries x 4K = %s) fills, between %s and %s: its large pages "
				 "are cached as 4K entries (under a hypervisor: the host's page size)",
				 f->kernel, lv.name, lv.entries, knee_bytes_text(lv.reach_bytes, r, sizeof(r)), b, a);
		} else {
			json_object_set_new(e, "level", json_null());
			snprintf(text, sizeof(text), "%s curve: a cache step, not a TLB level; measured step between %s and %s",
				 f->kernel, b, a);
		}
		if (!strcmp(f->kernel, "chase-ctl"))
			json_object_set_new(e, "control_pays_translation", json_boolean(at_tlb));
	}
	json_object_set_new(e, "text", json_string(text));
	json_object_set_new(e, "at_4k_knee", f->page_bytes > 4096 ? json_boolean(at_4k_knee(f, all, n)) : json_null());
	return e;
}

/* Knees of every swept curve: per kernel, backing, and mode (native, and
 * each guest page size of a VM run); the chase's on its translation curve
 * where its controls allow, each with its bracket and the host.tlb level
 * it is measured against. */
void derive_knees(json_t *doc, const struct run_records *rs, const struct run_config *cfg)
{
	json_t *out = json_object_get(json_object_get(doc, "derived"), "knees");
	struct tlb_geometry tlb;
	tlb_geometry_from_json(json_object_get(json_object_get(doc, "host"), "tlb"), &tlb);
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
	size_t cap = 4 * RUN_MAX_POINTS, n = 0;
	struct found_knee *all = malloc(cap * sizeof(*all));
	if (!all)
		return;
	for (size_t ki = 0; ki < cfg->nkernels; ki++) {
		const struct kernel_desc *k = cfg->kernels[ki];
		if (!(k->flags & KERNEL_SWEEPS_WS))
			continue;
		for (size_t ci = 0; ci < ncurves; ci++)
			for (size_t bi = 0; bi < cfg->nbackings; bi++)
				n += curve_knees(rs, k, curves[ci].mode, curves[ci].guest, backing_name(cfg->backings[bi]),
						 all + n, cap - n);
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, knee_json(&all[i], &tlb, all, n));
	free(all);
}
