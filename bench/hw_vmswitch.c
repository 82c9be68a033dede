/* hw_vmswitch.c - the `vmswitch` kernel: switching between VMs on one PU.
 *
 * Variants (opt->variant), per round trip (two switches):
 *   vm             two micro-VMs in two host processes, as two QEMUs are:
 *                  vm 0 is the measuring process's, vm 1 is booted and served
 *                  by a child forked for it (childguard: killed on Ctrl-C, dies
 *                  with the parent).  Both vCPU threads are pinned to the
 *                  measuring PU and take turns: a guest reads its working set
 *                  (one load per 64-byte line, --size bytes) and rings the
 *                  turn doorbell; its VMM thread hands a token (a
 *                  process-shared semaphore) to the other VM's thread and
 *                  sleeps until the token comes back, so every VM switch
 *                  crosses host address spaces.  Each guest counts its turns
 *                  and each VMM the rings it served: the counts must agree
 *                  (and equal what was asked).
 *   address-space  the same ping-pong between two guest address spaces in
 *                  one VM (the guest kernel loads the other CR3), each space
 *                  reading its own half of the region after the switch.
 *                  Natively: two host processes on one PU over pipes (the
 *                  pipe-proc kernel, same-pu), its native counterpart.
 * What a switch costs beyond the bare hand-off, at a working set, is the
 * TLB and cache refill.  Whether the host tags guest TLB entries (ASID/VPID)
 * decides whether a VM switch flushes them: the module parameters say what
 * should happen (tlb_tagging), and the vm variant measures it
 * (tlb_tagging.measured): each turn starts with a timed probe, a chain of
 * dependent loads one per page, and after each sample vm 0 makes the same
 * probes back to back without a switch (the control).
 */
#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/hwvm.h"
#include "bench/kutil.h"
#include "core/childguard.h"
#include "core/tsc.h"
#include "harness/mem/hugepool.h"

#define VS_VMS 2
#define VS_TURN_TIMEOUT_S 10.0
#define VS_BOOT_TIMEOUT_S 60.0
/* The probe reads one line in each of at most this many 4K pages: few
 * enough for any first-level data TLB (64 entries on the CPUs we know), so
 * that without a switch every probe load hits the TLB. */
#define VS_PROBE_MAX_PAGES 64
#define VS_CONTROL_PASSES_MAX 1000
#define VS_RATIOS_KEPT 64
/* Verdict thresholds on the median per-sample ratio after-switch / same-vm
 * (see vs_tagging_measured). */
#define VS_TAGGED_MAX_RATIO 3.0
#define VS_UNTAGGED_MIN_RATIO 6.0
#define VS_TURN_ARGS 5

extern const struct kernel_desc kernel_pipe_proc;

static const char *const vs_variants[] = {"vm", "address-space", NULL};

enum vs_child_op { VS_CHILD_TURNS = 1, VS_CHILD_QUIT = 2 };

/* What the two processes share (MAP_SHARED, made before the fork). */
struct vs_shared {
	sem_t token[VS_VMS]; /* vm i may run while it holds token i */
	sem_t cmd, reply;    /* parent -> child: a command is in; child -> parent: its reply is */
	int failed;          /* 0, or 1 + the vm that failed first: the other one stops waiting */
	uint64_t turns;      /* turns each VM takes in this sample */
	/* The command. */
	int op, account;
	uint64_t args[VS_TURN_ARGS];
	double timeout_s;
	/* The reply (also of the boot). */
	int rc;
	struct vm_reply r;
	char msg[sizeof(((nb_error *)0)->msg)];
	int vcpu_tid;
	char backing[4096];   /* buffer_json() of vm 1's region, serialized */
	struct hwvm share;    /* vm 1's host-side totals (the counters only mean something here) */
};

struct vs_state;

/* One VM's seat at the table: the hook's context. */
struct vs_seat {
	struct vs_state *st;
	unsigned idx;
};

