/* plotdata.c - data files for the gnuplot templates. */
#include "analysis/plotdata.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/compare_out.h"
#include "analysis/escape.h"
#include "analysis/identity.h"

struct point {
	uint64_t ws;
	double y, lo, hi;
};

struct series {
	char *key;        /* grouping key (identity without working set, plus file) */
	char label[96];
	struct point *pt;
	size_t n, cap;
};

struct series_set {
	struct series *s;
	size_t n, cap;
};

static FILE *open_out(const struct plot_src *s, const char *name, const char *ext, nb_error *err)
{
	char fn[128];
	snprintf(fn, sizeof(fn), "%s%s", name, ext);
	int fd = openat(s->dirfd, fn, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		nb_fail(err, "cannot write %s in the report directory: %s", fn, strerror(errno));
		return NULL;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		nb_fail(err, "cannot write %s: %s", fn, strerror(errno));
	}
	return f;
}

static int close_out(FILE *f, const char *name, nb_error *err)
{
	int bad = ferror(f);
	if (fclose(f) != 0 || bad)
		return nb_fail(err, "cannot write %s.dat: %s", name, strerror(errno));
	return 0;
}

static void set_free(struct series_set *ss)
{
	for (size_t i = 0; i < ss->n; i++) {
		free(ss->s[i].key);
		free(ss->s[i].pt);
	}
	free(ss->s);
	memset(ss, 0, sizeof(*ss));
}

/* Find or create the series with this key. */
static struct series *set_get(struct series_set *ss, const char *key, const char *label)
{
	for (size_t i = 0; i < ss->n; i++)
		if (!strcmp(ss->s[i].key, key))
			return &ss->s[i];
	if (ss->n == ss->cap) {
		size_t nc = ss->cap ? ss->cap * 2 : 8;
		struct series *np = realloc(ss->s, nc * sizeof(*np));
		if (!np)
			return NULL;
		ss->s = np;
		ss->cap = nc;
	}
	struct series *se = &ss->s[ss->n];
	memset(se, 0, sizeof(*se));
	se->key = strdup(key);
	if (!se->key)
		return NULL;
	plot_label(se->label, sizeof(se->label), label);
	ss->n++;
	return se;
}

static int series_add(struct series *se, uint64_t ws, double y, double lo, double hi)
{
	if (se->n == se->cap) {
		size_t nc = se->cap ? se->cap * 2 : 8;
		struct point *np = realloc(se->pt, nc * sizeof(*np));
		if (!np)
			return -1;
		se->pt = np;
		se->cap = nc;
	}
	se->pt[se->n++] = (struct point){ws, y, lo, hi};
	return 0;
}

static int cmp_point(const void *a, const void *b)
{
	uint64_t x = ((const struct point *)a)->ws, y = ((const struct point *)b)->ws;
	return (x > y) - (x < y);
}

static void put_num(FILE *f, double x)
{
	if (isfinite(x))
		fprintf(f, " %.9g", x);
	else
		fputs(" NaN", f);
}

static int set_write(const struct plot_src *s, struct series_set *ss, const char *name, nb_error *err)
{
	FILE *f = open_out(s, name, ".dat", err);
	if (!f)
		return -1;
	for (size_t i = 0; i < ss->n; i++) {
		struct series *se = &ss->s[i];
		qsort(se->pt, se->n, sizeof(*se->pt), cmp_point);
		fprintf(f, "%s\"%s\"\n", i ? "\n\n" : "", se->label);
		for (size_t k = 0; k < se->n; k++) {
			fprintf(f, "%llu", (unsigned long long)se->pt[k].ws);
			put_num(f, se->pt[k].y);
			put_num(f, se->pt[k].lo);
			put_num(f, se->pt[k].hi);
			fputc('\n', f);
		}
	}
	return close_out(f, name, err);
}

/* Series key and label of a measurement: its identity without the working
 * set, in file fi.  Label: "A chase vm 4k guest=2m". */
static int series_of(const struct res_meas *m, size_t fi, char **key, char *label, size_t llen)
{
	struct res_meas t = *m;
	char *lab;
	char letter[24];
	t.has_ws = 0;
	if (identity_make(&t, key, &lab))
		return -1;
	file_letter(fi, letter, sizeof(letter));
	/* the identity key is unique per series; prefix the file */
	size_t kl = strlen(*key) + 32;
	char *k2 = malloc(kl);
	if (!k2) {
		free(lab);
		free(*key);
		return -1;
	}
	snprintf(k2, kl, "%zu:%s", fi, *key);
	free(*key);
	*key = k2;
	snprintf(label, llen, "%s %s %s %s%s%s", letter, m->kernel, m->mode, m->backing, m->guest_page ? " guest=" : "",
		 m->guest_page ? m->guest_page : "");
	free(lab);
	return 0;
}

