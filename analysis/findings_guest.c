/* findings_guest.c - the guest's findings: its tax over native, how KVM mapped its memory,
 * what the MMU virtualisation mode means, and TCG's function-only timings.
 * (see findings.h; shared parts in findings_impl.h). */
#include "analysis/findings_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* guest/native per guest page x host backing on each plateau of the native curve. */
void fnd_tax(struct ctx *c, size_t fi, const struct series *S, const struct kn *kn, size_t nk)
{
	const struct res_file *f = &c->files[fi];
	struct series N = {"native", S->backing, NULL};
	uint64_t ws[MAX_WS_PTS], common[MAX_WS_PTS];
	size_t nws = fnd_chase_ws(f, S, ws, MAX_WS_PTS), nc = 0;
	for (size_t i = 0; i < nws; i++)
		if (fnd_find_meas(f, "chase", &N, ws[i]))
			common[nc++] = ws[i];
	if (!nc)
		return;
	char nm[64], w[32], va[32], vb[32];
	struct plateau_ratios pr;
	if (fnd_pr_open(&pr))
		return;
	fnd_sb_printf(&pr.t, "Guest's tax, %s guest pages on %s host backing (%s): a chase access costs",
		      S->gp ? S->gp : "?", S->backing, S->mode);
	uint64_t prev = 0;
	for (size_t p = 0; p <= nk; p++) {
		uint64_t at = fnd_plateau_ws(kn, nk, p, common, nc);
		if (!at || at == prev)
			continue;
		prev = at;
		const struct res_meas *mv = fnd_find_meas(f, "chase", S, at), *mn = fnd_find_meas(f, "chase", &N, at);
		double lo, hi, r = fnd_ratio(mv, mn, &lo, &hi);
		fnd_fmt_bytes(w, sizeof(w), (double)at);
		format_ns(va, sizeof(va), mv->summary.median);
		format_ns(vb, sizeof(vb), mn->summary.median);
		if (p)
			fnd_knee_name(nm, sizeof(nm), &kn[p - 1], p - 1);
		fnd_sb_printf(&pr.t, "%s %.2fx native [%.2f, %.2f%s] at %s%s%s (%s vs %s)", pr.any ? ";" : "", r, lo, hi,
			      fnd_spans1(lo, hi), w, p ? ", past native's " : "", p ? nm : "", va, vb);
		fnd_pr_keep(&pr, r, lo, hi, mv, mn);
	}
	fnd_pr_finish(c, fi, &pr, FK_TAX, "tax", S);
}

/* How KVM mapped the VM's memory: per guest page x host backing, the
 * chase at its largest working set with KVM's page counts. */
void fnd_kvm_map(struct ctx *c, size_t fi, const struct series *s, size_t ns)
{
	const struct res_file *f = &c->files[fi];
	struct sb t;
	int any = 0;
	size_t split = 0, split_4k_guest = 0, large_host = 0;
	const struct res_meas *srcs[MAX_SERIES];
	size_t nsrc = 0;
	if (fnd_sb_open(&t))
		return;
	fnd_sb_printf(&t, "How KVM mapped the guest's memory (its page counts, at the largest working set):");
	for (size_t i = 0; i < ns; i++) {
		if (fnd_native(s[i].mode) || !s[i].gp)
			continue;
		uint64_t ws[MAX_WS_PTS];
		size_t nws = fnd_chase_ws(f, &s[i], ws, MAX_WS_PTS);
		const struct res_meas *m = NULL;
		const json_t *vm = NULL;
		for (size_t k = nws; k-- > 0 && !vm;) {
			m = fnd_find_meas(f, "chase", &s[i], ws[k]);
			vm = m ? json_object_get(json_object_get(json_object_get(fnd_meas_json(f, m), "kvm"), "stats"), "vm")
			       : NULL;
			if (!json_is_object(vm) || !json_is_integer(json_object_get(vm, "pages_4k")))
				vm = NULL;
		}
		if (!vm)
			continue;
		long long p4 = fnd_jint(vm, "pages_4k", 0), p2 = fnd_jint(vm, "pages_2m", 0), p1 = fnd_jint(vm, "pages_1g", 0);
		fnd_sb_printf(&t, "%s %s guest pages on %s: %lld x 4K, %lld x 2M, %lld x 1G", any ? ";" : "", s[i].gp,
			      s[i].backing, p4, p2, p1);
		any = 1;
		srcs[nsrc++] = m;
		if (fnd_is_large(s[i].backing)) {
			large_host++;
			if (!p2 && !p1) {
				split++;
				split_4k_guest += fnd_backing_page_bytes(s[i].gp) == 4096;
				fnd_sb_printf(&t, " (the large host pages mapped as 4K%s)",
					      fnd_backing_page_bytes(s[i].gp) == 4096 ? ": KVM follows the guest's 4K pages" : "");
			}
		}
	}
	if (large_host && split == large_host)
		fnd_sb_printf(&t, ". Every large host backing was mapped with 4K pages: in this VM large host pages "
				  "cannot help. What would fix it: large guest pages (--guest-page 2m), or a KVM that maps "
				  "guest memory with large pages (EPT/NPT with huge-page-backed memory slots).");
	else if (split)
		fnd_sb_printf(&t, ". %zu of %zu large-host-backing cells were mapped with 4K pages only (splintered by "
				  "KVM)%s.",
			      split, large_host,
			      split == split_4k_guest ? ", each with 4K guest pages: large host pages help this VM only "
							"with large guest pages"
						      : "");
	else
		fnd_sb_printf(&t, ".");
	char *text = fnd_sb_take(&t);
	if (!any) {
		free(text);
		return;
	}
	struct finding *x = fnd_add(c, FK_KVM_MAP, fi, text);
	fnd_set_num(x, (double)split, NAN, NAN, "cells mapped with 4K only");
	fnd_set_key(x, "kvm-map", NULL, NULL);
	for (size_t i = 0; i < nsrc; i++)
		fnd_src_add(c, x, fi, srcs[i], NULL);
}

