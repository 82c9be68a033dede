/* run_summary.c - terminal summary of a run, from its records (see run_summary.h). */
#include "harness/run/run_summary.h"

#include <stdint.h>
#include <string.h>

#include "harness/mem/backing.h"
#include "core/util.h"

static void cell(FILE *out, const struct run_record *m)
{
	if (m)
		fprintf(out, " %10.2f", m->summary.median);
	else
		fprintf(out, " %10s", "-");
}

static void print_other_kernels(FILE *out, const struct run_records *rs)
{
	int header = 0;
	for (size_t i = 0; i < rs->n; i++) {
		const struct run_record *m = &rs->r[i];
		if (!strcmp(m->family, "chase") || m->skipped || strcmp(m->mode, "native"))
			continue;
		if (!header) {
			fprintf(out, "\n%-14s %-11s %8s %-10s %12s %7s  %s\n", "kernel", "backing", "size", "variant", "median",
				"cv%", "metric");
			header = 1;
		}
		/* What tells two measurements of one kernel and size apart. */
		const json_t *params = m->params;
		char variant[32] = "-";
		if (json_is_string(json_object_get(params, "placement")))
			snprintf(variant, sizeof(variant), "%s", json_string_value(json_object_get(params, "placement")));
		else if (json_is_integer(json_object_get(params, "threads")))
			snprintf(variant, sizeof(variant), "T=%lld",
				 (long long)json_integer_value(json_object_get(params, "threads")));
		char w[32] = "-";
		if (m->working_set_bytes > 0)
			format_size(m->working_set_bytes, w, sizeof(w));
		fprintf(out, "%-14s %-11s %8s %-10s %12.2f %7.1f  %s\n", m->kernel, m->backing, w, variant,
			m->summary.median, 100 * m->summary.cv, m->metric);
	}
}

void run_summary_print(FILE *out, const struct run_records *rs, const json_t *doc)
{
	for (int b = 0; b < BACKING_COUNT; b++) {
		const char *bname = backing_name((enum backing_kind)b);
		size_t last = SIZE_MAX;
		int header = 0;
		for (size_t i = 0; i < rs->n; i++) {
			const struct run_record *c = &rs->r[i];
			if (strcmp(c->backing, bname) || strcmp(c->mode, "native") || strcmp(c->kernel, "chase") ||
			    c->skipped)
				continue;
			if (c->working_set_bytes == last)
				continue;
			last = c->working_set_bytes;
			if (!header) {
				const json_t *bk = c->backing_json;
				char vp[32];
				format_size((size_t)json_integer_value(json_object_get(bk, "verified_page_bytes")), vp, sizeof(vp));
				fprintf(out, "\nbacking %s (verified %s pages, %.0f%% coverage), ns per access:\n", bname, vp,
					100 * json_real_value(json_object_get(bk, "coverage")));
				fprintf(out, "%10s %10s %10s %12s\n", "working set", "chase", "chase-ctl", "translation");
				header = 1;
			}
			char w[32];
			format_size(c->working_set_bytes, w, sizeof(w));
			fprintf(out, "%10s", w);
			const struct run_record *k = records_find_like(rs, c, "chase-ctl", "native", "stride_bytes");
			cell(out, c);
			cell(out, k);
			if (k)
				fprintf(out, " %12.2f\n", c->summary.median - k->summary.median);
			else
				fprintf(out, " %12s\n", "-");
		}
	}
	print_other_kernels(out, rs);

	const json_t *knees = json_object_get(json_object_get(doc, "derived"), "knees");
	if (json_array_size(knees)) {
		fprintf(out, "\nknees (where a curve steps up):\n");
		size_t i;
		const json_t *kn;
		json_array_foreach(knees, i, kn) {
			char w[32];
			format_size((size_t)json_integer_value(json_object_get(kn, "working_set_bytes")), w, sizeof(w));
			const char *g = json_string_value(json_object_get(kn, "guest_page"));
			char where[48];
			snprintf(where, sizeof(where), "%s%s%s", json_string_value(json_object_get(kn, "backing")),
				 g ? " vm/" : "", g ? g : "");
			fprintf(out, "  %-10s %-14s at %7s (%lld pages): %.2f -> %.2f ns\n",
				json_string_value(json_object_get(kn, "kernel")), where,
				w, (long long)json_integer_value(json_object_get(kn, "pages")),
				json_real_value(json_object_get(kn, "ns_before")), json_real_value(json_object_get(kn, "ns_after")));
		}
	}
	const char *last_skip = NULL;
	for (size_t i = 0; i < rs->n; i++) {
		const char *why = rs->r[i].skipped;
		if (!why || (last_skip && !strcmp(last_skip, why)))
			continue;
		fprintf(out, "skipped %s %s: %s\n", rs->r[i].kernel, rs->r[i].backing, why);
		last_skip = why;
	}
}
