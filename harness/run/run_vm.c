/* run_vm.c - VM measurements of a run (see run_vm.h). */
#include "harness/run/run_vm.h"

#include <stdlib.h>
#include <string.h>

#include "core/chase.h"
#include "harness/host/machine.h"
#include "harness/run/measure.h"
#include "harness/pmu/pmu.h"
#include "harness/run/results.h"
#include "harness/run/run_summary.h"
#include "core/stats.h"
#include "core/thresholds.h"
#include "core/tsc.h"
#include "harness/vmm/vm.h"

#define MAX_GUEST_PAGES 3

struct guest_vm {
	uint64_t page;
	struct vm *vm;
	struct buffer own; /* used when the run's buffer is too small for one guest page */
	int have_own;
	struct buffer *region;
	size_t region_bytes;
	int failed; /* a guest fault or watchdog: skip the rest of this configuration */
	char why[600]; /* "guest failed: " + an nb_error */
};

struct run_vm {
	const struct run_config *cfg;
	enum backing_kind kind;
	int cpu;
	char mmu_mode[32];
	struct guest_vm g[MAX_GUEST_PAGES];
	size_t n;
};

uint64_t run_vm_guest_page_parse(const char *name)
{
	if (!strcmp(name, "4k"))
		return 4096;
	if (!strcmp(name, "2m"))
		return 2u << 20;
	if (!strcmp(name, "1g"))
		return 1u << 30;
	return 0;
}

const char *run_vm_guest_page_name(uint64_t bytes)
{
	return bytes == 4096 ? "4k" : bytes == (2u << 20) ? "2m" : bytes == (1u << 30) ? "1g" : "?";
}

static void add_vm_fields(struct measurement *r, uint64_t page, uint64_t built, const char *mmu)
{
	r->guest_page = run_vm_guest_page_name(page);
	r->guest_built_page_bytes = built;
	r->mmu_virt_mode = mmu;
}

static json_t *requested_backing(enum backing_kind kind)
{
	return json_pack("{s:s, s:I}", "requested", backing_name(kind), "requested_page_bytes",
			 (json_int_t)backing_page_bytes(kind));
}

static void skip_one(struct run_records *recs, const char *kernel, const char *family, const char *metric,
		     json_t *backing, size_t ws, int cpu, uint64_t page, const char *mmu, const char *why)
{
	struct measurement r;
	record_skipped(&r, kernel, family, metric, "vm", backing, ws, cpu, why);
	add_vm_fields(&r, page, 0, mmu);
	records_write(recs, &r);
}

/* A cell that was attempted and failed (the guest stopped): recorded, the run goes on. */
static void fail_one(struct run_records *recs, const char *kernel, const char *family, const char *metric,
		     json_t *backing, size_t ws, int cpu, uint64_t page, const char *mmu, const char *why)
{
	struct measurement r;
	record_skipped(&r, kernel, family, metric, "vm", backing, ws, cpu, why);
	r.failed = 1;
	add_vm_fields(&r, page, 0, mmu);
	records_write(recs, &r);
}

/* What KVM says about the VM, and the caveats it calls for. */
static void add_kvm_facts(struct measurement *r, const struct guest_vm *g, json_t *flags)
{
	r->kvm = vm_kvm_json(g->vm);
	vm_kvm_flags(g->vm, g->region->verified_page_bytes, flags);
}

static const char *mmu_mode(char *buf, size_t len)
{
	snprintf(buf, len, "%s", machine_mmu_virt_mode(NULL, 0));
	return buf;
}

/* Kernels with a measurement in a VM: the chase here, or their own guests. */
static int has_vm_side(const struct kernel_desc *k)
{
	return k->guest_chase_stride || (k->flags & KERNEL_HAS_GUEST);
}

