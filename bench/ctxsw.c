/* ctxsw.c - context-switch kernels: pipe-proc, pipe-thread, yield.
 *
 * Two sides hand a token back and forth; one round trip is two hand-offs.
 *   pipe-proc    two processes, one byte over a pair of pipes: every
 *                hand-off on the same PU switches address space;
 *   pipe-thread  the same between two threads of one process (no address
 *                space switch);
 *   yield        two threads on one PU passing a flag, sched_yield() until
 *                it is their turn.
 * After every hand-off the side that receives the token reads its own
 * working set (one word per 64-byte line, --size bytes, 0 = nothing) on the
 * requested backing: what refilling the TLB and caches after a switch costs.
 * Where each side runs is a parameter (same-pu, cross-pu) and recorded with
 * the PUs used, PCID support and the kernel's page-table isolation, which
 * change what a switch costs.  Partners are reaped on every path (childguard)
 * and every wait for the other side is bounded by the watchdog.
 *
 * The round trip also pays for its system calls and the touching.  As
 * lmbench's lat_ctx subtracts the cost of passing its token through pipes
 * within one process, every sample here also times the same calls (two
 * one-byte writes and two reads over a pipe of the measuring side's own;
 * two sched_yield()s with the partner parked) and the same reads of both
 * working sets, with no switch: params.components.net is the round trip
 * minus that, per switch.  Across PUs nothing switches: each side's PU
 * only idles, so a hand-off there is a wake-up IPI and an exit from idle,
 * no address-space switch, and it is labelled so (params.handoff).
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/childguard.h"
#include "bench/kutil.h"
#include "harness/host/topology.h"
#include "core/tsc.h"

#define KB ((size_t)1 << 10)

enum cs_kind { CS_PIPE_PROC, CS_PIPE_THREAD, CS_YIELD };

struct cs_state {
	enum cs_kind kind;
	int pus[2];
	size_t touch;               /* bytes each side reads after a switch */
	struct buffer a, b;         /* a: the measuring side's working set, b: the partner's */
	int to_partner[2], from_partner[2];
	pid_t child;
	pthread_t thread;
	int thread_started;
	atomic_int turn;            /* yield: 1 = partner's turn, 2 = park (block on park_fd) */
	atomic_int parked;          /* yield: the partner is (about to be) blocked on park_fd */
	atomic_int stop;
	int self_pipe[2];           /* the baseline: the same calls on a pipe nobody waits on */
	int park[2];                /* yield: the partner blocks here during the baseline */
	struct ku_parts parts;
	unsigned p_rt, p_base;
	struct sigaction old_pipe;
	int pipe_saved;
};

static int cpu_has_pcid(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(1, &a, &b, &c, &d) ? (int)((c >> 17) & 1) : 0;
}

static void record_machine(json_t *params)
{
	char pti[256];
	json_object_set_new(params, "pcid", json_boolean(cpu_has_pcid()));
	/* The meltdown entry says whether the kernel isolates its page tables
	 * (KPTI: "Mitigation: PTI"), which adds a CR3 switch to every entry. */
	if (read_small_file("/sys/devices/system/cpu/vulnerabilities/meltdown", pti, sizeof(pti)) >= 0)
		json_object_set_new(params, "page_table_isolation", json_string(pti));
	else
		json_object_set_new(params, "page_table_isolation", json_null());
}

