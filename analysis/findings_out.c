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
		for (size_t i = 0; i < fs->n; i++) {
			const struct finding *x = &fs->v[i];
			if (x->file != fi)
				continue;
			shown++;
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
		nb_error_msg("summary: %s", err.msg);
		res_free(&rf);
		return -1;
	}
	struct findings fs;
	if (findings_build(&rf, 1, &fs, &err)) {
		nb_error_msg("summary: %s", err.msg);
		res_free(&rf);
		return -1;
	}
	fputs("\n", out);
	for (size_t i = 0; i < fs.n; i++) {
		fputs("  * ", out);
		esc_text(out, fs.v[i].text);
		fputs("\n", out);
	}
	if (!fs.n)
		fputs("  * nothing to say: no measurement here is one a finding rests on.\n", out);
	findings_free(&fs);
	res_free(&rf);
	return 0;
}