struct vs_state {
	int two_vms;
	struct hwvm h[VS_VMS]; /* vm variant: h[1] lives in the child */
	unsigned nvms;
	struct vs_seat seat[VS_VMS];
	struct vs_shared *sh;  /* vm variant */
	int sems;
	pid_t child;           /* vm variant: the process serving vm 1 (0: none, or reaped) */
	struct pmu_session *pmu1; /* guest-mode counters of vm 1's vCPU thread, opened here */
	const char *pmu1_why;
	uint64_t guest_turns[VS_VMS], host_turns[VS_VMS];
	uint64_t ops;
	size_t ws;
	/* The measured tagging: guest TSC ticks of the probes, and how many. */
	uint64_t probe_pages;
	uint64_t after_ticks[VS_VMS], after_n[VS_VMS], same_ticks, same_n;
	double ratio[VS_RATIOS_KEPT];
	unsigned nratios;
	struct kernel_options native_opt; /* the pipe-proc counterpart's options (same-pu) */
	void *native_priv;
};

static void vs_teardown(struct kernel_ctx *ctx);

/* Record that vm idx failed (the first to fail is the one to blame) and
 * wake the other, so it gives up at once instead of after its timeout. */
static void vs_fail_first(struct vs_shared *sh, unsigned idx)
{
	int none = 0;
	__atomic_compare_exchange_n(&sh->failed, &none, (int)idx + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	sem_post(&sh->token[(idx + 1) % VS_VMS]);
}

/* The VMM side of a turn (on the vCPU thread of seat idx, in either
 * process): 0 = ready (wait for the first turn); n = turn n done: hand the
 * token on and, unless it was the last turn, wait for it to come back. */
static int vs_turn(void *arg, uint32_t turn, nb_error *err)
{
	struct vs_seat *s = arg;
	struct vs_shared *sh = s->st->sh;
	if (turn > sh->turns) {
		vs_fail_first(sh, s->idx);
		return nb_fail(err, "vmswitch: vm %u rang turn %u of %llu", s->idx, turn, (unsigned long long)sh->turns);
	}
	if (turn)
		sem_post(&sh->token[(s->idx + 1) % VS_VMS]);
	if (turn == sh->turns && turn)
		return 0;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)VS_TURN_TIMEOUT_S;
	for (;;) {
		if (sem_timedwait(&sh->token[s->idx], &until) == 0) {
			int f = __atomic_load_n(&sh->failed, __ATOMIC_ACQUIRE);
			if (f)
				return nb_fail(err, "vmswitch: vm %u stopped waiting for its turn: vm %d failed", s->idx, f - 1);
			return 0;
		}
		if (errno == EINTR)
			continue;
		vs_fail_first(sh, s->idx);
		return nb_fail(err, "vmswitch: vm %u waited %.0f s for its turn after turn %u: the other vm never "
				    "handed the token back",
			       s->idx, VS_TURN_TIMEOUT_S, turn);
	}
}

static void vs_copy_msg(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src);
}

/* The child: boot vm 1, report, then run the parent's commands on it until
 * told to quit.  Its vCPU thread's counters are opened by the parent (the
 * session lives where it is read), so this VM opens none.  Never returns:
 * _exit, so that none of the parent's exit handlers (hugepage pools) run. */
static void vs_child_main(const struct kernel_ctx *ctx, struct vs_state *st)
{
	struct vs_shared *sh = st->sh;
	struct kernel_options o = *ctx->opt;
	o.no_pmu = 1;
	struct kernel_ctx c = *ctx;
	c.opt = &o;
	struct hwvm *h = &st->h[1];
	nb_error err = {{0}};
	int rc = hwvm_open(h, &c, st->ws, 1, 1, NULL, &err);
	sh->rc = rc;
	vs_copy_msg(sh->msg, sizeof(sh->msg), err.msg);
	if (rc == 0) {
		sh->vcpu_tid = vm_vcpu_tid(h->vm);
		json_t *b = st->ws ? buffer_json(&h->region) : json_pack("{s:s}", "requested", "none");
		if (json_dumpb(b, sh->backing, sizeof(sh->backing) - 1, JSON_COMPACT) >= sizeof(sh->backing) - 1)
			snprintf(sh->backing, sizeof(sh->backing), "{\"truncated\": true}");
		json_decref(b);
		vm_set_turn_hook(h->vm, vs_turn, &st->seat[1]);
	}
	sem_post(&sh->reply);
	while (rc == 0) {
		while (sem_wait(&sh->cmd) && errno == EINTR)
			;
		if (sh->op == VS_CHILD_QUIT)
			break;
		struct vm_reply r;
		memset(&r, 0, sizeof(r));
		int crc = vm_command(h->vm, NB_CMD_TURNS, sh->args, VS_TURN_ARGS, sh->timeout_s, &r, &err);
		if (crc)
			vs_fail_first(sh, 1);
		else if (sh->account)
			hwvm_account(h, &r);
		sh->rc = crc;
		sh->r = r;
		vs_copy_msg(sh->msg, sizeof(sh->msg), crc ? err.msg : "");
		sh->share = *h;
		sem_post(&sh->reply);
	}
	hwvm_close(h);
	/* _exit skips the exit handlers: give back what this process added to
	 * the hugepage pools itself (its parent's growth stays the parent's). */
	hugepool_restore_all();
	_exit(0);
}

