/* run.c - execute one run (see run.h): check the machine, allocate and
 * verify every backing's sweep buffer and open its VMs, then measure the
 * plan in rounds (rounds.h): every unit once per round in a seeded random
 * order (a sweep point of a backing: the sweeping kernels natively and in
 * the VMs; a cell of a non-sweeping kernel, plan.c; one measurement each,
 * point.c), then adaptive rounds over the units short of the target
 * precision while the time budget lasts; derive (derive.c) and write. */
#include "harness/run/run.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "core/childguard.h"
#include "harness/host/cpustate.h"
#include "harness/host/machine.h"
#include "harness/host/topology.h"
#include "harness/mem/hugepool.h"
#include "harness/pmu/swcount.h"
#include "harness/run/derive.h"
#include "harness/run/plan.h"
#include "harness/run/point.h"
#include "harness/run/results.h"
#include "harness/run/run_linux.h"
#include "harness/run/rounds.h"
#include "harness/run/run_summary.h"
#include "harness/run/run_vm.h"
#include "harness/run/sweep.h"

/* A backing held for the whole run: every round visits it.  Memory is
 * plentiful next to what the sweeps need, so all backings' buffers and VMs
 * are open at once and the rounds can mix backings freely. */
struct backing_slot {
	enum backing_kind kind;
	struct buffer buf;
	size_t need;
	struct run_vm *rv;
	int open; /* 0: skipped (recorded with the reason) */
};

/* What one visit of a round measures. */
struct unit {
	size_t slot;
	const struct kernel_desc *k; /* NULL: a sweep point, every sweeping kernel at ws */
	size_t ws;
	struct kernel_options opt;   /* cells: the plan's options (the seed is the round's) */
};

struct run_state {
	struct run_config *cfg;
	struct point_run pr;
	/* Every measurement, written to the document as it is made and kept
	 * typed for the derivations and summaries (records.h). */
	struct run_records recs;
	size_t points[RUN_MAX_POINTS];
	size_t npoints;
	int cpu;
	struct backing_slot slots[BACKING_COUNT];
	size_t nslots;
	struct unit *units;
	size_t nunits, capunits;
	const struct kernel_desc *sweepers[RUN_MAX_KERNELS];
	size_t nsweepers;
};

static void skip_backing(struct run_state *rs, enum backing_kind kind, int cpu, const char *reason)
{
	if (rs->cfg->modes & RUN_MODE_VM)
		run_vm_skip_backing(rs->cfg, kind, cpu, reason, &rs->recs);
	for (size_t i = 0; i < rs->cfg->nkernels && (rs->cfg->modes & RUN_MODE_NATIVE); i++) {
		const struct kernel_desc *k = rs->cfg->kernels[i];
		json_t *b = json_pack("{s:s, s:I}", "requested", backing_name(kind), "requested_page_bytes",
				      (json_int_t)backing_page_bytes(kind));
		struct measurement r;
		record_skipped(&r, k->name, k->family, k->metric, "native", b, 0, cpu, reason);
		records_write(&rs->recs, &r);
	}
	if (!rs->cfg->quiet)
		nb_warn("skipping backing %s: %s", backing_name(kind), reason);
}

/* Allocate and verify one backing's sweep buffer and open its VMs: 0 (the
 * slot is open, or skipped with the reason), -1 when the run must end. */
