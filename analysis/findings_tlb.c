/* findings_tlb.c - the TLB findings: reach per curve, what each level costs, a large-page
 * backing's reach gain or splintering, and the large-page gain.
 * (see findings.h; shared parts in findings_impl.h). */
#include "analysis/findings_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void fnd_reach(struct ctx *c, size_t fi, const struct series *s, const struct kn *k, size_t nk)
{
	const struct res_file *f = &c->files[fi];
	char sn[160], a[32], b[32], e[32];
	struct sb t;
	if (!nk || fnd_sb_open(&t))
		return;
	fnd_series_name(sn, sizeof(sn), s);
	fnd_sb_printf(&t, "TLB reach, %s: the chase steps up %s", sn, nk == 1 ? "once" : "");
	if (nk > 1)
		fnd_sb_printf(&t, "%zu times", nk);
	for (size_t i = 0; i < nk; i++) {
		fnd_fmt_bytes(a, sizeof(a), (double)k[i].below);
		fnd_fmt_bytes(b, sizeof(b), (double)k[i].above);
		fnd_sb_printf(&t, "%s ", i ? ";" : ":");
		if (k[i].level && k[i].entries > 0 && k[i].level_page > 0 && k[i].reach > 0) {
			fnd_fmt_bytes(e, sizeof(e), (double)k[i].reach);
			char pg[32];
			format_size((size_t)k[i].level_page, pg, sizeof(pg));
			fnd_sb_printf(&t, "%s: %lld entries x %s = %s; ", k[i].level, k[i].entries, pg, e);
		} else if (k[i].level) {
			fnd_sb_printf(&t, "%s: ", k[i].level);
		}
		fnd_sb_printf(&t, "steps between %s and %s (%.3g -> %.3g ns per access)", a, b, k[i].before, k[i].after);
	}
	fnd_sb_printf(&t, ".");
	struct finding *x = fnd_add(c, FK_REACH, fi, fnd_sb_take(&t));
	if (x)
		x->detail = 1;
	fnd_set_num(x, (double)k[0].above, (double)k[0].below, (double)k[0].above, "bytes");
	fnd_set_key(x, "reach", s, NULL);
	for (size_t i = 0; i < nk; i++) {
		char w[40];
		snprintf(w, sizeof(w), "derived.knees[%zu]", k[i].idx);
		fnd_src_add(c, x, fi, NULL, w);
		fnd_src_add(c, x, fi, fnd_find_meas(f, "chase", s, k[i].above), NULL);
	}
}

static const struct res_derived_point *translation_at(const struct res_file *f, const struct series *s, uint64_t ws,
						      size_t *idx)
{
	for (size_t i = 0; i < f->ntranslation; i++) {
		const struct res_derived_point *p = &f->translation[i];
		if (p->working_set_bytes == ws && fnd_eq(p->mode, s->mode) && fnd_eq(p->backing, s->backing) &&
		    fnd_eq(p->guest_page, s->gp)) {
			*idx = i;
			return p;
		}
	}
	return NULL;
}

/* The translation plateau between knees: what each level costs. */
void fnd_level_cost(struct ctx *c, size_t fi, const struct series *s, const struct kn *k, size_t nk)
{
	const struct res_file *f = &c->files[fi];
	uint64_t ws[MAX_WS_PTS];
	size_t nws = 0;
	for (size_t i = 0; i < f->ntranslation && nws < MAX_WS_PTS; i++) {
		const struct res_derived_point *p = &f->translation[i];
		if (fnd_eq(p->mode, s->mode) && fnd_eq(p->backing, s->backing) && fnd_eq(p->guest_page, s->gp))
			ws[nws++] = p->working_set_bytes;
	}
	qsort(ws, nws, sizeof(*ws), fnd_cmp_u64);
	if (!nk || !nws)
		return;
	char sn[160], nm[64], w[32], v[32], lo[32], hi[32];
	struct sb t;
	if (fnd_sb_open(&t))
		return;
	fnd_series_name(sn, sizeof(sn), s);
	fnd_sb_printf(&t, "Cost of each level, %s:", sn);
	int any = 0;
	double last = NAN, llo = NAN, lhi = NAN;
	size_t used[MAX_KNEES + 1];
	size_t nused = 0;
	for (size_t p = 1; p <= nk; p++) {
		uint64_t at = fnd_plateau_ws(k, nk, p, ws, nws);
		size_t ti;
		const struct res_derived_point *tp = at ? translation_at(f, s, at, &ti) : NULL;
		if (!tp)
			continue;
		fnd_knee_name(nm, sizeof(nm), &k[p - 1], p - 1);
		fnd_fmt_bytes(w, sizeof(w), (double)at);
		format_ns(v, sizeof(v), tp->y);
		format_ns(lo, sizeof(lo), tp->lo);
		format_ns(hi, sizeof(hi), tp->hi);
		fnd_sb_printf(&t, "%s past %s translation adds %s per access [%s, %s] (at %s)", any ? ";" : "", nm, v, lo, hi,
			      w);
		any = 1;
		last = tp->y;
		llo = tp->lo;
		lhi = tp->hi;
		used[nused++] = ti;
	}
	fnd_sb_printf(&t, ".");
	char *text = fnd_sb_take(&t);
	if (!any) {
		free(text);
		return;
	}
	struct finding *x = fnd_add(c, FK_LEVEL_COST, fi, text);
	if (x)
		x->detail = 1;
	fnd_set_num(x, last, llo, lhi, "ns");
	fnd_set_key(x, "level-cost", s, NULL);
	for (size_t i = 0; i < nused; i++) {
		char what[40];
		const struct res_derived_point *tp = &f->translation[used[i]];
		snprintf(what, sizeof(what), "derived.translation[%zu]", used[i]);
		fnd_src_add(c, x, fi, NULL, what);
		fnd_src_add(c, x, fi, fnd_find_meas(f, "chase", s, tp->working_set_bytes), NULL);
		fnd_src_add(c, x, fi, fnd_find_meas(f, "chase-ctl", s, tp->working_set_bytes), NULL);
	}
}

