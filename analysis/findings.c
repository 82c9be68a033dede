/* findings.c - the findings API (findings.h): the list of findings and their sources, the
 * sentence builder, and the per-file driver that calls each finding in turn.
 * (see findings.h; shared parts in findings_impl.h). */
#include "analysis/findings.h"
#include "analysis/findings_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int fnd_sb_open(struct sb *s)
{
	s->buf = NULL;
	s->len = 0;
	s->f = open_memstream(&s->buf, &s->len);
	return s->f ? 0 : -1;
}

void fnd_sb_printf(struct sb *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(s->f, fmt, ap);
	va_end(ap);
}

/* Close and hand over the text (NULL when out of memory). */
char *fnd_sb_take(struct sb *s)
{
	if (fclose(s->f) != 0) {
		free(s->buf);
		return NULL;
	}
	return s->buf;
}

const char *finding_kind_name(enum finding_kind kind)
{
	static const char *const names[FK_KIND_COUNT] = {
		[FK_NOTHING] = "nothing-measured", [FK_NO_VM] = "no-guest",	  [FK_REACH] = "tlb-reach",
		[FK_REACH_GAIN] = "reach-gain",	   [FK_SPLINTER] = "splintered",  [FK_LEVEL_COST] = "level-cost",
		[FK_GAIN] = "large-page-gain",	   [FK_TAX] = "guest-tax",	  [FK_TCG] = "tcg-function-only",
		[FK_MMU] = "mmu-mode",		   [FK_PTUPDATE] = "page-table-update", [FK_CTXSW] = "context-switch",
		[FK_KVM_MAP] = "kvm-mapping",
	};
	return kind < FK_KIND_COUNT ? names[kind] : "?";
}

struct finding *fnd_add(struct ctx *c, enum finding_kind kind, size_t file, char *text)
{
	if (!text) {
		c->oom = 1;
		return NULL;
	}
	if (c->out->n == c->out->cap) {
		size_t cap = c->out->cap ? 2 * c->out->cap : 32;
		struct finding *v = realloc(c->out->v, cap * sizeof(*v));
		if (!v) {
			free(text);
			c->oom = 1;
			return NULL;
		}
		c->out->v = v;
		c->out->cap = cap;
	}
	struct finding *x = &c->out->v[c->out->n++];
	*x = (struct finding){.kind = kind, .file = file, .text = text, .value = NAN, .lo = NAN, .hi = NAN, .unit = ""};
	return x;
}

void fnd_src_add(struct ctx *c, struct finding *x, size_t file, const struct res_meas *m, const char *what)
{
	if (!x || (m && x->nsrc && x->src[x->nsrc - 1].meas == m->index))
		return;
	for (size_t i = 0; m && i < x->nsrc; i++)
		if (x->src[i].file == file && x->src[i].meas == m->index)
			return;
	struct finding_src *v = realloc(x->src, (x->nsrc + 1) * sizeof(*v));
	if (!v) {
		c->oom = 1;
		return;
	}
	x->src = v;
	struct finding_src *s = &v[x->nsrc++];
	*s = (struct finding_src){.file = file, .meas = m ? m->index : SIZE_MAX, .label = m ? m->label : NULL};
	if (m)
		snprintf(s->what, sizeof(s->what), "measurements[%zu]", m->index);
	else
		snprintf(s->what, sizeof(s->what), "%s", what ? what : "");
}

void fnd_set_num(struct finding *x, double v, double lo, double hi, const char *unit)
{
	if (!x)
		return;
	x->value = v;
	x->lo = lo;
	x->hi = hi;
	x->unit = unit;
}

void fnd_set_key(struct finding *x, const char *kind, const struct series *s, const char *extra)
{
	if (x)
		snprintf(x->key, sizeof(x->key), "%s|%s|%s|%s|%s", kind, s ? s->mode : "", s ? s->backing : "",
			 s && s->gp ? s->gp : "", extra ? extra : "");
}

