/* kernel.h - the one table of measurement kernels and the contract each follows.
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

#include "backing.h"
#include "util.h"

struct kernel_desc;

/* Options that kernels may read (set from the command line and the suite). */
struct kernel_options {
	size_t stride_bytes;       /* chase: distance between elements; 0 = one page of the backing's base size (4096) */
	size_t tlb_locality_bytes; /* chase: permute within groups of this many bytes; 0 = whole working set */
	uint64_t seed;             /* permutation seed (recorded in config) */
	int threads;               /* kernels with several threads (shootdown) */
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
};

enum kernel_flags {
	KERNEL_NEEDS_BUFFER = 1u << 0, /* the harness passes a buffer of the requested backing */
	KERNEL_SWEEPS_WS = 1u << 1     /* the kernel is run over a working-set sweep */
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
};

/* All kernels, in the order `nestbench list` shows them. */
extern const struct kernel_desc *const kernel_table[];
extern const size_t kernel_table_len;

const struct kernel_desc *kernel_find(const char *name);

#endif
