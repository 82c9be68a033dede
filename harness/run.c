/* run.c - execute one run (see run.h). */
#include "run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "hugepool.h"
#include "knees.h"
#include "machine.h"
#include "measure.h"
#include "pmu.h"
#include "results.h"
#include "run_summary.h"
#include "run_vm.h"
#include "stats.h"
#include "swcount.h"
#include "sweep.h"
#include "topology.h"

#define MAX_POINTS 256

/* Flags worth a reader's attention, also shown in the report's caveats. */
#define HIGH_CV 0.10
#define LOW_COVERAGE 0.90

json_t *run_config_json(const struct run_config *cfg, const char *out_path)
{
	json_t *kernels = json_array(), *backings = json_array(), *argv = json_array();
	for (size_t i = 0; i < cfg->nkernels; i++)
		json_array_append_new(kernels, json_string(cfg->kernels[i]->name));
	for (size_t i = 0; i < cfg->nbackings; i++)
		json_array_append_new(backings, json_string(backing_name(cfg->backings[i])));
	for (int i = 0; i < cfg->argc; i++)
		json_array_append_new(argv, json_string(cfg->argv[i]));
	json_t *c = json_pack("{s:s?, s:o, s:o, s:I, s:I, s:i, s:i, s:i, s:f, s:I, s:I, s:I, s:o, s:s}", "suite",
			      cfg->suite ? cfg->suite->name : NULL, "kernels", kernels, "backings", backings,
			      "ws_min_bytes", (json_int_t)cfg->ws_min, "ws_max_bytes", (json_int_t)cfg->ws_max,
			      "points_per_octave", (int)cfg->per_octave, "samples", (int)cfg->samples, "warmup_samples",
			      (int)cfg->warmup_samples, "target_sample_ns", cfg->target_sample_ns, "stride_bytes",
			      (json_int_t)(cfg->kopt.stride_bytes ? cfg->kopt.stride_bytes : 4096), "tlb_locality_bytes",
			      (json_int_t)cfg->kopt.tlb_locality_bytes, "seed", (json_int_t)(cfg->kopt.seed & INT64_MAX),
			      "command_line", argv, "out", out_path);
	json_object_set_new(c, "cpu", cfg->cpu >= 0 ? json_integer(cfg->cpu) : json_null());
	json_object_set_new(c, "events", cfg->events ? json_string(cfg->events) : json_null());
	json_object_set_new(c, "pmu", json_boolean(!cfg->no_pmu));
	/* VM runs (run_vm.c): where kernels ran and the guest page sizes. */
	unsigned modes = cfg->modes ? cfg->modes : RUN_MODE_NATIVE;
	json_object_set_new(c, "mode", json_string(modes == (RUN_MODE_NATIVE | RUN_MODE_VM) ? "both"
						   : modes == RUN_MODE_VM ? "vm" : "native"));
	if (modes & RUN_MODE_VM) {
		json_t *gp = json_array();
		for (size_t i = 0; i < cfg->nguest_pages; i++)
			json_array_append_new(gp, json_string(run_vm_guest_page_name(cfg->guest_pages[i])));
		json_object_set_new(c, "guest_pages", gp);
	}
	return c;
}

/* Counters around every timed sample: software events on every machine
 * (proof of what ran), PMU walk events where the hardware has them. */
struct counting {
	struct swcount *sw;        /* NULL when software events cannot be opened */
	struct pmu_session *pmu;   /* NULL when --no-pmu */
};

static void obs_start(void *p)
{
	struct counting *c = p;
	if (c->sw)
		swcount_start(c->sw);
	if (c->pmu)
		pmu_session_start(c->pmu);
}

static void obs_stop(void *p)
{
	struct counting *c = p;
	if (c->pmu)
		pmu_session_stop(c->pmu);
	if (c->sw)
		swcount_stop(c->sw);
}

struct run_state {
	struct run_config *cfg;
	json_t *doc;
	size_t points[MAX_POINTS];
	size_t npoints;
	size_t done, total;
	int progress;
	struct swcount sw;
	int have_sw;
	int pmu_described; /* the run-level "pmu" object has been written */
};

/* The PMU part of a measurement.  When no hardware event could be counted
 * the per-event reasons are the same for every measurement: they go once
 * into the document's top-level "pmu", and the measurement keeps the verdict. */