void run_vm_skip_backing(const struct run_config *cfg, enum backing_kind kind, int cpu, const char *reason,
			 struct run_records *recs)
{
	char mmu[32];
	mmu_mode(mmu, sizeof(mmu));
	for (size_t g = 0; g < cfg->nguest_pages; g++)
		for (size_t i = 0; i < cfg->nkernels; i++)
			if (has_vm_side(cfg->kernels[i]))
				skip_one(recs, cfg->kernels[i]->name, cfg->kernels[i]->family, cfg->kernels[i]->metric,
					 requested_backing(kind), 0, cpu, cfg->guest_pages[g], mmu, reason);
}

static void skip_config(struct run_vm *rv, uint64_t page, const char *why, struct run_records *recs, struct buffer *buf)
{
	/* Only the kernels measured in these VMs: the KERNEL_HAS_GUEST ones
	 * build their own and record their own skips. */
	for (size_t i = 0; i < rv->cfg->nkernels; i++) {
		const struct kernel_desc *k = rv->cfg->kernels[i];
		if (k->guest_chase_stride)
			skip_one(recs, k->name, k->family, k->metric, buf ? buffer_json(buf) : requested_backing(rv->kind), 0,
				 rv->cpu, page, rv->mmu_mode, why);
	}
	if (!rv->cfg->quiet)
		nb_warn("skipping vm guest page %s on backing %s: %s", run_vm_guest_page_name(page),
			backing_name(rv->kind), why);
}

struct run_vm *run_vm_open(const struct run_config *cfg, struct buffer *buf, size_t need, int cpu,
			   struct run_records *recs)
{
	struct run_vm *rv = calloc(1, sizeof(*rv));
	if (!rv)
		return NULL;
	rv->cfg = cfg;
	rv->kind = buf->kind;
	rv->cpu = cpu;
	mmu_mode(rv->mmu_mode, sizeof(rv->mmu_mode));
	nb_error err = {{0}};
	int avail = vm_available(&err);
	for (size_t gi = 0; gi < cfg->nguest_pages; gi++) {
		uint64_t page = cfg->guest_pages[gi];
		if (avail) {
			skip_config(rv, page, err.msg, recs, buf);
			continue;
		}
		nb_error gerr = {{0}};
		if (vm_guest_page_usable(page, &gerr)) {
			skip_config(rv, page, gerr.msg, recs, buf);
			continue;
		}
		struct guest_vm *g = &rv->g[rv->n];
		memset(g, 0, sizeof(*g));
		g->page = page;
		g->region_bytes = (need + page - 1) / page * page;
		g->region = buf;
		if (buf->bytes < g->region_bytes) {
			/* A guest page larger than the sweep: its own buffer of the same backing. */
			int rc = backing_usable(buf->kind, g->region_bytes, &gerr);
			if (rc == 0)
				rc = buffer_alloc(&g->own, buf->kind, g->region_bytes, &gerr);
			if (rc) {
				skip_config(rv, page, gerr.msg, recs, buf);
				continue;
			}
			g->have_own = 1;
			g->region = &g->own;
		}
		struct vm_config vc = {
			.region = g->region,
			.region_bytes = g->region_bytes,
			.region_page_bytes = page,
			.spaces = 1, /* the chase needs one; guest-ctxsw builds its own VM with two */
			.cpu = cpu,
		};
		int rc = vm_create(&g->vm, &vc, &gerr);
		if (rc) {
			if (rc < 0) {
				nb_error_msg("vm guest page %s, backing %s: %s", run_vm_guest_page_name(page),
					     backing_name(buf->kind), gerr.msg);
				for (size_t i = 0; i < cfg->nkernels; i++) {
					const struct kernel_desc *k = cfg->kernels[i];
					if (k->guest_chase_stride)
						fail_one(recs, k->name, k->family, k->metric, buffer_json(g->region), 0, cpu,
							 page, rv->mmu_mode, gerr.msg);
				}
			} else {
				skip_config(rv, page, gerr.msg, recs, g->region);
			}
			if (g->have_own)
				buffer_free(&g->own);
			continue;
		}
		rv->n++;
	}
	return rv;
}

