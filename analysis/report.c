/* report.c - `nestbench report`: plots, report.md and a self-contained report.html. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/cli/datadir.h"
#include "analysis/compare_out.h"
#include "analysis/doc.h"
#include "analysis/escape.h"
#include "analysis/findings.h"
#include "analysis/gnuplot.h"
#include "analysis/match.h"
#include "analysis/plotdata.h"
#include "analysis/reportdir.h"
#include "analysis/resfile.h"
#include "core/thresholds.h"

#define MAX_WS 8
#define MAX_PLOTS 64

struct plot {
	char name[64];
	char caption[240];
	int key; /* one of the plots that carry the findings */
};

struct report {
	const struct res_file *files;
	size_t n;
	int dirfd;
	const char *outdir;
	char templates[PATH_MAX];
	struct plot plots[MAX_PLOTS];
	size_t nplots;
	char missing[8][240]; /* sentences for plots that could not be drawn */
	size_t nmissing;
	int gnuplot_warnings;
	int drawing_key; /* the plots being drawn carry the findings */
	int ncaveats;
	struct comparison cmp;
	struct cmp_settings cs;
	struct findings fs;
};

static const struct cli_opt report_opts[] = {
	{"out", 'o', "DIR", "report directory (default: report), created if missing", CLI_V_DIR, NULL, OPT_DOC_ONLY},
	{"ws", 'w', "SIZE",
	 "working set for the guest page x host backing heatmap (repeatable, e.g. 64M); default: the largest "
	 "with VM and native chase data",
	 CLI_V_WORD, NULL, OPT_DOC_ONLY},
	{"templates", 't', "DIR",
	 "gnuplot templates (default: $NESTBENCH_TEMPLATES, or the templates of the data directory that "
	 "`nestbench --version` names)",
	 CLI_V_DIR, NULL, OPT_DOC_ONLY},
	{"format", 'f', "FMT",
	 "html (default: the report directory) or text: the findings and the key tables on stdout, nothing written",
	 CLI_V_WORD, NULL, OPT_DOC_ONLY},
	{"help", 'h', NULL, "this help", CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{NULL, 0, NULL, NULL, CLI_V_NONE, NULL, OPT_DOC_ONLY},
};

const struct cli_cmd cli_cmd_report = {
	.name = "report",
	.fn = cmd_report,
	.summary = "plots (gnuplot), report.md and a self-contained report.html",
	.synopsis = "FILE... [--out DIR] [--ws SIZE]... [--templates DIR] [--format html|text]",
	.description = "Write plots (SVG and PNG, drawn by gnuplot from fixed templates), report.md and a "
		       "self-contained report.html (SVG inlined, no network) from one or more results files.  "
		       "The report opens with the findings: what the numbers say (TLB reach per backing, the cost "
		       "of each level, the large-page gain, the guest's tax per guest page x host backing, "
		       "splintering, the MMU mode's consequence), each with its interval and the measurements it "
		       "rests on.  --format text prints the findings and the key tables on stdout instead.  "
		       "With several files, the first is the baseline of the comparison tables and of the findings' ratios.",
	.opts = report_opts,
	.operand = CLI_V_FILE,
	.exit_status = "0 report written, 1 a file is unreadable or invalid or gnuplot failed, 2 usage error.",
	.examples = (const struct cli_item[]){{"report --out rep results.json", "rep/report.html from one run"},
					      {"report --out rep base.json new.json", "two runs, base as the baseline"},
					      {"report --format text results.json", "the findings on the terminal"},
					      {NULL, NULL}},
};

static int find_templates(struct report *r, const char *opt)
{
	struct datadir d;
	const char *cands[3] = {opt, getenv("NESTBENCH_TEMPLATES"), datadir_find(&d) ? NULL : d.templates};
	char probe[PATH_MAX + 32];
	for (size_t i = 0; i < ARRAY_SIZE(cands); i++) {
		if (!cands[i] || !*cands[i])
			continue;
		snprintf(probe, sizeof(probe), "%s/sweep.gp", cands[i]);
		if (access(probe, R_OK) == 0 && realpath(cands[i], r->templates))
			return 0;
		if (i == 0)
			break; /* an explicit --templates that does not work is an error */
	}
	return -1;
}

static void add_missing(struct report *r, const char *sentence)
{
	if (r->nmissing < ARRAY_SIZE(r->missing))
		snprintf(r->missing[r->nmissing++], sizeof(r->missing[0]), "%s", sentence);
}

/* Draw NAME.dat with a template as SVG and PNG. */
static int draw(struct report *r, const char *tmpl, const char *name, const char *caption, struct gp_vars *extra,
		nb_error *err)
{
	char path[PATH_MAX + 64], warn[4096];
	snprintf(path, sizeof(path), "%s/%s", r->templates, tmpl);
	static const char *const fmts[] = {"svg", "png"};
	for (size_t i = 0; i < ARRAY_SIZE(fmts); i++) {
		struct gp_vars v = *extra;
		gp_var_str(&v, "fmt", fmts[i]);
		gp_var_str(&v, "name", name);
		if (reportdir_interrupted())
			return nb_fail(err, "interrupted");
		if (gp_run(r->outdir, path, &v, warn, sizeof(warn), err))
			return -1;
		char file[96];
		snprintf(file, sizeof(file), "%s.%s", name, fmts[i]);
		if (gp_check_output(r->dirfd, file, err))
			return -1;
		for (char *line = strtok(warn, "\n"); line; line = strtok(NULL, "\n")) {
			if (!*line)
				continue;
			nb_warn("gnuplot (%s.%s): %s", name, fmts[i], line);
			r->gnuplot_warnings++;
		}
	}
	if (r->nplots < MAX_PLOTS) {
		struct plot *p = &r->plots[r->nplots++];
		snprintf(p->name, sizeof(p->name), "%s", name);
		snprintf(p->caption, sizeof(p->caption), "%s", caption);
		p->key = r->drawing_key;
	}
	return 0;
}

static int sweep(struct report *r, const char *name, int series, int nknees, const char *ttl, const char *ylab,
		 int logy, const char *caption, nb_error *err)
{
	struct gp_vars v = {0};
	gp_var_int(&v, "n", series);
	gp_var_int(&v, "nk", nknees);
	gp_var_int(&v, "logy", logy);
	gp_var_str(&v, "ttl", ttl);
	gp_var_str(&v, "ylab", ylab);
	return draw(r, "sweep.gp", name, caption, &v, err);
}

/* A sweep plot of a quantity derived per working set (plotdata.c makes its
 * series), or the sentence that says why it is not drawn. */
struct derived_sweep {
	int (*make)(const struct plot_src *s, nb_error *err); /* series made, or -1 */
	const char *name, *title, *ylabel;
	int logy;
	const char *caption, *missing;
};

static int derived_sweep_draw(struct report *r, const struct plot_src *s, const struct derived_sweep *d,
			      nb_error *err)
{
	int k = d->make(s, err);
	if (k < 0)
		return -1;
	if (k == 0) {
		add_missing(r, d->missing);
		return 0;
	}
	return sweep(r, d->name, k, 0, d->title, d->ylabel, d->logy, d->caption, err);
}

static int make_plots(struct report *r, const uint64_t *ws_opt, size_t nws, nb_error *err)
{
	struct plot_src s = {.files = r->files, .n = r->n, .dirfd = r->dirfd};
	int nk, k;
	r->drawing_key = 1;
	k = plot_latency(&s, &nk, err);
	if (k < 0)
		return -1;
	if (k > 0) {
		if (sweep(r, "latency", k, nk, "pointer chase: latency vs working set, native and VM",
			  "median ns per access (log scale)", 1,
			  "Latency of the pointer chase vs working set, per backing, native and VM overlaid; "
			  "bars are 95% intervals of the median, circles the detected knees, named by TLB level when "
			  "the file knows it.",
			  err))
			return -1;
	} else {
		add_missing(r, "Latency plot not drawn: no chase measurements with a working set.");
	}
	static const struct derived_sweep translation = {
		plot_translation, "translation", "translation cost per access, per backing and guest page",
		"ns per access (chase minus chase-ctl)", 0,
		"Address-translation share of each access (chase minus its cache-resident control "
		"chase-ctl at the same working set and backing), native and per guest page size in the VM, "
		"with 95% intervals: the plateaus between knees are what each TLB level costs.",
		"Translation plot not drawn: derived.translation is empty in every file.",
	};
	if (derived_sweep_draw(r, &s, &translation, err))
		return -1;
	for (size_t fi = 0; fi < r->n; fi++) {
		uint64_t list[MAX_WS + 1];
		size_t nl = 0;
		for (size_t i = 0; i < nws; i++)
			list[nl++] = ws_opt[i];
		if (!nws) {
			uint64_t d = heatmap_default_ws(&r->files[fi]);
			if (d)
				list[nl++] = d;
		}
		for (size_t i = 0; i < nl; i++) {
			char letter[24], ws[32], name[64], ttl[128], cap[240];
			file_letter(fi, letter, sizeof(letter));
			format_size((size_t)list[i], ws, sizeof(ws));
			snprintf(name, sizeof(name), "heatmap-%s-%s", letter, ws);
			k = plot_heatmap(&s, fi, list[i], name, err);
			if (k < 0)
				return -1;
			if (!k)
				continue;
			snprintf(ttl, sizeof(ttl), "guest/native chase latency, file %s, working set %s", letter, ws);
			snprintf(cap, sizeof(cap),
				 "File %s: median chase latency in a VM divided by native on the same host backing, "
				 "per guest page size, at a working set of %s. Blank cells were not measured.",
				 letter, ws);
			struct gp_vars v = {0};
			gp_var_str(&v, "ttl", ttl);
			if (draw(r, "heatmap.gp", name, cap, &v, err))
				return -1;
		}
	}
	static const struct derived_sweep gains = {
		plot_gains, "gains", "large-page gain: 4k latency / large-page latency",
		"4k / large-page chase latency (x, log scale)", 1,
		"Large-page gain vs working set: the 4K chase latency divided by the large-page one of the "
		"same mode and guest page (above 1: large pages are faster), with conservative intervals "
		"from the two 95% intervals. A line near 1 everywhere is a splintered backing.",
		"Large-page gain plot not drawn: no large-page chase beside a 4k one.",
	};
	if (derived_sweep_draw(r, &s, &gains, err))
		return -1;
	r->drawing_key = 0;
	static const struct {
		const char *family, *what, *note;
	} bars[] = {
		{"ptupdate", "page-table update", ""},
		{"ctxsw", "context switch", ""},
		{"hwassist", "hardware-assist",
		 " VM exits (port I/O, MMIO) and the guest's own system call beside a host system call; VM "
		 "switches and guest address-space switches beside host process switches; guest TLB shootdowns "
		 "with T vCPUs beside native ones with T threads. Under shadow paging guest page-table changes "
		 "and address-space switches trap to the hypervisor; under EPT/NPT they should not."},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bars); i++) {
		/* One chart per kernel of the family, in the order the files list them. */
		const char *kernels[32];
		size_t nkern = 0;
		for (size_t fi = 0; fi < s.n; fi++)
			for (size_t mi = 0; mi < s.files[fi].nmeas && nkern < ARRAY_SIZE(kernels); mi++) {
				const struct res_meas *m = &s.files[fi].meas[mi];
				size_t j = 0;
				if (strcmp(m->family, bars[i].family) || m->skipped)
					continue;
				while (j < nkern && strcmp(kernels[j], m->kernel))
					j++;
				if (j == nkern)
					kernels[nkern++] = m->kernel;
			}
		for (size_t j = 0; j < nkern; j++) {
			char name[64], ttl[160], cap[768];
			snprintf(name, sizeof(name), "bars-%s-%zu", bars[i].family, j + 1);
			k = plot_bars(&s, bars[i].family, kernels[j], name, err);
			if (k < 0)
				return -1;
			if (k == 0)
				continue;
			/* Kernel names come from the files: only plain ones reach a title. */
			int plain = strspn(kernels[j], "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(kernels[j]);
			snprintf(ttl, sizeof(ttl), "%s %s: median per operation, 95%% interval",
				 plain ? kernels[j] : "(unnamed)", bars[i].what);
			snprintf(cap, sizeof(cap),
				 "%s kernel %s: median per operation with 95%% intervals at each size, one bar per "
				 "backing, native and VM side by side.%s",
				 bars[i].what, plain ? kernels[j] : "(unnamed)", bars[i].note);
			cap[0] = (char)toupper((unsigned char)cap[0]);
			struct gp_vars v = {0};
			gp_var_int(&v, "n", k);
			gp_var_str(&v, "ttl", ttl);
			if (draw(r, "bars.gp", name, cap, &v, err))
				return -1;
		}
	}
	int pmu_plots = 0;
	k = plot_pmu_sweep(&s, "walk_cycle_fraction", "pmu-walk-cycles", err);
	if (k < 0 || (k > 0 && sweep(r, "pmu-walk-cycles", k, 0, "PMU: fraction of cycles in page walks",
				     "walk cycles / cycles", 0,
				     "Fraction of cycles spent in page walks (PMU), per series.", err)))
		return -1;
	pmu_plots += k > 0;
	k = plot_pmu_sweep(&s, "walks_per_access", "pmu-walks-per-access", err);
	if (k < 0 || (k > 0 && sweep(r, "pmu-walks-per-access", k, 0, "PMU: completed page walks per access",
				     "walks per access", 0, "Completed page walks per access (PMU), per series.",
				     err)))
		return -1;
	pmu_plots += k > 0;
	k = plot_pmu_pagemix(&s, "pmu-page-mix", err);
	if (k < 0)
		return -1;
	if (k > 0) {
		struct gp_vars v = {0};
		gp_var_str(&v, "ttl", "PMU: page size of completed walks");
		if (draw(r, "pagemix.gp", "pmu-page-mix", "Page-size mix of completed page walks (PMU).", &v, err))
			return -1;
		pmu_plots++;
	}
	if (!pmu_plots)
		add_missing(r, "PMU plots (walk-cycle fraction, walks per access, page-size mix) not drawn: no file "
			       "has PMU walk counters; see the PMU row of the machine table for why.");
	return 0;
}

static void write_machines(struct report *r, struct doc *d)
{
	const char *hdr[1 + 27];
	char letters[27][24];
	size_t cols = r->n < 26 ? r->n : 26;
	hdr[0] = "fact";
	for (size_t i = 0; i < cols; i++) {
		file_letter(i, letters[i], sizeof(letters[i]));
		hdr[i + 1] = letters[i];
	}
	doc_table_begin(d, hdr, (int)cols + 1);
	doc_row_begin(d);
	doc_cell(d, "file");
	for (size_t i = 0; i < cols; i++)
		doc_cell(d, r->files[i].path);
	doc_row_end(d);
	for (size_t k = 0; k < machine_facts_len; k++) {
		char buf[512];
		doc_row_begin(d);
		doc_cell(d, machine_facts[k].name);
		for (size_t i = 0; i < cols; i++) {
			machine_facts[k].get(&r->files[i], buf, sizeof(buf));
			doc_cell(d, buf);
		}
		doc_row_end(d);
	}
	doc_table_end(d);
}

/* A JSON array of strings as one space-separated, still untrusted, string. */
static void join_strings(const json_t *arr, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < json_array_size(arr) && used + 1 < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? " " : "", json_string_value(json_array_get(arr, i)));
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (used >= len && len > 4)
		strcpy(buf + len - 4, "...");
}

