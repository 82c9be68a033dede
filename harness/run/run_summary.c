/* run_summary.c - terminal summary of a results document (see run_summary.h). */
#include "harness/run/run_summary.h"

#include <string.h>

#include "harness/mem/backing.h"
#include "core/util.h"

static const json_t *find(const json_t *ms, const char *kernel, const char *backing, json_int_t ws)
{
	size_t i;
	const json_t *m;
	json_array_foreach(ms, i, m) {
		if (!strcmp(json_string_value(json_object_get(m, "mode")), "native") &&
		    !strcmp(json_string_value(json_object_get(m, "kernel")), kernel) &&
		    !strcmp(json_string_value(json_object_get(json_object_get(m, "backing"), "requested")), backing) &&
		    json_integer_value(json_object_get(m, "working_set_bytes")) == ws &&
		    json_is_null(json_object_get(m, "skipped")))
			return m;
	}
	return NULL;
}

static void cell(FILE *out, const json_t *m)
{
	if (m)
		fprintf(out, " %10.2f", json_real_value(json_object_get(json_object_get(m, "summary"), "median")));
	else
		fprintf(out, " %10s", "-");
}

static void print_other_kernels(FILE *out, const json_t *ms)
{
	size_t i;
	const json_t *m;
	int header = 0;
	json_array_foreach(ms, i, m) {
		const char *fam = json_string_value(json_object_get(m, "family"));
		if (!strcmp(fam, "chase") || !json_is_null(json_object_get(m, "skipped")) ||
		    strcmp(json_string_value(json_object_get(m, "mode")), "native"))
			continue;
		if (!header) {
			fprintf(out, "\n%-14s %-11s %8s %-10s %12s %7s  %s\n", "kernel", "backing", "size", "variant", "median",
				"cv%", "metric");
			header = 1;
		}
		/* What tells two measurements of one kernel and size apart. */
		const json_t *params = json_object_get(m, "params");
		char variant[32] = "-";
		if (json_is_string(json_object_get(params, "placement")))
			snprintf(variant, sizeof(variant), "%s", json_string_value(json_object_get(params, "placement")));
		else if (json_is_integer(json_object_get(params, "threads")))
			snprintf(variant, sizeof(variant), "T=%lld",
				 (long long)json_integer_value(json_object_get(params, "threads")));
		char w[32] = "-";
		json_int_t ws = json_integer_value(json_object_get(m, "working_set_bytes"));
		if (ws > 0)
			format_size((size_t)ws, w, sizeof(w));
		const json_t *s = json_object_get(m, "summary");
		fprintf(out, "%-14s %-11s %8s %-10s %12.2f %7.1f  %s\n", json_string_value(json_object_get(m, "kernel")),
			json_string_value(json_object_get(json_object_get(m, "backing"), "requested")), w, variant,
			json_real_value(json_object_get(s, "median")), 100 * json_real_value(json_object_get(s, "cv")),
			json_string_value(json_object_get(m, "metric")));
	}
}

void run_summary_print(FILE *out, const json_t *doc)
{
	const json_t *ms = json_object_get(doc, "measurements");
	for (int b = 0; b < BACKING_COUNT; b++) {
		const char *bname = backing_name((enum backing_kind)b);
		json_int_t last = -1;
		int header = 0;
		size_t i;
		const json_t *m;
		json_array_foreach(ms, i, m) {
			if (strcmp(json_string_value(json_object_get(json_object_get(m, "backing"), "requested")), bname) ||
			    strcmp(json_string_value(json_object_get(m, "mode")), "native") ||
			    strcmp(json_string_value(json_object_get(m, "kernel")), "chase") ||
			    !json_is_null(json_object_get(m, "skipped")))
				continue;
			json_int_t ws = json_integer_value(json_object_get(m, "working_set_bytes"));
			if (ws == last)
				continue;
			last = ws;
			if (!header) {
				const json_t *bk = json_object_get(m, "backing");
				char vp[32];
				format_size((size_t)json_integer_value(json_object_get(bk, "verified_page_bytes")), vp, sizeof(vp));
				fprintf(out, "\nbacking %s (verified %s pages, %.0f%% coverage), ns per access:\n", bname, vp,
					100 * json_real_value(json_object_get(bk, "coverage")));
				fprintf(out, "%10s %10s %10s %12s\n", "working set", "chase", "chase-ctl", "translation");
				header = 1;
			}
			char w[32];
			format_size((size_t)ws, w, sizeof(w));
			fprintf(out, "%10s", w);
			const json_t *c = find(ms, "chase", bname, ws), *k = find(ms, "chase-ctl", bname, ws);
			cell(out, c);
			cell(out, k);
			if (c && k)
				fprintf(out, " %12.2f\n",
					json_real_value(json_object_get(json_object_get(c, "summary"), "median")) -
						json_real_value(json_object_get(json_object_get(k, "summary"), "median")));
			else
				fprintf(out, " %12s\n", "-");
		}
	}
	print_other_kernels(out, ms);

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
	size_t i;
	const json_t *m;
	const char *last_skip = NULL;
	json_array_foreach(ms, i, m) {
		const char *why = json_string_value(json_object_get(m, "skipped"));
		if (!why || (last_skip && !strcmp(last_skip, why)))
			continue;
		fprintf(out, "skipped %s %s: %s\n", json_string_value(json_object_get(m, "kernel")),
			json_string_value(json_object_get(json_object_get(m, "backing"), "requested")), why);
		last_skip = why;
	}
}
