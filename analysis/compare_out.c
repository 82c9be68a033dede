/* compare_out.c - the four output formats of `nestbench compare`. */
#include "analysis/compare_out.h"

#include <jansson.h>
#include <string.h>

#include "analysis/escape.h"

void file_letter(size_t i, char *buf, size_t len)
{
	if (i < 26)
		snprintf(buf, len, "%c", (char)('A' + i));
	else
		snprintf(buf, len, "F%zu", i + 1);
}

static const char *or_unknown(const char *s)
{
	return s ? s : "unknown";
}

static void fact_cpu(const struct res_file *f, char *b, size_t l)
{
	snprintf(b, l, "%s", f->cpu_name);
}
static void fact_cpuid(const struct res_file *f, char *b, size_t l)
{
	snprintf(b, l, "%s family 0x%llx model 0x%llx", f->cpu_vendor, f->cpu_family, f->cpu_model);
}
static void fact_hyp(const struct res_file *f, char *b, size_t l)
{
	if (f->hypervisor_present)
		snprintf(b, l, "yes (%s)", or_unknown(f->hypervisor_signature));
	else
		snprintf(b, l, "no (bare metal)");
}
static void fact_mmu(const struct res_file *f, char *b, size_t l)
{
	snprintf(b, l, "%s", f->mmu_virt_mode);
}
static void fact_kernel(const struct res_file *f, char *b, size_t l)
{
	snprintf(b, l, "%s", f->kernel_release);
}
static void fact_host(const struct res_file *f, char *b, size_t l)
{
	snprintf(b, l, "%s", or_unknown(f->hostname));
}
static void fact_pmu(const struct res_file *f, char *b, size_t l)
{
	res_pmu_state(f, b, l);
}
static void fact_run(const struct res_file *f, char *b, size_t l)
{
	snprintf(b, l, "%s, nestbench %s", f->timestamp, f->tool_version);
}

const struct fact machine_facts[] = {
	{"host", fact_host},	     {"cpu", fact_cpu},		{"cpuid", fact_cpuid},
	{"hypervisor", fact_hyp},    {"mmu virtualization", fact_mmu},
	{"kernel", fact_kernel},     {"pmu", fact_pmu},		{"run", fact_run},
};
const size_t machine_facts_len = ARRAY_SIZE(machine_facts);

static const char *sig_word(const struct cmp_row *r)
{
	if (!r->have_ratio)
		return "n/a";
	if (!r->ci.enough_samples)
		return "too few samples";
	return r->ci.significant ? "yes" : "no";
}

static void gate_line(FILE *out, const struct comparison *c, const struct cmp_settings *s, const char *prefix)
{
	if (s->threshold_pct < 0)
		return;
	if (c->regressions)
		fprintf(out, "%sgate: %d significant slowdown(s) with the interval above %.3g%%: exit status 3\n", prefix,
			c->regressions, s->threshold_pct);
	else
		fprintf(out, "%sgate: no significant slowdown above %.3g%%\n", prefix, s->threshold_pct);
	if (c->not_gated)
		fprintf(out, "%sgate: %zu row(s) not gated: fewer than %d replicates a side (see their notes)\n", prefix,
			c->not_gated, BOOT_MIN_SAMPLES);
}

/* How significance was decided, in one sentence. */
static void method_line(FILE *out, const struct comparison *c, const char *prefix)
{
	fprintf(out,
		"%ssignificance: Mann-Whitney U on the replicates (round medians; samples for files without rounds), "
		"%s correction over %zu rows tested (false discovery rate %.0f%%), and the interval excluding 1: "
		"%zu of %zu rows significant\n",
		prefix, CMP_CORRECTION, c->tested, CMP_FDR * 100, c->significant, c->nrows);
}