/* ---- the chase in the guest, through the harness's measuring loop ---- */

struct vm_chase {
	struct guest_vm *g;
	uint64_t cursor;
	double *host_ns; /* host-side cross-check per sample call, ns per op */
	size_t nhost, caphost;
	double timeout_s;
	long preempted; /* the vCPU thread's involuntary switches over the samples so far (-1: unknown) */
};

/* measure_config.preemptions: the vCPU thread's count, as its replies say. */
static long vm_chase_preemptions(void *arg)
{
	const struct vm_chase *st = arg;
	return st->preempted;
}

static int vm_chase_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	struct vm_chase *st = ctx->priv;
	uint64_t args[] = {st->cursor, iters};
	struct vm_reply r;
	if (vm_command(st->g->vm, NB_CMD_CHASE, args, 2, st->timeout_s, &r, err))
		return -1;
	*ticks = r.arg[1];
	st->cursor = r.arg[2];
	if (st->preempted >= 0)
		st->preempted = r.preempted >= 0 ? st->preempted + r.preempted : -1;
	if (st->nhost < st->caphost && iters)
		st->host_ns[st->nhost++] = (double)r.host_ticks / tsc_ticks_per_ns() / (double)iters;
	return 0;
}

/* What the measuring loop runs for a kernel's guest version: one chase
 * command per sample in the VM built here.  The kernel's own descriptor is
 * asked only for its stride (guest_chase_stride); nothing of it is copied. */
static const struct kernel_desc guest_chase_walk = {
	.name = "guest chase",
	.sample = vm_chase_sample,
};

static void guest_pmu_start(void *p)
{
	pmu_session_start(p);
}

static void guest_pmu_stop(void *p)
{
	pmu_session_stop(p);
}

