/* findings_out.c - the findings as terminal text, and the run's summary hook (see findings.h). */
#include "analysis/findings.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/escape.h"
#include "analysis/compare_out.h"

void findings_write_text(FILE *out, const struct findings *fs, const struct res_file *files, size_t n,
			 size_t max_src)
{
	for (size_t fi = 0; fi < n; fi++) {
		char letter[24];
		file_letter(fi, letter, sizeof(letter));
		fprintf(out, "findings, file %s (", letter);
		esc_text(out, files[fi].path);
		fputs(")", out);
		if (files[fi].cpu_name) {
			fputs(": ", out);
			esc_text(out, files[fi].cpu_name);
		}
		if (files[fi].mmu_virt_mode) {
			fputs(", MMU ", out);
			esc_text(out, files[fi].mmu_virt_mode);
		}
		fputs("\n", out);
		size_t shown = 0;
		int details = 0;
		for (size_t i = 0; i < fs->n; i++) {
			const struct finding *x = &fs->v[i];
			if (x->file != fi)
				continue;
			shown++;
			if (x->detail && !details) {
				fputs("  the details behind them:\n", out);
				details = 1;
			}
			fputs("  * ", out);
			esc_text(out, x->text);
			if (x->has_vs_first && isfinite(x->vs_first))
				fprintf(out, " [%.3gx of file A's]", x->vs_first);
			fputs("\n", out);
			if (!max_src || !x->nsrc)
				continue;
			fputs("      rests on: ", out);
			for (size_t k = 0; k < x->nsrc && k < max_src; k++) {
				if (k)
					fputs("; ", out);
				esc_text(out, x->src[k].label ? x->src[k].label : x->src[k].what);
			}
			if (x->nsrc > max_src)
				fprintf(out, "; and %zu more", x->nsrc - max_src);
			fputs("\n", out);
		}
		if (!shown)
			fputs("  * nothing to say: no measurement in this file is one a finding rests on.\n", out);
	}
}

static void doc_finding(struct doc *d, const struct finding *x)
{
	doc_item_begin(d);
	if (d->html)
		doc_raw(d, "<span class=\"fk\">%s</span> ", finding_kind_name(x->kind));
	doc_text(d, x->text);
	if (x->has_vs_first && isfinite(x->vs_first))
		doc_raw(d, " [%.3gx of file A's]", x->vs_first);
	if (x->nsrc && d->html) {
		doc_raw(d, "<details class=\"src\"><summary>rests on %zu</summary><ul>", x->nsrc);
		for (size_t k = 0; k < x->nsrc; k++) {
			char l2[24];
			file_letter(x->src[k].file, l2, sizeof(l2));
			doc_raw(d, "<li>%s: ", l2);
			doc_text(d, x->src[k].label ? x->src[k].label : x->src[k].what);
			if (x->src[k].label)
				doc_raw(d, " (%s)", x->src[k].what);
			doc_raw(d, "</li>");
		}
		doc_raw(d, "</ul></details>");
	} else if (x->nsrc) {
		doc_raw(d, " (rests on %zu: ", x->nsrc);
		for (size_t k = 0; k < x->nsrc && k < 3; k++) {
			if (k)
				doc_raw(d, "; ");
			doc_text(d, x->src[k].label ? x->src[k].label : x->src[k].what);
		}
		doc_raw(d, "%s)", x->nsrc > 3 ? "; ..." : "");
	}
	doc_item_end(d);
}

/* One list of a file's findings: the headline ones (detail 0) or the details. */
static size_t doc_list(struct doc *d, const struct findings *fs, size_t fi, int detail, const char *cls)
{
	size_t shown = 0;
	for (size_t i = 0; i < fs->n; i++) {
		const struct finding *x = &fs->v[i];
		if (x->file != fi || x->detail != detail)
			continue;
		if (!shown++) {
			if (d->html)
				doc_raw(d, "<ul class=\"%s\">\n", cls);
			else
				doc_list_begin(d);
		}
		doc_finding(d, x);
	}
	if (shown && d->html)
		doc_raw(d, "</ul>\n");
	return shown;
}

void findings_write_doc(struct doc *d, const struct findings *fs, const struct res_file *files, size_t n)
{
	for (size_t fi = 0; fi < n; fi++) {
		char letter[24];
		file_letter(fi, letter, sizeof(letter));
		if (n > 1) {
			doc_para_begin(d);
			doc_raw(d, "%sFile %s%s (", d->html ? "<strong>" : "**", letter, d->html ? "</strong>" : "**");
			doc_text(d, files[fi].path);
			doc_raw(d, ")%s", fi ? ", ratios [in brackets] against file A's same finding" : "");
			doc_para_end(d);
		}
		size_t shown = doc_list(d, fs, fi, 0, "headline");
		if (!shown) {
			doc_list_begin(d);
			doc_item_begin(d);
			doc_raw(d, "Nothing to say: no measurement in this file is one a finding rests on.");
			doc_item_end(d);
			doc_list_end(d);
		}
	}
	/* The details behind the headlines, after all of them. */
	int header = 0;
	for (size_t fi = 0; fi < n; fi++) {
		size_t nd = 0;
		for (size_t i = 0; i < fs->n; i++)
			nd += fs->v[i].file == fi && fs->v[i].detail;
		if (!nd)
			continue;
		if (!header) {
			doc_h(d, 3, "The details behind them: reach and cost per curve, the tax per plateau, page-table "
				    "updates and context switches");
			header = 1;
		}
		if (n > 1) {
			char letter[24];
			file_letter(fi, letter, sizeof(letter));
			doc_para_begin(d);
			doc_raw(d, "File %s", letter);
			doc_para_end(d);
		}
		doc_list(d, fs, fi, 1, "detail");
	}
}

int findings_print_doc(FILE *out, const json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	if (!text) {
		nb_error_msg("summary: out of memory");
		return -1;
	}
	struct res_file rf;
	nb_error err;
	memset(&rf, 0, sizeof(rf));
	int rc = res_parse(&rf, "this run", text, strlen(text), &err);
	free(text);
	if (rc) {
		/* The tables still follow: the findings are missing, not the run. */
		nb_warn("summary: no findings: the run's document does not read back as a results file: %s", err.msg);
		res_free(&rf);
		return -1;
	}
	struct findings fs;
	if (findings_build(&rf, 1, &fs, &err)) {
		nb_warn("summary: no findings: %s", err.msg);
		res_free(&rf);
		return -1;
	}
	fputs("\nfindings (what the numbers say; the details and the measurements behind each: "
	      "nestbench report --format text FILE):\n",
	      out);
	size_t details = 0;
	for (size_t i = 0; i < fs.n; i++) {
		if (fs.v[i].detail) {
			details++;
			continue;
		}
		fputs("  * ", out);
		esc_text(out, fs.v[i].text);
		fputs("\n", out);
	}
	if (details)
		fprintf(out, "  (%zu more: reach and cost per curve, the tax per plateau, page-table updates, context "
			     "switches)\n",
			details);
	if (!fs.n)
		fputs("  * nothing to say: no measurement here is one a finding rests on.\n", out);
	findings_free(&fs);
	res_free(&rf);
	return 0;
}
