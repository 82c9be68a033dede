/* kernel.h - the contract every measurement kernel follows, and the one table of them.
 *
 * Both sides see it: bench/ implements it (and defines kernel_table in
 * bench/kernels.c), harness/ runs what the table holds without including bench/.
 *
 * The harness owns everything around a kernel: pinning, the memory buffer
 * (allocated with the requested backing and verified), warm-up, iteration
 * calibration, repetitions, statistics, counters and the results file.  A
 * kernel only prepares its state and runs `iters` operations, bracketing
 * exactly the part it measures with tsc_begin()/tsc_end().
 */
#ifndef NESTBENCH_KERNEL_H
#define NESTBENCH_KERNEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/backing_kind.h"
#include "core/opt.h"
#include "core/util.h"

struct buffer; /* harness/mem/backing.h */

struct kernel_desc;

/* Where the two sides of a context-switch kernel run. */
enum kernel_placement {
	KERNEL_SAME_PU,  /* both on the measuring PU: every hand-off is a switch */
	KERNEL_CROSS_PU, /* the partner on another PU (another core where possible) */
	KERNEL_PLACEMENT_COUNT
};

/* "same-pu", "cross-pu". */
const char *kernel_placement_name(enum kernel_placement p);
int kernel_placement_parse(const char *name, enum kernel_placement *out, nb_error *err);

/* A short list of sizes for kernels that do not sweep (region mapped per
 * cycle, working set touched after each switch, ...); 0 is a valid size. */
#define KERNEL_SIZES_MAX 12
struct kernel_sizes {
	unsigned n;
	size_t bytes[KERNEL_SIZES_MAX];
};

/* Options that kernels may read (set from the command line and the suite).
 * The run loop hands each measurement its own copy, with `threads` and
 * `placement` set to the point being measured. */
struct kernel_options {
	size_t stride_bytes;       /* chase: distance between elements; 0 = one page of the backing's base size (4096) */
	size_t tlb_locality_bytes; /* chase: permute within groups of this many bytes; 0 = whole working set */
	uint64_t seed;             /* permutation seed (recorded in config) */
	int threads;               /* kernels with several threads (shootdown): PUs used, the measuring one included */
	enum kernel_placement placement; /* ctxsw kernels */
	unsigned cow_pages;        /* fork-cow: pages the child writes per fork; 0 = every page of the region */
	const char *variant;       /* kernels with variants: the one being measured (NULL otherwise) */
	int in_vm;                 /* KERNEL_HAS_GUEST kernels: 1 = the guest side (mode vm), 0 = the native counterpart */
	uint64_t guest_page_bytes; /* in_vm: the guest page size to build */
	int no_pmu;                /* --no-pmu: kernels that count their own threads (vCPUs) open no PMU session */
	const char *pmu_events;    /* --events for those sessions (NULL = this CPU's table) */
};

struct kernel_ctx {
	const struct kernel_desc *desc;
	enum backing_kind backing;
	struct buffer *buf;          /* populated, verified, >= working_set_bytes; NULL unless KERNEL_NEEDS_BUFFER */
	size_t working_set_bytes;    /* the sweep point */
	int cpu;                     /* OS index of the PU the measuring thread is pinned to */
	const struct kernel_options *opt;
	json_t *params;              /* object: the kernel records its parameters here (setup) */
	json_t *flags;               /* array: the kernel appends warnings about this measurement */
	void *priv;                  /* kernel-private state */
	/* Kernels that map their own memory (no KERNEL_NEEDS_BUFFER) put
	 * buffer_json() of it here in setup: it becomes the measurement's
	 * `backing` and its verification is checked like the harness buffer's.
	 * {"requested": "none"} says the kernel touched no memory of its own. */
	json_t *backing_json;
	/* A second unit the result is also reported in (setup may set it):
	 * value = primary value * alt_per_op, e.g. ns_per_switch = ns_per_roundtrip / 2. */
	const char *alt_metric;
	double alt_per_op;
	/* in_vm: the guest page size the payload built and verified (setup sets it). */
	uint64_t guest_built_page_bytes;
	/* Optional (setup sets it): the fewest operations a timed sample holds,
	 * whatever the calibration found.  A guest-kernel figure runs its
	 * operations in batches of one guest command: a sample is at least one
	 * whole batch, so a slow (emulated) guest kernel is not timed one
	 * operation at a time. */
	uint64_t min_iters_per_sample;
	/* Optional (setup sets it): the operations that touch all the memory
	 * the samples touch once (the chase: its chain's length).  One such lap,
	 * untimed, precedes calibration, so that it times what the samples will;
	 * and a sample timed in turn with another kernel's (measure_interleaved)
	 * is preceded by this many untimed ones, at most a sample's worth, so
	 * that it starts from its own caches and TLB, not the other's.  0: no
	 * lap before calibration, a sample's worth between turns. */
	uint64_t lap_iters;
	/* Optional (setup sets them): the memory the timed samples touch when it
	 * is not the harness buffer's [base, base + params.span_bytes) (chase-ctl
	 * walks a mapping of its own); the harness verifies the page sizes of
	 * that range before and after the samples (the measurement's
	 * page_check).  It must stay mapped until teardown. */
	const struct buffer *touched_buf;
	size_t touched_bytes;
	/* in_vm, optional: vm_kvm_json() of the kernel's VM (teardown sets it);
	 * it becomes the measurement's "kvm" object, as run_vm.c's chase has. */
	json_t *kvm_json;
};