static void write_config(struct report *r, struct doc *d)
{
	static const char *const hdr[] = {"file", "suite", "kernels", "backings", "samples (warm-up)",
					  "target sample", "command line"};
	doc_table_begin(d, hdr, 7);
	for (size_t i = 0; i < r->n; i++) {
		const json_t *c = r->files[i].config;
		char letter[24], buf[2048];
		const char *suite = json_string_value(json_object_get(c, "suite"));
		file_letter(i, letter, sizeof(letter));
		doc_row_begin(d);
		doc_cell(d, letter);
		doc_cell(d, suite ? suite : "(single kernels)");
		join_strings(json_object_get(c, "kernels"), buf, sizeof(buf));
		doc_cell(d, buf);
		join_strings(json_object_get(c, "backings"), buf, sizeof(buf));
		doc_cell(d, buf);
		doc_cellf(d, "%lld (%lld)", (long long)json_integer_value(json_object_get(c, "samples")),
			  (long long)json_integer_value(json_object_get(c, "warmup_samples")));
		doc_cellf(d, "%.3g ms", json_number_value(json_object_get(c, "target_sample_ns")) / 1e6);
		join_strings(json_object_get(c, "command_line"), buf, sizeof(buf));
		doc_cell(d, buf);
		doc_row_end(d);
	}
	doc_table_end(d);
}