static void print_text(FILE *out, const struct res_file *files, size_t n, const struct comparison *c,
		       const struct cmp_settings *s)
{
	char l[24], buf[512];
	for (size_t i = 0; i < n; i++) {
		file_letter(i, l, sizeof(l));
		fprintf(out, "%s%s: ", l, i == 0 ? " (baseline)" : "");
		esc_text(out, files[i].path);
		fputc('\n', out);
	}
	fprintf(out, "\nmachines:\n");
	for (size_t k = 0; k < machine_facts_len; k++) {
		for (size_t i = 0; i < n; i++) {
			file_letter(i, l, sizeof(l));
			machine_facts[k].get(&files[i], buf, sizeof(buf));
			fprintf(out, "  %-19s %-3s ", i == 0 ? machine_facts[k].name : "", l);
			esc_text(out, buf);
			fputc('\n', out);
		}
	}
	fprintf(out, "\nratios X/A of medians, 95%% percentile-bootstrap interval (%u resamples, seed %llu):\n",
		s->iters, s->seed);
	method_line(out, c, "");
	if (!c->nrows)
		fprintf(out, "  (no measurement is in both the baseline and another file)\n");
	for (size_t i = 0; i < c->nrows; i++) {
		const struct cmp_row *r = &c->rows[i];
		file_letter(r->file_b, l, sizeof(l));
		esc_text_buf(buf, sizeof(buf), r->a->label);
		fprintf(out, "  %s/A  %s\n", l, buf);
		esc_text_buf(buf, sizeof(buf), r->a->metric);
		if (r->have_ratio)
			fprintf(out, "        %s: A %.4g  %s %.4g  ratio %.3f [%.3f, %.3f]  %zu/%zu %s  q %.3g  significant: %s%s\n",
				buf, r->ci.median_a, l, r->ci.median_b, r->ci.ratio, r->ci.lo, r->ci.hi, r->na, r->nb,
				r->rounds ? "rounds" : "samples", r->ci.q, sig_word(r), r->regression ? "  REGRESSION" : "");
		else
			fprintf(out, "        %s: ratio n/a\n", buf);
		if (r->why[0])
			fprintf(out, "        note: %s\n", r->why);
	}
	if (c->nun) {
		fprintf(out, "\nunmatched (%zu):\n", c->nun);
		for (size_t i = 0; i < c->nun; i++) {
			const struct cmp_unmatched *u = &c->un[i];
			char lo[24];
			file_letter(u->file, l, sizeof(l));
			file_letter(u->other, lo, sizeof(lo));
			fprintf(out, "  in %s", l);
			if (u->other != u->file)
				fprintf(out, " vs %s", lo);
			fputs(": ", out);
			esc_text(out, u->m->label);
			fputs(": ", out);
			esc_text(out, u->why);
			fputc('\n', out);
		}
	}
	fputc('\n', out);
	gate_line(out, c, s, "");
}

static void print_markdown(FILE *out, const struct res_file *files, size_t n, const struct comparison *c,
			   const struct cmp_settings *s)
{
	char l[24], buf[512];
	fprintf(out, "## Machines\n\n| fact |");
	for (size_t i = 0; i < n; i++) {
		file_letter(i, l, sizeof(l));
		fprintf(out, " %s: ", l);
		esc_md(out, files[i].path);
		fputs(" |", out);
	}
	fprintf(out, "\n| --- |");
	for (size_t i = 0; i < n; i++)
		fputs(" --- |", out);
	fputc('\n', out);
	for (size_t k = 0; k < machine_facts_len; k++) {
		fprintf(out, "| %s |", machine_facts[k].name);
		for (size_t i = 0; i < n; i++) {
			machine_facts[k].get(&files[i], buf, sizeof(buf));
			fputc(' ', out);
			esc_md(out, buf);
			fputs(" |", out);
		}
		fputc('\n', out);
	}
	fprintf(out,
		"\n## Ratios\n\nRatio X/A of medians with a 95%% percentile-bootstrap interval (%u resamples, seed "
		"%llu).\n\n",
		s->iters, s->seed);
	method_line(out, c, "");
	fputc('\n', out);
	fprintf(out, "| measurement | metric | X | median A | median X | X/A | 95%% CI | significant |\n"
		     "| --- | --- | --- | ---: | ---: | ---: | --- | --- |\n");
	for (size_t i = 0; i < c->nrows; i++) {
		const struct cmp_row *r = &c->rows[i];
		file_letter(r->file_b, l, sizeof(l));
		fputs("| ", out);
		esc_md(out, r->a->label);
		fputs(" | ", out);
		esc_md(out, r->a->metric);
		if (r->have_ratio)
			fprintf(out, " | %s | %.4g | %.4g | %.3f | [%.3f, %.3f] | %s%s |\n", l, r->ci.median_a,
				r->ci.median_b, r->ci.ratio, r->ci.lo, r->ci.hi, sig_word(r),
				r->regression ? " **regression**" : "");
		else
			fprintf(out, " | %s | | | | | %s |\n", l, r->why);
	}
	if (c->nun) {
		fprintf(out, "\n## Unmatched\n\n| file | vs | measurement | reason |\n| --- | --- | --- | --- |\n");
		for (size_t i = 0; i < c->nun; i++) {
			const struct cmp_unmatched *u = &c->un[i];
			char lo[24];
			file_letter(u->file, l, sizeof(l));
			file_letter(u->other, lo, sizeof(lo));
			fprintf(out, "| %s | %s | ", l, lo);
			esc_md(out, u->m->label);
			fputs(" | ", out);
			esc_md(out, u->why);
			fputs(" |\n", out);
		}
	}
	gate_line(out, c, s, "\n");
}