/* Hand the child a command (it runs it on vm 1). */
static void vs_child_begin(struct vs_state *st, const uint64_t *args, double timeout_s, int account)
{
	struct vs_shared *sh = st->sh;
	sh->op = VS_CHILD_TURNS;
	sh->account = account;
	memcpy(sh->args, args, sizeof(sh->args));
	sh->timeout_s = timeout_s;
	sem_post(&sh->cmd);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Wait for the child's reply, watching that it lives: 0, or -1 with what
 * became of it (it died: how; it hung: killed after timeout_s). */
static int vs_child_wait(struct vs_state *st, double timeout_s, const char *doing, nb_error *err)
{
	double deadline = now_s() + timeout_s;
	for (;;) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 200 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (sem_timedwait(&st->sh->reply, &until) == 0)
			return 0;
		if (errno != EINTR && errno != ETIMEDOUT)
			return nb_fail(err, "vmswitch: waiting for the process serving vm 1: %s", strerror(errno));
		int status = 0;
		if (st->child > 0 && childguard_reap(st->child, &status) == 1) {
			pid_t pid = st->child;
			st->child = 0;
			if (WIFSIGNALED(status))
				return nb_fail(err, "vmswitch: the process serving vm 1 (pid %d) was killed by signal %d while %s",
					       (int)pid, WTERMSIG(status), doing);
			return nb_fail(err, "vmswitch: the process serving vm 1 (pid %d) exited with status %d while %s",
				       (int)pid, WEXITSTATUS(status), doing);
		}
		if (st->child <= 0)
			return nb_fail(err, "vmswitch: no process serves vm 1 any more (while %s)", doing);
		if (now_s() > deadline) {
			pid_t pid = st->child;
			childguard_kill(pid);
			st->child = 0;
			return nb_fail(err, "vmswitch: the process serving vm 1 (pid %d) gave no reply in %.0f s while %s: "
					    "killed",
				       (int)pid, timeout_s, doing);
		}
	}
}

/* Stop the child: wake its vCPU thread if it waits for a token, tell it to
 * quit, reap it (killed if it does not exit in time). */
static void vs_child_stop(struct vs_state *st)
{
	if (st->child <= 0)
		return;
	struct vs_shared *sh = st->sh;
	__atomic_store_n(&sh->failed, VS_VMS + 1, __ATOMIC_RELEASE);
	sem_post(&sh->token[1]);
	sh->op = VS_CHILD_QUIT;
	sem_post(&sh->cmd);
	int status;
	nb_error err;
	if (childguard_wait(st->child, &status, &err))
		nb_error_msg("vmswitch: %s", err.msg);
	st->child = 0;
}

/* Fork the child that boots and serves vm 1, before this process makes any
 * VM (a VM belongs to the process that created it).  0, 1 (skip) or -1. */