/* The heatmap in words: per guest mode, every guest page x host backing at
 * the largest working set it shares with native. */
void fnd_tax_summary(struct ctx *c, size_t fi, const struct series *s, size_t ns)
{
	const struct res_file *f = &c->files[fi];
	const char *modes[8];
	size_t nm = 0;
	for (size_t i = 0; i < ns && nm < 8; i++) {
		size_t j = 0;
		if (fnd_native(s[i].mode))
			continue;
		while (j < nm && strcmp(modes[j], s[i].mode))
			j++;
		if (j == nm)
			modes[nm++] = s[i].mode;
	}
	for (size_t mo = 0; mo < nm; mo++) {
		struct sb t;
		if (fnd_sb_open(&t))
			return;
		fnd_sb_printf(&t, "Guest's tax (%s/native, chase latency at the largest working set both have), guest page "
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
			size_t nws = fnd_chase_ws(f, &s[i], ws, MAX_WS_PTS);
			const struct res_meas *mv = NULL, *mn = NULL;
			for (size_t k = nws; k-- > 0 && !mn;) {
				mv = fnd_find_meas(f, "chase", &s[i], ws[k]);
				mn = fnd_find_meas(f, "chase", &N, ws[k]);
			}
			if (!mv || !mn || !fnd_timing_valid(mv))
				continue;
			double lo, hi, r = fnd_ratio(mv, mn, &lo, &hi);
			char w[32];
			fnd_fmt_bytes(w, sizeof(w), (double)mv->working_set_bytes);
			fnd_sb_printf(&t, "%s %s on %s %.2fx [%.2f, %.2f%s] at %s", any ? ";" : "", s[i].gp ? s[i].gp : "?",
				      s[i].backing, r, lo, hi, fnd_spans1(lo, hi), w);
			if (!any) {
				first = r;
				flo = lo;
				fhi = hi;
			}
			any = 1;
			srcs[nsrc++] = mv;
			srcs[nsrc++] = mn;
		}
		fnd_sb_printf(&t, ".");
		char *text = fnd_sb_take(&t);
		if (!any) {
			free(text);
			continue;
		}
		struct finding *x = fnd_add(c, FK_TAX, fi, text);
		fnd_set_num(x, first, flo, fhi, "x");
		fnd_set_key(x, "tax-summary", NULL, modes[mo]);
		for (size_t i = 0; i < nsrc; i++)
			fnd_src_add(c, x, fi, srcs[i], NULL);
	}
}