static void measure_guest(struct run_vm *rv, struct guest_vm *g, const struct kernel_desc *k, size_t ws,
			  struct run_records *recs)
{
	const struct run_config *cfg = rv->cfg;
	if (g->failed) {
		fail_one(recs, k->name, k->family, k->metric, buffer_json(g->region), ws, rv->cpu, g->page, rv->mmu_mode,
			 g->why);
		return;
	}
	if (!k->guest_chase_stride) {
		skip_one(recs, k->name, k->family, k->metric, buffer_json(g->region), ws, rv->cpu, g->page, rv->mmu_mode,
			 "this kernel has no guest version");
		return;
	}
	uint64_t stride = k->guest_chase_stride(&cfg->kopt);
	uint64_t page_stride = cfg->kopt.stride_bytes ? cfg->kopt.stride_bytes : 4096;
	uint64_t elements = ws / page_stride ? ws / page_stride : 1;
	uint64_t span = chase_span_bytes(elements, stride);
	uint64_t group = cfg->kopt.tlb_locality_bytes ? cfg->kopt.tlb_locality_bytes / page_stride : 0;
	if (cfg->kopt.tlb_locality_bytes && group == 0)
		group = 1;
	if (span > g->region_bytes ||
	    chase_build(g->region->base, NB_REGION_VA, elements, stride, group, cfg->kopt.seed)) {
		skip_one(recs, k->name, k->family, k->metric, buffer_json(g->region), ws, rv->cpu, g->page, rv->mmu_mode,
			 "cannot build the chain in the guest region");
		return;
	}
	struct vm_chase st = {
		.g = g,
		.cursor = NB_REGION_VA + chase_element_offset(0, stride),
		.caphost = 4096,
		/* Generous: a sample aims at target_sample_ns; calibration overshoots at most 8x. */
		.timeout_s = 5 + cfg->target_sample_ns * 16 / 1e9,
	};
	st.host_ns = calloc(st.caphost, sizeof(double));
	/* Walk the whole chain twice first.  Natively the buffer is populated
	 * before measuring; in the guest the first touch of each page also
	 * costs a shadow-paging (or EPT/NPT) fault in the host, ~20 us here,
	 * which would otherwise land in the first samples. */
	nb_error werr = {{0}};
	uint64_t wargs[] = {st.cursor, 2 * elements};
	struct vm_reply wr;
	if (vm_inject_fault_if_asked(g->vm, k->name, &werr) ||
	    vm_command(g->vm, NB_CMD_CHASE, wargs, 2, 10 + (double)elements * 1e-4, &wr, &werr)) {
		g->failed = 1;
		snprintf(g->why, sizeof(g->why), "the guest stopped: %s", werr.msg);
		nb_error_msg("vm %s guest page %s, backing %s, %zu bytes: %s", k->name, run_vm_guest_page_name(g->page),
			     backing_name(rv->kind), ws, g->why);
		fail_one(recs, k->name, k->family, k->metric, buffer_json(g->region), ws, rv->cpu, g->page, rv->mmu_mode,
			 g->why);
		free(st.host_ns);
		return;
	}
	st.cursor = wr.arg[2];
	struct kernel_ctx ctx = {
		.desc = &guest_chase_walk,
		.backing = g->region->kind,
		.buf = g->region,
		.working_set_bytes = ws,
		.cpu = rv->cpu,
		.opt = &cfg->kopt,
		.priv = &st,
	};
	/* A sample the host's scheduler cut into is taken again, as natively. */
	struct measure_config mc = {
		.samples = cfg->samples,
		.warmup_samples = cfg->warmup_samples,
		.target_sample_ns = cfg->target_sample_ns,
		.retake_preempted = 1,
		.preemptions = vm_chase_preemptions,
		.preemptions_arg = &st,
	};
	/* Guest-mode PMU events of the vCPU thread, counted from the host
	 * (exclude_host): the guest's page walks, EPT walk cycles on Intel. */
	struct pmu_session *pmu = NULL;
	if (!cfg->no_pmu) {
		struct pmu_request rq = {.events = cfg->events, .tid = vm_vcpu_tid(g->vm), .guest = 1, .no_software = 1};
		nb_error perr;
		pmu = pmu_session_open(&rq, &perr);
	}
	struct measure_observer obs = {pmu, guest_pmu_start, guest_pmu_stop};
	struct measure_result res = {0};
	nb_error err = {{0}};
	if (!st.host_ns || measure_kernel(&ctx, &mc, pmu ? &obs : NULL, &res, &err)) {
		if (pmu)
			pmu_session_close(pmu);
		g->failed = 1;
		snprintf(g->why, sizeof(g->why), "the guest stopped: %s", st.host_ns ? err.msg : "out of memory");
		nb_error_msg("vm %s guest page %s, backing %s, %zu bytes: %s", k->name, run_vm_guest_page_name(g->page),
			     backing_name(rv->kind), ws, g->why);
		fail_one(recs, k->name, k->family, k->metric, buffer_json(g->region), ws, rv->cpu, g->page, rv->mmu_mode,
			 g->why);
		free(st.host_ns);
		return;
	}
	struct summary s;
	summarize(res.samples, res.n, &s);
	size_t page = g->region->verified_page_bytes ? g->region->verified_page_bytes : 4096;
	json_t *params = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:s}", "stride_bytes", (json_int_t)stride, "lines",
				   (json_int_t)elements, "span_bytes", (json_int_t)span, "verified_pages",
				   (json_int_t)((span + page - 1) / page), "tlb_locality_bytes",
				   (json_int_t)cfg->kopt.tlb_locality_bytes, "seed", (json_int_t)(cfg->kopt.seed & INT64_MAX),
				   "host_crosscheck_ns_per_access", st.nhost ? median_of(st.host_ns, st.nhost) : 0.0,
				   "timed_at", "guest cpl3");
	free(st.host_ns);
	json_t *flags = json_array();
	if (s.cv > THRESH_NOISY_CV)
		json_array_append_new(flags, json_sprintf("noisy: cv %.1f%%", s.cv * 100));
	struct measurement r = {.kernel = k->name, .family = k->family, .metric = k->metric, .mode = "vm",
				.backing = buffer_json(g->region), .working_set_bytes = ws, .cpu = rv->cpu,
				.params = params, .iterations_per_sample = res.iters_per_sample,
				.samples = res.samples, .nsamples = res.n, .retaken = res.retaken, .summary = s,
				.flags = flags};
	add_vm_fields(&r, g->page, vm_built_page_bytes(g->vm), rv->mmu_mode);
	add_kvm_facts(&r, g, flags);
	if (pmu) {
		json_t *pj = pmu_session_json(pmu, res.total_ops);
		if (!json_is_true(json_object_get(pj, "available"))) {
			/* Same verdict for every measurement: keep it brief (run.c does the same). */
			json_t *brief = json_pack("{s:b, s:O, s:O, s:b}", "available", 0, "reason",
						  json_object_get(pj, "reason"), "pmu", json_object_get(pj, "pmu"),
						  "guest_mode", 1);
			json_decref(pj);
			pj = brief;
		}
		r.pmu = pj;
		pmu_session_close(pmu);
	}
	records_write(recs, &r);
	free(res.samples);
	if (!cfg->quiet && stderr_is_tty()) {
		char w[32];
		format_size(ws, w, sizeof(w));
		fprintf(stderr, "nestbench: vm guest %-2s %-10s %-10s %6s  %8.2f %s (cv %.1f%%)\n",
			run_vm_guest_page_name(g->page), k->name, backing_name(rv->kind), w, s.median, k->metric,
			s.cv * 100);
	}
}