static int pin_to(int pu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(pu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* The partner's loop over the pipes: wait for the token, read the working
 * set, send the token back; ends when the measuring side closes its end. */
static void pipe_partner(const struct cs_state *st)
{
	uint64_t sum = 0;
	char c;
	for (;;) {
		ssize_t n = read(st->to_partner[0], &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (st->touch)
			sum += ku_read_lines(st->b.base, st->touch);
		if (write(st->from_partner[1], &c, 1) != 1)
			break;
	}
	ku_sink = sum;
}

static void *thread_partner(void *arg)
{
	struct cs_state *st = arg;
	if (pin_to(st->pus[1]) != 0)
		return NULL;
	if (st->kind == CS_PIPE_THREAD) {
		pipe_partner(st);
		return NULL;
	}
	uint64_t sum = 0;
	for (;;) {
		int t;
		while ((t = atomic_load_explicit(&st->turn, memory_order_acquire)) != 1) {
			if (atomic_load_explicit(&st->stop, memory_order_relaxed))
				goto out;
			if (t == 2) {
				/* Off the run queue while the baseline runs: a
				 * sched_yield() there then switches to nobody. */
				char c;
				atomic_store(&st->parked, 1);
				while (read(st->park[0], &c, 1) < 0 && errno == EINTR)
					;
				atomic_store(&st->parked, 0);
				continue;
			}
			sched_yield();
		}
		if (st->touch)
			sum += ku_read_lines(st->b.base, st->touch);
		atomic_store_explicit(&st->turn, 0, memory_order_release);
	}
out:
	ku_sink = sum;
	return NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void cs_teardown(struct kernel_ctx *ctx)
{
	struct cs_state *st = ctx->priv;
	if (!st)
		return;
	if (st->parts.samples) {
		int same = st->pus[0] == st->pus[1];
		ku_components(ctx, &st->parts, st->p_rt, st->p_base, 0.5, same ? "switch" : "handoff",
			      same ? "ns_per_switch" : "ns_per_handoff",
			      same ? "one context switch: the round trip minus the same system calls and reads without "
				     "a switch, halved"
				   : "one hand-off to the other PU: a wake-up IPI and an exit from idle there (no "
				     "switch, no address-space change), the same calls and reads subtracted",
			      st->kind == CS_YIELD
				      ? "paired in every sample: the round trips (timed), then the partner parked and two "
					"sched_yield() and the two working-set reads per round trip (timed): a yield with "
					"nobody else runnable switches to nobody; medians over the samples at the final "
					"iteration count"
				      : "paired in every sample: the round trips (timed), then per round trip two one-byte "
					"writes and two reads on a pipe of the measuring side's own that nobody waits on, "
					"and the two working-set reads (timed), as lat_ctx measures its overhead; medians over "
					"the samples at the final iteration count");
	}
	/* Closing our end ends a pipe partner's loop (EOF); the flag a yielder's. */
	close_fd(&st->to_partner[1]);
	atomic_store(&st->stop, 1);
	close_fd(&st->park[1]); /* a parked yielder wakes to see stop */
	if (st->child > 0) {
		nb_error err;
		if (childguard_wait(st->child, NULL, &err))
			nb_warn("%s", err.msg);
	}
	if (st->thread_started) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)CHILDGUARD_TIMEOUT_S;
		if (pthread_timedjoin_np(st->thread, NULL, &until) != 0) {
			pthread_cancel(st->thread);
			pthread_join(st->thread, NULL);
		}
	}
	close_fd(&st->to_partner[0]);
	close_fd(&st->from_partner[0]);
	close_fd(&st->from_partner[1]);
	close_fd(&st->self_pipe[0]);
	close_fd(&st->self_pipe[1]);
	close_fd(&st->park[0]);
	if (st->pipe_saved)
		sigaction(SIGPIPE, &st->old_pipe, NULL);
	if (st->a.map_base)
		buffer_free(&st->a);
	if (st->b.map_base)
		buffer_free(&st->b);
	free(st);
	ctx->priv = NULL;
}

static int cs_setup_(struct kernel_ctx *ctx, enum cs_kind kind, nb_error *err)
{
	size_t ws = ctx->working_set_bytes;
	if (ws == 0 && ctx->backing != BACKING_4K)
		return nb_skip(err, "touches no memory at size 0: measured once, under the 4k backing");
	enum kernel_placement place = kind == CS_YIELD ? KERNEL_SAME_PU : ctx->opt->placement;
	int pus[2] = {ctx->cpu, ctx->cpu};
	if (place == KERNEL_CROSS_PU) {
		int rc = topology_pick_pus(2, ctx->cpu, pus, err);
		if (rc)
			return rc;
	}
	struct cs_state *st = calloc(1, sizeof(*st));
	if (!st)
		return nb_fail(err, "out of memory");
	ctx->priv = st;
	st->kind = kind;
	st->pus[0] = pus[0];
	st->pus[1] = pus[1];
	st->touch = ws;
	st->to_partner[0] = st->to_partner[1] = st->from_partner[0] = st->from_partner[1] = -1;
	st->self_pipe[0] = st->self_pipe[1] = st->park[0] = st->park[1] = -1;
	st->p_rt = ku_parts_add(&st->parts, "roundtrip", "one round trip: two hand-offs, each side reading its working "
				"set after its own");
	st->p_base = ku_parts_add(&st->parts, "calls_without_switch",
				  kind == CS_YIELD ? "two sched_yield() with the partner parked, and both working-set reads "
						     "(subtracted)"
						   : "two one-byte pipe writes and two reads on a pipe nobody waits on, and "
						     "both working-set reads (subtracted)");
	int rc;
	if (ws) {
		if ((rc = buffer_alloc(&st->a, ctx->backing, ws, err)) != 0 ||
		    (rc = buffer_alloc_shared(&st->b, ctx->backing, ws, err)) != 0)
			return rc;
		ctx->backing_json = buffer_json(&st->a);
		json_object_set_new(ctx->params, "partner_backing", buffer_json(&st->b));
	} else {
		ctx->backing_json = json_pack("{s:s}", "requested", "none");
	}

	json_t *used = json_pack("[i, i]", pus[0], pus[1]);
	json_object_set_new(ctx->params, "placement", json_string(kernel_placement_name(place)));
	json_object_set_new(ctx->params, "pus", used);
	json_object_set_new(ctx->params, "touch_bytes_per_switch", json_integer((json_int_t)ws));
	json_object_set_new(ctx->params, "switches_per_roundtrip", json_integer(2));
	record_machine(ctx->params);
	/* What one hand-off is, so no reader takes a cross-PU figure for a switch. */
	int same = place == KERNEL_SAME_PU;
	json_object_set_new(ctx->params, "handoff",
			    json_pack("{s:s, s:b, s:b, s:b, s:s}", "kind",
				      !same ? "cross-pu wake-up"
				      : kind == CS_PIPE_PROC ? "address-space switch"
							     : "thread switch in one address space",
				      "context_switch", same, "address_space_switch", same && kind == CS_PIPE_PROC,
				      "wakeup_ipi", !same, "what",
				      !same ? "each side waits on its own PU, which idles: a hand-off is a wake-up IPI "
					      "to the other PU and its exit from idle; no context switch between the "
					      "two sides and no address-space switch"
				      : kind == CS_PIPE_PROC ? "both processes on one PU: every hand-off switches "
							       "context and address space (CR3)"
							     : "both threads on one PU: every hand-off switches context, "
							       "not address space"));

	if (pipe2(st->self_pipe, O_CLOEXEC))
		return nb_fail(err, "%s: cannot create the baseline pipe: %s", ctx->desc->name, strerror(errno));
	if (kind == CS_YIELD && pipe2(st->park, O_CLOEXEC))
		return nb_fail(err, "%s: cannot create the parking pipe: %s", ctx->desc->name, strerror(errno));
	if (kind != CS_YIELD) {
		if (pipe2(st->to_partner, O_CLOEXEC) || pipe2(st->from_partner, O_CLOEXEC))
			return nb_fail(err, "%s: cannot create pipes: %s", ctx->desc->name, strerror(errno));
		/* A partner that died must show as an error, not kill us by SIGPIPE. */
		struct sigaction ign;
		memset(&ign, 0, sizeof(ign));
		ign.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &ign, &st->old_pipe);
		st->pipe_saved = 1;
	}
	if (kind == CS_PIPE_PROC) {
		pid_t pid = childguard_fork(err);
		if (pid < 0)
			return -1;
		if (pid == 0) {
			close(st->to_partner[1]);
			close(st->from_partner[0]);
			if (pin_to(pus[1]) != 0)
				_exit(2);
			pipe_partner(st);
			_exit(0);
		}
		st->child = pid;
		close_fd(&st->to_partner[0]);
		close_fd(&st->from_partner[1]);
		return 0;
	}
	/* Threads: SIGALRM stays with the measuring thread (the watchdog). */
	sigset_t old;
	childguard_block_alarm(&old);
	int e = pthread_create(&st->thread, NULL, thread_partner, st);
	childguard_restore_mask(&old);
	if (e)
		return nb_fail(err, "%s: cannot create the partner thread: %s", ctx->desc->name, strerror(e));
	st->thread_started = 1;
	return 0;
}

/* A setup that fails or skips leaves nothing behind (partner, memory). */
static int cs_setup(struct kernel_ctx *ctx, enum cs_kind kind, nb_error *err)
{
	int rc = cs_setup_(ctx, kind, err);
	if (rc && ctx->priv)
		cs_teardown(ctx);
	return rc;
}

static int pipe_proc_setup(struct kernel_ctx *ctx, nb_error *err)
{
	return cs_setup(ctx, CS_PIPE_PROC, err);
}

static int pipe_thread_setup(struct kernel_ctx *ctx, nb_error *err)
{
	return cs_setup(ctx, CS_PIPE_THREAD, err);
}

static int yield_setup(struct kernel_ctx *ctx, nb_error *err)
{
	return cs_setup(ctx, CS_YIELD, err);
}

/* A blocked read of the token: retried when the watchdog's alarm
 * interrupted it, given up when the deadline passed or the partner left. */
static int wait_token(struct cs_state *st, const char *name, nb_error *err)
{
	char c;
	for (;;) {
		ssize_t n = read(st->from_partner[0], &c, 1);
		if (n == 1)
			return 0;
		if (n < 0 && errno == EINTR && !watchdog_expired())
			continue;
		if (n == 0) {
			/* Say how it ended: the child's exit status or signal. */
			int status = 0;
			if (st->child > 0 && childguard_wait(st->child, &status, NULL) == 0) {
				st->child = 0;
				if (WIFSIGNALED(status))
					return nb_fail(err, "%s: the partner process was killed by signal %d (%s)", name,
						       WTERMSIG(status), strsignal(WTERMSIG(status)));
				return nb_fail(err, "%s: the partner process exited with status %d", name,
					       WEXITSTATUS(status));
			}
			return nb_fail(err, "%s: the partner went away (pipe closed)", name);
		}
		if (errno == EINTR)
			return nb_fail(err, "%s: the partner did not answer within %.0f s", name, CHILDGUARD_TIMEOUT_S);
		return nb_fail(err, "%s: reading from the partner failed: %s", name, strerror(errno));
	}
}

static int pipe_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	struct cs_state *st = ctx->priv;
	const char c = 'x';
	uint64_t sum = 0;
	int rc = 0;
	watchdog_arm(CHILDGUARD_TIMEOUT_S);
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < iters; i++) {
		if (write(st->to_partner[1], &c, 1) != 1) {
			rc = nb_fail(err, "%s: writing to the partner failed: %s", ctx->desc->name, strerror(errno));
			break;
		}
		if ((rc = wait_token(st, ctx->desc->name, err)) != 0)
			break;
		if (st->touch)
			sum += ku_read_lines(st->a.base, st->touch);
	}
	uint64_t t1 = tsc_end();
	watchdog_disarm();
	if (rc)
		return rc;
	ku_parts_begin(&st->parts, iters);
	ku_parts_time(&st->parts, st->p_rt, t1 - t0, iters);
	/* The same calls and reads with no switch: the byte written is there
	 * to read at once, and no one waits on this pipe to be woken. */
	int bad = 0;
	uint64_t t2 = tsc_begin();
	for (uint64_t i = 0; i < iters; i++) {
		char d;
		bad |= write(st->self_pipe[1], &c, 1) != 1;
		bad |= read(st->self_pipe[0], &d, 1) != 1;
		if (st->touch)
			sum += ku_read_lines(st->b.base, st->touch);
		bad |= write(st->self_pipe[1], &c, 1) != 1;
		bad |= read(st->self_pipe[0], &d, 1) != 1;
		if (st->touch)
			sum += ku_read_lines(st->a.base, st->touch);
	}
	uint64_t t3 = tsc_end();
	ku_parts_time(&st->parts, st->p_base, t3 - t2, iters);
	ku_sink = sum;
	if (bad)
		return nb_fail(err, "%s: the baseline pipe failed: %s", ctx->desc->name, strerror(errno));
	*ticks = t1 - t0;
	return 0;
}

