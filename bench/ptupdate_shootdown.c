/* ptupdate_shootdown.c - the `shootdown` kernel: TLB shootdowns as threads grow.
 *
 * T PUs take part (hwloc picks distinct cores where it can; the measuring
 * PU is one of them): T-1 toucher threads read every page of a shared
 * region but the first in a loop, so the address space is live on their
 * PUs, while the measuring thread takes all access away from the first page
 * (PROT_NONE) and gives read access back.  Taking access away must flush
 * every TLB that may hold the page: an IPI to each toucher's PU (T=1: a
 * local flush only); giving it back needs no flush.  PROT_NONE rather than
 * read-only because a private hugetlb page, once write-protected, is not
 * made writable again by mprotect (only by a write fault), so a read-only
 * flip would stop changing anything after the first.  The TLB-shootdown
 * interrupts counted in /proc/interrupts are recorded as proof.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/childguard.h"
#include "bench/kutil.h"
#include "harness/host/topology.h"
#include "core/tsc.h"

#define MB ((size_t)1 << 20)
#define MAX_THREADS 256
#define START_TIMEOUT_NS 10e9

struct sd_state;

struct toucher {
	struct sd_state *st;
	int pu;
	pthread_t tid;
	int started;
};

struct sd_state {
	struct buffer buf;
	size_t page_bytes;
	atomic_int stop;
	atomic_int running;
	int nt; /* toucher threads */
	struct toucher t[MAX_THREADS];
	long long tlb_before;
	uint64_t ops; /* every op run, calibration included, to set against tlb irqs */
};

/* Sum of the "TLB:" (TLB shootdowns) row of /proc/interrupts, -1 if absent. */
static long long tlb_shootdown_irqs(void)
{
	FILE *f = fopen("/proc/interrupts", "re");
	if (!f)
		return -1;
	char line[8192];
	long long sum = -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;
		while (*p == ' ')
			p++;
		if (strncmp(p, "TLB:", 4))
			continue;
		sum = 0;
		p += 4;
		for (;;) {
			char *end;
			long long v = strtoll(p, &end, 10);
			if (end == p)
				break;
			sum += v;
			p = end;
		}
	}
	fclose(f);
	return sum;
}

static void *toucher_main(void *arg)
{
	struct toucher *t = arg;
	struct sd_state *st = t->st;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(t->pu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		return NULL;
	atomic_fetch_add(&st->running, 1);
	uint64_t sum = 0;
	char *others = (char *)st->buf.base + st->page_bytes;
	while (!atomic_load_explicit(&st->stop, memory_order_relaxed))
		sum += ku_read_4k(others, st->buf.bytes - st->page_bytes);
	ku_sink = sum;
	return NULL;
}

static void stop_touchers(struct sd_state *st)
{
	atomic_store(&st->stop, 1);
	for (int i = 0; i < st->nt; i++) {
		if (!st->t[i].started)
			continue;
		/* A toucher leaves within one pass over the region. */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)CHILDGUARD_TIMEOUT_S;
		if (pthread_timedjoin_np(st->t[i].tid, NULL, &until) != 0) {
			pthread_cancel(st->t[i].tid);
			pthread_join(st->t[i].tid, NULL);
		}
		st->t[i].started = 0;
	}
}

static void sd_teardown(struct kernel_ctx *ctx);