static void counters_text(const struct res_meas *m, char *buf, size_t len)
{
	static const struct {
		const char *key, *abbr;
	} c[] = {{"page_faults", "faults"}, {"context_switches", "cs"}, {"cpu_migrations", "migr"}};
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; m->counters && i < ARRAY_SIZE(c); i++) {
		json_t *v = json_object_get(m->counters, c[i].key);
		if (!json_is_number(v))
			continue;
		int w = snprintf(buf + used, len - used, "%s%s=%.0f", used ? " " : "", c[i].abbr, json_number_value(v));
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}

static void write_measurements(struct report *r, struct doc *d)
{
	static const char *const hdr[] = {"file", "measurement", "metric", "n", "median", "95% CI", "cv",
					  "counters"};
	doc_table_begin(d, hdr, 8);
	for (size_t fi = 0; fi < r->n; fi++) {
		char letter[24], buf[256];
		file_letter(fi, letter, sizeof(letter));
		for (size_t i = 0; i < r->files[fi].nmeas; i++) {
			const struct res_meas *m = &r->files[fi].meas[i];
			if (m->skipped)
				continue;
			doc_row_begin(d);
			doc_cell(d, letter);
			doc_cell(d, m->label);
			doc_cell(d, m->metric);
			doc_cellf(d, "%zu", m->n);
			doc_cellf(d, "%.4g", m->summary.median);
			doc_cellf(d, "[%.4g, %.4g]", m->summary.ci95_low, m->summary.ci95_high);
			doc_cellf(d, "%.3f", m->summary.cv);
			counters_text(m, buf, sizeof(buf));
			doc_cell(d, buf);
			doc_row_end(d);
		}
	}
	doc_table_end(d);
}

