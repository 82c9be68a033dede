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
 *
 * The IPI share is measured in every sample: after the timed pairs, a
 * single-threaded process forked at setup (no copy of the region, its own
 * region of the backing, pinned to the measuring PU, so its address space has
 * never run anywhere else) times the same pairs: T=1, with the same
 * touchers loading the machine.  params.components.net = T minus that.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
	/* The T=1 baseline: a single-threaded helper process on the measuring PU. */
	pid_t helper;
	int cmd[2], res[2];
	struct ku_parts parts;
	unsigned p_t, p_one;
	long long base_tlb; /* TLB-shootdown irqs during the baselines (-1 unknown) */
	uint64_t base_ops;
};

/* Sum of the "TLB:" (TLB shootdowns) row of /proc/interrupts, -1 if absent.
 * Read into a static buffer with no allocation: it runs inside counted
 * samples (around the T=1 baseline), where a fresh heap page would be a
 * page fault of ours in a kernel that claims none. */
static long long tlb_shootdown_irqs(void)
{
	static char text[1 << 17];
	int fd = open("/proc/interrupts", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	ssize_t n;
	while (len < sizeof(text) - 1 && (n = read(fd, text + len, sizeof(text) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	text[len] = 0;
	char *p = strstr(text, "TLB:");
	if (!p)
		return -1;
	long long sum = 0;
	p += 4;
	for (;;) {
		char *end;
		long long v = strtoll(p, &end, 10);
		if (end == p)
			break;
		sum += v;
		p = end;
	}
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

/* The helper: its own region of the backing, the size of the measured one
 * (mprotect of a page splits its VMA and merges it back: the same work on
 * the same layout), its first page populated, then on each command (iters)
 * the pairs on that page timed, the ticks sent back; 0 or EOF ends it. */
static void helper_main(struct sd_state *st, enum backing_kind kind, size_t bytes, int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	struct ku_region r;
	uint64_t ready = 0;
	if (sched_setaffinity(0, sizeof(set), &set) != 0 || ku_map(&r, kind, bytes) != 0)
		ready = UINT64_MAX;
	else
		ku_write_4k(r.base, st->page_bytes); /* the page it flips; mprotect walks no other */
	if (write(st->res[1], &ready, sizeof(ready)) != (ssize_t)sizeof(ready) || ready)
		_exit(1);
	for (;;) {
		uint64_t iters;
		ssize_t n = read(st->cmd[0], &iters, sizeof(iters));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(iters) || iters == 0)
			_exit(0);
		int bad = 0;
		uint64_t t0 = tsc_begin();
		for (uint64_t i = 0; i < iters; i++) {
			bad |= mprotect(r.base, st->page_bytes, PROT_NONE);
			bad |= mprotect(r.base, st->page_bytes, PROT_READ | PROT_WRITE);
		}
		uint64_t t1 = tsc_end();
		uint64_t ticks = bad ? UINT64_MAX : t1 - t0;
		if (write(st->res[1], &ticks, sizeof(ticks)) != (ssize_t)sizeof(ticks))
			_exit(1);
	}
}

/* Read one answer of the helper, bounded by the watchdog when armed. */
static int helper_answer(struct sd_state *st, uint64_t *v, nb_error *err)
{
	for (;;) {
		ssize_t n = read(st->res[0], v, sizeof(*v));
		if (n == (ssize_t)sizeof(*v))
			return 0;
		if (n < 0 && errno == EINTR && !watchdog_expired())
			continue;
		return nb_fail(err, "shootdown: the T=1 helper process %s",
			       n == 0 ? "went away" : n < 0 && errno == EINTR ? "did not answer in time" : "failed");
	}
}

static int helper_start(struct kernel_ctx *ctx, struct sd_state *st, nb_error *err)
{
	if (pipe2(st->cmd, O_CLOEXEC) || pipe2(st->res, O_CLOEXEC))
		return nb_fail(err, "shootdown: cannot create the helper's pipes: %s", strerror(errno));
	/* No copy of the region: the helper's address space holds only its own page. */
	if (madvise(st->buf.base, st->buf.bytes, MADV_DONTFORK) != 0)
		return nb_fail(err, "shootdown: madvise(MADV_DONTFORK) failed: %s", strerror(errno));
	pid_t pid = childguard_fork(err);
	if (pid == 0) {
		close(st->cmd[1]);
		close(st->res[0]);
		helper_main(st, ctx->backing, ctx->working_set_bytes, ctx->cpu);
	}
	madvise(st->buf.base, st->buf.bytes, MADV_DOFORK);
	if (pid < 0)
		return -1;
	st->helper = pid;
	close(st->cmd[0]);
	close(st->res[1]);
	st->cmd[0] = st->res[1] = -1;
	uint64_t ready;
	watchdog_arm(CHILDGUARD_TIMEOUT_S);
	int rc = helper_answer(st, &ready, err);
	watchdog_disarm();
	if (!rc && ready)
		rc = nb_fail(err, "shootdown: the T=1 helper could not pin itself or map its %s region",
			     backing_name(ctx->backing));
	/* One command now: the helper's own first writes after fork (its
	 * stack, copy-on-write) are taken here, not in a counted sample. */
	uint64_t warm = 64, ticks;
	watchdog_arm(CHILDGUARD_TIMEOUT_S);
	if (!rc)
		rc = write(st->cmd[1], &warm, sizeof(warm)) == (ssize_t)sizeof(warm)
			     ? helper_answer(st, &ticks, err)
			     : nb_fail(err, "shootdown: cannot reach the T=1 helper: %s", strerror(errno));
	watchdog_disarm();
	return rc;
}

static void helper_stop(struct sd_state *st)
{
	if (st->cmd[1] >= 0)
		close(st->cmd[1]); /* EOF: the helper exits */
	st->cmd[1] = -1;
	if (st->helper > 0) {
		nb_error err;
		if (childguard_wait(st->helper, NULL, &err))
			nb_warn("%s", err.msg);
	}
	st->helper = 0;
	for (int i = 0; i < 2; i++) {
		if (st->res[i] >= 0)
			close(st->res[i]);
		if (st->cmd[i] >= 0)
			close(st->cmd[i]);
		st->res[i] = st->cmd[i] = -1;
	}
}

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
	st->cmd[0] = st->cmd[1] = st->res[0] = st->res[1] = -1;
	st->page_bytes = backing_page_bytes(ctx->backing);
	if ((rc = buffer_alloc(&st->buf, ctx->backing, ctx->working_set_bytes, err)) != 0)
		return rc;
	ctx->backing_json = buffer_json(&st->buf);
	/* The helper's region of a hugetlb backing comes from the pool (a
	 * hugetlb mapping reserves all its pages when it is made). */
	if ((rc = ku_reserve(ctx->backing, ctx->working_set_bytes / st->page_bytes, err)) != 0 ||
	    (rc = helper_start(ctx, st, err)) != 0)
		return rc;
	st->p_t = ku_parts_add(&st->parts, "mprotect_pair", "the pair with T-1 threads of this address space "
			       "reading on other PUs: every PROT_NONE shoots down their TLBs");
	st->p_one = ku_parts_add(&st->parts, "mprotect_pair_alone",
				 "the same pair in a single-threaded process on the measuring PU whose address space "
				 "never ran elsewhere (T=1: a local flush only), the touchers still running (subtracted)");
	st->base_tlb = 0;

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
	/* The T=1 pairs, timed by the helper while this thread waits. */
	uint64_t one = 0;
	long long irq0 = tlb_shootdown_irqs();
	watchdog_arm(CHILDGUARD_TIMEOUT_S);
	int rc = write(st->cmd[1], &iters, sizeof(iters)) == (ssize_t)sizeof(iters)
			 ? helper_answer(st, &one, err)
			 : nb_fail(err, "shootdown: cannot reach the T=1 helper: %s", strerror(errno));
	watchdog_disarm();
	if (rc)
		return rc;
	if (one == UINT64_MAX)
		return nb_fail(err, "shootdown: mprotect failed in the T=1 helper");
	long long irq1 = tlb_shootdown_irqs();
	ku_parts_begin(&st->parts, iters);
	if (st->parts.samples == 1) {
		st->base_tlb = 0;
		st->base_ops = 0;
	}
	ku_parts_time(&st->parts, st->p_t, t1 - t0, iters);
	ku_parts_time(&st->parts, st->p_one, one, iters);
	if (irq0 < 0 || irq1 < 0 || st->base_tlb < 0)
		st->base_tlb = -1;
	else
		st->base_tlb += irq1 - irq0;
	st->base_ops += iters;
	*ticks = t1 - t0;
	return 0;
}

static void sd_teardown(struct kernel_ctx *ctx)
{
	struct sd_state *st = ctx->priv;
	if (!st)
		return;
	long long after = tlb_shootdown_irqs();
	helper_stop(st);
	if (st->parts.samples) {
		ku_components(ctx, &st->parts, st->p_t, st->p_one, 1, "ipi", "ns_per_mprotect_pair",
			      "the TLB-shootdown share of one pair: T minus T=1, the IPIs to the T-1 other PUs and "
			      "waiting for their acknowledgement",
			      "paired in every sample: the pairs with T-1 touchers (timed), then the same number of "
			      "pairs timed in a single-threaded helper process on the measuring PU; medians over the "
			      "samples at the final iteration count");
		json_t *c = json_object_get(ctx->params, "components");
		if (c && !json_object_get(c, "baseline_tlb_shootdown_irqs_per_op"))
			json_object_set_new(c, "baseline_tlb_shootdown_irqs_per_op",
					    st->base_tlb < 0 || !st->base_ops
						    ? json_null()
						    : json_real((double)st->base_tlb / (double)st->base_ops));
	}
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
	.summary = "TLB shootdown: unmap access to one page while T-1 threads on other PUs read the region; the IPI "
		   "share (T minus T=1, measured in each sample) in params.components",
	.params_help = "--threads: PUs taking part (default 1, 2, 4, ..., all); --size: shared region; "
		       "params.components: mprotect_pair, mprotect_pair_alone (a one-PU helper process, subtracted)",
	.flags = KERNEL_COUNTS_CHILDREN | KERNEL_USES_THREADS,
	.setup = sd_setup,
	.sample = sd_sample,
	.teardown = sd_teardown,
	.check = sd_check,
	.default_sizes = {1, {4 * MB}},
};