static json_t *pmu_part(struct run_state *rs, struct pmu_session *s, uint64_t ops)
{
	json_t *full = pmu_session_json(s, ops);
	if (!rs->pmu_described) {
		json_object_set(rs->doc, "pmu", full);
		rs->pmu_described = 1;
	}
	if (json_is_true(json_object_get(full, "available")))
		return full;
	json_t *brief = json_pack("{s:b, s:O, s:O}", "available", 0, "reason", json_object_get(full, "reason"), "pmu",
				  json_object_get(full, "pmu"));
	json_decref(full);
	return brief;
}

static void add_flags(json_t *flags, const struct buffer *buf, const struct summary *s, const uint64_t *counts,
		      int have_sw)
{
	size_t want = backing_page_bytes(buf->kind);
	if (buf->verified_page_bytes != want) {
		char w[32], g[32];
		format_size(want, w, sizeof(w));
		format_size(buf->verified_page_bytes, g, sizeof(g));
		json_array_append_new(flags, json_sprintf("unverified pages: asked for %s, got %s", w, g));
	} else if (buf->coverage < LOW_COVERAGE) {
		json_array_append_new(flags, json_sprintf("only %.0f%% of the buffer on the requested page size",
							  buf->coverage * 100));
	}
	if (s->cv > HIGH_CV)
		json_array_append_new(flags, json_sprintf("noisy: cv %.1f%%", s->cv * 100));
	if (have_sw && counts[SWC_CPU_MIGRATIONS] != UINT64_MAX && counts[SWC_CPU_MIGRATIONS] > 0)
		json_array_append_new(flags, json_sprintf("%llu cpu migrations while pinned",
							  (unsigned long long)counts[SWC_CPU_MIGRATIONS]));
}

static int measure_one(struct run_state *rs, const struct kernel_desc *k, struct buffer *buf, size_t ws, int cpu)
{
	struct run_config *cfg = rs->cfg;
	nb_error err = {{0}};
	struct kernel_ctx ctx = {
		.desc = k,
		.backing = buf->kind,
		.buf = buf,
		.working_set_bytes = ws,
		.cpu = cpu,
		.opt = &cfg->kopt,
		.params = json_object(),
		.flags = json_array(),
	};
	json_t *m = json_pack("{s:s, s:s, s:s, s:o, s:I, s:i, s:s}", "kernel", k->name, "family", k->family, "mode",
			      "native", "backing", buffer_json(buf), "working_set_bytes", (json_int_t)ws, "cpu", cpu,
			      "metric", k->metric);
	int rc = k->setup(&ctx, &err);
	if (rc != 0) {
		json_decref(ctx.params);
		json_decref(ctx.flags);
		json_decref(m);
		if (rc < 0) {
			nb_error_msg("%s", err.msg);
			return -1;
		}
		json_array_append_new(json_object_get(rs->doc, "measurements"),
				      results_skipped_measurement(k->name, k->family, k->metric, "native",
								  buffer_json(buf), ws, cpu, err.msg));
		return 0;
	}
	struct measure_config mc = {
		.samples = cfg->samples,
		.warmup_samples = cfg->warmup_samples,
		.target_sample_ns = cfg->target_sample_ns,
	};
	struct counting cnt = {rs->have_sw ? &rs->sw : NULL, NULL};
	if (!cfg->no_pmu) {
		struct pmu_request rq = {.events = cfg->events, .no_software = 1};
		cnt.pmu = pmu_session_open(&rq, &err);
		if (!cnt.pmu) {
			nb_error_msg("%s", err.msg);
			json_decref(ctx.params);
			json_decref(ctx.flags);
			json_decref(m);
			if (k->teardown)
				k->teardown(&ctx);
			return -1;
		}
	}
	struct measure_observer obs = {&cnt, obs_start, obs_stop};
	struct measure_result res = {0};
	uint64_t counts[SWC_COUNT];
	if (rs->have_sw)
		swcount_reset(&rs->sw);
	rc = measure_kernel(&ctx, &mc, &obs, &res, &err);
	if (k->teardown)
		k->teardown(&ctx);
	if (rc) {
		if (cnt.pmu)
			pmu_session_close(cnt.pmu);
		json_decref(ctx.params);
		json_decref(ctx.flags);
		json_decref(m);
		nb_error_msg("%s %s %zu: %s", k->name, backing_name(buf->kind), ws, err.msg);
		return -1;
	}
	struct summary s;
	summarize(res.samples, res.n, &s);
	json_t *samples = json_array();
	for (unsigned i = 0; i < res.n; i++)
		json_array_append_new(samples, json_real(res.samples[i]));
	free(res.samples);

	json_object_set_new(m, "params", ctx.params);
	json_object_set_new(m, "iterations_per_sample", json_integer((json_int_t)res.iters_per_sample));
	json_object_set_new(m, "samples", samples);
	json_object_set_new(m, "summary", summary_json(&s));
	json_object_set_new(m, "skipped", json_null());
	if (rs->have_sw) {
		swcount_read(&rs->sw, counts);
		json_t *c = swcount_json(&rs->sw, counts);
		json_object_set_new(c, "ops_counted", json_integer((json_int_t)res.total_ops));
		json_object_set_new(m, "counters", c);
	}
	if (cnt.pmu) {
		json_object_set_new(m, "pmu", pmu_part(rs, cnt.pmu, res.total_ops));
		pmu_session_close(cnt.pmu);
	}
	add_flags(ctx.flags, buf, &s, counts, rs->have_sw);
	json_object_set_new(m, "flags", ctx.flags);
	json_array_append_new(json_object_get(rs->doc, "measurements"), m);

	rs->done++;
	if (rs->progress) {
		char w[32];
		format_size(ws, w, sizeof(w));
		fprintf(stderr, "nestbench: [%zu/%zu] %-10s %-10s %6s  %8.2f %s (cv %.1f%%)\n", rs->done, rs->total,
			k->name, backing_name(buf->kind), w, s.median, k->metric, s.cv * 100);
	}
	return 0;
}