static json_t *num_or_null(int ok, double x)
{
	return ok ? json_real(x) : json_null();
}

static int print_json(FILE *out, const struct res_file *files, size_t n, const struct comparison *c,
		      const struct cmp_settings *s)
{
	json_t *root = json_object(), *jf = json_array(), *rows = json_array(), *un = json_array();
	char l[24], lo[24], buf[512];
	int rc = -1;
	if (!root || !jf || !rows || !un)
		goto out;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object(), *m = json_object();
		file_letter(i, l, sizeof(l));
		json_object_set_new(o, "file", json_string(l));
		json_object_set_new(o, "path", json_string(files[i].path));
		for (size_t k = 0; k < machine_facts_len; k++) {
			machine_facts[k].get(&files[i], buf, sizeof(buf));
			json_object_set_new(m, machine_facts[k].name, json_string(buf));
		}
		json_object_set_new(o, "machine", m);
		json_array_append_new(jf, o);
	}
	for (size_t i = 0; i < c->nrows; i++) {
		const struct cmp_row *r = &c->rows[i];
		json_t *o = json_object();
		file_letter(r->file_b, l, sizeof(l));
		json_object_set_new(o, "file", json_string(l));
		json_object_set_new(o, "identity", json_loads(r->a->key, 0, NULL));
		json_object_set_new(o, "label", json_string(r->a->label));
		json_object_set_new(o, "metric", json_string(r->a->metric));
		json_object_set_new(o, "n_a", json_integer((json_int_t)r->a->n));
		json_object_set_new(o, "n_b", json_integer((json_int_t)r->b->n));
		json_object_set_new(o, "median_a", num_or_null(r->have_ratio, r->ci.median_a));
		json_object_set_new(o, "median_b", num_or_null(r->have_ratio, r->ci.median_b));
		json_object_set_new(o, "ratio", num_or_null(r->have_ratio, r->ci.ratio));
		json_object_set_new(o, "ci95_low", num_or_null(r->have_ratio, r->ci.lo));
		json_object_set_new(o, "ci95_high", num_or_null(r->have_ratio, r->ci.hi));
		json_object_set_new(o, "replicates", json_string(r->rounds ? "rounds" : "samples"));
		json_object_set_new(o, "replicates_a", json_integer((json_int_t)r->na));
		json_object_set_new(o, "replicates_b", json_integer((json_int_t)r->nb));
		json_object_set_new(o, "p", num_or_null(r->have_ratio && r->ci.enough_samples, r->ci.p));
		json_object_set_new(o, "q", num_or_null(r->have_ratio && r->ci.enough_samples, r->ci.q));
		json_object_set_new(o, "significant", json_boolean(r->ci.significant));
		json_object_set_new(o, "regression", json_boolean(r->regression));
		json_object_set_new(o, "note", r->why[0] ? json_string(r->why) : json_null());
		json_array_append_new(rows, o);
	}
	for (size_t i = 0; i < c->nun; i++) {
		const struct cmp_unmatched *u = &c->un[i];
		json_t *o = json_object();
		file_letter(u->file, l, sizeof(l));
		file_letter(u->other, lo, sizeof(lo));
		json_object_set_new(o, "file", json_string(l));
		json_object_set_new(o, "looked_in", json_string(lo));
		json_object_set_new(o, "label", json_string(u->m->label));
		json_object_set_new(o, "reason", json_string(u->why));
		json_array_append_new(un, o);
	}
	json_object_set_new(root, "method",
			    json_string("ratio of medians of the replicates (round medians; samples for files without "
					"rounds); 95% percentile bootstrap, replicates resampled independently; significant: "
					"Mann-Whitney U, Benjamini-Hochberg over the rows tested, and the interval excluding 1; "
					"gate: the interval's lower bound above the threshold"));
	json_object_set_new(root, "correction", json_string(CMP_CORRECTION));
	json_object_set_new(root, "false_discovery_rate", json_real(CMP_FDR));
	json_object_set_new(root, "rows_tested", json_integer((json_int_t)c->tested));
	json_object_set_new(root, "rows_significant", json_integer((json_int_t)c->significant));
	json_object_set_new(root, "bootstrap_resamples", json_integer(s->iters));
	json_object_set_new(root, "seed", json_integer((json_int_t)s->seed));
	json_object_set_new(root, "threshold_pct", s->threshold_pct >= 0 ? json_real(s->threshold_pct) : json_null());
	json_object_set(root, "files", jf);
	json_object_set(root, "comparisons", rows);
	json_object_set(root, "unmatched", un);
	json_object_set_new(root, "regressions", json_integer(c->regressions));
	json_object_set_new(root, "rows_not_gated", json_integer((json_int_t)c->not_gated));
	rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_ENSURE_ASCII) ? -1 : 0;
	fputc('\n', out);