static void write_comparison(struct report *r, struct doc *d)
{
	static const char *const hdr[] = {"measurement", "metric", "X", "median A", "median X", "X/A", "95% CI",
					  "significant"};
	doc_para_begin(d);
	doc_raw(d,
		"Ratio X/A of medians against the baseline A, with a 95%% percentile-bootstrap interval "
		"(%u resamples, seed %llu); significant when the interval excludes 1. Same numbers as "
		"<code>nestbench compare</code>.",
		r->cs.iters, r->cs.seed);
	doc_para_end(d);
	doc_table_begin(d, hdr, 8);
	for (size_t i = 0; i < r->cmp.nrows; i++) {
		const struct cmp_row *c = &r->cmp.rows[i];
		char letter[24];
		file_letter(c->file_b, letter, sizeof(letter));
		doc_row_begin(d);
		doc_cell(d, c->a->label);
		doc_cell(d, c->a->metric);
		doc_cell(d, letter);
		if (c->have_ratio) {
			doc_cellf(d, "%.4g", c->ci.median_a);
			doc_cellf(d, "%.4g", c->ci.median_b);
			doc_cellf(d, "%.3f", c->ci.ratio);
			doc_cellf(d, "[%.3f, %.3f]", c->ci.lo, c->ci.hi);
			doc_cell(d, !c->ci.enough_samples ? "too few samples" : c->ci.significant ? "yes" : "no");
		} else {
			for (int k = 0; k < 4; k++)
				doc_cell(d, "");
			doc_cell(d, c->why);
		}
		doc_row_end(d);
	}
	doc_table_end(d);
	if (r->cmp.nun) {
		doc_para_begin(d);
		doc_raw(d, "Not compared (%zu):", r->cmp.nun);
		doc_para_end(d);
		doc_list_begin(d);
		for (size_t i = 0; i < r->cmp.nun; i++) {
			char l[24];
			file_letter(r->cmp.un[i].file, l, sizeof(l));
			doc_item_begin(d);
			doc_raw(d, "%s: ", l);
			doc_text(d, r->cmp.un[i].m->label);
			doc_raw(d, " — ");
			doc_text(d, r->cmp.un[i].why);
			doc_item_end(d);
		}
		doc_list_end(d);
	}
}