/* The most bytes any kernel needs over the sweep. */
static size_t buffer_need(const struct run_state *rs)
{
	size_t need = 0;
	for (size_t i = 0; i < rs->cfg->nkernels; i++) {
		const struct kernel_desc *k = rs->cfg->kernels[i];
		if (!(k->flags & KERNEL_NEEDS_BUFFER))
			continue;
		for (size_t p = 0; p < rs->npoints; p++) {
			size_t b = k->buffer_bytes ? k->buffer_bytes(rs->points[p], &rs->cfg->kopt) : rs->points[p];
			if (b > need)
				need = b;
		}
	}
	return need;
}

static void skip_backing(struct run_state *rs, enum backing_kind kind, int cpu, const char *reason)
{
	json_t *ms = json_object_get(rs->doc, "measurements");
	if (rs->cfg->modes & RUN_MODE_VM)
		run_vm_skip_backing(rs->cfg, kind, cpu, reason, ms);
	for (size_t i = 0; i < rs->cfg->nkernels && (rs->cfg->modes & RUN_MODE_NATIVE); i++) {
		const struct kernel_desc *k = rs->cfg->kernels[i];
		json_t *b = json_pack("{s:s, s:I}", "requested", backing_name(kind), "requested_page_bytes",
				      (json_int_t)backing_page_bytes(kind));
		json_array_append_new(ms, results_skipped_measurement(k->name, k->family, k->metric, "native", b, 0,
								      cpu, reason));
	}
	rs->total -= rs->cfg->nkernels * rs->npoints;
	if (!rs->cfg->quiet)
		nb_warn("skipping backing %s: %s", backing_name(kind), reason);
}

static int run_backing(struct run_state *rs, enum backing_kind kind, int cpu)
{
	nb_error err = {{0}};
	size_t need = buffer_need(rs);
	struct buffer buf;
	int rc = backing_usable(kind, need, &err);
	if (rc == 0)
		rc = buffer_alloc(&buf, kind, need, &err);
	if (rc != 0) {
		if (rc < 0 || rs->cfg->backings_explicit) {
			nb_error_msg("backing %s: %s", backing_name(kind), err.msg);
			return -1;
		}
		skip_backing(rs, kind, cpu, err.msg);
		return 0;
	}
	/* Working sets ascending, kernels interleaved at each point so that a
	 * chase and its control are measured minutes apart at most. */
	/* --mode vm/both: the VMs map this same buffer (run_vm.c); with both,
	 * native and VM measurements of a point follow each other. */
	json_t *ms = json_object_get(rs->doc, "measurements");
	struct run_vm *rv = (rs->cfg->modes & RUN_MODE_VM) ? run_vm_open(rs->cfg, &buf, need, cpu, ms) : NULL;
	for (size_t p = 0; p < rs->npoints && rc == 0; p++)
		for (size_t i = 0; i < rs->cfg->nkernels && rc == 0; i++) {
			if (rs->cfg->modes & RUN_MODE_NATIVE)
				rc = measure_one(rs, rs->cfg->kernels[i], &buf, rs->points[p], cpu);
			if (rc == 0)
				run_vm_measure(rv, rs->cfg->kernels[i], rs->points[p], ms);
		}
	run_vm_close(rv, ms);
	buffer_free(&buf);
	return rc;
}