void fnd_tcg(struct ctx *c, size_t fi)
{
	const struct res_file *f = &c->files[fi];
	size_t n = 0;
	const char *mode = NULL;
	for (size_t i = 0; i < f->nmeas; i++)
		if (!f->meas[i].skipped && !fnd_native(f->meas[i].mode) && !fnd_timing_valid(&f->meas[i])) {
			n++;
			mode = f->meas[i].mode;
		}
	if (!n)
		return;
	struct sb t;
	if (fnd_sb_open(&t))
		return;
	fnd_sb_printf(&t, "TCG: function only. %zu %s measurement%s ran under QEMU's emulator (timing_valid false): they "
			  "show that the kernels work in the guest; their timings are the emulator's, not the hardware's, "
			  "and are not compared with native.",
		      n, mode, n == 1 ? "" : "s");
	struct finding *x = fnd_add(c, FK_TCG, fi, fnd_sb_take(&t));
	fnd_set_num(x, (double)n, NAN, NAN, "measurements");
	fnd_set_key(x, "tcg", NULL, mode);
	for (size_t i = 0; i < f->nmeas; i++)
		if (!f->meas[i].skipped && !fnd_native(f->meas[i].mode) && !fnd_timing_valid(&f->meas[i]))
			fnd_src_add(c, x, fi, &f->meas[i], NULL);
}

void fnd_mmu(struct ctx *c, size_t fi)
{
	const struct res_file *f = &c->files[fi];
	const char *mm = f->mmu_virt_mode ? f->mmu_virt_mode : "unknown";
	int shadow = !strcmp(mm, "shadow") || !strcmp(mm, "pvm-shadow");
	int tdp = !strcmp(mm, "ept") || !strcmp(mm, "npt");
	if (!shadow && !tdp && !fnd_has_guest(f, 1))
		return;
	struct sb t;
	if (fnd_sb_open(&t))
		return;
	if (shadow)
		fnd_sb_printf(&t, "MMU mode %s: the hypervisor keeps shadow page tables, so every guest page-table update "
				  "traps to it; a guest TLB miss walks one dimension.",
			      mm);
	else if (tdp)
		fnd_sb_printf(&t, "MMU mode %s: guest page-table updates run without exits; the price is the "
				  "two-dimensional walk on a guest TLB miss (the guest's tax).",
			      mm);
	else
		fnd_sb_printf(&t, "MMU mode %s: the host did not say how guest memory is translated.", mm);
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
			if (m->skipped || !m->has_summary || !fnd_timing_valid(m))
				continue;
			if (!g && !fnd_native(m->mode) && !strcmp(m->kernel, pairs[k].guest) &&
			    (!strcmp(m->backing, "4k") || !g))
				g = m;
			/* the host's on the same backing, its smallest region */
			if (fnd_native(m->mode) && !strcmp(m->kernel, pairs[k].host) && (!n || m->working_set_bytes < n->working_set_bytes))
				n = m;
		}
		if (!g)
			continue;
		if (n && strcmp(n->backing, g->backing)) {
			const struct res_meas *same = NULL;
			for (size_t i = 0; i < f->nmeas; i++) {
				const struct res_meas *m = &f->meas[i];
				if (!m->skipped && m->has_summary && fnd_native(m->mode) && !strcmp(m->kernel, pairs[k].host) &&
				    !strcmp(m->backing, g->backing) && (!same || m->working_set_bytes < same->working_set_bytes))
					same = m;
			}
			if (same)
				n = same;
		}
		char a[32], b[32], mg[64], mn[64];
		format_ns(a, sizeof(a), g->summary.median);
		fnd_metric_words(mg, sizeof(mg), g->metric);
		fnd_sb_printf(&t, "%s %s %s %s", said ? ";" : " The guest kernel's own figures:", g->kernel, a, mg);
		said = 1;
		used[nused++] = g;
		if (!n)
			continue;
		format_ns(b, sizeof(b), n->summary.median);
		fnd_metric_words(mn, sizeof(mn), n->metric);
		used[nused++] = n;
		if (pairs[k].same_unit) {
			double lo, hi, r = fnd_ratio(g, n, &lo, &hi);
			fnd_sb_printf(&t, ", %.3gx native %s's %s %s [%.3g, %.3g]", r, n->kernel, b, mn, lo, hi);
			if (!isfinite(worst)) {
				worst = r;
				wlo = lo;
				whi = hi;
			}
		} else {
			fnd_sb_printf(&t, " (native %s: %s %s)", n->kernel, b, mn);
		}
	}
	if (said)
		fnd_sb_printf(&t, ".");
	else if (fnd_has_guest(f, 1))
		fnd_sb_printf(&t, " No guest page-table figure in this file to show it.");
	int shown = nused > 0;
	struct finding *x = fnd_add(c, FK_MMU, fi, fnd_sb_take(&t));
	fnd_set_key(x, "mmu", NULL, NULL);
	if (shown) {
		fnd_set_num(x, worst, wlo, whi, "x");
		for (size_t i = 0; i < nused; i++)
			fnd_src_add(c, x, fi, used[i], NULL);
	}
}