/* One caveat: its cause (what groups it) and the measurement it is about. */
struct cav {
	char cause[640];
	char detail[96];
	size_t file;
	const struct res_meas *m; /* NULL: about the file */
};

struct cavs {
	struct cav *v;
	size_t n, cap;
};

static void cav_add(struct cavs *c, size_t file, const struct res_meas *m, const char *cause, const char *detail)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct cav *v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return; /* out of memory: fewer caveats listed, none invented */
		c->v = v;
		c->cap = cap;
	}
	struct cav *x = &c->v[c->n++];
	x->file = file;
	x->m = m;
	snprintf(x->cause, sizeof(x->cause), "%s", cause);
	snprintf(x->detail, sizeof(x->detail), "%s", detail ? detail : "");
}

/* Every caveat of every file, in file order (grouped when written). */
static void collect_caveats(const struct report *r, struct cavs *c)
{
	for (size_t fi = 0; fi < r->n; fi++) {
		const struct res_file *f = &r->files[fi];
		char pmu[512], buf[600];
		res_pmu_state(f, pmu, sizeof(pmu));
		if (strcmp(pmu, "available")) {
			snprintf(buf, sizeof(buf), "PMU %s", pmu);
			cav_add(c, fi, NULL, buf, NULL);
		}
		for (size_t i = 0; i < f->nmeas; i++) {
			const struct res_meas *m = &f->meas[i];
			if (m->skipped) {
				snprintf(buf, sizeof(buf), "skipped: %s", m->skipped);
				cav_add(c, fi, m, buf, NULL);
				continue;
			}
			if (!strcmp(m->mode, "qemu-tcg") || m->timing_invalid)
				cav_add(c, fi, m, "TCG guest (QEMU emulation): function only, its timings are not the hardware's",
					NULL);
			if (m->verified_page_bytes < 0) {
				cav_add(c, fi, m, "pages unverified: no verified page size recorded", NULL);
			} else if (m->requested_page_bytes > 0 && m->verified_page_bytes != m->requested_page_bytes) {
				snprintf(buf, sizeof(buf), "asked for %lld-byte pages, got %lld", m->requested_page_bytes,
					 m->verified_page_bytes);
				cav_add(c, fi, m, "pages differ from the request", buf);
			} else if (m->coverage >= 0 && m->coverage < THRESH_MIN_COVERAGE) {
				snprintf(buf, sizeof(buf), "%.0f%% on the verified page size", m->coverage * 100);
				snprintf(pmu, sizeof(pmu), "less than %.0f%% of the buffer on the verified page size",
					 THRESH_MIN_COVERAGE * 100);
				cav_add(c, fi, m, pmu, buf);
			}
			if (m->summary.cv > THRESH_NOISY_CV) {
				snprintf(buf, sizeof(buf), "cv %.2f", m->summary.cv);
				snprintf(pmu, sizeof(pmu), "noisy samples: cv above %.2f", THRESH_NOISY_CV);
				cav_add(c, fi, m, pmu, buf);
			}
			for (size_t k = 0; k < json_array_size(m->flags); k++) {
				snprintf(buf, sizeof(buf), "flag: %s", json_string_value(json_array_get(m->flags, k)));
				cav_add(c, fi, m, buf, NULL);
			}
		}
	}
}

/* The causes in first-seen order: index of the first caveat of each. */
static size_t cav_causes(const struct cavs *c, size_t *first, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n && n < cap; i++) {
		size_t j = 0;
		while (j < n && strcmp(c->v[first[j]].cause, c->v[i].cause))
			j++;
		if (j == n)
			first[n++] = i;
	}
	return n;
}