out:
	json_decref(jf);
	json_decref(rows);
	json_decref(un);
	json_decref(root);
	return rc;
}

static void csv_num(FILE *out, int ok, double x)
{
	if (ok)
		fprintf(out, ",%.6g", x);
	else
		fputc(',', out);
}

static void print_csv(FILE *out, const struct comparison *c)
{
	char l[24], lo[24], buf[64];
	fputs("status,file,baseline,label,kernel,mode,backing,guest_page,working_set_bytes,metric,median_a,median_x,"
	      "ratio,ci95_low,ci95_high,p,q,significant,regression,note\n",
	      out);
	for (size_t i = 0; i < c->nrows; i++) {
		const struct cmp_row *r = &c->rows[i];
		const struct res_meas *m = r->a;
		file_letter(r->file_b, l, sizeof(l));
		fprintf(out, "matched,%s,A,", l);
		esc_csv(out, m->label);
		fputc(',', out);
		esc_csv(out, m->kernel);
		fprintf(out, ",%s,%s,%s,", m->mode, m->backing, m->guest_page ? m->guest_page : "");
		if (m->has_ws)
			fprintf(out, "%llu", (unsigned long long)m->working_set_bytes);
		fputc(',', out);
		esc_csv(out, m->metric);
		csv_num(out, r->have_ratio, r->ci.median_a);
		csv_num(out, r->have_ratio, r->ci.median_b);
		csv_num(out, r->have_ratio, r->ci.ratio);
		csv_num(out, r->have_ratio, r->ci.lo);
		csv_num(out, r->have_ratio, r->ci.hi);
		/* p and q as the JSON output has them: only where there was a test. */
		csv_num(out, r->have_ratio && r->ci.enough_samples, r->ci.p);
		csv_num(out, r->have_ratio && r->ci.enough_samples, r->ci.q);
		fprintf(out, ",%s,%s,", r->ci.significant ? "yes" : "no", r->regression ? "yes" : "no");
		esc_csv(out, r->why);
		fputc('\n', out);
	}
	for (size_t i = 0; i < c->nun; i++) {
		const struct cmp_unmatched *u = &c->un[i];
		const struct res_meas *m = u->m;
		file_letter(u->file, l, sizeof(l));
		file_letter(u->other, lo, sizeof(lo));
		fprintf(out, "unmatched,%s,%s,", l, lo);
		esc_csv(out, m->label);
		fputc(',', out);
		esc_csv(out, m->kernel);
		fprintf(out, ",%s,%s,%s,", m->mode, m->backing, m->guest_page ? m->guest_page : "");
		if (m->has_ws) {
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long)m->working_set_bytes);
			fputs(buf, out);
		}
		fputc(',', out);
		esc_csv(out, m->metric);
		fputs(",,,,,,,,,,", out);
		esc_csv(out, u->why);
		fputc('\n', out);
	}
}

int compare_print(FILE *out, enum cmp_format fmt, const struct res_file *files, size_t n,
		  const struct comparison *c, const struct cmp_settings *s)
{
	switch (fmt) {
	case FMT_TEXT: print_text(out, files, n, c, s); break;
	case FMT_MARKDOWN: print_markdown(out, files, n, c, s); break;
	case FMT_JSON: return print_json(out, files, n, c, s);
	case FMT_CSV: print_csv(out, c); break;
	}
	return ferror(out) ? -1 : 0;
}