static int vs_start_child(struct kernel_ctx *ctx, struct vs_state *st, nb_error *err)
{
	struct vs_shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return nb_fail(err, "vmswitch: cannot map the shared page: %s", strerror(errno));
	memset(sh, 0, sizeof(*sh));
	st->sh = sh;
	for (unsigned i = 0; i < VS_VMS; i++)
		sem_init(&sh->token[i], 1, 0);
	sem_init(&sh->cmd, 1, 0);
	sem_init(&sh->reply, 1, 0);
	st->sems = 1;
	for (unsigned i = 0; i < VS_VMS; i++)
		st->seat[i] = (struct vs_seat){st, i};
	pid_t pid = childguard_fork(err);
	if (pid < 0)
		return -1;
	if (pid == 0)
		vs_child_main(ctx, st);
	st->child = pid;
	if (vs_child_wait(st, VS_BOOT_TIMEOUT_S, "booting vm 1", err))
		return -1;
	if (sh->rc) {
		vs_copy_msg(err->msg, sizeof(err->msg), sh->msg);
		return sh->rc;
	}
	return 0;
}

/* Run one command on both VMs at once (vm 0 here, vm 1 in the child):
 * 0 with both replies, or -1 naming the VM that failed first. */
static int vs_both(struct vs_state *st, const uint64_t *args, double timeout_s, int account, struct vm_reply *r,
		   nb_error *err)
{
	struct vs_shared *sh = st->sh;
	vs_child_begin(st, args, timeout_s, account);
	nb_error e0 = {{0}}, e1 = {{0}};
	int rc0 = vm_command_begin(st->h[0].vm, NB_CMD_TURNS, args, VS_TURN_ARGS, timeout_s, &e0);
	if (rc0)
		vs_fail_first(sh, 0);
	/* The child first: if it dies, vm 0 is told at once (its token is
	 * posted with the failure) instead of waiting out its turn timeout. */
	int rc1 = vs_child_wait(st, timeout_s + 5, "vm 1 ran its command", &e1);
	if (rc1)
		vs_fail_first(sh, 1);
	if (rc1 == 0 && sh->rc) {
		rc1 = -1;
		vs_copy_msg(e1.msg, sizeof(e1.msg), sh->msg);
	}
	if (rc1 == 0)
		r[1] = sh->r;
	if (rc0 == 0 && vm_command_end(st->h[0].vm, &r[0], &e0)) {
		rc0 = -1;
		vs_fail_first(sh, 0);
	}
	if (!rc0 && !rc1)
		return 0;
	int first = __atomic_load_n(&sh->failed, __ATOMIC_ACQUIRE) - 1;
	if (rc1 && (first == 1 || !rc0))
		return nb_fail(err, "vm 1 (child process): %s", e1.msg);
	return nb_fail(err, "vm 0: %s", e0.msg);
}

/* Tokens for a new sample: vm 0 starts.  Both VMs are idle (no vCPU thread
 * waits), so left-over posts can be drained safely. */
static void vs_reset_tokens(struct vs_shared *sh, uint64_t turns)
{
	for (unsigned i = 0; i < VS_VMS; i++)
		while (sem_trywait(&sh->token[i]) == 0)
			;
	__atomic_store_n(&sh->failed, 0, __ATOMIC_RELEASE);
	sh->turns = turns;
	sem_post(&sh->token[0]);
}

static int vs_setup_two_vms(struct kernel_ctx *ctx, struct vs_state *st, nb_error *err)
{
	size_t ws = st->ws;
	json_object_set_new(ctx->params, "about",
			    json_pack("{s:s}", "between", "two vms in two host processes (the second forked), vcpu "
							  "threads on one pu"));
	int rc = vs_start_child(ctx, st, err);
	if (rc)
		return rc;
	if ((rc = hwvm_open(&st->h[0], ctx, ws, 1, 1, NULL, err)) != 0)
		return rc;
	st->nvms = VS_VMS;
	vm_set_turn_hook(st->h[0].vm, vs_turn, &st->seat[0]);
	st->pmu1 = hwvm_pmu_open(ctx, st->sh->vcpu_tid, &st->pmu1_why);
	json_object_set_new(ctx->params, "pids", json_pack("[i, i]", (int)getpid(), (int)st->child));
	json_object_set_new(ctx->params, "vcpu_tids", json_pack("[i, i]", vm_vcpu_tid(st->h[0].vm), st->sh->vcpu_tid));
	ctx->backing_json = ws ? buffer_json(&st->h[0].region) : json_pack("{s:s}", "requested", "none");
	if (ws) {
		json_error_t je;
		json_t *pb = json_loads(st->sh->backing, 0, &je);
		json_object_set_new(ctx->params, "partner_backing", pb ? pb : json_string(st->sh->backing));
	}
	st->probe_pages = ws / 4096 < VS_PROBE_MAX_PAGES ? ws / 4096 : VS_PROBE_MAX_PAGES;
	/* Pre-walk: the first touch of a guest page costs a host fault. */
	uint64_t args[VS_TURN_ARGS] = {0, ws, 0, 0, 0};
	struct vm_reply r[VS_VMS];
	return vs_both(st, args, hwvm_timeout_s(ws / 64 + 1, 1e5), 0, r, err);
}