enum kernel_flags {
	KERNEL_NEEDS_BUFFER = 1u << 0, /* the harness passes a buffer of the requested backing */
	KERNEL_SWEEPS_WS = 1u << 1,    /* the kernel is run over a working-set sweep (else over its size list) */
	KERNEL_COUNTS_CHILDREN = 1u << 2, /* software counters must include the processes and threads it creates */
	KERNEL_USES_THREADS = 1u << 3,    /* measured at each --threads count */
	KERNEL_USES_PLACEMENT = 1u << 4,  /* measured at each --placement */
	/* Perf events on its tasks perturb what it measures (each context
	 * switch pays for them: +30% merely open, +90% counting, on a pipe
	 * round trip): time the samples with no events open, and count in a
	 * separate, untimed pass (fresh setup, the same iterations). */
	KERNEL_COUNT_APART = 1u << 5,
	/* Also measured inside micro-VMs (--mode vm/both): the kernel runs its
	 * guests itself when opt->in_vm is set, its native counterpart when not. */
	KERNEL_HAS_GUEST = 1u << 6
};

struct kernel_desc {
	const char *name;        /* "chase" */
	const char *family;      /* "chase", "ptupdate", "ctxsw" */
	const char *metric;      /* unit of one sample: "ns_per_access", "ns_per_fault", ... */
	const char *summary;     /* one line for `nestbench list` */
	const char *params_help; /* parameters it reads, for `nestbench list` */
	unsigned flags;
	/* Working-set bytes the buffer needs for a given sweep point (NULL: the point itself). */
	size_t (*buffer_bytes)(size_t working_set_bytes, const struct kernel_options *opt);
	/* Prepare state; 0 ok, 1 skip (reason in err), -1 error. */
	int (*setup)(struct kernel_ctx *ctx, nb_error *err);
	/* Run iters operations; *ticks = TSC ticks of the timed region.  0 or -1. */
	int (*sample)(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err);
	void (*teardown)(struct kernel_ctx *ctx);
	/* Optional: after teardown, the software-counter totals of the timed
	 * samples (counts[ev], UINT64_MAX where unavailable) and the operations
	 * they covered.  The kernel checks its own claim (one fault per page,
	 * two switches per round trip, ...) and appends a flag to ctx->flags
	 * when the counters contradict it; it may add what it derived to
	 * ctx->params (e.g. faults_per_op). */
	void (*check)(struct kernel_ctx *ctx, const uint64_t *counts, uint64_t ops);
	/* Sizes measured when neither the suite nor --size says (non-sweeping kernels). */
	struct kernel_sizes default_sizes;
	/* NULL, or the variants measured at every point (opt->variant), NULL-terminated. */
	const char *const *variants;
	/* Non-NULL: the kernel has a guest version that harness/run/run_vm.c
	 * runs in the VMs it builds over the run's sweep buffer: the same
	 * pointer chase, with the element stride this returns, walked at guest
	 * CPL3 (the guest payload's NB_CMD_CHASE).  The run asks the descriptor,
	 * never the kernel's name, which kernels to measure there. */
	uint64_t (*guest_chase_stride)(const struct kernel_options *opt);
	/* The options only this kernel reads, declared beside it as fio's engines
	 * carry theirs: rows (core/opt.h) whose off is into struct
	 * kernel_options, key 0 (`run` numbers them when it adds them to its
	 * table, harness/run/run_opts.c).  Kernels sharing options point to one
	 * array.  NULL: none. */
	const struct cli_opt *opts;
	/* Optional: checks between those options once parsed, whichever kernels
	 * run; -1 with the message in err (a usage error). */
	int (*check_opts)(const struct kernel_options *opt, nb_error *err);
	/* Non-NULL: this kernel is the translation-free control of the kernel
	 * so named; where both sweep in a run they are timed natively sample by
	 * sample in turn (harness/run/point.c, point_measure_pair), so that
	 * their difference carries no drift between two series. */
	const char *control_of;
};

/* All kernels, in the order `nestbench list` shows them. */
extern const struct kernel_desc *const kernel_table[];
extern const size_t kernel_table_len;

const struct kernel_desc *kernel_find(const char *name);

#endif