static void file_findings(struct ctx *c, size_t fi)
{
	const struct res_file *f = &c->files[fi];
	struct series s[MAX_SERIES];
	size_t ns = fnd_collect_series(f, s, MAX_SERIES);
	fnd_nothing(c, fi);
	fnd_no_vm(c, fi);
	struct kn(*knees)[MAX_KNEES] = calloc(MAX_SERIES, sizeof(*knees));
	size_t nk[MAX_SERIES];
	if (!knees) {
		c->oom = 1;
		return;
	}
	for (size_t i = 0; i < ns; i++)
		nk[i] = fnd_series_knees(f, &s[i], knees[i], MAX_KNEES);
	/* Reach, cost per level, splintering and gains: per mode and guest page,
	 * each large backing against the 4K one. */
	for (size_t i = 0; i < ns; i++) {
		uint64_t w1[1];
		if (fnd_chase_ws(f, &s[i], w1, 1) && !fnd_timing_valid(fnd_find_meas(f, "chase", &s[i], w1[0])))
			continue;
		fnd_reach(c, fi, &s[i], knees[i], nk[i]);
		fnd_level_cost(c, fi, &s[i], knees[i], nk[i]);
	}
	for (size_t i = 0; i < ns; i++) {
		if (!fnd_is_large(s[i].backing))
			continue;
		uint64_t w1[1];
		if (fnd_chase_ws(f, &s[i], w1, 1) && !fnd_timing_valid(fnd_find_meas(f, "chase", &s[i], w1[0])))
			continue;
		struct series F = {s[i].mode, "4k", s[i].gp};
		for (size_t j = 0; j < ns; j++)
			if (fnd_series_eq(&s[j], &F)) {
				fnd_reach_gain(c, fi, &s[i], knees[i], nk[i], &s[j], knees[j], nk[j]);
				fnd_gain(c, fi, &s[i], &s[j], knees[j], nk[j]);
			}
	}
	/* The guest's tax, on the plateaus of the native 4K curve. */
	size_t nat4k = SIZE_MAX;
	for (size_t j = 0; j < ns; j++)
		if (fnd_native(s[j].mode) && !strcmp(s[j].backing, "4k"))
			nat4k = j;
	for (size_t i = 0; i < ns; i++) {
		if (fnd_native(s[i].mode))
			continue;
		uint64_t w1[1];
		if (fnd_chase_ws(f, &s[i], w1, 1) && !fnd_timing_valid(fnd_find_meas(f, "chase", &s[i], w1[0])))
			continue;
		size_t nj = SIZE_MAX;
		for (size_t j = 0; j < ns; j++)
			if (fnd_native(s[j].mode) && fnd_eq(s[j].backing, s[i].backing))
				nj = j;
		if (nj == SIZE_MAX || !nk[nj])
			nj = nat4k;
		fnd_tax(c, fi, &s[i], nj == SIZE_MAX ? NULL : knees[nj], nj == SIZE_MAX ? 0 : nk[nj]);
	}
	fnd_tax_summary(c, fi, s, ns);
	fnd_gain_summary(c, fi, s, ns);
	fnd_kvm_map(c, fi, s, ns);
	fnd_tcg(c, fi);
	fnd_mmu(c, fi);
	fnd_family(c, fi, "ptupdate", FK_PTUPDATE);
	fnd_family(c, fi, "ctxsw", FK_CTXSW);
	free(knees);
}

int findings_build(const struct res_file *files, size_t n, struct findings *out, nb_error *err)
{
	*out = (struct findings){0};
	struct ctx c = {.files = files, .nfiles = n, .out = out, .err = err};
	for (size_t fi = 0; fi < n && !c.oom; fi++)
		file_findings(&c, fi);
	if (c.oom) {
		findings_free(out);
		return nb_fail(err, "out of memory building the findings");
	}
	/* Per file, what a reader came for first: splintering, the guest's tax,
	 * reach and gain, then the details (stable: insertion order within a kind). */
	static const int prio[FK_KIND_COUNT] = {
		[FK_NOTHING] = 0, [FK_NO_VM] = 1,   [FK_SPLINTER] = 2,	[FK_TAX] = 3,	   [FK_REACH_GAIN] = 4,
		[FK_GAIN] = 5,	  [FK_MMU] = 6,	    [FK_TCG] = 7,	[FK_REACH] = 8,	   [FK_LEVEL_COST] = 9,
		[FK_PTUPDATE] = 10, [FK_CTXSW] = 11, [FK_KVM_MAP] = 3,
	};
	for (size_t a = 1; a < out->n; a++)
		for (size_t b = a; b > 0; b--) {
			struct finding *x = &out->v[b - 1], *y = &out->v[b];
			int px = prio[x->kind] + 100 * x->detail, py = prio[y->kind] + 100 * y->detail;
			if (x->file < y->file || (x->file == y->file && px <= py))
				break;
			struct finding t = *x;
			*x = *y;
			*y = t;
		}
	/* Several files: each finding against the first file's of the same key. */
	for (size_t i = 0; i < out->n; i++) {
		struct finding *x = &out->v[i];
		if (!x->file || !isfinite(x->value))
			continue;
		for (size_t j = 0; j < out->n && out->v[j].file == 0; j++)
			if (!strcmp(out->v[j].key, x->key) && isfinite(out->v[j].value) && out->v[j].value != 0) {
				x->has_vs_first = 1;
				x->vs_first = x->value / out->v[j].value;
				break;
			}
	}
	return 0;
}

void findings_free(struct findings *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		free(fs->v[i].text);
		free(fs->v[i].src);
	}
	free(fs->v);
	*fs = (struct findings){0};
}

size_t findings_count(const struct findings *fs, enum finding_kind kind)
{
	size_t n = 0;
	for (size_t i = 0; i < fs->n; i++)
		n += fs->v[i].kind == kind;
	return n;
}

const struct finding *findings_first(const struct findings *fs, size_t file, enum finding_kind kind)
{
	for (size_t i = 0; i < fs->n; i++)
		if (fs->v[i].kind == kind && fs->v[i].file == file)
			return &fs->v[i];
	return NULL;
}