static void cav_affected(const struct cav *x, char *buf, size_t len)
{
	char letter[24];
	file_letter(x->file, letter, sizeof(letter));
	snprintf(buf, len, "%s: %s%s%s", letter, x->m ? x->m->label : "the file", *x->detail ? " — " : "", x->detail);
}

#define CAV_MAX_CAUSES 256

/* Caveats grouped by cause, once each, with counts; the affected
 * measurements beneath (in <details> in HTML). */
static void write_caveats(struct report *r, struct doc *d)
{
	struct cavs c = {0};
	size_t first[CAV_MAX_CAUSES];
	collect_caveats(r, &c);
	size_t nc = cav_causes(&c, first, CAV_MAX_CAUSES);
	r->ncaveats = (int)c.n;
	doc_list_begin(d);
	for (size_t k = 0; k < nc; k++) {
		const char *cause = c.v[first[k]].cause;
		size_t cnt = 0;
		for (size_t i = 0; i < c.n; i++)
			cnt += !strcmp(c.v[i].cause, cause);
		doc_item_begin(d);
		doc_text(d, cause);
		doc_raw(d, " (%zu)", cnt);
		if (d->html)
			doc_raw(d, "<details><summary>affected</summary><ul>");
		else
			doc_raw(d, "\n");
		for (size_t i = 0; i < c.n; i++) {
			if (strcmp(c.v[i].cause, cause))
				continue;
			char buf[1024];
			cav_affected(&c.v[i], buf, sizeof(buf));
			doc_raw(d, d->html ? "<li>" : "    - ");
			doc_text(d, buf);
			doc_raw(d, d->html ? "</li>" : "\n");
		}
		if (d->html)
			doc_raw(d, "</ul></details>");
		doc_item_end(d);
	}
	if (!nc) {
		doc_item_begin(d);
		doc_raw(d, "none");
		doc_item_end(d);
	}
	doc_list_end(d);
	free(c.v);
}

/* The same grouping on a terminal: causes with counts, at most a few affected each. */
static void text_caveats(FILE *out, const struct report *r)
{
	struct cavs c = {0};
	size_t first[CAV_MAX_CAUSES];
	collect_caveats(r, &c);
	size_t nc = cav_causes(&c, first, CAV_MAX_CAUSES);
	fprintf(out, "\ncaveats (%zu, grouped by cause):\n", c.n);
	for (size_t k = 0; k < nc; k++) {
		const char *cause = c.v[first[k]].cause;
		size_t cnt = 0, shown = 0;
		for (size_t i = 0; i < c.n; i++)
			cnt += !strcmp(c.v[i].cause, cause);
		fprintf(out, "  %4zu x ", cnt);
		esc_text(out, cause);
		fputc('\n', out);
		for (size_t i = 0; i < c.n && shown < 3; i++) {
			if (strcmp(c.v[i].cause, cause))
				continue;
			char buf[1024];
			cav_affected(&c.v[i], buf, sizeof(buf));
			fputs("         ", out);
			esc_text(out, buf);
			fputc('\n', out);
			shown++;
		}
		if (cnt > shown)
			fprintf(out, "         ... and %zu more (all in the HTML report)\n", cnt - shown);
	}
	if (!nc)
		fputs("  none\n", out);
	free(c.v);
}

/* The chase medians as a table per file and mode (x guest page): rows the
 * working sets, columns the backings. */