/* VM measurements pair only within one guest page size (native ones have none). */
static int same_guest_page(const json_t *a, const json_t *b)
{
	const json_t *ga = json_object_get(json_object_get(a, "guest_page"), "requested");
	const json_t *gb = json_object_get(json_object_get(b, "guest_page"), "requested");
	return (!ga && !gb) || (ga && gb && json_equal(ga, gb));
}

/* Translation cost: chase minus chase-ctl at each (backing, working set). */
static void derive_translation(json_t *doc)
{
	json_t *ms = json_object_get(doc, "measurements"), *out = json_object_get(json_object_get(doc, "derived"),
										  "translation");
	size_t i, j;
	json_t *a, *b;
	json_array_foreach(ms, i, a) {
		if (strcmp(json_string_value(json_object_get(a, "kernel")), "chase") || !json_is_null(json_object_get(a, "skipped")))
			continue;
		json_array_foreach(ms, j, b) {
			if (strcmp(json_string_value(json_object_get(b, "kernel")), "chase-ctl") ||
			    !json_is_null(json_object_get(b, "skipped")) ||
			    !json_equal(json_object_get(a, "working_set_bytes"), json_object_get(b, "working_set_bytes")) ||
			    !json_equal(json_object_get(json_object_get(a, "backing"), "requested"),
					json_object_get(json_object_get(b, "backing"), "requested")) ||
			    !json_equal(json_object_get(a, "mode"), json_object_get(b, "mode")) ||
			    !same_guest_page(a, b))
				continue;
			json_t *sa = json_object_get(a, "summary"), *sb = json_object_get(b, "summary");
			double d = json_real_value(json_object_get(sa, "median")) - json_real_value(json_object_get(sb, "median"));
			double lo = json_real_value(json_object_get(sa, "ci95_low")) -
				    json_real_value(json_object_get(sb, "ci95_high"));
			double hi = json_real_value(json_object_get(sa, "ci95_high")) -
				    json_real_value(json_object_get(sb, "ci95_low"));
			json_array_append_new(out, json_pack("{s:O, s:O, s:O, s:f, s:f, s:f}", "mode",
							     json_object_get(a, "mode"), "backing",
							     json_object_get(json_object_get(a, "backing"), "requested"),
							     "working_set_bytes", json_object_get(a, "working_set_bytes"),
							     "ns_per_access", d, "ci95_low", lo, "ci95_high", hi));
			json_t *gp = json_object_get(json_object_get(a, "guest_page"), "requested");
			if (gp)
				json_object_set(json_array_get(out, json_array_size(out) - 1), "guest_page", gp);
			break;
		}
	}
}

/* Knees of every swept curve, per kernel and backing. */
static void derive_knees(struct run_state *rs)
{
	json_t *ms = json_object_get(rs->doc, "measurements");
	json_t *out = json_object_get(json_object_get(rs->doc, "derived"), "knees");
	for (size_t ki = 0; ki < rs->cfg->nkernels; ki++) {
		const struct kernel_desc *k = rs->cfg->kernels[ki];
		if (!(k->flags & KERNEL_SWEEPS_WS))
			continue;
		for (size_t bi = 0; bi < rs->cfg->nbackings; bi++) {
			const char *bname = backing_name(rs->cfg->backings[bi]);
			struct curve_point pts[MAX_POINTS];
			size_t n = 0, idx;
			json_t *m;
			json_array_foreach(ms, idx, m) {
				if (n == MAX_POINTS || strcmp(json_string_value(json_object_get(m, "kernel")), k->name) ||
				    strcmp(json_string_value(json_object_get(m, "mode")), "native") ||
				    strcmp(json_string_value(json_object_get(json_object_get(m, "backing"), "requested")), bname) ||
				    !json_is_null(json_object_get(m, "skipped")))
					continue;
				json_t *s = json_object_get(m, "summary");
				pts[n].working_set_bytes = (size_t)json_integer_value(json_object_get(m, "working_set_bytes"));
				pts[n].pages = (size_t)json_integer_value(json_object_get(json_object_get(m, "params"), "verified_pages"));
				pts[n].median = json_real_value(json_object_get(s, "median"));
				pts[n].ci_low = json_real_value(json_object_get(s, "ci95_low"));
				pts[n].ci_high = json_real_value(json_object_get(s, "ci95_high"));
				n++;
			}
			struct knee kn[MAX_POINTS];
			size_t nk = find_knees(pts, n, 1.25, kn, MAX_POINTS);
			for (size_t i = 0; i < nk; i++)
				json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:f}", "kernel", k->name,
								     "mode", "native", "backing", bname,
								     "working_set_bytes", (json_int_t)kn[i].working_set_bytes,
								     "pages", (json_int_t)(kn[i].pages ? kn[i].pages : 1),
								     "ns_before", kn[i].before, "ns_after", kn[i].after));
		}
	}
}

