/* findings_kernels.c - the page-table-update and context-switch findings in words, and what is
 * missing: nothing measured, no guest measured.
 * (see findings.h; shared parts in findings_impl.h). */
#include "analysis/findings_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A non-native measurement's native counterpart: same kernel, backing, working set. */
static const struct res_meas *native_of(const struct res_file *f, const struct res_meas *m)
{
	for (size_t i = 0; i < f->nmeas; i++) {
		const struct res_meas *n = &f->meas[i];
		if (n->skipped || !n->has_summary || !fnd_native(n->mode) || strcmp(n->kernel, m->kernel) ||
		    strcmp(n->backing, m->backing) || n->has_ws != m->has_ws || n->working_set_bytes != m->working_set_bytes)
			continue;
		return n;
	}
	return NULL;
}

/* alt_metrics.ns_per_mib.median of a measurement, or NAN. */
static double per_mib(const struct res_file *f, const struct res_meas *m)
{
	const json_t *v = json_object_get(json_object_get(json_object_get(fnd_meas_json(f, m), "alt_metrics"), "ns_per_mib"),
					  "median");
	return json_is_number(v) && json_number_value(v) > 0 ? json_number_value(v) : NAN;
}

/* The variant of a measurement (placement or threads) as a short string. */
static void variant_of(const struct res_meas *m, char *buf, size_t len)
{
	const json_t *p = json_object_get(m->params, "placement"), *t = json_object_get(m->params, "threads");
	if (json_is_string(p))
		snprintf(buf, len, "%s", json_string_value(p));
	else if (json_is_integer(t))
		snprintf(buf, len, "T=%lld", (long long)json_integer_value(t));
	else
		buf[0] = '\0';
}

/* Per kernel of a family (native), per backing at the kernel's largest
 * working set: medians in words, and the interesting ratio. */
void fnd_family(struct ctx *c, size_t fi, const char *family, enum finding_kind kind)
{
	const struct res_file *f = &c->files[fi];
	const char *kernels[32];
	size_t nk = 0;
	for (size_t i = 0; i < f->nmeas && nk < 32; i++) {
		const struct res_meas *m = &f->meas[i];
		if (m->skipped || !m->has_summary || strcmp(m->family, family) || !fnd_native(m->mode))
			continue;
		size_t j = 0;
		while (j < nk && strcmp(kernels[j], m->kernel))
			j++;
		if (j == nk)
			kernels[nk++] = m->kernel;
	}
	for (size_t k = 0; k < nk; k++) {
		/* The first measurement fixes the variant; the largest working set of it. */
		const struct res_meas *first = NULL;
		uint64_t top = 0;
		char var[48] = "", v2[48];
		for (size_t i = 0; i < f->nmeas; i++) {
			const struct res_meas *m = &f->meas[i];
			if (m->skipped || !m->has_summary || strcmp(m->kernel, kernels[k]) || !fnd_native(m->mode))
				continue;
			variant_of(m, v2, sizeof(v2));
			if (!first) {
				first = m;
				snprintf(var, sizeof(var), "%s", v2);
			}
			if (!strcmp(v2, var) && m->working_set_bytes > top)
				top = m->working_set_bytes;
		}
		const struct res_meas *by[8];
		size_t nb = 0;
		for (size_t i = 0; i < f->nmeas && nb < 8; i++) {
			const struct res_meas *m = &f->meas[i];
			if (m->skipped || !m->has_summary || strcmp(m->kernel, kernels[k]) || !fnd_native(m->mode) ||
			    m->working_set_bytes != top)
				continue;
			variant_of(m, v2, sizeof(v2));
			size_t j = 0;
			while (j < nb && strcmp(by[j]->backing, m->backing))
				j++;
			if (!strcmp(v2, var) && j == nb)
				by[nb++] = m;
		}
		if (!nb)
			continue;
		char mw[64], a[32], lo[32], hi[32], w[32];
		struct sb t;
		if (fnd_sb_open(&t))
			return;
		fnd_metric_words(mw, sizeof(mw), first->metric);
		fnd_sb_printf(&t, "%s%s%s%s", kernels[k], *var ? " (" : "", var, *var ? ")" : "");
		if (top) {
			fnd_fmt_bytes(w, sizeof(w), (double)top);
			fnd_sb_printf(&t, " at %s", w);
		}
		fnd_sb_printf(&t, ":");
		const struct res_meas *b4k = NULL, *best = NULL, *lo_m = by[0], *hi_m = by[0];
		for (size_t i = 0; i < nb; i++) {
			const struct res_meas *m = by[i];
			format_ns(a, sizeof(a), m->summary.median);
			format_ns(lo, sizeof(lo), m->summary.ci95_low);
			format_ns(hi, sizeof(hi), m->summary.ci95_high);
			fnd_sb_printf(&t, "%s %s %s [%s, %s] with %s", i ? ";" : "", a, mw, lo, hi, m->backing);
			double pm = per_mib(f, m);
			if (isfinite(pm) && fnd_is_large(m->backing)) {
				format_ns(a, sizeof(a), pm / 256);
				fnd_sb_printf(&t, " (%s per 4K of memory)", a);
			}
			if (!strcmp(m->backing, "4k"))
				b4k = m;
			if (m->summary.median < lo_m->summary.median)
				lo_m = m;
			if (m->summary.median > hi_m->summary.median)
				hi_m = m;
		}
		double r = NAN, rlo = NAN, rhi = NAN;
		if (kind == FK_PTUPDATE && b4k) {
			/* Per MiB of memory when the kernel says it: the page-size gain. */
			for (size_t i = 0; i < nb; i++) {
				double a4 = per_mib(f, b4k), al = per_mib(f, by[i]);
				if (!fnd_is_large(by[i]->backing) || !isfinite(a4) || !isfinite(al))
					continue;
				double q = a4 / al;
				if (!best || q > r) {
					best = by[i];
					r = q;
				}
			}
			if (best)
				fnd_sb_printf(&t, ". Per MiB of memory %s is %.3gx cheaper than 4k", best->backing, r);
		}
		if (!best && nb > 1) {
			r = fnd_ratio(hi_m, lo_m, &rlo, &rhi);
			fnd_sb_printf(&t, ". The backing changes it by at most %.2fx [%.2f, %.2f] (%s vs %s)", r, rlo, rhi,
				      hi_m->backing, lo_m->backing);
		}
		/* The guest beside native, when measured. */
		for (size_t i = 0; i < f->nmeas; i++) {
			const struct res_meas *m = &f->meas[i];
			if (m->skipped || !m->has_summary || fnd_native(m->mode) || strcmp(m->kernel, kernels[k]) ||
			    !fnd_timing_valid(m))
				continue;
			const struct res_meas *n = native_of(f, m);
			if (!n)
				continue;
			double l2, h2, q = fnd_ratio(m, n, &l2, &h2);
			format_ns(a, sizeof(a), m->summary.median);
			fnd_sb_printf(&t, ". In the guest (%s, %s guest pages on %s): %s, %.2fx native [%.2f, %.2f]", m->mode,
				      m->guest_page ? m->guest_page : "?", m->backing, a, q, l2, h2);
			break;
		}
		fnd_sb_printf(&t, ".");
		struct finding *x = fnd_add(c, kind, fi, fnd_sb_take(&t));
		if (x)
			x->detail = 1;
		if (isfinite(r))
			fnd_set_num(x, r, rlo, rhi, "x");
		else if (x)
			fnd_set_num(x, by[0]->summary.median, by[0]->summary.ci95_low, by[0]->summary.ci95_high, "ns");
		fnd_set_key(x, family, NULL, kernels[k]);
		for (size_t i = 0; i < nb; i++)
			fnd_src_add(c, x, fi, by[i], NULL);
	}
}