static int sd_setup_(struct kernel_ctx *ctx, nb_error *err)
{
	int T = ctx->opt->threads > 0 ? ctx->opt->threads : 1;
	if (T > MAX_THREADS)
		return nb_skip(err, "shootdown: %d threads, at most %d", T, MAX_THREADS);
	int rc = ku_size_fits(ctx, ctx->working_set_bytes, err);
	if (rc)
		return rc;
	if (ctx->working_set_bytes < 2 * backing_page_bytes(ctx->backing))
		return nb_skip(err, "shootdown needs at least 2 pages of the backing (one to protect, the others to "
			       "read), not %zu bytes", ctx->working_set_bytes);
	int pus[MAX_THREADS];
	if ((rc = topology_pick_pus(T, ctx->cpu, pus, err)) != 0)
		return rc;
	struct sd_state *st = calloc(1, sizeof(*st));
	if (!st)
		return nb_fail(err, "out of memory");
	ctx->priv = st;
	st->page_bytes = backing_page_bytes(ctx->backing);
	if ((rc = buffer_alloc(&st->buf, ctx->backing, ctx->working_set_bytes, err)) != 0)
		return rc;
	ctx->backing_json = buffer_json(&st->buf);

	json_t *used = json_array();
	json_array_append_new(used, json_integer(pus[0]));
	sigset_t old;
	childguard_block_alarm(&old);
	for (int i = 0; i < T - 1; i++) {
		struct toucher *t = &st->t[i];
		t->st = st;
		t->pu = pus[i + 1];
		json_array_append_new(used, json_integer(t->pu));
		if (pthread_create(&t->tid, NULL, toucher_main, t) != 0) {
			childguard_restore_mask(&old);
			json_decref(used);
			return nb_fail(err, "shootdown: cannot create toucher thread %d: %s", i + 1, strerror(errno));
		}
		t->started = 1;
		st->nt = i + 1;
	}
	childguard_restore_mask(&old);
	/* Wait (bounded) until every toucher runs on its PU. */
	uint64_t deadline = tsc_begin() + (uint64_t)(START_TIMEOUT_NS * tsc_ticks_per_ns());
	while (atomic_load(&st->running) < T - 1) {
		if (tsc_begin() > deadline) {
			json_decref(used);
			return nb_fail(err, "shootdown: only %d of %d toucher threads started within 10 s",
				       atomic_load(&st->running), T - 1);
		}
		sched_yield();
	}
	st->tlb_before = tlb_shootdown_irqs();
	json_object_set_new(ctx->params, "threads", json_integer(T));
	json_object_set_new(ctx->params, "pus", used);
	json_object_set_new(ctx->params, "region_bytes", json_integer((json_int_t)ctx->working_set_bytes));
	json_object_set_new(ctx->params, "bytes_protected", json_integer((json_int_t)st->page_bytes));
	json_object_set_new(ctx->params, "op", json_string("mprotect one page PROT_NONE and back to read-write while "
							   "T-1 threads on other PUs read the rest of the region"));
	return 0;
}

/* A setup that fails or skips leaves nothing behind (threads, children, memory). */
static int sd_setup(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = sd_setup_(ctx, err);
	if (rc && ctx->priv)
		sd_teardown(ctx);
	return rc;
}

static int sd_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	struct sd_state *st = ctx->priv;
	void *page = st->buf.base;
	int bad = 0;
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < iters; i++) {
		bad |= mprotect(page, st->page_bytes, PROT_NONE);
		bad |= mprotect(page, st->page_bytes, PROT_READ | PROT_WRITE);
	}
	uint64_t t1 = tsc_end();
	st->ops += iters;
	if (bad)
		return nb_fail(err, "shootdown: mprotect failed: %s", strerror(errno));
	*ticks = t1 - t0;
	return 0;
}

static void sd_teardown(struct kernel_ctx *ctx)
{
	struct sd_state *st = ctx->priv;
	if (!st)
		return;
	long long after = tlb_shootdown_irqs();
	stop_touchers(st);
	if (st->ops && st->tlb_before >= 0 && after >= 0)
		json_object_set_new(ctx->params, "tlb_shootdown_irqs_per_op",
				    json_real((double)(after - st->tlb_before) / (double)st->ops));
	if (st->buf.map_base)
		buffer_free(&st->buf);
	free(st);
	ctx->priv = NULL;
}

static void sd_check(struct kernel_ctx *ctx, const uint64_t *counts, uint64_t ops)
{
	ku_claim(ctx, counts, SWC_PAGE_FAULTS, ops, 0, 0, "no page faults: the touchers never read the protected page");
	json_int_t T = json_integer_value(json_object_get(ctx->params, "threads"));
	json_t *irq = json_object_get(ctx->params, "tlb_shootdown_irqs_per_op");
	/* Each PROT_NONE must reach every other PU that runs the address space
	 * (one interrupt each); far fewer means the flushes went elsewhere (a
	 * paravirtual flush) or the touchers were not running. */
	if (T > 1 && json_is_real(irq) && json_real_value(irq) < 0.5 * (double)(T - 1))
		json_array_append_new(ctx->flags, json_sprintf("only %.2f TLB-shootdown interrupts per op with %d threads "
							       "(touchers preempted by other load, or a paravirtual TLB flush?)",
							       json_real_value(irq), (int)T));
}

const struct kernel_desc kernel_shootdown = {
	.name = "shootdown",
	.family = "ptupdate",
	.metric = "ns_per_mprotect_pair",
	.summary = "TLB shootdown: unmap access to one page while T-1 threads on other PUs read the region",
	.params_help = "--threads: PUs taking part (default 1, 2, 4, ..., all); --size: shared region",
	.flags = KERNEL_COUNTS_CHILDREN | KERNEL_USES_THREADS,
	.setup = sd_setup,
	.sample = sd_sample,
	.teardown = sd_teardown,
	.check = sd_check,
	.default_sizes = {1, {4 * MB}},
};