static int vs_setup_(struct kernel_ctx *ctx, nb_error *err)
{
	const char *v = ctx->opt->variant ? ctx->opt->variant : "vm";
	int two_vms = !strcmp(v, "vm");
	size_t ws = ctx->working_set_bytes;
	int rc = hwvm_size0_once(ctx, ws, err);
	if (rc)
		return rc;
	if (!ctx->opt->in_vm && two_vms)
		return nb_skip(err, "vmswitch vm: no native counterpart; the host-process switch is the address-space "
				    "variant");
	struct vs_state *st = calloc(1, sizeof(*st));
	if (!st)
		return nb_fail(err, "out of memory");
	st->two_vms = two_vms;
	st->ws = ws;
	if (!ctx->opt->in_vm) {
		/* The native side is pipe-proc on one PU; it owns ctx->priv. */
		st->native_opt = *ctx->opt;
		st->native_opt.placement = KERNEL_SAME_PU;
		const struct kernel_options *mine = ctx->opt;
		ctx->opt = &st->native_opt;
		rc = kernel_pipe_proc.setup(ctx, err);
		ctx->opt = mine;
		if (rc) {
			free(st);
			return rc;
		}
		st->native_priv = ctx->priv;
		ctx->priv = st;
		json_object_set_new(ctx->params, "switch", json_string(v));
		json_object_set_new(ctx->params, "about", json_pack("{s:s}", "between", "two host processes (pipe-proc, same-pu)"));
		return 0;
	}
	ctx->priv = st;
	json_object_set_new(ctx->params, "switch", json_string(v));
	json_object_set_new(ctx->params, "placement", json_string("same-pu"));
	json_object_set_new(ctx->params, "pus", json_pack("[i, i]", ctx->cpu, ctx->cpu));
	json_object_set_new(ctx->params, "touch_bytes_per_switch", json_integer((json_int_t)ws));
	json_object_set_new(ctx->params, "switches_per_roundtrip", json_integer(2));
	json_object_set_new(ctx->params, "tlb_tagging", hwvm_tlb_tagging_json());
	ctx->alt_metric = "ns_per_switch";
	ctx->alt_per_op = 0.5;
	if (two_vms)
		return vs_setup_two_vms(ctx, st, err);
	json_object_set_new(ctx->params, "about", json_pack("{s:s}", "between", "two guest address spaces in one vm"));
	if ((rc = hwvm_open(&st->h[0], ctx, 2 * ws, 2, 1, NULL, err)) != 0)
		return rc;
	st->nvms = 1;
	ctx->backing_json = ws ? buffer_json(&st->h[0].region) : json_pack("{s:s}", "requested", "none");
	return 0;
}

static int vs_setup(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = vs_setup_(ctx, err);
	if (rc && ctx->priv)
		vs_teardown(ctx);
	return rc;
}

/* The guest PMU sessions of every VM that has one, around a sample. */
static void vs_pmu(struct vs_state *st, int on)
{
	struct pmu_session *s[VS_VMS] = {st->h[0].pmu, st->pmu1};
	for (unsigned i = 0; i < VS_VMS; i++)
		if (s[i])
			(on ? pmu_session_start : pmu_session_stop)(s[i]);
}

