/* run.c - execute one run (see run.h): check the machine, then for each
 * backing allocate and verify its sweep buffer and measure every planned
 * cell (plan.c) one at a time (point.c), derive (derive.c) and write. */
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
#include "harness/run/run_summary.h"
#include "harness/run/run_vm.h"
#include "harness/run/sweep.h"

struct run_state {
	struct run_config *cfg;
	struct point_run pr;
	/* Every measurement, written to the document as it is made and kept
	 * typed for the derivations and summaries (records.h). */
	struct run_records recs;
	size_t points[RUN_MAX_POINTS];
	size_t npoints;
};

/* A non-sweeping kernel's cells on one backing (plan_fixed_cells' callback). */
struct cell_target {
	struct run_state *rs;
	const struct kernel_desc *k;
	struct buffer *buf;
	int cpu;
};

static int measure_cell(void *arg, size_t ws, const struct kernel_options *opt)
{
	struct cell_target *t = arg;
	return point_measure(&t->rs->pr, t->k, t->buf, ws, t->cpu, opt);
}

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
	rs->pr.total -= plan_per_backing_total(rs->cfg, rs->npoints);
	if (!rs->cfg->quiet)
		nb_warn("skipping backing %s: %s", backing_name(kind), reason);
}

static int run_backing(struct run_state *rs, enum backing_kind kind, int cpu)
{
	nb_error err = {{0}};
	size_t need = plan_buffer_need(rs->cfg, rs->points, rs->npoints);
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
	/* (need == 0: no sweeping kernel, nothing for these VMs to run.) */
	struct run_vm *rv = (rs->cfg->modes & RUN_MODE_VM) && need ? run_vm_open(rs->cfg, &buf, need, cpu, &rs->recs) : NULL;
	for (size_t p = 0; p < rs->npoints && rc == 0; p++)
		for (size_t i = 0; i < rs->cfg->nkernels && rc == 0; i++) {
			if (!(rs->cfg->kernels[i]->flags & KERNEL_SWEEPS_WS))
				continue;
			if (rs->cfg->modes & RUN_MODE_NATIVE)
				rc = point_measure(&rs->pr, rs->cfg->kernels[i], &buf, rs->points[p], cpu, &rs->cfg->kopt);
			if (rc == 0)
				run_vm_measure(rv, rs->cfg->kernels[i], rs->points[p], &rs->recs);
		}
	run_vm_close(rv);
	for (size_t i = 0; i < rs->cfg->nkernels && rc == 0; i++) {
		const struct kernel_desc *k = rs->cfg->kernels[i];
		struct cell_target t = {rs, k, &buf, cpu};
		if (!(k->flags & KERNEL_SWEEPS_WS) && plan_mode_count(rs->cfg, k))
			rc = plan_fixed_cells(rs->cfg, k, measure_cell, &t);
	}
	buffer_free(&buf);
	return rc;
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
	/* Progress counts the measurements measure_one makes (the chase
	 * in run_vm.c prints its own line). */
	rs.pr.total = plan_per_backing_total(cfg, rs.npoints) * cfg->nbackings;
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
	for (size_t b = 0; b < cfg->nbackings && rc == 0 && (cfg->modes & (RUN_MODE_NATIVE | RUN_MODE_VM)); b++)
		rc = run_backing(&rs, cfg->backings[b], cpu);

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