static void verified_of(const struct res_file *f, const struct series *s, char *buf, size_t len)
{
	for (size_t i = 0; i < f->nmeas; i++) {
		const struct res_meas *m = &f->meas[i];
		if (!m->skipped && !strcmp(m->kernel, "chase") && fnd_eq(m->mode, s->mode) && fnd_eq(m->backing, s->backing) &&
		    fnd_eq(m->guest_page, s->gp) && m->verified_page_bytes > 0) {
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
		fnd_fmt_bytes(b, sizeof(b), (double)k[i].above);
		fnd_sb_printf(t, "%s%s", i ? (i + 1 == nk ? " and " : ", ") : "", b);
	}
	if (!nk)
		fnd_sb_printf(t, "nowhere");
}

/* Reach gain of a large-page backing over 4K, or splintering. */
void fnd_reach_gain(struct ctx *c, size_t fi, const struct series *L, const struct kn *kl, size_t nl,
		    const struct series *F, const struct kn *kf, size_t nf)
{
	const struct res_file *f = &c->files[fi];
	if (!nf)
		return;
	char sn[160], a[32], b[32];
	uint64_t wl[MAX_WS_PTS];
	size_t nwl = fnd_chase_ws(f, L, wl, MAX_WS_PTS);
	if (!nwl)
		return;
	struct sb t;
	if (nl) {
		double r = (double)kl[0].above / (double)kf[0].above;
		/* Splintered: the knees start where 4K's do and the costs match
		 * on every plateau of the 4K curve (no gain anywhere). */
		uint64_t wf[MAX_WS_PTS], common[MAX_WS_PTS];
		size_t nwf = fnd_chase_ws(f, F, wf, MAX_WS_PTS), nc = 0, compared = 0, same = 0;
		for (size_t i = 0; i < nwf; i++)
			if (fnd_find_meas(f, "chase", L, wf[i]))
				common[nc++] = wf[i];
		const struct res_meas *ml = NULL, *mf = NULL;
		for (size_t p = 1; p <= nf; p++) {
			uint64_t at = fnd_plateau_ws(kf, nf, p, common, nc);
			if (!at)
				continue;
			const struct res_meas *a1 = fnd_find_meas(f, "chase", L, at), *b1 = fnd_find_meas(f, "chase", F, at);
			double lo, hi, q = fnd_ratio(a1, b1, &lo, &hi);
			compared++;
			same += q < SPLINTER_COST_RATIO && q > 1 / SPLINTER_COST_RATIO;
			ml = a1;
			mf = b1;
		}
		/* At least two of 4K's steps: one step alone is as likely a data-cache one. */
		if (r < SPLINTER_REACH_FACTOR && r > 1 / SPLINTER_REACH_FACTOR && compared >= 2 && same == compared) {
			if (fnd_sb_open(&t))
				return;
			char ver[48];
			verified_of(f, L, ver, sizeof(ver));
			fnd_series_name(sn, sizeof(sn), L);
			fnd_sb_printf(&t, "Splintered: %s (%s) steps where 4k does (", sn, ver);
			knee_list(&t, kl, nl);
			fnd_sb_printf(&t, " vs ");
			knee_list(&t, kf, nf);
			fnd_sb_printf(&t, ")");
			double rr = NAN, rlo = NAN, rhi = NAN;
			if (ml && mf) {
				rr = fnd_ratio(ml, mf, &rlo, &rhi);
				fnd_fmt_bytes(a, sizeof(a), (double)ml->working_set_bytes);
				fnd_sb_printf(&t, " and costs the same past each of 4k's steps (%zu compared; at %s %.2fx 4k's "
						  "latency [%.2f, %.2f])",
					      compared, a, rr, rlo, rhi);
			}
			if (!fnd_native(L->mode))
				fnd_sb_printf(&t, ": the guest's large pages are mapped with small pages below it (KVM's "
						  "mapping of the VM's memory, or the layer under this host), so they cannot "
						  "help here. What would fix it: back the VM's memory with huge pages on the "
						  "host (hugetlb or THP for the VMM) on a host that itself has large pages.");
			else if (f->hypervisor_present)
				fnd_sb_printf(&t, ": this machine is itself a guest, and the hypervisor below maps its memory "
						  "with 4K pages, so large pages cannot help here. What would fix it: a host "
						  "that backs this guest with huge pages (an instance type or hypervisor "
						  "configuration with huge-page-backed guest memory), or bare metal.");
			else
				fnd_sb_printf(&t, ": the large pages bring no TLB reach on this machine. What would fix it: "
						  "check that the pages are really large (verified page size, coverage) and "
						  "that nothing below splits them.");
			struct finding *x = fnd_add(c, FK_SPLINTER, fi, fnd_sb_take(&t));
			fnd_set_num(x, r, rlo, rhi, "x");
			fnd_set_key(x, "splinter", L, NULL);
			for (size_t i = 0; i < nl; i++)
				fnd_src_add(c, x, fi, fnd_find_meas(f, "chase", L, kl[i].above), NULL);
			for (size_t i = 0; i < nf; i++)
				fnd_src_add(c, x, fi, fnd_find_meas(f, "chase", F, kf[i].above), NULL);
			fnd_src_add(c, x, fi, ml, NULL);
			fnd_src_add(c, x, fi, mf, NULL);
			return;
		}
		if (r < SPLINTER_REACH_FACTOR)
			return;
		if (fnd_sb_open(&t))
			return;
		fnd_series_name(sn, sizeof(sn), L);
		fnd_fmt_bytes(a, sizeof(a), (double)kl[0].above);
		fnd_fmt_bytes(b, sizeof(b), (double)kf[0].above);
		fnd_sb_printf(&t, "Large pages extend TLB reach %.0fx, %s: its first step is at %s, 4k's at %s.", r, sn, a, b);
		struct finding *x = fnd_add(c, FK_REACH_GAIN, fi, fnd_sb_take(&t));
		fnd_set_num(x, r, (double)kl[0].below / (double)kf[0].above, (double)kl[0].above / (double)kf[0].below, "x");
		fnd_set_key(x, "reach-gain", L, NULL);
		fnd_src_add(c, x, fi, fnd_find_meas(f, "chase", L, kl[0].above), NULL);
		fnd_src_add(c, x, fi, fnd_find_meas(f, "chase", F, kf[0].above), NULL);
		return;
	}
	/* No step at all up to the largest measured working set. */
	uint64_t top = wl[nwl - 1];
	if (top < 2 * kf[0].above)
		return;
	if (fnd_sb_open(&t))
		return;
	fnd_series_name(sn, sizeof(sn), L);
	fnd_fmt_bytes(a, sizeof(a), (double)top);
	fnd_fmt_bytes(b, sizeof(b), (double)kf[0].above);
	double r = (double)top / (double)kf[0].above;
	fnd_sb_printf(&t, "Large pages extend TLB reach at least %.0fx, %s: no step up to %s, the largest measured; 4k "
			  "steps first at %s.",
		      r, sn, a, b);
	struct finding *x = fnd_add(c, FK_REACH_GAIN, fi, fnd_sb_take(&t));
	fnd_set_num(x, r, r, NAN, "x");
	fnd_set_key(x, "reach-gain", L, NULL);
	fnd_src_add(c, x, fi, fnd_find_meas(f, "chase", L, top), NULL);
	fnd_src_add(c, x, fi, fnd_find_meas(f, "chase", F, kf[0].above), NULL);
}

/* The large-page gain on each plateau of the 4K curve. */
void fnd_gain(struct ctx *c, size_t fi, const struct series *L, const struct series *F, const struct kn *kf,
	      size_t nf)
{
	const struct res_file *f = &c->files[fi];
	uint64_t wf[MAX_WS_PTS], common[MAX_WS_PTS];
	size_t nwf = fnd_chase_ws(f, F, wf, MAX_WS_PTS), nc = 0;
	for (size_t i = 0; i < nwf; i++)
		if (fnd_find_meas(f, "chase", L, wf[i]))
			common[nc++] = wf[i];
	if (!nc)
		return;
	char sn[160], nm[64], w[32], va[32], vb[32];
	struct plateau_ratios pr;
	if (fnd_pr_open(&pr))
		return;
	fnd_series_name(sn, sizeof(sn), L);
	fnd_sb_printf(&pr.t, "Large-page gain, %s instead of 4k:", sn);
	for (size_t p = nf ? 1 : 0; p <= nf; p++) {
		uint64_t at = fnd_plateau_ws(kf, nf, p, common, nc);
		if (!at)
			continue;
		const struct res_meas *ma = fnd_find_meas(f, "chase", F, at), *mb = fnd_find_meas(f, "chase", L, at);
		double lo, hi, r = fnd_ratio(ma, mb, &lo, &hi);
		if (p)
			fnd_knee_name(nm, sizeof(nm), &kf[p - 1], p - 1);
		fnd_fmt_bytes(w, sizeof(w), (double)at);
		format_ns(va, sizeof(va), ma->summary.median);
		format_ns(vb, sizeof(vb), mb->summary.median);
		fnd_sb_printf(&pr.t, "%s ", pr.any ? ";" : "");
		fnd_faster(&pr.t, r, lo, hi);
		fnd_sb_printf(&pr.t, " at %s%s%s%s (%s vs %s)", w, p ? " (past 4k's " : "", p ? nm : "", p ? ")" : "", vb,
			      va);
		fnd_pr_keep(&pr, r, lo, hi, ma, mb);
	}
	fnd_pr_finish(c, fi, &pr, FK_GAIN, "gain", L);
}

/* The large-page gain in one sentence per mode: every large-page backing
 * (x guest page) against 4K at the largest working set both have. */
void fnd_gain_summary(struct ctx *c, size_t fi, const struct series *s, size_t ns)
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
		if (fnd_sb_open(&t))
			return;
		fnd_sb_printf(&t, "Large-page gain (%s; 4k latency / large-page latency at the largest working set both "
				  "have):",
			      modes[mo]);
		int any = 0;
		double first = NAN, flo = NAN, fhi = NAN;
		const struct res_meas *srcs[2 * MAX_SERIES];
		size_t nsrc = 0;
		for (size_t i = 0; i < ns; i++) {
			if (strcmp(s[i].mode, modes[mo]) || !fnd_is_large(s[i].backing))
				continue;
			struct series F = {s[i].mode, "4k", s[i].gp};
			uint64_t ws[MAX_WS_PTS];
			size_t nws = fnd_chase_ws(f, &s[i], ws, MAX_WS_PTS);
			const struct res_meas *ml = NULL, *m4 = NULL;
			for (size_t k = nws; k-- > 0 && !m4;) {
				ml = fnd_find_meas(f, "chase", &s[i], ws[k]);
				m4 = fnd_find_meas(f, "chase", &F, ws[k]);
			}
			if (!ml || !m4 || !fnd_timing_valid(ml))
				continue;
			double lo, hi, r = fnd_ratio(m4, ml, &lo, &hi);
			char w[32];
			fnd_fmt_bytes(w, sizeof(w), (double)ml->working_set_bytes);
			if (s[i].gp)
				fnd_sb_printf(&t, "%s %s on %s ", any ? ";" : "", s[i].gp, s[i].backing);
			else
				fnd_sb_printf(&t, "%s %s ", any ? ";" : "", s[i].backing);
			fnd_faster(&t, r, lo, hi);
			fnd_sb_printf(&t, " at %s", w);
			if (!any) {
				first = r;
				flo = lo;
				fhi = hi;
			}
			any = 1;
			srcs[nsrc++] = m4;
			srcs[nsrc++] = ml;
		}
		fnd_sb_printf(&t, ".");
		char *text = fnd_sb_take(&t);
		if (!any) {
			free(text);
			continue;
		}
		struct finding *x = fnd_add(c, FK_GAIN, fi, text);
		fnd_set_num(x, first, flo, fhi, "x");
		fnd_set_key(x, "gain-summary", NULL, modes[mo]);
		for (size_t i = 0; i < nsrc; i++)
			fnd_src_add(c, x, fi, srcs[i], NULL);
	}
}