/* The control of the measured tagging (untimed, after a sample): vm 0 makes
 * the same probes and passes back to back, no switch between them.  Keeps
 * this sample's ratio after-switch / same-vm. */
static int vs_control(struct vs_state *st, uint64_t iters, uint64_t after_ticks, nb_error *err)
{
	if (!st->probe_pages)
		return 0;
	uint64_t passes = iters + 1 < 2 ? 2 : iters + 1;
	if (passes > VS_CONTROL_PASSES_MAX + 1)
		passes = VS_CONTROL_PASSES_MAX + 1;
	uint64_t args[VS_TURN_ARGS] = {passes, st->ws, 0, st->probe_pages, 1};
	struct vm_reply r;
	nb_error e;
	if (vm_command(st->h[0].vm, NB_CMD_TURNS, args, VS_TURN_ARGS, hwvm_timeout_s(passes, 1e6), &r, &e))
		return nb_fail(err, "vm 0 (control passes): %s", e.msg);
	st->same_ticks += r.arg[4];
	st->same_n += passes - 1;
	if (r.arg[4] && st->nratios < VS_RATIOS_KEPT)
		st->ratio[st->nratios++] =
			((double)after_ticks / (double)iters) / ((double)r.arg[4] / (double)(passes - 1));
	return 0;
}

/* Both VMs take `iters` turns each; timed on the measuring thread from
 * handing out the commands to both replies, the guest PMU sessions
 * running around it. */
static int vs_sample_vms(struct vs_state *st, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	vs_reset_tokens(st->sh, iters);
	uint64_t args[VS_TURN_ARGS] = {iters, st->ws, 0, st->probe_pages, 0};
	double timeout = hwvm_timeout_s(iters * st->nvms, 1e6);
	struct vm_reply r[VS_VMS];
	vs_pmu(st, 1);
	uint64_t t0 = tsc_begin();
	int rc = vs_both(st, args, timeout, 1, r, err);
	uint64_t t1 = tsc_end();
	vs_pmu(st, 0);
	if (rc)
		return -1;
	hwvm_account(&st->h[0], &r[0]);
	for (unsigned i = 0; i < st->nvms; i++) {
		st->guest_turns[i] += r[i].arg[2];
		st->host_turns[i] += r[i].turns;
		if (r[i].arg[2] != iters || r[i].turns != iters)
			return nb_fail(err, "vmswitch: vm %u was asked for %llu turns; its guest counted %llu, its VMM "
					    "served %llu",
				       i, (unsigned long long)iters, (unsigned long long)r[i].arg[2],
				       (unsigned long long)r[i].turns);
		st->after_ticks[i] += r[i].arg[4];
		st->after_n[i] += st->probe_pages ? iters : 0;
	}
	*ticks = t1 - t0;
	return vs_control(st, iters, r[0].arg[4], err);
}
/* Two address spaces in one VM: 2 * iters switches, each space reading its
 * own half of the region after it is switched to. */
static int vs_sample_spaces(struct vs_state *st, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	uint64_t args[] = {2 * iters, 0, 0, 2, st->ws, st->ws};
	struct vm_reply r;
	if (hwvm_command(&st->h[0], NB_CMD_CTXSW, args, 6, hwvm_timeout_s(2 * iters, 1e6), &r, err))
		return -1;
	st->guest_turns[0] += 2 * iters;
	*ticks = r.arg[1];
	return 0;
}

static int vs_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	struct vs_state *st = ctx->priv;
	int rc;
	if (!ctx->opt->in_vm) {
		rc = hwvm_native_sample(ctx, &kernel_pipe_proc, st->native_priv, iters, ticks, err);
	} else {
		rc = st->two_vms ? vs_sample_vms(st, iters, ticks, err) : vs_sample_spaces(st, iters, ticks, err);
	}
	if (rc == 0)
		st->ops += iters;
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* ns per probe pass from guest TSC ticks (the guest TSC runs at the host's
 * rate unless KVM scales it), null when nothing was probed. */
static json_t *ns_per_pass(uint64_t ticks, uint64_t n)
{
	return n ? json_real((double)ticks / (double)n / tsc_ticks_per_ns()) : json_null();
}