/* Park the yield partner (blocked on a pipe read, off the run queue) and
 * time the round trip's calls without it; then let it go. */
static int yield_baseline(struct cs_state *st, uint64_t iters, uint64_t *sum, nb_error *err)
{
	uint64_t deadline = tsc_begin() + (uint64_t)(CHILDGUARD_TIMEOUT_S * 1e9 * tsc_ticks_per_ns());
	atomic_store_explicit(&st->turn, 2, memory_order_release);
	while (!atomic_load(&st->parked)) {
		sched_yield();
		if (tsc_begin() > deadline)
			return nb_fail(err, "yield: the partner did not park within %.0f s", CHILDGUARD_TIMEOUT_S);
	}
	/* It set parked just before its read: one more turn lets it block. */
	sched_yield();
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < iters; i++) {
		sched_yield();
		if (st->touch)
			*sum += ku_read_lines(st->b.base, st->touch);
		sched_yield();
		if (st->touch)
			*sum += ku_read_lines(st->a.base, st->touch);
	}
	uint64_t t1 = tsc_end();
	ku_parts_time(&st->parts, st->p_base, t1 - t0, iters);
	atomic_store_explicit(&st->turn, 0, memory_order_release);
	char c = 'p';
	if (write(st->park[1], &c, 1) != 1)
		return nb_fail(err, "yield: cannot wake the parked partner: %s", strerror(errno));
	return 0;
}