static int open_backing(struct run_state *rs, struct backing_slot *s, enum backing_kind kind)
{
	nb_error err = {{0}};
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->need = plan_buffer_need(rs->cfg, rs->points, rs->npoints);
	/* No kernel needs the harness buffer: the kernels map their own, so only
	 * ask whether one page of the backing can be had. */
	int rc = backing_usable(kind, s->need ? s->need : backing_page_bytes(kind), &err);
	if (rc == 0 && s->need)
		rc = buffer_alloc(&s->buf, kind, s->need, &err);
	else if (rc == 0)
		s->buf.kind = kind;
	if (rc != 0) {
		if (rc < 0 || rs->cfg->backings_explicit) {
			nb_error_msg("backing %s: %s", backing_name(kind), err.msg);
			return -1;
		}
		skip_backing(rs, kind, rs->cpu, err.msg);
		return 0;
	}
	/* Children forked by kernels (fork, fork-cow, pipe-proc) do not copy the
	 * sweep buffer: what they measure must not depend on which other kernels
	 * share the run. */
	if (s->buf.map_base)
		(void)madvise(s->buf.map_base, s->buf.map_bytes, MADV_DONTFORK);
	/* --mode vm/both: the VMs map this same buffer (run_vm.c).  (need == 0:
	 * no sweeping kernel, nothing for these VMs to run.) */
	if ((rs->cfg->modes & RUN_MODE_VM) && s->need)
		s->rv = run_vm_open(rs->cfg, &s->buf, s->need, rs->cpu, &rs->recs);
	s->open = 1;
	return 0;
}

static void close_backings(struct run_state *rs)
{
	for (size_t i = 0; i < rs->nslots; i++)
		if (rs->slots[i].open) {
			run_vm_close(rs->slots[i].rv);
			buffer_free(&rs->slots[i].buf);
			rs->slots[i].open = 0;
		}
}

static struct unit *new_unit(struct run_state *rs)
{
	if (rs->nunits == rs->capunits) {
		size_t nc = rs->capunits ? rs->capunits * 2 : 64;
		struct unit *nu = realloc(rs->units, nc * sizeof(*nu));
		if (!nu)
			return NULL;
		rs->units = nu;
		rs->capunits = nc;
	}
	struct unit *u = &rs->units[rs->nunits++];
	memset(u, 0, sizeof(*u));
	return u;
}

/* plan_fixed_cells' callback: one unit per cell. */
struct cell_collect {
	struct run_state *rs;
	const struct kernel_desc *k;
	size_t slot;
};

static int collect_cell(void *arg, size_t ws, const struct kernel_options *opt)
{
	struct cell_collect *c = arg;
	struct unit *u = new_unit(c->rs);
	if (!u)
		return -1;
	u->slot = c->slot;
	u->k = c->k;
	u->ws = ws;
	u->opt = *opt;
	return 0;
}

/* The units of every open backing, in plan order (the order the merged
 * measurements are written in): the sweep points ascending, then each
 * non-sweeping kernel's cells. */
static int plan_units(struct run_state *rs)
{
	const struct run_config *cfg = rs->cfg;
	for (size_t i = 0; i < cfg->nkernels; i++)
		if (cfg->kernels[i]->flags & KERNEL_SWEEPS_WS)
			rs->sweepers[rs->nsweepers++] = cfg->kernels[i];
	for (size_t s = 0; s < rs->nslots; s++) {
		if (!rs->slots[s].open)
			continue;
		for (size_t p = 0; p < rs->npoints && rs->nsweepers; p++) {
			struct unit *u = new_unit(rs);
			if (!u)
				return -1;
			u->slot = s;
			u->ws = rs->points[p];
		}
		for (size_t i = 0; i < cfg->nkernels; i++) {
			const struct kernel_desc *k = cfg->kernels[i];
			struct cell_collect c = {rs, k, s};
			if (!(k->flags & KERNEL_SWEEPS_WS) && plan_mode_count(cfg, k) && plan_fixed_cells(cfg, k, collect_cell, &c))
				return -1;
		}
	}
	return 0;
}

/* The sweeper whose control k is (kernel_desc.control_of), or NULL. */
static const struct kernel_desc *controlled(const struct run_state *rs, const struct kernel_desc *k)
{
	for (size_t i = 0; k->control_of && i < rs->nsweepers; i++)
		if (!strcmp(rs->sweepers[i]->name, k->control_of))
			return rs->sweepers[i];
	return NULL;
}

/* The control among the sweepers of kernel k, or NULL. */
static const struct kernel_desc *control_for(const struct run_state *rs, const struct kernel_desc *k)
{
	for (size_t i = 0; i < rs->nsweepers; i++)
		if (rs->sweepers[i]->control_of && !strcmp(rs->sweepers[i]->control_of, k->name))
			return rs->sweepers[i];
	return NULL;
}