static int is_chase_curve(const struct res_meas *m)
{
	size_t kl = strlen(m->kernel);
	return !strcmp(m->family, "chase") && !(kl >= 4 && !strcmp(m->kernel + kl - 4, "-ctl")) && !m->skipped &&
	       m->has_ws && m->has_summary;
}

/* Labels must be unique within a plot: series that differ only in a
 * parameter get " #2", " #3" appended. */
static void uniquify(struct series_set *ss)
{
	/* Count, per series, earlier series with the same label, comparing the
	 * labels as they were before any suffix was added. */
	for (size_t i = ss->n; i-- > 1;) {
		unsigned dup = 1;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(ss->s[j].label, ss->s[i].label))
				dup++;
		if (dup > 1) {
			size_t l = strlen(ss->s[i].label);
			if (l > sizeof(ss->s[i].label) - 8)
				l = sizeof(ss->s[i].label) - 8;
			snprintf(ss->s[i].label + l, 8, " #%u", dup % 1000u);
		}
	}
}

/* The series of file fi's curve in one mode, backing and guest page
 * (NULL: native), labelled with the file's letter. */
static struct series *curve_get(struct series_set *ss, size_t fi, const char *letter, const char *mode,
				const char *backing, const char *guest_page)
{
	char key[200], label[160];
	snprintf(key, sizeof(key), "%zu:%.60s:%.60s:%.40s", fi, mode, backing, guest_page ? guest_page : "-");
	snprintf(label, sizeof(label), "%s %.50s %.50s%s%.40s", letter, mode, backing, guest_page ? " guest=" : "",
		 guest_page ? guest_page : "");
	return set_get(ss, key, label);
}

int plot_latency(const struct plot_src *s, int *nknees, nb_error *err)
{
	struct series_set ss = {0};
	int rc = -1;
	*nknees = 0;
	for (size_t fi = 0; fi < s->n; fi++) {
		const struct res_file *f = &s->files[fi];
		for (size_t i = 0; i < f->nmeas; i++) {
			const struct res_meas *m = &f->meas[i];
			char *key, label[96];
			if (!is_chase_curve(m))
				continue;
			if (series_of(m, fi, &key, label, sizeof(label)))
				goto oom;
			struct series *se = set_get(&ss, key, label);
			free(key);
			if (!se || series_add(se, m->working_set_bytes, m->summary.median, m->summary.ci95_low,
					      m->summary.ci95_high))
				goto oom;
		}
	}
	uniquify(&ss);
	if (ss.n && set_write(s, &ss, "latency", err))
		goto out;
	if (ss.n) {
		FILE *k = open_out(s, "latency-knees", ".dat", err);
		if (!k)
			goto out;
		for (size_t fi = 0; fi < s->n; fi++)
			for (size_t i = 0; i < s->files[fi].nknees; i++) {
				/* Mark the knee on the curve it belongs to: the median of that
				 * kernel at the knee's working set (controls are not drawn). */
				const struct res_derived_point *d = &s->files[fi].knees[i];
				const struct res_meas *on = NULL;
				for (size_t j = 0; j < s->files[fi].nmeas && !on; j++) {
					const struct res_meas *m = &s->files[fi].meas[j];
					if (is_chase_curve(m) && d->kernel && !strcmp(m->kernel, d->kernel) &&
					    !strcmp(m->mode, d->mode) && !strcmp(m->backing, d->backing) &&
					    !strcmp(m->guest_page ? m->guest_page : "", d->guest_page ? d->guest_page : "") &&
					    m->working_set_bytes == d->working_set_bytes)
						on = m;
				}
				if (!on)
					continue;
				/* Named by the TLB level the knee is, when the file says. */
				const json_t *lv = json_object_get(
					json_array_get(json_object_get(json_object_get(s->files[fi].root, "derived"), "knees"), i),
					"level");
				const char *ln = json_string_value(json_object_get(lv, "name"));
				char lab[64];
				plot_label(lab, sizeof(lab), ln ? ln : ""); /* unnamed: the circle alone */
				fprintf(k, "%llu", (unsigned long long)d->working_set_bytes);
				put_num(k, on->summary.median);
				fprintf(k, " \"%s\"\n", lab);
				(*nknees)++;
			}
		if (close_out(k, "latency-knees", err))
			goto out;
	}
	rc = (int)ss.n;
	goto out;
oom:
	nb_fail(err, "out of memory preparing plot data");
out:
	set_free(&ss);
	return rc;
}