static int yield_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	struct cs_state *st = ctx->priv;
	uint64_t sum = 0, spins = 0;
	uint64_t deadline = tsc_begin() + (uint64_t)(CHILDGUARD_TIMEOUT_S * 1e9 * tsc_ticks_per_ns());
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < iters; i++) {
		atomic_store_explicit(&st->turn, 1, memory_order_release);
		while (atomic_load_explicit(&st->turn, memory_order_acquire) != 0) {
			sched_yield();
			/* Reading the TSC now and then bounds the wait for free. */
			if ((++spins & 1023) == 0 && tsc_begin() > deadline)
				return nb_fail(err, "yield: the partner did not take its turn within %.0f s",
					       CHILDGUARD_TIMEOUT_S);
		}
		if (st->touch)
			sum += ku_read_lines(st->a.base, st->touch);
	}
	uint64_t t1 = tsc_end();
	ku_parts_begin(&st->parts, iters);
	ku_parts_time(&st->parts, st->p_rt, t1 - t0, iters);
	int rc = yield_baseline(st, iters, &sum, err);
	ku_sink = sum;
	*ticks = t1 - t0;
	return rc;
}

static void cs_check(struct kernel_ctx *ctx, const uint64_t *counts, uint64_t ops)
{
	const char *place = json_string_value(json_object_get(ctx->params, "placement"));
	if (place && !strcmp(place, "same-pu"))
		/* Two hand-offs on one PU: each side is switched out once per
		 * round trip; other tasks on the PU can only add switches. */
		ku_claim(ctx, counts, SWC_CONTEXT_SWITCHES, ops, 2, 3, "two context switches per round trip on one PU");
	else
		/* Across PUs a side switches to idle while it waits, unless the
		 * answer is already there: recorded, not claimed. */
		ku_claim(ctx, counts, SWC_CONTEXT_SWITCHES, ops, 0, 1e9, "context switches recorded");
	/* A freshly forked partner takes a few copy-on-write faults on its
	 * stack in its first round trips; after that, none. */
	ku_claim(ctx, counts, SWC_PAGE_FAULTS, ops, 0, 0.01, "no page faults: working sets are populated");
}