/* One kernel of a sweep point natively: with its control, sample by sample
 * in turn, the one to go first turning with the round. */
static int measure_native(struct run_state *rs, const struct kernel_desc *k, struct backing_slot *s, size_t ws,
			  unsigned round)
{
	const struct kernel_desc *ctl = control_for(rs, k);
	if (!ctl)
		return point_measure(&rs->pr, k, &s->buf, ws, rs->cpu, &rs->cfg->kopt);
	const struct kernel_desc *const pair[2] = {round % 2 ? ctl : k, round % 2 ? k : ctl};
	return point_measure_pair(&rs->pr, pair, &s->buf, ws, rs->cpu, &rs->cfg->kopt);
}

/* One visit.  A sweep point measures its kernels in an order that turns
 * with the round (chase first in one round, its control first in the next),
 * each natively (a kernel and its control together) and then in every VM of
 * the backing. */
static int measure_unit(struct run_state *rs, const struct unit *u, unsigned round)
{
	struct backing_slot *s = &rs->slots[u->slot];
	const struct run_config *cfg = rs->cfg;
	if (u->k) {
		struct kernel_options opt = u->opt;
		opt.seed = cfg->kopt.seed;
		return point_measure(&rs->pr, u->k, &s->buf, u->ws, rs->cpu, &opt);
	}
	for (size_t j = 0; j < rs->nsweepers; j++) {
		const struct kernel_desc *k = rs->sweepers[(j + round) % rs->nsweepers];
		if ((cfg->modes & RUN_MODE_NATIVE) && !controlled(rs, k)) {
			int rc = measure_native(rs, k, s, u->ws, round);
			if (rc)
				return rc;
		}
		run_vm_measure(s->rv, k, u->ws, &rs->recs);
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Round `round` over the units (all of them, or in an adaptive round those
 * still short of the precision, until `deadline`): the order is recorded
 * per point (rounds.positions).  *visited counts the units measured. */
static int run_round(struct run_state *rs, struct rounds_hold *h, unsigned round, size_t *order, int adaptive,
		     double deadline, size_t *visited)
{
	struct run_config *cfg = rs->cfg;
	uint64_t base_seed = cfg->kopt.seed;
	uint64_t seed = rounds_chain_seed(base_seed, round);
	rounds_order(base_seed, round, order, rs->nunits);
	rounds_hold_round(h, round, seed);
	cfg->kopt.seed = seed;
	int rc = 0;
	*visited = 0;
	for (size_t pos = 0; pos < rs->nunits && rc == 0; pos++) {
		size_t ui = order[pos];
		if (adaptive && (!rounds_hold_unit_imprecise(h, ui) || now_s() > deadline))
			continue;
		if (!adaptive && rs->units[ui].k && round >= ROUNDS_CELLS)
			continue; /* a cell's base rounds are the first ROUNDS_CELLS (rounds.h) */
		rounds_hold_unit(h, ui, pos);
		rc = measure_unit(rs, &rs->units[ui], round);
		(*visited)++;
	}
	cfg->kopt.seed = base_seed;
	return rc;
}

/* The base rounds, then the adaptive ones; the merged measurements are
 * written, and the document gets "rounds": how the run was ordered and
 * which measurements missed the precision. */
static int run_rounds(struct run_state *rs)
{
	struct run_config *cfg = rs->cfg;
	unsigned R = cfg->rounds ? cfg->rounds : 1;
	unsigned samples = cfg->samples, warmup = cfg->warmup_samples;
	size_t *order = malloc((rs->nunits ? rs->nunits : 1) * sizeof(*order));
	struct rounds_hold *h = order ? rounds_hold_new(&rs->recs, cfg->precision_pct) : NULL;
	if (!h) {
		free(order);
		nb_error_msg("out of memory planning the rounds");
		return -1;
	}
	cfg->samples = rounds_samples_per_round(samples, R);
	cfg->warmup_samples = rounds_warmup_per_round(warmup, R);
	int rc = 0;
	unsigned round = 0;
	size_t visited;
	for (; round < R && rc == 0; round++)
		rc = run_round(rs, h, round, order, 0, 0, &visited);
	double t0 = now_s(), deadline = t0 + cfg->time_budget_s;
	unsigned extra = 0;
	while (rc == 0 && cfg->time_budget_s && round < ROUNDS_MAX && now_s() < deadline) {
		rc = run_round(rs, h, round, order, 1, deadline, &visited);
		if (!visited)
			break;
		round++;
		extra++;
	}
	double used = now_s() - t0;
	json_t *missed = NULL;
	size_t measured = 0;
	if (rounds_hold_finish(h, &missed, &measured) && !rc) {
		nb_error_msg("out of memory merging the rounds");
		rc = -1;
	}
	json_object_set_new(rs->pr.doc, "rounds",
			    json_pack("{s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:f, s:I, s:I, s:o}", "base", (json_int_t)R,
				      "adaptive", (json_int_t)extra, "samples_per_round", (json_int_t)cfg->samples,
				      "warmup_per_round", (json_int_t)cfg->warmup_samples, "units",
				      (json_int_t)rs->nunits, "precision_target_pct", cfg->precision_pct,
				      "time_budget_s", (json_int_t)cfg->time_budget_s, "adaptive_time_s",
				      cfg->time_budget_s ? used : 0.0, "measurements", (json_int_t)measured,
				      "missed_precision_count", (json_int_t)json_array_size(missed), "missed_precision",
				      missed));
	cfg->samples = samples;
	cfg->warmup_samples = warmup;
	rounds_hold_free(h);
	free(order);
	return rc;
}

/* The measurements that missed the precision, on the terminal. */
static void print_precision(FILE *out, const json_t *doc)
{
	const json_t *r = json_object_get(doc, "rounds");
	const json_t *missed = json_object_get(r, "missed_precision");
	size_t n = json_array_size(missed), i;
	fprintf(out, "\nrounds: %lld base + %lld adaptive; %zu of %lld measurements within +-%g%% of their median",
		(long long)json_integer_value(json_object_get(r, "base")),
		(long long)json_integer_value(json_object_get(r, "adaptive")),
		(size_t)json_integer_value(json_object_get(r, "measurements")) - n,
		(long long)json_integer_value(json_object_get(r, "measurements")),
		json_number_value(json_object_get(r, "precision_target_pct")));
	fputs(n ? "; missed:\n" : "\n", out);
	const json_t *m;
	json_array_foreach(missed, i, m) {
		if (i == 20) {
			fprintf(out, "  ... and %zu more (\"rounds\".missed_precision in the results file)\n", n - 20);
			break;
		}
		const json_t *hw = json_object_get(m, "half_width_pct");
		char pct[32] = "inf";
		if (json_is_number(hw))
			snprintf(pct, sizeof(pct), "%.1f%%", json_number_value(hw));
		fprintf(out, "  %-48s +-%s (%lld rounds)\n", json_string_value(json_object_get(m, "label")), pct,
			(long long)json_integer_value(json_object_get(m, "rounds")));
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

	struct run_state rs = {.cfg = cfg, .pr = {.cfg = cfg, .progress = !cfg->quiet && stderr_is_tty()}};
	rs.npoints = sweep_points(cfg->ws_min, cfg->ws_max, cfg->per_octave, rs.points, RUN_MAX_POINTS);
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
	for (unsigned i = 0; i < cfg->nthreads; i++)
		if (cfg->threads[i] > topology_pu_count()) {
			nb_error_msg("--threads %d: this process may run on %d PUs only (one thread per PU)",
				     cfg->threads[i], topology_pu_count());
			topology_fini();
			return EXIT_USAGE;
		}
	int cpu = cfg->cpu >= 0 ? cfg->cpu : topology_default_measure_pu();
	rs.cpu = cpu;
	if (!topology_pu_allowed(cpu)) {
		nb_error_msg("cpu %d is not available to this process (allowed: 0..%d, see 'nestbench info')", cpu,
			     topology_pu_count() - 1);
		topology_fini();
		return EXIT_USAGE;
	}
	json_t *host = machine_facts_json();
	json_object_set_new(host, "cpu_state", cpustate_json(NULL, cpu)); /* the PU this run measures on */
	if (topology_pin_self(cpu, &err)) {
		nb_error_msg("%s", err.msg);
		json_decref(host);
		topology_fini();
		return EXIT_RUNTIME;
	}
	nb_error swerr;
	/* A probe: each measurement opens its own counters (counting_open). */
	struct swcount probe;
	rs.pr.have_sw = swcount_open(&probe, 0, 0, &swerr) == 0;
	if (rs.pr.have_sw)
		swcount_close(&probe);
	if (!rs.pr.have_sw && !cfg->quiet)
		nb_warn("software counters unavailable: %s", swerr.msg);

	rs.pr.doc = results_new(host, run_config_json(cfg, out), stamp);
	rs.recs.measurements = json_object_get(rs.pr.doc, "measurements");
	rs.pr.recs = &rs.recs;
	int rc = 0;
	/* (--mode linux alone: no backing of this process is measured.) */
	for (size_t b = 0; b < cfg->nbackings && rc == 0 && (cfg->modes & (RUN_MODE_NATIVE | RUN_MODE_VM)); b++)
		rc = open_backing(&rs, &rs.slots[rs.nslots++], cfg->backings[b]);
	if (rc == 0 && plan_units(&rs)) {
		nb_error_msg("out of memory planning the run");
		rc = -1;
	}
	/* Progress counts the measurements point_measure makes in the base
	 * rounds (the chase in run_vm.c prints its own line). */
	for (size_t s = 0; s < rs.nslots; s++)
		rs.pr.total += rs.slots[s].open ? plan_round_total(cfg, rs.npoints, cfg->rounds ? cfg->rounds : 1) : 0;
	if (rc == 0)
		rc = run_rounds(&rs);
	close_backings(&rs);
	free(rs.units);

	topology_restore_affinity();
	/* --mode linux: after the others, unpinned (QEMU must not inherit the PU). */
	if (rc == 0 && (cfg->modes & RUN_MODE_LINUX))
		rc = run_linux_execute(cfg, rs.pr.doc);
	topology_fini();
	hugepool_restore_all();
	if (!rc && rs.recs.lost) {
		/* The document has every measurement but the derivations would miss some. */
		nb_error_msg("out of memory keeping the run's records");
		rc = -1;
	}
	if (rc) {
		records_free(&rs.recs);
		json_decref(rs.pr.doc);
		return EXIT_RUNTIME;
	}
	derive_translation(rs.pr.doc, &rs.recs);
	derive_knees(rs.pr.doc, &rs.recs, cfg);
	if (results_write(rs.pr.doc, out, &err)) {
		nb_error_msg("%s", err.msg);
		records_free(&rs.recs);
		json_decref(rs.pr.doc);
		return EXIT_RUNTIME;
	}
	if (!cfg->quiet) {
		run_summary_print(stdout, &rs.recs, rs.pr.doc);
		run_vm_print_summary(stdout, &rs.recs);
		print_precision(stdout, rs.pr.doc);
		run_linux_print_summary(stdout, rs.pr.doc);
	}
	records_free(&rs.recs);
	fputs("results: ", stdout);
	fputs_visible(out, stdout);
	fputc('\n', stdout);
	size_t failed = results_count_failed(rs.pr.doc);
	json_decref(rs.pr.doc);
	if (failed) {
		nb_error_msg("%zu cell%s failed (their reasons are in the results file, \"failed\": true); exit status %d",
			     failed, failed == 1 ? "" : "s", EXIT_CELLS_FAILED);
		return EXIT_CELLS_FAILED;
	}
	return EXIT_OK;
}
