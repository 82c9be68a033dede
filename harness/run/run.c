/* run.c - execute one run (see run.h). */
#include "harness/run/run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <time.h>

#include "core/childguard.h"
#include "core/opt_json.h"
#include "harness/mem/hugepool.h"
#include "harness/run/knees.h"
#include "harness/host/machine.h"
#include "harness/run/measure.h"
#include "harness/pmu/pmu.h"
#include "harness/run/results.h"
#include "harness/run/run_summary.h"
#include "harness/run/run_vm.h"
#include "core/stats.h"
#include "core/thresholds.h"
#include "harness/pmu/swcount.h"
#include "harness/run/sweep.h"
#include "harness/host/topology.h"

#define MAX_POINTS 256


json_t *run_config_json(const struct run_config *cfg, const char *out_path)
{
	json_t *c = opt_echo(run_options(), cfg), *argv = json_array();
	for (int i = 0; i < cfg->argc; i++)
		json_array_append_new(argv, json_string(cfg->argv[i]));
	json_object_set_new(c, "command_line", argv);
	json_object_set_new(c, "out", json_string(out_path));
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
	int have_sw; /* software perf events can be opened here */
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

/* backing: the measurement's backing object (the harness buffer's or the
 * kernel's own memory); "requested": "none" means no memory to verify. */
static void add_flags(json_t *flags, const json_t *backing, const struct summary *s, const uint64_t *counts,
		      int have_sw)
{
	size_t want = (size_t)json_integer_value(json_object_get(backing, "requested_page_bytes"));
	size_t got = (size_t)json_integer_value(json_object_get(backing, "verified_page_bytes"));
	double coverage = json_number_value(json_object_get(backing, "coverage"));
	if (strcmp(json_string_value(json_object_get(backing, "requested")), "none") == 0) {
		/* the kernel touched no memory of its own */
	} else if (got != want) {
		char w[32], g[32];
		format_size(want, w, sizeof(w));
		format_size(got, g, sizeof(g));
		json_array_append_new(flags, json_sprintf("unverified pages: asked for %s, got %s", w, g));
	} else if (coverage < THRESH_MIN_COVERAGE) {
		json_array_append_new(flags, json_sprintf("only %.0f%% of the buffer on the requested page size",
							  coverage * 100));
	}
	if (s->cv > THRESH_NOISY_CV)
		json_array_append_new(flags, json_sprintf("noisy: cv %.1f%%", s->cv * 100));
	if (have_sw && counts[SWC_CPU_MIGRATIONS] != UINT64_MAX && counts[SWC_CPU_MIGRATIONS] > 0)
		json_array_append_new(flags, json_sprintf("%llu cpu migrations while pinned",
							  (unsigned long long)counts[SWC_CPU_MIGRATIONS]));
}

/* Counters for one measurement, opened before setup (so partners created
 * there inherit them when the kernel counts children) and closed after it:
 * no perf event stays open on the measuring thread between measurements,
 * where it would tax every context switch of a KERNEL_COUNT_APART kernel. */
static struct swcount *counters_for(struct run_state *rs, const struct kernel_desc *k, struct swcount *own)
{
	if (!rs->have_sw)
		return NULL;
	nb_error e;
	return swcount_open(own, 0, (k->flags & KERNEL_COUNTS_CHILDREN) != 0, &e) == 0 ? own : NULL;
}

/* The proof pass of a KERNEL_COUNT_APART kernel: set it up again with
 * counters open (so partners inherit them), run `samples` samples of `iters`
 * with the counters on, tear down.  Fills counts and *ops; returns 0 with sw
 * still open (the caller reads and closes it), or -1 with the reason flagged. */
static int count_apart(struct run_state *rs, struct kernel_ctx *ctx, unsigned samples, uint64_t iters,
		       struct swcount *sw, uint64_t *counts, uint64_t *ops)
{
	const struct kernel_desc *k = ctx->desc;
	nb_error err = {{0}};
	(void)rs;
	if (swcount_open(sw, 0, (k->flags & KERNEL_COUNTS_CHILDREN) != 0, &err)) {
		json_array_append_new(ctx->flags, json_sprintf("no counter proof: %s", err.msg));
		return -1;
	}
	json_t *timed_backing = ctx->backing_json;
	ctx->backing_json = NULL;
	ctx->priv = NULL;
	int rc = k->setup(ctx, &err);
	json_decref(ctx->backing_json);
	ctx->backing_json = timed_backing;
	*ops = 0;
	if (rc == 0) {
		uint64_t ticks;
		/* One uncounted warm-up sample, as in the timed pass: a fresh
		 * partner's first copy-on-write faults are not the kernel's claim. */
		rc = k->sample(ctx, iters, &ticks, &err);
		swcount_reset(sw);
		for (unsigned i = 0; i < samples && rc == 0; i++) {
			swcount_start(sw);
			rc = k->sample(ctx, iters, &ticks, &err);
			swcount_stop(sw);
			*ops += iters;
		}
		if (k->teardown)
			k->teardown(ctx);
	}
	swcount_read(sw, counts);
	if (rc) {
		swcount_close(sw);
		for (int i = 0; i < SWC_COUNT; i++)
			counts[i] = UINT64_MAX;
		json_array_append_new(ctx->flags, json_sprintf("no counter proof: the counting pass failed: %s", err.msg));
	}
	return rc ? -1 : 0;
}

/* Mode vm measurements name the guest page and how this host virtualizes memory. */
static void add_guest_fields(json_t *m, uint64_t page, uint64_t built)
{
	json_object_set_new(m, "guest_page",
			    json_pack("{s:s, s:o}", "requested", run_vm_guest_page_name(page), "built_page_bytes",
				      built ? json_integer((json_int_t)built) : json_null()));
	json_object_set_new(m, "mmu_virt_mode", json_string(machine_mmu_virt_mode(NULL, 0)));
}

/* A VM cell that failed (guest fault, watchdog, VMM error) becomes a
 * measurement with the reason, and the run goes on: one bad cell must not
 * lose a long run's data.  The exit status says that some failed. */
static void fail_vm_cell(struct run_state *rs, const struct kernel_desc *k, struct buffer *buf, size_t ws, int cpu,
			 const struct kernel_options *opt, const char *why)
{
	char w[32] = "0";
	if (ws)
		format_size(ws, w, sizeof(w));
	nb_error_msg("vm %s%s%s guest page %s, backing %s, %s: %s", k->name, opt->variant ? " " : "",
		     opt->variant ? opt->variant : "", run_vm_guest_page_name(opt->guest_page_bytes),
		     backing_name(buf->kind), w, why);
	json_t *m = results_failed_measurement(k->name, k->family, k->metric, "vm", buffer_json(buf), ws, cpu, why);
	if (opt->variant)
		json_object_set_new(json_object_get(m, "params"), "variant", json_string(opt->variant));
	add_guest_fields(m, opt->guest_page_bytes, 0);
	json_array_append_new(json_object_get(rs->doc, "measurements"), m);
}

static int measure_one(struct run_state *rs, const struct kernel_desc *k, struct buffer *buf, size_t ws, int cpu,
		       const struct kernel_options *opt)
{
	struct run_config *cfg = rs->cfg;
	nb_error err = {{0}};
	struct kernel_ctx ctx = {
		.desc = k,
		.backing = buf->kind,
		.buf = (k->flags & KERNEL_NEEDS_BUFFER) ? buf : NULL,
		.working_set_bytes = ws,
		.cpu = cpu,
		.opt = opt,
		.params = json_object(),
		.flags = json_array(),
	};
	const char *mode = opt->in_vm ? "vm" : "native";
	json_t *m = json_pack("{s:s, s:s, s:s, s:I, s:i, s:s}", "kernel", k->name, "family", k->family, "mode",
			      mode, "working_set_bytes", (json_int_t)ws, "cpu", cpu, "metric", k->metric);
	int apart = (k->flags & KERNEL_COUNT_APART) && rs->have_sw;
	struct swcount own_sw, *sw = apart ? NULL : counters_for(rs, k, &own_sw);
	int rc = k->setup(&ctx, &err);
	/* A kernel that sizes its own memory (a guest-kernel figure touches as
	 * many guest pages as its region holds, up to its own count) says in
	 * setup what it works on: that is the measurement's working set. */
	ws = ctx.working_set_bytes;
	json_object_set_new(m, "working_set_bytes", json_integer((json_int_t)ws));
	if (rc != 0) {
		json_decref(ctx.params);
		json_decref(ctx.flags);
		json_decref(ctx.backing_json);
		json_decref(m);
		if (sw)
			swcount_close(sw);
		if (rc < 0 && !opt->in_vm) {
			nb_error_msg("%s", err.msg);
			return -1;
		}
		if (rc < 0) {
			fail_vm_cell(rs, k, buf, ws, cpu, opt, err.msg);
			return 0;
		}
		json_t *sk = results_skipped_measurement(k->name, k->family, k->metric, mode, buffer_json(buf), ws, cpu,
							 err.msg);
		if (opt->in_vm)
			add_guest_fields(sk, opt->guest_page_bytes, 0);
		json_array_append_new(json_object_get(rs->doc, "measurements"), sk);
		return 0;
	}
	struct measure_config mc = {
		.samples = cfg->samples,
		.warmup_samples = cfg->warmup_samples,
		.target_sample_ns = cfg->target_sample_ns,
	};
	/* Hardware counters too, except for kernels whose timing counting
	 * itself would disturb (KERNEL_COUNT_APART): perf events on the two
	 * sides of a context switch slow every switch. */
	struct counting cnt = {sw, NULL};
	if (!cfg->no_pmu && !apart && !opt->in_vm) {
		struct pmu_request rq = {.events = cfg->events, .no_software = 1};
		cnt.pmu = pmu_session_open(&rq, &err);
		if (!cnt.pmu) {
			nb_error_msg("%s", err.msg);
			json_decref(ctx.params);
			json_decref(ctx.flags);
			json_decref(ctx.backing_json);
			json_decref(m);
			if (sw)
				swcount_close(sw);
			if (k->teardown)
				k->teardown(&ctx);
			json_decref(ctx.kvm_json);
			return -1;
		}
	}
	struct measure_observer obs = {&cnt, obs_start, obs_stop};
	struct measure_result res = {0};
	uint64_t counts[SWC_COUNT];
	for (int i = 0; i < SWC_COUNT; i++)
		counts[i] = UINT64_MAX;
	if (sw)
		swcount_reset(sw);
	rc = measure_kernel(&ctx, &mc, (sw || cnt.pmu) ? &obs : NULL, &res, &err);
	if (k->teardown)
		k->teardown(&ctx);
	if (sw)
		swcount_read(sw, counts);
	uint64_t ops_counted = res.total_ops;
	if (apart && rc == 0 && count_apart(rs, &ctx, cfg->samples, res.iters_per_sample, &own_sw, counts, &ops_counted) == 0)
		sw = &own_sw;
	if (rc) {
		if (cnt.pmu)
			pmu_session_close(cnt.pmu);
		json_decref(ctx.params);
		json_decref(ctx.flags);
		json_decref(ctx.backing_json);
		json_decref(ctx.kvm_json);
		json_decref(m);
		if (sw)
			swcount_close(sw);
		if (opt->in_vm) {
			fail_vm_cell(rs, k, buf, ws, cpu, opt, err.msg);
			return 0;
		}
		nb_error_msg("%s %s %zu: %s", k->name, backing_name(buf->kind), ws, err.msg);
		return -1;
	}
	struct summary s;
	summarize(res.samples, res.n, &s);
	json_t *samples = samples_json(res.samples, res.n);
	free(res.samples);

	json_t *backing = ctx.backing_json ? ctx.backing_json : buffer_json(buf);
	json_object_set_new(m, "backing", backing);
	if (sw && k->check)
		k->check(&ctx, counts, ops_counted);
	/* Guest kernels count their vCPU threads' guest-mode events themselves
	 * (bench/hwvm.c) and leave them in params: they belong where every
	 * other measurement keeps its counters. */
	json_t *guest_pmu = json_object_get(ctx.params, "guest_pmu");
	if (json_is_object(guest_pmu) && !json_object_get(m, "pmu")) {
		json_object_set(m, "pmu", guest_pmu);
		json_object_del(ctx.params, "guest_pmu");
	} else if (json_is_array(guest_pmu) && !json_object_get(m, "pmu")) {
		/* One session per VM (vmswitch): available when any counted. */
		size_t i;
		json_t *v;
		int any = 0;
		json_array_foreach(guest_pmu, i, v)
			any |= json_is_true(json_object_get(v, "available"));
		json_t *first = json_array_get(guest_pmu, 0);
		json_object_set_new(m, "pmu", json_pack("{s:b, s:O?, s:b, s:O}", "available", any, "reason",
							 any ? NULL : json_object_get(first, "reason"), "guest_mode", 1,
							 "vms", guest_pmu));
		json_object_del(ctx.params, "guest_pmu");
	}
	json_object_set_new(m, "params", ctx.params);
	json_object_set_new(m, "iterations_per_sample", json_integer((json_int_t)res.iters_per_sample));
	json_object_set_new(m, "samples", samples);
	json_object_set_new(m, "summary", summary_json(&s));
	if (ctx.alt_metric)
		json_object_set_new(m, "alt_metrics",
				    json_pack("{s:{s:f, s:f, s:f}}", ctx.alt_metric, "median", s.median * ctx.alt_per_op,
					      "ci95_low", s.ci95_low * ctx.alt_per_op, "ci95_high", s.ci95_high * ctx.alt_per_op));
	json_object_set_new(m, "skipped", json_null());
	if (sw) {
		json_t *c = swcount_json(sw, counts);
		json_object_set_new(c, "ops_counted", json_integer((json_int_t)ops_counted));
		json_object_set_new(c, "includes_children", json_boolean(k->flags & KERNEL_COUNTS_CHILDREN));
		json_object_set_new(c, "counted_apart", json_boolean(apart));
		json_object_set_new(m, "counters", c);
	}
	if (cnt.pmu) {
		json_object_set_new(m, "pmu", pmu_part(rs, cnt.pmu, res.total_ops));
		pmu_session_close(cnt.pmu);
		cnt.pmu = NULL;
	}
	if (sw)
		swcount_close(sw);
	add_flags(ctx.flags, backing, &s, counts, sw != NULL);
	json_object_set_new(m, "flags", ctx.flags);
	if (ctx.kvm_json)
		json_object_set_new(m, "kvm", ctx.kvm_json);
	if (opt->in_vm)
		add_guest_fields(m, opt->guest_page_bytes, ctx.guest_built_page_bytes);
	json_array_append_new(json_object_get(rs->doc, "measurements"), m);

	rs->done++;
	if (rs->progress) {
		char w[32] = "0";
		if (ws)
			format_size(ws, w, sizeof(w));
		fprintf(stderr, "nestbench: [%zu/%zu] %-10s %-10s %6s %s%s%s %8.2f %s (cv %.1f%%)\n", rs->done,
			rs->total, k->name, backing_name(buf->kind), w, opt->in_vm ? "vm" : "", opt->variant ? " " : "",
			opt->variant ? opt->variant : "", s.median, k->metric, s.cv * 100);
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

/* What a non-sweeping kernel is measured at: --size, else the suite's sizes,
 * else its own; each thread count and placement it uses. */
static const struct kernel_sizes *fixed_sizes(const struct run_config *cfg, const struct kernel_desc *k)
{
	if (cfg->sizes.n)
		return &cfg->sizes;
	const struct kernel_sizes *z = suite_kernel_sizes(cfg->suite, k->name);
	return z ? z : &k->default_sizes;
}

/* Default thread counts: 1, 2, 4, ... and the number of PUs allowed. */
static unsigned default_threads(int *out)
{
	int pus = topology_pu_count();
	unsigned n = 0;
	for (int t = 1; t < pus && n < KERNEL_SIZES_MAX - 1; t *= 2)
		out[n++] = t;
	out[n++] = pus > 0 ? pus : 1;
	return n;
}

static unsigned variant_count(const struct kernel_desc *k)
{
	unsigned n = 0;
	while (k->variants && k->variants[n])
		n++;
	return n ? n : 1;
}

static unsigned variants(const struct run_config *cfg, const struct kernel_desc *k)
{
	int tmp[KERNEL_SIZES_MAX];
	unsigned nt = !(k->flags & KERNEL_USES_THREADS) ? 1 : cfg->nthreads ? cfg->nthreads : default_threads(tmp);
	unsigned np = !(k->flags & KERNEL_USES_PLACEMENT) ? 1 : cfg->nplacements ? cfg->nplacements : KERNEL_PLACEMENT_COUNT;
	return nt * np * variant_count(k);
}

/* Measurements per point of a kernel in the run's modes: native, and one
 * per guest page for kernels that run guests themselves. */
static unsigned mode_count(const struct run_config *cfg, const struct kernel_desc *k)
{
	unsigned n = (cfg->modes & RUN_MODE_NATIVE) ? 1 : 0;
	if ((cfg->modes & RUN_MODE_VM) && (k->flags & KERNEL_HAS_GUEST))
		n += (unsigned)cfg->nguest_pages;
	return n;
}

static size_t per_backing_total(const struct run_state *rs)
{
	size_t n = 0;
	for (size_t i = 0; i < rs->cfg->nkernels; i++) {
		const struct kernel_desc *k = rs->cfg->kernels[i];
		if (k->flags & KERNEL_SWEEPS_WS)
			n += (rs->cfg->modes & RUN_MODE_NATIVE) ? rs->npoints : 0;
		else
			n += fixed_sizes(rs->cfg, k)->n * variants(rs->cfg, k) * mode_count(rs->cfg, k);
	}
	return n;
}

/* One non-sweeping kernel at every size x thread count x placement. */
static int measure_fixed(struct run_state *rs, const struct kernel_desc *k, struct buffer *buf, int cpu)
{
	const struct run_config *cfg = rs->cfg;
	const struct kernel_sizes *z = fixed_sizes(cfg, k);
	int threads[KERNEL_SIZES_MAX] = {1};
	unsigned nt = 1, np = 1;
	if (k->flags & KERNEL_USES_THREADS) {
		nt = cfg->nthreads ? cfg->nthreads : default_threads(threads);
		if (cfg->nthreads)
			memcpy(threads, cfg->threads, sizeof(threads));
	}
	enum kernel_placement places[KERNEL_PLACEMENT_COUNT] = {KERNEL_SAME_PU, KERNEL_CROSS_PU};
	if (k->flags & KERNEL_USES_PLACEMENT) {
		np = cfg->nplacements ? cfg->nplacements : KERNEL_PLACEMENT_COUNT;
		if (cfg->nplacements)
			memcpy(places, cfg->placements, sizeof(places));
	}
	unsigned nv = variant_count(k);
	/* Native first, then the guest side of the same point at each guest page. */
	size_t nmodes = 1 + ((cfg->modes & RUN_MODE_VM) && (k->flags & KERNEL_HAS_GUEST) ? cfg->nguest_pages : 0);
	for (unsigned si = 0; si < z->n; si++)
		for (unsigned ti = 0; ti < nt; ti++)
			for (unsigned pi = 0; pi < np; pi++)
				for (unsigned vi = 0; vi < nv; vi++)
					for (size_t mi = 0; mi < nmodes; mi++) {
						if (mi == 0 && !(cfg->modes & RUN_MODE_NATIVE))
							continue;
						struct kernel_options opt = cfg->kopt;
						opt.threads = threads[ti];
						opt.placement = places[pi];
						opt.variant = k->variants ? k->variants[vi] : NULL;
						opt.in_vm = mi > 0;
						opt.guest_page_bytes = mi > 0 ? cfg->guest_pages[mi - 1] : 0;
						if (measure_one(rs, k, buf, z->bytes[si], cpu, &opt))
							return -1;
					}
	return 0;
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
	rs->total -= per_backing_total(rs);
	if (!rs->cfg->quiet)
		nb_warn("skipping backing %s: %s", backing_name(kind), reason);
}

static int run_backing(struct run_state *rs, enum backing_kind kind, int cpu)
{
	nb_error err = {{0}};
	size_t need = buffer_need(rs);
	struct buffer buf;
	/* No kernel needs the harness buffer: the kernels map their own, so only
	 * ask whether one page of the backing can be had. */
	int rc = backing_usable(kind, need ? need : backing_page_bytes(kind), &err);
	if (rc == 0 && need)
		rc = buffer_alloc(&buf, kind, need, &err);
	else if (rc == 0) {
		memset(&buf, 0, sizeof(buf));
		buf.kind = kind;
	}
	if (rc != 0) {
		if (rc < 0 || rs->cfg->backings_explicit) {
			nb_error_msg("backing %s: %s", backing_name(kind), err.msg);
			return -1;
		}
		skip_backing(rs, kind, cpu, err.msg);
		return 0;
	}
	/* Children forked by kernels (fork, fork-cow, pipe-proc) do not copy the
	 * sweep buffer: what they measure must not depend on which other kernels
	 * share the run. */
	if (buf.map_base)
		(void)madvise(buf.map_base, buf.map_bytes, MADV_DONTFORK);
	/* Working sets ascending, kernels interleaved at each point so that a
	 * chase and its control are measured minutes apart at most. */
	/* --mode vm/both: the VMs map this same buffer (run_vm.c); with both,
	 * native and VM measurements of a point follow each other. */
	json_t *ms = json_object_get(rs->doc, "measurements");
	/* (need == 0: no sweeping kernel, nothing for these VMs to run.) */
	struct run_vm *rv = (rs->cfg->modes & RUN_MODE_VM) && need ? run_vm_open(rs->cfg, &buf, need, cpu, ms) : NULL;
	for (size_t p = 0; p < rs->npoints && rc == 0; p++)
		for (size_t i = 0; i < rs->cfg->nkernels && rc == 0; i++) {
			if (!(rs->cfg->kernels[i]->flags & KERNEL_SWEEPS_WS))
				continue;
			if (rs->cfg->modes & RUN_MODE_NATIVE)
				rc = measure_one(rs, rs->cfg->kernels[i], &buf, rs->points[p], cpu, &rs->cfg->kopt);
			if (rc == 0)
				run_vm_measure(rv, rs->cfg->kernels[i], rs->points[p], ms);
		}
	run_vm_close(rv);
	for (size_t i = 0; i < rs->cfg->nkernels && rc == 0; i++) {
		const struct kernel_desc *k = rs->cfg->kernels[i];
		if (!(k->flags & KERNEL_SWEEPS_WS) && mode_count(rs->cfg, k))
			rc = measure_fixed(rs, k, &buf, cpu);
	}
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

/* Knees of every swept curve: per kernel, backing, and mode (native, and
 * each guest page size of a VM run). */
static void derive_knees(struct run_state *rs)
{
	json_t *ms = json_object_get(rs->doc, "measurements");
	json_t *out = json_object_get(json_object_get(rs->doc, "derived"), "knees");
	struct {
		const char *mode, *guest; /* guest: guest_page.requested, NULL for native */
	} curves[1 + 3];
	size_t ncurves = 0;
	if (rs->cfg->modes & RUN_MODE_NATIVE) {
		curves[ncurves].mode = "native";
		curves[ncurves++].guest = NULL;
	}
	for (size_t g = 0; (rs->cfg->modes & RUN_MODE_VM) && g < rs->cfg->nguest_pages && ncurves < 4; g++) {
		curves[ncurves].mode = "vm";
		curves[ncurves++].guest = run_vm_guest_page_name(rs->cfg->guest_pages[g]);
	}
	for (size_t ki = 0; ki < rs->cfg->nkernels; ki++) {
		const struct kernel_desc *k = rs->cfg->kernels[ki];
		if (!(k->flags & KERNEL_SWEEPS_WS))
			continue;
		for (size_t ci = 0; ci < ncurves; ci++)
			for (size_t bi = 0; bi < rs->cfg->nbackings; bi++) {
				const char *bname = backing_name(rs->cfg->backings[bi]);
				struct curve_point pts[MAX_POINTS];
				size_t n = 0, idx;
				json_t *m;
				json_array_foreach(ms, idx, m) {
					const char *g = json_string_value(
						json_object_get(json_object_get(m, "guest_page"), "requested"));
					if (n == MAX_POINTS || strcmp(json_string_value(json_object_get(m, "kernel")), k->name) ||
					    strcmp(json_string_value(json_object_get(m, "mode")), curves[ci].mode) ||
					    strcmp(g ? g : "", curves[ci].guest ? curves[ci].guest : "") ||
					    strcmp(json_string_value(json_object_get(json_object_get(m, "backing"), "requested")),
						   bname) ||
					    !json_is_null(json_object_get(m, "skipped")))
						continue;
					json_t *s = json_object_get(m, "summary");
					pts[n].working_set_bytes = (size_t)json_integer_value(json_object_get(m, "working_set_bytes"));
					pts[n].pages = (size_t)json_integer_value(
						json_object_get(json_object_get(m, "params"), "verified_pages"));
					pts[n].median = json_real_value(json_object_get(s, "median"));
					pts[n].ci_low = json_real_value(json_object_get(s, "ci95_low"));
					pts[n].ci_high = json_real_value(json_object_get(s, "ci95_high"));
					n++;
				}
				struct knee kn[MAX_POINTS];
				size_t nk = find_knees(pts, n, THRESH_KNEE_STEP, kn, MAX_POINTS);
				for (size_t i = 0; i < nk; i++) {
					json_t *e = json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:f}", "kernel", k->name, "mode",
							      curves[ci].mode, "backing", bname, "working_set_bytes",
							      (json_int_t)kn[i].working_set_bytes, "pages",
							      (json_int_t)(kn[i].pages ? kn[i].pages : 1), "ns_before",
							      kn[i].before, "ns_after", kn[i].after);
					if (curves[ci].guest)
						json_object_set_new(e, "guest_page", json_string(curves[ci].guest));
					json_array_append_new(out, e);
				}
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

	hugepool_install_cleanup();
	childguard_install(); /* after hugepool's: kill children first, then restore pools */
	if (topology_init(&err)) {
		nb_error_msg("%s", err.msg);
		return EXIT_RUNTIME;
	}
	/* Progress counts the measurements measure_one makes (the chase
	 * in run_vm.c prints its own line). */
	rs.total = per_backing_total(&rs) * cfg->nbackings;
	for (unsigned i = 0; i < cfg->nthreads; i++)
		if (cfg->threads[i] > topology_pu_count()) {
			nb_error_msg("--threads %d: this process may run on %d PUs only (one thread per PU)",
				     cfg->threads[i], topology_pu_count());
			topology_fini();
			return EXIT_USAGE;
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
	/* A probe: each measurement opens its own counters (counters_for). */
	struct swcount probe;
	rs.have_sw = swcount_open(&probe, 0, 0, &swerr) == 0;
	if (rs.have_sw)
		swcount_close(&probe);
	if (!rs.have_sw && !cfg->quiet)
		nb_warn("software counters unavailable: %s", swerr.msg);

	rs.doc = results_new(host, run_config_json(cfg, out), stamp);
	int rc = 0;
	for (size_t b = 0; b < cfg->nbackings && rc == 0; b++)
		rc = run_backing(&rs, cfg->backings[b], cpu);

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
	fputs("results: ", stdout);
	fputs_visible(out, stdout);
	fputc('\n', stdout);
	size_t failed = results_count_failed(rs.doc);
	json_decref(rs.doc);
	if (failed) {
		nb_error_msg("%zu cell%s failed (their reasons are in the results file, \"failed\": true); exit status %d",
			     failed, failed == 1 ? "" : "s", EXIT_CELLS_FAILED);
		return EXIT_CELLS_FAILED;
	}
	return EXIT_OK;
}
