/* run_summary.c - terminal summary of a run, from its records (see run_summary.h). */
#include "harness/run/run_summary.h"

#include <stdint.h>
#include <string.h>

#include "harness/mem/backing.h"
#include "core/util.h"

/* "2.96 ns [2.94, 2.97]": a median with its 95% interval, the bounds in the median's unit. */
void summary_fmt_ci(char *buf, size_t len, const struct summary *s)
{
	static const struct {
		double div;
		const char *unit;
	} u[] = {{1e9, "s"}, {1e6, "ms"}, {1e3, "µs"}, {1, "ns"}};
	size_t i = 0;
	double a = s->median < 0 ? -s->median : s->median;
	while (i + 1 < sizeof(u) / sizeof(u[0]) && a < u[i].div)
		i++;
	snprintf(buf, len, "%.3g %s [%.4g, %.4g]", s->median / u[i].div, u[i].unit, s->ci95_low / u[i].div,
		 s->ci95_high / u[i].div);
}

/* Column width in bytes for a cell that holds one multi-byte 'µ'. */
static int pad(const char *s, int w)
{
	return strstr(s, "µ") ? w + 1 : w;
}

static void cell(FILE *out, const struct run_record *m)
{
	char b[64] = "-";
	if (m)
		summary_fmt_ci(b, sizeof(b), &m->summary);
	fprintf(out, " %*s", pad(b, 24), b);
}

static void print_other_kernels(FILE *out, const struct run_records *rs)
{
	int header = 0;
	for (size_t i = 0; i < rs->n; i++) {
		const struct run_record *m = &rs->r[i];
		if (!strcmp(m->family, "chase") || m->skipped || strcmp(m->mode, "native"))
			continue;
		if (!header) {
			fprintf(out, "\n%-14s %-11s %8s %-10s %26s %6s  %s\n", "kernel", "backing", "size", "variant",
				"median [95% interval]", "cv%", "per");
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
		char med[64];
		summary_fmt_ci(med, sizeof(med), &m->summary);
		const char *per = strncmp(m->metric, "ns_per_", 7) ? m->metric : m->metric + 7;
		fprintf(out, "%-14s %-11s %8s %-10s %*s %6.1f  %s\n", m->kernel, m->backing, w, variant, pad(med, 26),
			med, 100 * m->summary.cv, per);
	}
}

void run_summary_print(FILE *out, const struct run_records *rs, const json_t *doc)
{
	/* What the numbers say first; the tables after. */
	findings_print_doc(out, doc);
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
				fprintf(out, "%11s %24s %24s %12s\n", "working set", "chase", "chase-ctl", "translation");
				header = 1;
			}
			char w[32];
			format_size(c->working_set_bytes, w, sizeof(w));
			fprintf(out, "%11s", w);
			const struct run_record *k = records_find_like(rs, c, "chase-ctl", "native", "stride_bytes");
			cell(out, c);
			cell(out, k);
			char tr[32] = "-";
			if (k)
				format_ns(tr, sizeof(tr), c->summary.median - k->summary.median);
			fprintf(out, " %*s\n", pad(tr, 12), tr);
		}
	}
	print_other_kernels(out, rs);

	/* The knees are in the findings (TLB reach); the skipped cells are
	 * grouped by reason at the end of the guest's table (run_vm.c). */
}

void run_summary_skipped(FILE *out, const struct run_records *rs)
{
	size_t total = 0;
	for (size_t i = 0; i < rs->n; i++)
		total += rs->r[i].skipped != NULL;
	if (!total)
		return;
	fprintf(out, "\n%zu cell%s skipped, by reason (each cell's reason is in the results file):\n", total,
		total == 1 ? "" : "s");
	for (size_t i = 0; i < rs->n; i++) {
		const char *why = rs->r[i].skipped;
		size_t j = 0, count = 0;
		if (!why)
			continue;
		/* Printed at its first occurrence only. */
		while (j < i && !(rs->r[j].skipped && !strcmp(rs->r[j].skipped, why)))
			j++;
		if (j < i)
			continue;
		for (size_t k = i; k < rs->n; k++)
			count += rs->r[k].skipped && !strcmp(rs->r[k].skipped, why);
		fprintf(out, "  %4zu x ", count);
		fputs_visible(why, out);
		fputc('\n', out);
	}
}