const struct kernel_desc kernel_pipe_proc = {
	.name = "pipe-proc",
	.family = "ctxsw",
	.metric = "ns_per_roundtrip",
	.summary = "ping-pong over pipes between two processes (address-space switch on one PU), touching a working set; "
		   "per switch net of the calls in params.components",
	.params_help = "--placement same-pu|cross-pu; --size: working set read after every switch (0 = none)",
	.flags = KERNEL_COUNTS_CHILDREN | KERNEL_USES_PLACEMENT | KERNEL_COUNT_APART,
	.setup = pipe_proc_setup,
	.sample = pipe_sample,
	.teardown = cs_teardown,
	.check = cs_check,
	.default_sizes = {2, {0, 64 * KB}},
};

const struct kernel_desc kernel_pipe_thread = {
	.name = "pipe-thread",
	.family = "ctxsw",
	.metric = "ns_per_roundtrip",
	.summary = "ping-pong over pipes between two threads of one process (no address-space switch); per switch net "
		   "of the calls in params.components",
	.params_help = "--placement same-pu|cross-pu; --size: working set read after every switch (0 = none)",
	.flags = KERNEL_COUNTS_CHILDREN | KERNEL_USES_PLACEMENT | KERNEL_COUNT_APART,
	.setup = pipe_thread_setup,
	.sample = pipe_sample,
	.teardown = cs_teardown,
	.check = cs_check,
	.default_sizes = {2, {0, 64 * KB}},
};

const struct kernel_desc kernel_yield = {
	.name = "yield",
	.family = "ctxsw",
	.metric = "ns_per_roundtrip",
	.summary = "sched_yield ping-pong between two threads on one PU; per switch net of the calls in params.components",
	.params_help = "--size: working set read after every switch (0 = none); always same-pu",
	.flags = KERNEL_COUNTS_CHILDREN | KERNEL_COUNT_APART,
	.setup = yield_setup,
	.sample = yield_sample,
	.teardown = cs_teardown,
	.check = cs_check,
	.default_sizes = {2, {0, 64 * KB}},
};