/* Every cell skipped: why, grouped by reason. */
void fnd_nothing(struct ctx *c, size_t fi)
{
	const struct res_file *f = &c->files[fi];
	for (size_t i = 0; i < f->nmeas; i++)
		if (!f->meas[i].skipped)
			return;
	struct sb t;
	if (fnd_sb_open(&t))
		return;
	fnd_sb_printf(&t, "Nothing was measured: all %zu cell%s skipped", f->nmeas, f->nmeas == 1 ? " was" : "s were");
	const char *seen[16];
	size_t ns = 0;
	for (size_t i = 0; i < f->nmeas && ns < 16; i++) {
		const char *why = f->meas[i].skipped;
		size_t j = 0, cnt = 0;
		while (j < ns && strcmp(seen[j], why))
			j++;
		if (j < ns)
			continue;
		seen[ns++] = why;
		for (size_t k = 0; k < f->nmeas; k++)
			cnt += !strcmp(f->meas[k].skipped, why);
		fnd_sb_printf(&t, "%s %zu x %s", ns == 1 ? ":" : ";", cnt, why);
	}
	fnd_sb_printf(&t, ".");
	struct finding *x = fnd_add(c, FK_NOTHING, fi, fnd_sb_take(&t));
	fnd_set_num(x, (double)f->nmeas, NAN, NAN, "cells");
	fnd_set_key(x, "nothing", NULL, NULL);
	for (size_t i = 0; i < f->nmeas && i < 64; i++)
		fnd_src_add(c, x, fi, &f->meas[i], NULL);
}

void fnd_no_vm(struct ctx *c, size_t fi)
{
	const struct res_file *f = &c->files[fi];
	if (!f->nmeas || fnd_has_guest(f, 1))
		return;
	const json_t *kvm = json_object_get(json_object_get(f->root, "host"), "kvm");
	const char *reason = json_string_value(json_object_get(kvm, "reason"));
	int usable = json_is_true(json_object_get(kvm, "usable"));
	struct sb t;
	if (fnd_sb_open(&t))
		return;
	if (fnd_has_guest(f, 0))
		fnd_sb_printf(&t, "No guest measurements: every guest cell was skipped (the reasons are among the caveats).");
	else if (!usable)
		fnd_sb_printf(&t, "No guest measurements: /dev/kvm is not usable here (%s), so the run was native only.",
			      reason ? reason : "no reason recorded");
	else
		fnd_sb_printf(&t, "No guest measurements: the run was native only (--mode native) although /dev/kvm is "
				  "usable; `nestbench run --mode both` adds the guest's tax and the MMU mode's "
				  "consequence.");
	struct finding *x = fnd_add(c, FK_NO_VM, fi, fnd_sb_take(&t));
	fnd_set_key(x, "no-vm", NULL, NULL);
	for (size_t i = 0; i < f->nmeas; i++)
		if (!fnd_native(f->meas[i].mode))
			fnd_src_add(c, x, fi, &f->meas[i], NULL);
}