/* tlb_tagging.measured: the refill after a VM switch beside the same-VM
 * control, and what the timing says.  A verdict needs a clear ratio; the
 * thresholds are far apart because the figures are noisy (one run of a
 * small, virtualized machine) and nothing else depends on them. */
static json_t *vs_tagging_measured(struct vs_state *st, const char *module_verdict)
{
	double median = 0;
	if (st->nratios) {
		qsort(st->ratio, st->nratios, sizeof(st->ratio[0]), cmp_double);
		median = st->nratios % 2 ? st->ratio[st->nratios / 2]
					 : (st->ratio[st->nratios / 2 - 1] + st->ratio[st->nratios / 2]) / 2;
	}
	json_t *ratios = json_array();
	for (unsigned i = 0; i < st->nratios; i++)
		json_array_append_new(ratios, json_real(st->ratio[i]));
	const char *verdict, *why;
	if (!st->probe_pages) {
		verdict = "inconclusive";
		why = "no working set of a whole page at this size: nothing to refill";
	} else if (!st->nratios) {
		verdict = "inconclusive";
		why = "no sample gave both a probe after a switch and a control";
	} else if (median <= VS_TAGGED_MAX_RATIO) {
		verdict = "tagged";
		why = "the refill after a switch costs about what a pass without a switch costs: the guest's TLB "
		      "entries survived the other VM's turn";
	} else if (median >= VS_UNTAGGED_MIN_RATIO) {
		verdict = "not tagged";
		why = "the refill after a switch costs several times a pass without a switch: every probed page "
		      "paid a page walk, the guest's TLB entries were flushed by the switch";
	} else {
		verdict = "inconclusive";
		why = "the ratio lies between the thresholds: the timing does not decide";
	}
	int decisive = strcmp(verdict, "inconclusive") != 0 && module_verdict && strcmp(module_verdict, "unknown") != 0;
	json_t *agrees = decisive ? json_boolean(!strcmp(verdict, module_verdict)) : json_null();
	return json_pack(
		"{s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:o, s:I, s:I, s:{s:f, s:f, s:s}, s:s}", "after_switch_ns_per_pass",
		ns_per_pass(st->after_ticks[0], st->after_n[0]), "partner_after_switch_ns_per_pass",
		ns_per_pass(st->after_ticks[1], st->after_n[1]), "same_vm_ns_per_pass",
		ns_per_pass(st->same_ticks, st->same_n), "ratio", st->nratios ? json_real(median) : json_null(),
		"ratio_per_sample", ratios, "agrees_with_module", agrees, "verdict", verdict, "why", why, "probe",
		json_pack("{s:I, s:s}", "pages", (json_int_t)st->probe_pages, "how",
			  "a chain of dependent loads, one per 4K page of the working set's first pages (at most 64, "
			  "fewer than a first-level data TLB holds), timed by the guest with its TSC at the start of "
			  "every turn; the control: vm 0 makes the same probes and passes back to back without a "
			  "switch (its first probe not counted)"),
		"passes_after_switch", (json_int_t)st->after_n[0], "passes_same_vm", (json_int_t)st->same_n,
		"thresholds", "tagged_max_ratio", VS_TAGGED_MAX_RATIO, "untagged_min_ratio", VS_UNTAGGED_MIN_RATIO,
		"why",
		"ratio = median over samples of (vm 0's probe after a switch) / (its probe without one).  Without a "
		"switch every probe load hits the TLB and the caches; after a switch with tagged entries the other "
		"VM and the host's switch path may have evicted lines and first-level TLB entries (second-level "
		"hits, up to about 3x); untagged, every load waits for a whole nested page walk (6x and more).  "
		"Between the two, or on a noisy machine, no verdict",
		"note",
		"timing only: the verdict informs, no check depends on it; the module's view is tlb_tagging.verdict");
}

/* The record of a vm-variant run: turns, host shares and guest PMU of both
 * VMs (vm 1's from the child's last reply and the session opened here). */