static void text_tables(FILE *out, const struct report *r)
{
	static const char *const backs[] = {"4k", "thp", "hugetlb-2m", "hugetlb-1g"};
	static const char *const gps[] = {NULL, "4k", "2m", "1g"};
	static const char *const modes[] = {"native", "vm", "linux"};
	for (size_t fi = 0; fi < r->n; fi++) {
		const struct res_file *f = &r->files[fi];
		char letter[24];
		file_letter(fi, letter, sizeof(letter));
		for (size_t mo = 0; mo < ARRAY_SIZE(modes); mo++)
			for (size_t g = 0; g < ARRAY_SIZE(gps); g++) {
				if ((mo == 0) != (gps[g] == NULL))
					continue;
				uint64_t ws[256];
				size_t nws = 0;
				for (size_t i = 0; i < f->nmeas && nws < 256; i++) {
					const struct res_meas *m = &f->meas[i];
					if (m->skipped || strcmp(m->kernel, "chase") || strcmp(m->mode, modes[mo]) ||
					    !(gps[g] ? m->guest_page && !strcmp(m->guest_page, gps[g]) : !m->guest_page))
						continue;
					size_t j = 0;
					while (j < nws && ws[j] != m->working_set_bytes)
						j++;
					if (j == nws)
						ws[nws++] = m->working_set_bytes;
				}
				if (!nws)
					continue;
				for (size_t a = 1; a < nws; a++)
					for (size_t b = a; b > 0 && ws[b - 1] > ws[b]; b--) {
						uint64_t t = ws[b];
						ws[b] = ws[b - 1];
						ws[b - 1] = t;
					}
				fprintf(out, "\nfile %s, chase latency per access, %s%s%s%s (median [95%% interval]):\n",
					letter, modes[mo], gps[g] ? ", " : "", gps[g] ? gps[g] : "",
					gps[g] ? " guest pages" : "");
				fprintf(out, "%10s", "size");
				for (size_t b = 0; b < ARRAY_SIZE(backs); b++)
					fprintf(out, " %26s", backs[b]);
				fputc('\n', out);
				for (size_t w = 0; w < nws; w++) {
					char sz[32];
					format_size((size_t)ws[w], sz, sizeof(sz));
					fprintf(out, "%10s", sz);
					for (size_t b = 0; b < ARRAY_SIZE(backs); b++) {
						const struct res_meas *hit = NULL;
						for (size_t i = 0; i < f->nmeas && !hit; i++) {
							const struct res_meas *m = &f->meas[i];
							if (!m->skipped && !strcmp(m->kernel, "chase") &&
							    !strcmp(m->mode, modes[mo]) && m->working_set_bytes == ws[w] &&
							    !strcmp(m->backing, backs[b]) &&
							    (gps[g] ? m->guest_page && !strcmp(m->guest_page, gps[g])
								    : !m->guest_page))
								hit = m;
						}
						char cellbuf[128] = "-";
						if (hit) {
							char a[32], lo[32], hi[32];
							format_ns(a, sizeof(a), hit->summary.median);
							format_ns(lo, sizeof(lo), hit->summary.ci95_low);
							format_ns(hi, sizeof(hi), hit->summary.ci95_high);
							snprintf(cellbuf, sizeof(cellbuf), "%s [%s, %s]", a, lo, hi);
						}
						fprintf(out, " %26s", cellbuf);
					}
					fputc('\n', out);
				}
			}
	}
	text_caveats(out, r);
}

static void write_body(struct report *r, struct doc *d)
{
	doc_begin(d, "nestbench report");
	doc_para_begin(d);
	doc_raw(d, "nestbench %s, %zu results file%s. Each finding gives its numbers, their interval and what it "
		   "rests on; quote ratios measured in one run, absolute times depend on the machine.",
		NESTBENCH_VERSION, r->n, r->n == 1 ? "" : "s");
	doc_para_end(d);
	if (d->html)
		doc_raw(d, "<section id=\"findings\">\n");
	doc_h(d, 2, "Findings");
	findings_write_doc(d, &r->fs, r->files, r->n);
	if (d->html)
		doc_raw(d, "</section>\n<section id=\"key-plots\">\n");
	doc_h(d, 2, "The plots that carry them");
	for (size_t i = 0; i < r->nplots; i++)
		if (r->plots[i].key && doc_plot(d, r->dirfd, r->plots[i].name, r->plots[i].caption))
			nb_warn("report: cannot inline %s.svg", r->plots[i].name);
	if (d->html)
		doc_raw(d, "</section>\n");
	doc_h(d, 2, "Machines");
	write_machines(r, d);
	doc_h(d, 2, "Configuration");
	write_config(r, d);
	doc_h(d, 2, "More plots");
	for (size_t i = 0; i < r->nplots; i++)
		if (!r->plots[i].key && doc_plot(d, r->dirfd, r->plots[i].name, r->plots[i].caption))
			nb_warn("report: cannot inline %s.svg", r->plots[i].name);
	for (size_t i = 0; i < r->nmissing; i++) {
		doc_para_begin(d);
		doc_text(d, r->missing[i]);
		doc_para_end(d);
	}
	if (r->n > 1) {
		doc_h(d, 2, "Comparison with the baseline");
		write_comparison(r, d);
	}
	doc_h(d, 2, "Caveats, grouped by cause");
	write_caveats(r, d);
	doc_h(d, 2, "Appendix: every measurement");
	if (d->html)
		doc_raw(d, "<details id=\"measurements\"><summary>the full measurement table</summary>\n");
	write_measurements(r, d);
	if (d->html)
		doc_raw(d, "</details>\n");
	doc_end(d);
}

/* --format text: the findings, then the key tables, on stdout. */
static int write_text(struct report *r)
{
	findings_write_text(stdout, &r->fs, r->files, r->n, 4);
	text_tables(stdout, r);
	fflush(stdout);
	return ferror(stdout) ? -1 : 0;
}

