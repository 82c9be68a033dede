/* counting.h - the counters around one measurement's timed samples:
 * software events on every machine (proof of what ran: page faults, context
 * switches, migrations), PMU walk events where the hardware has them; and
 * the separate counting pass of kernels that counting would disturb. */
#ifndef NESTBENCH_COUNTING_H
#define NESTBENCH_COUNTING_H

#include <stdint.h>

#include "core/kernel.h"
#include "harness/pmu/pmu.h"
#include "harness/pmu/swcount.h"

struct counting {
	struct swcount *sw;        /* NULL when software events cannot be opened */
	struct pmu_session *pmu;   /* NULL when --no-pmu */
};

/* measure_observer callbacks: p is a struct counting. */
void counting_start(void *p);
void counting_stop(void *p);

/* Software counters for one measurement, opened before setup (so partners
 * created there inherit them) and closed after it; NULL when have_sw is 0 or
 * they cannot be opened. */
struct swcount *counting_open(int have_sw, const struct kernel_desc *k, struct swcount *own);

/* The proof pass of a KERNEL_COUNT_APART kernel (see counting.c). */
int counting_apart(struct kernel_ctx *ctx, unsigned samples, uint64_t iters, struct swcount *sw, uint64_t *counts,
		   uint64_t *ops);

#endif