static void vs_record(struct kernel_ctx *ctx, struct vs_state *st)
{
	json_t *proof = json_object();
	json_t *g = json_array(), *h = json_array(), *share = json_array(), *pmu = json_array();
	for (unsigned i = 0; i < st->nvms; i++) {
		json_array_append_new(g, json_integer((json_int_t)st->guest_turns[i]));
		json_array_append_new(h, json_integer((json_int_t)st->host_turns[i]));
	}
	json_array_append_new(share, hwvm_share_json(&st->h[0]));
	json_array_append_new(pmu, hwvm_pmu_json(&st->h[0], st->ops));
	if (st->two_vms) {
		/* The child's totals, copied through shared memory: its pointers
		 * (the VM, its PMU session) are the child's, never to be followed here. */
		struct hwvm child = st->sh->share;
		child.vm = NULL;
		child.pmu = NULL;
		json_array_append_new(share, hwvm_share_json(&child));
		json_array_append_new(pmu, hwvm_session_json(st->pmu1, st->pmu1_why, st->ops));
		json_t *tag = json_object_get(ctx->params, "tlb_tagging");
		json_object_set_new(tag, "measured",
				    vs_tagging_measured(st, json_string_value(json_object_get(tag, "verdict"))));
	}
	json_object_set_new(proof, "round_trips", json_integer((json_int_t)st->ops));
	json_object_set_new(proof, st->two_vms ? "turns_counted_by_guest" : "switches_counted_by_guest", g);
	if (st->two_vms)
		json_object_set_new(proof, "turns_counted_by_vmm", h);
	else
		json_decref(h);
	json_object_set_new(ctx->params, "turns", proof);
	json_object_set_new(ctx->params, "host_share", share);
	json_object_set_new(ctx->params, "guest_pmu", pmu);
}

static void vs_teardown(struct kernel_ctx *ctx)
{
	struct vs_state *st = ctx->priv;
	if (!st)
		return;
	if (!ctx->opt->in_vm) {
		hwvm_native_teardown(ctx, &kernel_pipe_proc, st->native_priv);
		free(st);
		return;
	}
	if (st->ops)
		vs_record(ctx, st);
	if (st->pmu1)
		pmu_session_close(st->pmu1);
	/* The VMs first: no vCPU thread may be left waiting on a token. */
	if (st->sh) {
		__atomic_store_n(&st->sh->failed, VS_VMS + 1, __ATOMIC_RELEASE);
		sem_post(&st->sh->token[0]);
	}
	vs_child_stop(st);
	hwvm_close(&st->h[0]);
	if (st->sh) {
		if (st->sems) {
			for (unsigned i = 0; i < VS_VMS; i++)
				sem_destroy(&st->sh->token[i]);
			sem_destroy(&st->sh->cmd);
			sem_destroy(&st->sh->reply);
		}
		munmap(st->sh, sizeof(*st->sh));
	}
	free(st);
	ctx->priv = NULL;
}

static void vs_check(struct kernel_ctx *ctx, const uint64_t *counts, uint64_t ops)
{
	if (!ctx->opt->in_vm && kernel_pipe_proc.check) {
		kernel_pipe_proc.check(ctx, counts, ops);
		return;
	}
	/* vm: a VM switch on one PU is a switch between two host processes
	 * (address-space: none on the host); recorded, not claimed. */
	ku_claim(ctx, counts, SWC_CONTEXT_SWITCHES, ops, 0, 1e9, "context switches recorded");
}

const struct kernel_desc kernel_vmswitch = {
	.name = "vmswitch",
	.family = "hwassist",
	.metric = "ns_per_roundtrip",
	.summary = "two VMs in two host processes (or two guest address spaces) on one PU taking turns, touching a "
		   "working set; native: pipe-proc",
	.params_help = "variants vm, address-space (native: address-space = two host processes); --size: bytes read "
		       "after every switch (0 = none); --mode vm|both for the guest side",
	.flags = KERNEL_HAS_GUEST | KERNEL_COUNTS_CHILDREN | KERNEL_COUNT_APART,
	.setup = vs_setup,
	.sample = vs_sample,
	.teardown = vs_teardown,
	.check = vs_check,
	.default_sizes = {2, {0, 64 << 10}},
	.variants = vs_variants,
};