static int write_doc(struct report *r, int html, const char *fname, nb_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return nb_fail(err, "out of memory writing %s", fname);
	struct doc d = {.f = f, .html = html};
	write_body(r, &d);
	if (fclose(f) != 0) {
		free(buf);
		return nb_fail(err, "out of memory writing %s", fname);
	}
	int fd = openat(r->dirfd, fname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	size_t done = 0;
	while (fd >= 0 && done < len) {
		ssize_t w = write(fd, buf + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	int e = errno;
	if (fd >= 0 && close(fd) != 0 && done == len)
		done = 0;
	free(buf);
	if (fd < 0 || done != len)
		return nb_fail(err, "cannot write %s/%s: %s", r->outdir, fname, strerror(e));
	return 0;
}

int cmd_report(int argc, char **argv)
{
	struct cli_parser p;
	cli_parser_init(&p, &cli_cmd_report);
	const char *out = "report", *tmpl = NULL;
	int text = 0;
	uint64_t ws[MAX_WS];
	size_t nws = 0;
	nb_error err;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, p.shortopts, p.longopts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 't': tmpl = optarg; break;
		case 'f':
			if (strcmp(optarg, "html") && strcmp(optarg, "text")) {
				nb_error_msg("report: invalid --format '%s': expected html or text", optarg);
				return EXIT_USAGE;
			}
			text = !strcmp(optarg, "text");
			break;
		case 'w': {
			size_t v;
			if (nws == MAX_WS || parse_size(optarg, &v, &err) || !v) {
				nb_error_msg("report: invalid --ws '%s': %s", optarg,
					     nws == MAX_WS ? "at most 8 working sets" : "expected a size such as 64M");
				return EXIT_USAGE;
			}
			ws[nws++] = v;
			break;
		}
		case 'h': cli_help(stdout, &cli_cmd_report); return EXIT_OK;
		default:
			nb_error_msg("report: unknown or incomplete option '%s' (see 'nestbench report --help')",
				     argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		nb_error_msg("report: needs at least one results file (see 'nestbench report --help')");
		return EXIT_USAGE;
	}
	if (!*out) {
		nb_error_msg("report: --out needs a directory name");
		return EXIT_USAGE;
	}
	/* Before gnuplot can be started: childguard chains to this handler. */
	reportdir_catch_signals();
	struct reportdir rd = {.fd = -1};
	size_t n = (size_t)(argc - optind);
	struct res_file *files = calloc(n, sizeof(*files));
	struct report *r = calloc(1, sizeof(*r));
	size_t loaded = 0;
	int rc = EXIT_RUNTIME;
	if (!files || !r) {
		nb_error_msg("report: out of memory");
		goto done;
	}
	r->dirfd = -1;
	for (; loaded < n; loaded++)
		if (res_load(&files[loaded], argv[optind + (int)loaded], &err)) {
			res_free(&files[loaded]);
			nb_error_msg("%s", err.msg);
			goto done;
		}
	r->files = files;
	r->n = n;
	r->outdir = out;
	if (findings_build(files, n, &r->fs, &err)) {
		nb_error_msg("report: %s", err.msg);
		goto done;
	}
	if (text) {
		rc = write_text(r) ? EXIT_RUNTIME : EXIT_OK;
		goto done;
	}
	if (find_templates(r, tmpl)) {
		nb_error_msg("report: cannot find the gnuplot templates (sweep.gp); pass --templates DIR or set "
			     "NESTBENCH_TEMPLATES (`nestbench --version` says where they were expected)");
		goto done;
	}
	/* Everything is written into a temporary directory beside out and
	 * moved into place only when complete (reportdir.h). */
	if (reportdir_begin(&rd, out, &err)) {
		nb_error_msg("report: %s", err.msg);
		goto done;
	}
	r->dirfd = rd.fd;
	r->outdir = rd.tmp;
	r->cs = (struct cmp_settings){.threshold_pct = -1, .iters = BOOT_DEFAULT_ITERS, .seed = BOOT_DEFAULT_SEED};
	if (n > 1 && compare_files(files, n, -1, r->cs.iters, r->cs.seed, &r->cmp, &err)) {
		nb_error_msg("report: %s", err.msg);
		goto done;
	}
	if (make_plots(r, ws, nws, &err)) {
		nb_error_msg("report: %s", err.msg);
		goto done;
	}
	if (write_doc(r, 0, "report.md", &err) || write_doc(r, 1, "report.html", &err)) {
		nb_error_msg("report: %s", err.msg);
		goto done;
	}
	if (reportdir_interrupted())
		goto done;
	r->dirfd = -1; /* closed by the commit */
	if (reportdir_commit(&rd, &err)) {
		nb_error_msg("report: %s", err.msg);
		goto done;
	}
	fputs("report: ", stdout);
	fputs_visible(out, stdout);
	printf("/report.html (and report.md, %zu plots as SVG and PNG)\n", r->nplots);
	if (r->gnuplot_warnings)
		nb_warn("report: gnuplot printed %d warning line(s), shown above", r->gnuplot_warnings);
	rc = EXIT_OK;
done:
	reportdir_abort(&rd); /* nothing new is left behind on failure */
	if (r) {
		comparison_free(&r->cmp);
		findings_free(&r->fs);
	}
	for (size_t i = 0; i < loaded; i++)
		res_free(&files[i]);
	free(files);
	free(r);
	reportdir_reraise(); /* interrupted: die of the signal, as before */
	return rc;
}