int plot_translation(const struct plot_src *s, nb_error *err)
{
	struct series_set ss = {0};
	int rc = -1;
	for (size_t fi = 0; fi < s->n; fi++) {
		const struct res_file *f = &s->files[fi];
		char letter[24];
		file_letter(fi, letter, sizeof(letter));
		for (size_t i = 0; i < f->ntranslation; i++) {
			const struct res_derived_point *d = &f->translation[i];
			struct series *se = curve_get(&ss, fi, letter, d->mode, d->backing, d->guest_page);
			if (!se || series_add(se, d->working_set_bytes, d->y, d->lo, d->hi)) {
				nb_fail(err, "out of memory preparing plot data");
				goto out;
			}
		}
	}
	uniquify(&ss);
	if (ss.n && set_write(s, &ss, "translation", err))
		goto out;
	rc = (int)ss.n;
out:
	set_free(&ss);
	return rc;
}

int plot_gains(const struct plot_src *s, nb_error *err)
{
	struct series_set ss = {0};
	int rc = -1;
	for (size_t fi = 0; fi < s->n; fi++) {
		const struct res_file *f = &s->files[fi];
		char letter[24];
		file_letter(fi, letter, sizeof(letter));
		for (size_t i = 0; i < f->nmeas; i++) {
			const struct res_meas *l = &f->meas[i];
			if (!is_chase_curve(l) || strcmp(l->kernel, "chase") || !strcmp(l->backing, "4k") ||
			    !strcmp(l->backing, "none"))
				continue;
			/* The 4K measurement of the same mode, guest page and working set. */
			const struct res_meas *b = NULL;
			for (size_t j = 0; j < f->nmeas && !b; j++) {
				const struct res_meas *m = &f->meas[j];
				if (is_chase_curve(m) && !strcmp(m->kernel, "chase") && !strcmp(m->backing, "4k") &&
				    !strcmp(m->mode, l->mode) && m->working_set_bytes == l->working_set_bytes &&
				    !strcmp(m->guest_page ? m->guest_page : "", l->guest_page ? l->guest_page : ""))
					b = m;
			}
			if (!b || l->summary.median <= 0 || l->summary.ci95_low <= 0 || l->summary.ci95_high <= 0)
				continue;
			struct series *se = curve_get(&ss, fi, letter, l->mode, l->backing, l->guest_page);
			if (!se || series_add(se, l->working_set_bytes, b->summary.median / l->summary.median,
					      b->summary.ci95_low / l->summary.ci95_high,
					      b->summary.ci95_high / l->summary.ci95_low)) {
				nb_fail(err, "out of memory preparing plot data");
				goto out;
			}
		}
	}
	uniquify(&ss);
	if (ss.n && set_write(s, &ss, "gains", err))
		goto out;
	rc = (int)ss.n;
out:
	set_free(&ss);
	return rc;
}

static int index_of(const char *v, const char *const *names)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(v, names[i]))
			return i;
	return -1;
}

static const char *const heat_backings[] = {"4k", "thp", "hugetlb-2m", "hugetlb-1g", NULL};
static const char *const heat_guests[] = {"4k", "2m", "1g", NULL};

/* The native measurement with the same kernel, backing, working set and
 * parameters as a VM measurement. */
static const struct res_meas *native_twin(const struct res_file *f, const struct res_meas *vm)
{
	struct res_meas t = *vm;
	char *key, *label;
	t.mode = "native";
	t.guest_page = NULL;
	t.guest_built_page_bytes = -1;
	if (identity_make(&t, &key, &label))
		return NULL;
	const struct res_meas *found = NULL;
	for (size_t i = 0; i < f->nmeas && !found; i++)
		if (!f->meas[i].skipped && !strcmp(f->meas[i].key, key))
			found = &f->meas[i];
	free(key);
	free(label);
	return found;
}

uint64_t heatmap_default_ws(const struct res_file *f)
{
	uint64_t best = 0;
	for (size_t i = 0; i < f->nmeas; i++) {
		const struct res_meas *m = &f->meas[i];
		if (is_chase_curve(m) && !strcmp(m->mode, "vm") && m->guest_page && m->working_set_bytes > best &&
		    native_twin(f, m))
			best = m->working_set_bytes;
	}
	return best;
}

