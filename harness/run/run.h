/* run.h - one `nestbench run`: the effective configuration and its execution.
 *
 * cmd_run.c turns the command line into a run_config (all defaults filled
 * in); run.c executes it: pin, allocate and verify each backing, sweep every
 * kernel over the working sets, summarize, derive translation costs and
 * knees, and write the results file atomically.
 */
#ifndef NESTBENCH_RUN_H
#define NESTBENCH_RUN_H

#include <jansson.h>

#include "harness/mem/backing.h"
#include "core/kernel.h"
#include "core/opt.h"
#include "harness/run/suite.h"
#include "core/util.h"

#define RUN_MAX_KERNELS 32

/* Where kernels run (bits of run_config.modes; --mode both = native,vm).
 * LINUX: inside a Linux guest under QEMU (run_linux.h). */
enum { RUN_MODE_NATIVE = 1, RUN_MODE_VM = 2, RUN_MODE_LINUX = 4 };

struct run_config {
	const struct suite *suite;
	const struct kernel_desc *kernels[RUN_MAX_KERNELS];
	size_t nkernels;
	enum backing_kind backings[BACKING_COUNT];
	size_t nbackings;
	int backings_explicit;  /* asked for by name: not having one is an error */
	int cpu;                /* -1: the default measuring PU */
	const char *out;        /* NULL: results/<host>-<timestamp>.json */
	int quiet;
	size_t ws_min, ws_max;
	int ws_max_explicit;
	unsigned per_octave, samples, warmup_samples;
	double target_sample_ns;
	/* Rounds (rounds.h): every point once per round, in a seeded random
	 * order; samples and warm-up are split across the rounds, not
	 * multiplied.  While the rounds run, samples, warmup_samples and
	 * kopt.seed hold the current round's values (run.c sets and restores
	 * them, so point.c and run_vm.c measure a round as they measure a run). */
	unsigned rounds;
	double precision_pct;    /* adaptive rounds: the interval half-width to reach, % of the median */
	unsigned time_budget_s;  /* adaptive rounds: at most this long after the base rounds (0: none) */
	struct kernel_options kopt;
	const char *events;     /* --events: libpfm4 event strings replacing the CPU's set */
	int no_pmu;             /* --no-pmu: no hardware counter groups at all */
	/* Non-sweeping kernels: sizes, thread counts and placements to measure
	 * (n == 0: from the suite, else the kernel's defaults / all). */
	struct kernel_sizes sizes;
	int threads[KERNEL_SIZES_MAX];
	unsigned nthreads;
	enum kernel_placement placements[KERNEL_PLACEMENT_COUNT];
	unsigned nplacements;
	int argc;
	char **argv;
	unsigned modes;           /* RUN_MODE_* bits; 0 means native */
	uint64_t guest_pages[3];  /* VM mode: guest page sizes in bytes (4K, 2M, 1G) */
	size_t nguest_pages;
	/* --mode linux (run_linux.c): the guest and what runs inside it. */
	const char *guest_kernel;  /* NULL: the newest readable /boot/vmlinuz-* */
	unsigned guest_cpus;
	size_t guest_memory;
	unsigned guest_accel;      /* enum qemu_accel (harness/linuxguest/qemu.h) */
	unsigned guest_modes;      /* RUN_MODE_NATIVE and/or RUN_MODE_VM: the guest's own --mode */
	enum backing_kind guest_backings[BACKING_COUNT]; /* the guest's own --backing (0: all) */
	size_t nguest_backings;
	unsigned guest_timeout_s;  /* per guest boot */
};

/* Execute; returns the process exit status.  Errors are reported on stderr. */
int run_execute(struct run_config *cfg);

/* The options of `run` (run_opts.c): its own rows, then those the kernels
 * declare (kernel_desc.opts); parsed into, checked against and echoed from
 * struct run_config by their offsets. */
const struct cli_opt *run_options(void);

/* The config echoed into the results file: every run_options() row with a
 * config key, then the command line and the results path. */
json_t *run_config_json(const struct run_config *cfg, const char *out_path);

#endif
