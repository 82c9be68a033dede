/* point.c - one measurement of a run (see point.h). */
#include "harness/run/point.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "core/thresholds.h"
#include "harness/host/machine.h"
#include "harness/run/counting.h"
#include "harness/run/measure.h"
#include "harness/run/results.h"
#include "harness/run/run_vm.h"

/* The PMU part of a measurement.  When no hardware event could be counted
 * the per-event reasons are the same for every measurement: they go once
 * into the document's top-level "pmu", and the measurement keeps the verdict. */
static json_t *pmu_part(struct point_run *pr, struct pmu_session *s, uint64_t ops)
{
	json_t *full = pmu_session_json(s, ops);
	if (!pr->pmu_described) {
		json_object_set(pr->doc, "pmu", full);
		pr->pmu_described = 1;
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

/* Mode vm measurements name the guest page and how this host virtualizes memory. */
static void add_guest_fields(struct measurement *r, uint64_t page, uint64_t built)
{
	r->guest_page = run_vm_guest_page_name(page);
	r->guest_built_page_bytes = built;
	r->mmu_virt_mode = machine_mmu_virt_mode(NULL, 0);
}

static void append(struct point_run *pr, struct measurement *r)
{
	records_write(pr->recs, r);
}

/* What tells a cell of kernel k from its siblings at one working set (its
 * variant, thread count, placement): a skipped or failed cell records it,
 * so that two such cells never share an identity (core/identity.h) and a
 * skip in one run matches the same skip in another.  NULL: nothing. */
static json_t *cell_params(const struct kernel_desc *k, const struct kernel_options *opt)
{
	json_t *p = json_object();
	if (opt->variant)
		json_object_set_new(p, "variant", json_string(opt->variant));
	if (k->flags & KERNEL_USES_THREADS)
		json_object_set_new(p, "threads", json_integer(opt->threads));
	if (k->flags & KERNEL_USES_PLACEMENT)
		json_object_set_new(p, "placement", json_string(kernel_placement_name(opt->placement)));
	if (json_object_size(p) == 0) {
		json_decref(p);
		return NULL;
	}
	return p;
}

/* A VM cell that failed (guest fault, watchdog, VMM error) becomes a
 * measurement with the reason, and the run goes on: one bad cell must not
 * lose a long run's data.  The exit status says that some failed. */
static void fail_vm_cell(struct point_run *pr, const struct kernel_desc *k, struct buffer *buf, size_t ws, int cpu,
			 const struct kernel_options *opt, const char *why)
{
	char w[32] = "0";
	if (ws)
		format_size(ws, w, sizeof(w));
	nb_error_msg("vm %s%s%s guest page %s, backing %s, %s: %s", k->name, opt->variant ? " " : "",
		     opt->variant ? opt->variant : "", run_vm_guest_page_name(opt->guest_page_bytes),
		     backing_name(buf->kind), w, why);
	struct measurement r;
	record_skipped(&r, k->name, k->family, k->metric, "vm", buffer_json(buf), ws, cpu, why);
	r.failed = 1;
	r.params = cell_params(k, opt);
	add_guest_fields(&r, opt->guest_page_bytes, 0);
	append(pr, &r);
}

/* What a kernel left in its context when its measurement is abandoned. */
static void drop_ctx_json(struct kernel_ctx *ctx)
{
	json_decref(ctx->params);
	json_decref(ctx->flags);
	json_decref(ctx->backing_json);
	json_decref(ctx->kvm_json);
}

/* Guest kernels count their vCPU threads' guest-mode events themselves
 * (bench/hwvm.c) and leave them in params["guest_pmu"]: taken out of params,
 * they belong where every other measurement keeps its counters.  NULL when
 * the kernel left none. */
static json_t *guest_pmu_part(json_t *params)
{
	json_t *guest_pmu = json_object_get(params, "guest_pmu"), *out = NULL;
	if (json_is_object(guest_pmu)) {
		out = json_incref(guest_pmu);
	} else if (json_is_array(guest_pmu)) {
		/* One session per VM (vmswitch): available when any counted. */
		size_t i;
		json_t *v;
		int any = 0;
		json_array_foreach(guest_pmu, i, v)
			any |= json_is_true(json_object_get(v, "available"));
		json_t *first = json_array_get(guest_pmu, 0);
		out = json_pack("{s:b, s:O?, s:b, s:O}", "available", any, "reason",
				any ? NULL : json_object_get(first, "reason"), "guest_mode", 1, "vms", guest_pmu);
	}
	if (out)
		json_object_del(params, "guest_pmu");
	return out;
}

/* The software counters of a measurement and what they covered. */
static json_t *counters_part(struct swcount *sw, const uint64_t *counts, uint64_t ops_counted,
			     const struct kernel_desc *k, int apart)
{
	json_t *c = swcount_json(sw, counts);
	json_object_set_new(c, "ops_counted", json_integer((json_int_t)ops_counted));
	json_object_set_new(c, "includes_children", json_boolean(k->flags & KERNEL_COUNTS_CHILDREN));
	json_object_set_new(c, "counted_apart", json_boolean(apart));
	return c;
}

/* One measurement between its set-up and its record. */
struct point {
	const struct kernel_desc *k;
	struct buffer *buf;
	const struct kernel_options *opt;
	struct kernel_ctx ctx;
	struct measurement r;
	int apart;
	struct swcount own_sw, *sw;
	struct counting cnt;
	struct measure_observer obs;
	struct measure_config mc;
	struct range_watch rw; /* the touched range's page sizes, before and after */
};

/* Set the kernel up and open its counters: 1 when it is ready to be timed;
 * 0 when it was recorded as skipped (or as a failed VM cell); -1 on an
 * error that ends the run (reported). */
static int point_begin(struct point_run *pr, struct point *p, const struct kernel_desc *k, struct buffer *buf,
		       size_t ws, int cpu, const struct kernel_options *opt)
{
	const struct run_config *cfg = pr->cfg;
	nb_error err = {{0}};
	memset(p, 0, sizeof(*p));
	p->k = k;
	p->buf = buf;
	p->opt = opt;
	p->ctx = (struct kernel_ctx){
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
	p->r = (struct measurement){.kernel = k->name, .family = k->family, .metric = k->metric, .mode = mode, .cpu = cpu};
	p->apart = (k->flags & KERNEL_COUNT_APART) && pr->have_sw;
	p->sw = p->apart ? NULL : counting_open(pr->have_sw, k, &p->own_sw);
	int rc = k->setup(&p->ctx, &err);
	/* A kernel that sizes its own memory (a guest-kernel figure touches as
	 * many guest pages as its region holds, up to its own count) says in
	 * setup what it works on: that is the measurement's working set. */
	ws = p->ctx.working_set_bytes;
	p->r.working_set_bytes = ws;
	if (rc != 0) {
		drop_ctx_json(&p->ctx);
		if (p->sw)
			swcount_close(p->sw);
		if (rc < 0 && !opt->in_vm) {
			nb_error_msg("%s", err.msg);
			return -1;
		}
		if (rc < 0) {
			fail_vm_cell(pr, k, buf, ws, cpu, opt, err.msg);
			return 0;
		}
		record_skipped(&p->r, k->name, k->family, k->metric, mode, buffer_json(buf), ws, cpu, err.msg);
		p->r.params = cell_params(k, opt);
		if (opt->in_vm)
			add_guest_fields(&p->r, opt->guest_page_bytes, 0);
		append(pr, &p->r);
		return 0;
	}
	p->mc = (struct measure_config){
		.samples = cfg->samples,
		.warmup_samples = cfg->warmup_samples,
		.target_sample_ns = cfg->target_sample_ns,
		/* Kernels that switch, fork or wake threads by design are not retaken. */
		.retake_preempted = !(k->flags & (KERNEL_COUNT_APART | KERNEL_COUNTS_CHILDREN | KERNEL_USES_THREADS |
						  KERNEL_USES_PLACEMENT | KERNEL_HAS_GUEST)),
	};
	/* Hardware counters too, except for kernels whose timing counting
	 * itself would disturb (KERNEL_COUNT_APART): perf events on the two
	 * sides of a context switch slow every switch. */
	p->cnt = (struct counting){p->sw, NULL};
	if (!cfg->no_pmu && !p->apart && !opt->in_vm) {
		struct pmu_request rq = {.events = cfg->events, .no_software = 1};
		p->cnt.pmu = pmu_session_open(&rq, &err);
		if (!p->cnt.pmu) {
			nb_error_msg("%s", err.msg);
			if (p->sw)
				swcount_close(p->sw);
			if (k->teardown)
				k->teardown(&p->ctx);
			drop_ctx_json(&p->ctx);
			return -1;
		}
	}
	p->obs = (struct measure_observer){&p->cnt, counting_start, counting_stop};
	if (p->sw)
		swcount_reset(p->sw);
	range_watch_begin(&p->rw, &p->ctx);
	return 1;
}

/* The observer measure.c is to run around the timed samples, if any. */
static const struct measure_observer *point_observer(const struct point *p)
{
	return (p->sw || p->cnt.pmu) ? &p->obs : NULL;
}

/* After the timed samples (rc: measure.c's): check, record and tear down.
 * 0, or -1 on an error that ends the run (reported). */
static int point_finish(struct point_run *pr, struct point *p, int rc, struct measure_result *res, const nb_error *merr)
{
	const struct run_config *cfg = pr->cfg;
	const struct kernel_desc *k = p->k;
	const struct kernel_options *opt = p->opt;
	struct kernel_ctx *ctx = &p->ctx;
	struct measurement *r = &p->r;
	struct swcount *sw = p->sw;
	size_t ws = r->working_set_bytes;
	json_t *page_check = range_watch_end(&p->rw, ctx->flags, ctx->params);
	if (k->teardown)
		k->teardown(ctx);
	uint64_t counts[SWC_COUNT];
	for (int i = 0; i < SWC_COUNT; i++)
		counts[i] = UINT64_MAX;
	if (sw)
		swcount_read(sw, counts);
	uint64_t ops_counted = res->total_ops;
	if (p->apart && rc == 0 &&
	    counting_apart(ctx, cfg->samples, res->iters_per_sample, &p->own_sw, counts, &ops_counted) == 0)
		sw = &p->own_sw;
	if (rc) {
		json_decref(page_check);
		if (p->cnt.pmu)
			pmu_session_close(p->cnt.pmu);
		drop_ctx_json(ctx);
		if (sw)
			swcount_close(sw);
		if (opt->in_vm) {
			fail_vm_cell(pr, k, p->buf, ws, r->cpu, opt, merr->msg);
			return 0;
		}
		nb_error_msg("%s %s %zu: %s", k->name, backing_name(p->buf->kind), ws, merr->msg);
		return -1;
	}
	struct summary s;
	summarize(res->samples, res->n, &s);
	r->summary = s;
	r->samples = res->samples;
	r->nsamples = res->n;
	r->iterations_per_sample = res->iters_per_sample;
	r->retaken = res->retaken;
	r->alt_metric = ctx->alt_metric;
	r->alt_per_op = ctx->alt_per_op;

	json_t *backing = ctx->backing_json ? ctx->backing_json : buffer_json(p->buf);
	r->backing = backing;
	if (sw && k->check)
		k->check(ctx, counts, ops_counted);
	r->pmu = guest_pmu_part(ctx->params);
	r->params = ctx->params;
	if (sw)
		r->counters = counters_part(sw, counts, ops_counted, k, p->apart);
	if (p->cnt.pmu) {
		/* The host's own counters win over any a kernel left in params. */
		json_decref(r->pmu);
		r->pmu = pmu_part(pr, p->cnt.pmu, res->total_ops);
		pmu_session_close(p->cnt.pmu);
		p->cnt.pmu = NULL;
	}
	if (sw)
		swcount_close(sw);
	add_flags(ctx->flags, backing, &s, counts, sw != NULL);
	r->flags = ctx->flags;
	r->kvm = ctx->kvm_json;
	if (opt->in_vm)
		add_guest_fields(r, opt->guest_page_bytes, ctx->guest_built_page_bytes);
	r->page_check = page_check;
	append(pr, r);
	free(res->samples);

	pr->done++;
	if (pr->progress) {
		char w[32] = "0";
		if (ws)
			format_size(ws, w, sizeof(w));
		fprintf(stderr, "nestbench: [%zu/%zu] %-10s %-10s %6s %s%s%s %8.2f %s (cv %.1f%%)\n", pr->done,
			pr->total, k->name, backing_name(p->buf->kind), w, opt->in_vm ? "vm" : "", opt->variant ? " " : "",
			opt->variant ? opt->variant : "", s.median, k->metric, s.cv * 100);
	}
	return 0;
}

/* The run ends before a ready point was timed: undo point_begin. */
static void point_abandon(struct point *p)
{
	json_decref(range_watch_end(&p->rw, p->ctx.flags, p->ctx.params));
	if (p->k->teardown)
		p->k->teardown(&p->ctx);
	if (p->cnt.pmu)
		pmu_session_close(p->cnt.pmu);
	if (p->sw)
		swcount_close(p->sw);
	drop_ctx_json(&p->ctx);
}

int point_measure(struct point_run *pr, const struct kernel_desc *k, struct buffer *buf, size_t ws, int cpu,
		  const struct kernel_options *opt)
{
	struct point p;
	int ready = point_begin(pr, &p, k, buf, ws, cpu, opt);
	if (ready <= 0)
		return ready;
	nb_error err = {{0}};
	struct measure_result res = {0};
	int rc = measure_kernel(&p.ctx, &p.mc, point_observer(&p), &res, &err);
	return point_finish(pr, &p, rc, &res, &err);
}

/* What a measurement timed beside another says of it: an object, so an
 * outcome and never part of its identity (core/identity.c). */
static void note_interleaved(struct point *p, const struct point *other)
{
	json_object_set_new(p->ctx.params, "interleaved",
			    json_pack("{s:s, s:s, s:s}", "with", other->k->name, "order", "A B, B A, A B, ...",
				      "counters", "around each of its own samples"));
}

int point_measure_pair(struct point_run *pr, const struct kernel_desc *const k[2], struct buffer *buf, size_t ws,
		       int cpu, const struct kernel_options *opt)
{
	struct point p[2];
	int ready[2];
	ready[0] = point_begin(pr, &p[0], k[0], buf, ws, cpu, opt);
	if (ready[0] < 0)
		return -1;
	ready[1] = point_begin(pr, &p[1], k[1], buf, ws, cpu, opt);
	nb_error err = {{0}};
	struct measure_result res[2] = {{0}};
	if (ready[1] < 0) {
		if (ready[0] > 0)
			point_abandon(&p[0]);
		return -1;
	}
	if (ready[0] > 0 && ready[1] > 0) {
		struct kernel_ctx *const ctx[2] = {&p[0].ctx, &p[1].ctx};
		const struct measure_observer *const obs[2] = {point_observer(&p[0]), point_observer(&p[1])};
		int rc = measure_interleaved(ctx, &p[0].mc, obs, res, &err);
		note_interleaved(&p[0], &p[1]);
		note_interleaved(&p[1], &p[0]);
		int a = point_finish(pr, &p[0], rc, &res[0], &err);
		int b = point_finish(pr, &p[1], rc, &res[1], &err);
		return a || b ? -1 : 0;
	}
	/* One of them was skipped: the other is timed alone. */
	for (int i = 0; i < 2; i++)
		if (ready[i] > 0) {
			int rc = measure_kernel(&p[i].ctx, &p[i].mc, point_observer(&p[i]), &res[i], &err);
			return point_finish(pr, &p[i], rc, &res[i], &err);
		}
	return 0;
}