int plot_heatmap(const struct plot_src *s, size_t fi, uint64_t ws, const char *name, nb_error *err)
{
	const struct res_file *f = &s->files[fi];
	double cell[4][3];
	int have[4][3] = {{0}};
	int cells = 0;
	for (size_t i = 0; i < f->nmeas; i++) {
		const struct res_meas *m = &f->meas[i];
		if (!is_chase_curve(m) || strcmp(m->mode, "vm") || !m->guest_page || m->working_set_bytes != ws)
			continue;
		int b = index_of(m->backing, heat_backings), g = index_of(m->guest_page, heat_guests);
		const struct res_meas *nat = native_twin(f, m);
		if (b < 0 || g < 0 || !nat || !(nat->summary.median > 0) || have[b][g])
			continue;
		cell[b][g] = m->summary.median / nat->summary.median;
		have[b][g] = 1;
		cells++;
	}
	if (!cells)
		return 0;
	FILE *out = open_out(s, name, ".dat", err);
	if (!out)
		return -1;
	for (int b = 0; b < 4; b++)
		for (int g = 0; g < 3; g++)
			if (have[b][g])
				fprintf(out, "%d %d %.6g\n", b, g, cell[b][g]);
	return close_out(out, name, err) ? -1 : cells;
}

/* A category label for a bar chart: tokens `key="value"` become `value` and
 * `ws=SIZE` becomes `SIZE`, so the x axis says "16K same-pu" rather than
 * "ws=16K placement="same-pu"". */
static void compact_label(char *lab)
{
	char out[160];
	size_t o = 0;
	for (char *tok = lab; *tok && o + 1 < sizeof(out);) {
		char *end = strchr(tok, ' ');
		size_t len = end ? (size_t)(end - tok) : strlen(tok);
		const char *eq = memchr(tok, '=', len);
		const char *from = tok;
		size_t n = len;
		if (eq && eq[1] == '"' && len >= (size_t)(eq - tok) + 3 && tok[len - 1] == '"') {
			from = eq + 2;
			n = len - (size_t)(eq - tok) - 3;
		} else if (len > 3 && !strncmp(tok, "ws=", 3)) {
			from = tok + 3;
			n = len - 3;
		}
		if (o && o + 1 < sizeof(out))
			out[o++] = ' ';
		for (size_t i = 0; i < n && o + 1 < sizeof(out); i++)
			out[o++] = from[i];
		if (!end)
			break;
		tok = end + 1;
	}
	out[o] = '\0';
	memcpy(lab, out, o + 1);
}

/* Bars for one kernel: categories are its sizes and variants (the identity
 * without kernel, mode, backing and guest page), series are (file, mode,
 * backing, guest page), so one chart compares backings and native vs VM at
 * each size. */
int plot_bars(const struct plot_src *s, const char *family, const char *kernel, const char *name, nb_error *err)
{
	struct series_set cats = {0}, sers = {0};
	int rc = -1;
	/* First pass: collect categories and series (ws field reused as index). */
	for (size_t fi = 0; fi < s->n; fi++) {
		const struct res_file *f = &s->files[fi];
		char letter[24];
		file_letter(fi, letter, sizeof(letter));
		for (size_t i = 0; i < f->nmeas; i++) {
			const struct res_meas *m = &f->meas[i];
			if (strcmp(m->family, family) || strcmp(m->kernel, kernel) || m->skipped || !m->has_summary)
				continue;
			struct res_meas t = *m;
			char *key, *lab, skey[160], slabel[160];
			t.mode = "native";
			t.backing = "-";
			t.guest_page = NULL;
			t.guest_built_page_bytes = -1;
			if (identity_make(&t, &key, &lab))
				goto oom;
			/* Category label: the identity label without "kernel native - ". */
			char clabel[160];
			size_t skip = strlen(m->kernel) + strlen(" native - ");
			snprintf(clabel, sizeof(clabel), "%s", strlen(lab) > skip ? lab + skip : "-");
			compact_label(clabel);
			struct series *cat = set_get(&cats, key, clabel);
			free(key);
			free(lab);
			snprintf(skey, sizeof(skey), "%zu:%s:%s:%s", fi, m->mode, m->backing, m->guest_page ? m->guest_page : "-");
			snprintf(slabel, sizeof(slabel), "%s %s %s%s%s", letter, m->mode, m->backing,
				 m->guest_page ? " guest=" : "", m->guest_page ? m->guest_page : "");
			struct series *ser = set_get(&sers, skey, slabel);
			if (!cat || !ser)
				goto oom;
			/* Store the value on the category, tagged with the series index. */
			if (series_add(cat, (uint64_t)(ser - sers.s), m->summary.median, m->summary.ci95_low,
				       m->summary.ci95_high))
				goto oom;
		}
	}
	if (!cats.n) {
		rc = 0;
		goto out;
	}
	FILE *out = open_out(s, name, ".dat", err);
	if (!out)
		goto out;
	fputs("\"kernel\"", out);
	for (size_t j = 0; j < sers.n; j++)
		fprintf(out, " \"%s\" \"low\" \"high\"", sers.s[j].label);
	fputc('\n', out);
	for (size_t c = 0; c < cats.n; c++) {
		fprintf(out, "\"%s\"", cats.s[c].label);
		for (size_t j = 0; j < sers.n; j++) {
			const struct point *p = NULL;
			for (size_t k = 0; k < cats.s[c].n && !p; k++)
				if (cats.s[c].pt[k].ws == j)
					p = &cats.s[c].pt[k];
			put_num(out, p ? p->y : NAN);
			put_num(out, p ? p->lo : NAN);
			put_num(out, p ? p->hi : NAN);
		}
		fputc('\n', out);
	}
	if (close_out(out, name, err))
		goto out;
	rc = (int)sers.n;
	goto out;
oom:
	nb_fail(err, "out of memory preparing plot data");
out:
	set_free(&cats);
	set_free(&sers);
	return rc;
}