void run_vm_measure(struct run_vm *rv, const struct kernel_desc *k, size_t ws, struct run_records *recs)
{
	if (!rv)
		return;
	for (size_t i = 0; i < rv->n; i++)
		measure_guest(rv, &rv->g[i], k, ws, recs);
}

void run_vm_close(struct run_vm *rv)
{
	if (!rv)
		return;
	for (size_t i = 0; i < rv->n; i++) {
		struct guest_vm *g = &rv->g[i];
		vm_destroy(g->vm);
		if (g->have_own)
			buffer_free(&g->own);
	}
	free(rv);
}

/* ---- summary ---- */

void run_vm_print_summary(FILE *out, const struct run_records *rs)
{
	int header = 0;
	for (size_t i = 0; i < rs->n; i++) {
		const struct run_record *m = &rs->r[i];
		if (strcmp(m->mode, "vm") || strcmp(m->kernel, "chase") || m->skipped)
			continue;
		/* The native chase of the same identity: backing, working set and
		 * the parameters that define it (core/identity.h). */
		const struct run_record *nat = records_find_like(rs, m, "chase", "native", NULL);
		if (!header) {
			fprintf(out, "\nchase in the guest vs native (per access, median [95%% interval]):\n%-6s %-11s %8s %24s "
				     "%24s %8s\n",
				"guest", "backing", "size", "native", "vm", "vm/nat");
			header = 1;
		}
		char w[32], a[64] = "-", b[64], r[32] = "-";
		format_size(m->working_set_bytes, w, sizeof(w));
		summary_fmt_ci(b, sizeof(b), &m->summary);
		if (nat) {
			summary_fmt_ci(a, sizeof(a), &nat->summary);
			snprintf(r, sizeof(r), "%.3f", m->summary.median / nat->summary.median);
		}
		fprintf(out, "%-6s %-11s %8s %*s %*s %8s\n", m->guest_page, m->backing, w, strstr(a, "µ") ? 25 : 24, a,
			strstr(b, "µ") ? 25 : 24, b, r);
	}
	run_summary_skipped(out, rs);
}