int run_execute(struct run_config *cfg)
{
	nb_error err = {{0}};
	time_t start = time(NULL);
	char stamp[32], default_out[512];
	results_timestamp(start, stamp, sizeof(stamp));
	results_default_path(start, default_out, sizeof(default_out));
	const char *out = cfg->out ? cfg->out : default_out;
	if (!cfg->out)
		mkdir("results", 0755); /* the default place; an error shows up just below */
	if (results_check_writable(out, &err)) {
		nb_error_msg("%s", err.msg);
		return EXIT_RUNTIME;
	}

	struct run_state rs = {.cfg = cfg, .progress = !cfg->quiet && stderr_is_tty()};
	rs.npoints = sweep_points(cfg->ws_min, cfg->ws_max, cfg->per_octave, rs.points, MAX_POINTS);
	if (rs.npoints == 0) {
		nb_error_msg("empty working-set sweep (--ws-min %zu > --ws-max %zu?)", cfg->ws_min, cfg->ws_max);
		return EXIT_USAGE;
	}
	if (!cfg->modes)
		cfg->modes = RUN_MODE_NATIVE;
	rs.total = (cfg->modes & RUN_MODE_NATIVE) ? rs.npoints * cfg->nkernels * cfg->nbackings : 0;

	hugepool_install_cleanup();
	if (topology_init(&err)) {
		nb_error_msg("%s", err.msg);
		return EXIT_RUNTIME;
	}
	int cpu = cfg->cpu >= 0 ? cfg->cpu : topology_default_measure_pu();
	if (!topology_pu_allowed(cpu)) {
		nb_error_msg("cpu %d is not available to this process (allowed: 0..%d, see 'nestbench info')", cpu,
			     topology_pu_count() - 1);
		topology_fini();
		return EXIT_USAGE;
	}
	json_t *host = machine_facts_json();
	if (topology_pin_self(cpu, &err)) {
		nb_error_msg("%s", err.msg);
		json_decref(host);
		topology_fini();
		return EXIT_RUNTIME;
	}
	nb_error swerr;
	rs.have_sw = swcount_open(&rs.sw, 0, 0, &swerr) == 0;
	if (!rs.have_sw && !cfg->quiet)
		nb_warn("software counters unavailable: %s", swerr.msg);

	rs.doc = results_new(host, run_config_json(cfg, out), stamp);
	int rc = 0;
	for (size_t b = 0; b < cfg->nbackings && rc == 0; b++)
		rc = run_backing(&rs, cfg->backings[b], cpu);

	if (rs.have_sw)
		swcount_close(&rs.sw);
	topology_restore_affinity();
	topology_fini();
	hugepool_restore_all();
	if (rc) {
		json_decref(rs.doc);
		return EXIT_RUNTIME;
	}
	derive_translation(rs.doc);
	derive_knees(&rs);
	if (results_write(rs.doc, out, &err)) {
		nb_error_msg("%s", err.msg);
		json_decref(rs.doc);
		return EXIT_RUNTIME;
	}
	if (!cfg->quiet) {
		run_summary_print(stdout, rs.doc);
		run_vm_print_summary(stdout, rs.doc);
	}
	printf("results: %s\n", out);
	json_decref(rs.doc);
	return EXIT_OK;
}