static int pmu_value(const struct res_meas *m, const char *key, double *out)
{
	if (!m->pmu || !json_is_true(json_object_get(m->pmu, "available")))
		return 0;
	json_t *v = json_object_get(json_object_get(m->pmu, "derived"), key);
	if (json_is_object(v))
		v = json_object_get(v, "value");
	if (!json_is_number(v))
		return 0;
	*out = json_number_value(v);
	return 1;
}

int plot_pmu_sweep(const struct plot_src *s, const char *key, const char *name, nb_error *err)
{
	struct series_set ss = {0};
	int rc = -1;
	for (size_t fi = 0; fi < s->n; fi++) {
		const struct res_file *f = &s->files[fi];
		for (size_t i = 0; i < f->nmeas; i++) {
			const struct res_meas *m = &f->meas[i];
			double v;
			char *skey, label[96];
			if (!is_chase_curve(m) || !pmu_value(m, key, &v))
				continue;
			if (series_of(m, fi, &skey, label, sizeof(label)))
				goto oom;
			struct series *se = set_get(&ss, skey, label);
			free(skey);
			if (!se || series_add(se, m->working_set_bytes, v, v, v))
				goto oom;
		}
	}
	uniquify(&ss);
	if (ss.n && set_write(s, &ss, name, err))
		goto out;
	rc = (int)ss.n;
	goto out;
oom:
	nb_fail(err, "out of memory preparing plot data");
out:
	set_free(&ss);
	return rc;
}

int plot_pmu_pagemix(const struct plot_src *s, const char *name, nb_error *err)
{
	static const char *const keys[] = {"4k", "2m", "1g"};
	FILE *out = NULL;
	int rows = 0;
	for (size_t fi = 0; fi < s->n; fi++) {
		const struct res_file *f = &s->files[fi];
		for (size_t i = 0; i < f->nmeas; i++) {
			const struct res_meas *m = &f->meas[i];
			double v[3], total = 0;
			int ok = is_chase_curve(m);
			/* page_size_mix's value: {"4k": fraction, "2m": ..., "1g": ...}; a size
			 * without a walk event is absent and counts as zero. */
			json_t *mix = ok && json_is_true(json_object_get(m->pmu, "available"))
					      ? json_object_get(json_object_get(json_object_get(m->pmu, "derived"),
										 "page_size_mix"), "value")
					      : NULL;
			ok = ok && json_is_object(mix);
			for (int k = 0; k < 3 && ok; k++) {
				json_t *x = json_object_get(mix, keys[k]);
				v[k] = json_is_number(x) ? json_number_value(x) : 0;
				ok = v[k] >= 0;
				total += ok ? v[k] : 0;
			}
			if (!ok || !(total > 0))
				continue;
			if (!out) {
				out = open_out(s, name, ".dat", err);
				if (!out)
					return -1;
				fputs("\"series\" \"4k\" \"2m\" \"1g\"\n", out);
			}
			char *skey, label[96], row[128], ws[32];
			if (series_of(m, fi, &skey, label, sizeof(label))) {
				fclose(out);
				return nb_fail(err, "out of memory preparing plot data");
			}
			free(skey);
			format_size((size_t)m->working_set_bytes, ws, sizeof(ws));
			snprintf(row, sizeof(row), "%s %s", label, ws);
			plot_label(label, sizeof(label), row);
			fprintf(out, "\"%s\" %.6g %.6g %.6g\n", label, v[0] / total, v[1] / total, v[2] / total);
			rows++;
		}
	}
	if (out && close_out(out, name, err))
		return -1;
	return rows;
}
