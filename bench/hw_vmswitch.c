/* hw_vmswitch.c - the `vmswitch` kernel: switching between VMs on one PU.
 *
 * Variants (opt->variant), per round trip (two switches):
 *   vm             two micro-VMs whose vCPU threads are pinned to the
 *                  measuring PU take turns: a guest reads its working set
 *                  (one load per 64-byte line, --size bytes) and rings the
 *                  turn doorbell; its VMM thread hands a token to the other
 *                  VM's thread and sleeps until the token comes back.  Each
 *                  guest counts its turns and each VMM the rings it served:
 *                  the counts must agree (and equal what was asked).
 *   address-space  the same ping-pong between two guest address spaces in
 *                  one VM (the guest kernel loads the other CR3), each space
 *                  reading its own half of the region after the switch.
 *                  Natively: two host processes on one PU over pipes (the
 *                  pipe-proc kernel, same-pu), its native counterpart.
 * What a switch costs beyond the bare hand-off, at a working set, is the
 * TLB and cache refill; whether the host tags guest TLB entries (ASID/VPID)
 * decides whether a VM switch flushes them, and is recorded.
 */
#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hwvm.h"
#include "kutil.h"
#include "tsc.h"

#define VS_VMS 2
#define VS_TURN_TIMEOUT_S 10.0

extern const struct kernel_desc kernel_pipe_proc;

static const char *const vs_variants[] = {"vm", "address-space", NULL};

struct vs_state;

/* One VM's seat at the table: the hook's context. */
struct vs_seat {
	struct vs_state *st;
	unsigned idx;
};

struct vs_state {
	int two_vms;
	struct hwvm h[VS_VMS];
	unsigned nvms;
	struct vs_seat seat[VS_VMS];
	sem_t token[VS_VMS];
	int sems;
	uint64_t turns;          /* turns each VM takes in this sample */
	uint64_t guest_turns[VS_VMS], host_turns[VS_VMS];
	uint64_t ops;
	size_t ws;
	struct kernel_options native_opt; /* the pipe-proc counterpart's options (same-pu) */
	void *native_priv;
};

static void vs_teardown(struct kernel_ctx *ctx);

/* The VMM side of a turn (on the vCPU thread of seat idx): 0 = ready (wait
 * for the first turn); n = turn n done: hand the token on and, unless it
 * was the last turn, wait for it to come back. */
static int vs_turn(void *arg, uint32_t turn, nb_error *err)
{
	struct vs_seat *s = arg;
	struct vs_state *st = s->st;
	if (turn > st->turns)
		return nb_fail(err, "vmswitch: vm %u rang turn %u of %llu", s->idx, turn, (unsigned long long)st->turns);
	if (turn)
		sem_post(&st->token[(s->idx + 1) % st->nvms]);
	if (turn == st->turns && turn)
		return 0;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)VS_TURN_TIMEOUT_S;
	for (;;) {
		if (sem_timedwait(&st->token[s->idx], &until) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		return nb_fail(err, "vmswitch: vm %u waited %.0f s for its turn after turn %u: the other vm never "
				    "handed the token back",
			       s->idx, VS_TURN_TIMEOUT_S, turn);
	}
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
	if (!two_vms) {
		json_object_set_new(ctx->params, "about", json_pack("{s:s}", "between", "two guest address spaces in one vm"));
		if ((rc = hwvm_open(&st->h[0], ctx, 2 * ws, 2, 1, NULL, err)) != 0)
			return rc;
		st->nvms = 1;
		ctx->backing_json = ws ? buffer_json(&st->h[0].region) : json_pack("{s:s}", "requested", "none");
		return 0;
	}
	json_object_set_new(ctx->params, "about", json_pack("{s:s}", "between", "two vms, vcpu threads on one pu"));
	for (unsigned i = 0; i < VS_VMS; i++) {
		if ((rc = hwvm_open(&st->h[i], ctx, ws, 1, 1, NULL, err)) != 0)
			return rc;
		st->nvms = i + 1;
		st->seat[i] = (struct vs_seat){st, i};
		vm_set_turn_hook(st->h[i].vm, vs_turn, &st->seat[i]);
	}
	for (unsigned i = 0; i < VS_VMS; i++)
		sem_init(&st->token[i], 0, 0);
	st->sems = 1;
	ctx->backing_json = ws ? buffer_json(&st->h[0].region) : json_pack("{s:s}", "requested", "none");
	if (ws)
		json_object_set_new(ctx->params, "partner_backing", buffer_json(&st->h[1].region));
	/* Pre-walk: the first touch of a guest page costs a host fault. */
	uint64_t args[] = {0, ws, 0};
	struct vm_reply r;
	for (unsigned i = 0; i < VS_VMS; i++)
		if (vm_command(st->h[i].vm, NB_CMD_TURNS, args, 3, hwvm_timeout_s(ws / 64 + 1, 1e5), &r, err))
			return -1;
	return 0;
}

static int vs_setup(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = vs_setup_(ctx, err);
	if (rc && ctx->priv)
		vs_teardown(ctx);
	return rc;
}

/* Both VMs take `iters` turns each; timed on the measuring thread from
 * handing out the commands to both replies. */
static int vs_sample_vms(struct vs_state *st, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	for (unsigned i = 0; i < st->nvms; i++) {
		sem_destroy(&st->token[i]);
		sem_init(&st->token[i], 0, i == 0);
	}
	st->turns = iters;
	uint64_t args[] = {iters, st->ws, 0};
	double timeout = hwvm_timeout_s(iters * st->nvms, 1e6);
	int rc = 0;
	unsigned begun = 0;
	uint64_t t0 = tsc_begin();
	for (unsigned i = 0; i < st->nvms && rc == 0; i++) {
		rc = vm_command_begin(st->h[i].vm, NB_CMD_TURNS, args, 3, timeout, err);
		if (rc == 0)
			begun++;
	}
	struct vm_reply r[VS_VMS];
	for (unsigned i = 0; i < begun; i++) {
		nb_error e2;
		if (vm_command_end(st->h[i].vm, &r[i], rc ? &e2 : err))
			rc = -1;
		else
			hwvm_account(&st->h[i], &r[i]);
	}
	uint64_t t1 = tsc_end();
	if (rc)
		return -1;
	for (unsigned i = 0; i < st->nvms; i++) {
		st->guest_turns[i] += r[i].arg[2];
		st->host_turns[i] += r[i].turns;
		if (r[i].arg[2] != iters || r[i].turns != iters)
			return nb_fail(err, "vmswitch: vm %u was asked for %llu turns; its guest counted %llu, its VMM "
					    "served %llu",
				       i, (unsigned long long)iters, (unsigned long long)r[i].arg[2],
				       (unsigned long long)r[i].turns);
	}
	*ticks = t1 - t0;
	return 0;
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
	if (st->ops) {
		json_t *proof = json_object();
		json_t *g = json_array(), *h = json_array(), *share = json_array(), *pmu = json_array();
		for (unsigned i = 0; i < st->nvms; i++) {
			json_array_append_new(g, json_integer((json_int_t)st->guest_turns[i]));
			json_array_append_new(h, json_integer((json_int_t)st->host_turns[i]));
			json_array_append_new(share, hwvm_share_json(&st->h[i]));
			json_array_append_new(pmu, hwvm_pmu_json(&st->h[i], st->ops));
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
	/* The VMs first: no vCPU thread may be left waiting on a token. */
	for (unsigned i = 0; i < st->nvms; i++)
		if (st->sems)
			sem_post(&st->token[i]);
	for (unsigned i = 0; i < st->nvms; i++)
		hwvm_close(&st->h[i]);
	if (st->sems)
		for (unsigned i = 0; i < VS_VMS; i++)
			sem_destroy(&st->token[i]);
	free(st);
	ctx->priv = NULL;
}

static void vs_check(struct kernel_ctx *ctx, const uint64_t *counts, uint64_t ops)
{
	if (!ctx->opt->in_vm && kernel_pipe_proc.check) {
		kernel_pipe_proc.check(ctx, counts, ops);
		return;
	}
	/* The vCPU threads are the measuring process's: a VM switch on one PU is
	 * a thread switch on the host; recorded, not claimed. */
	ku_claim(ctx, counts, SWC_CONTEXT_SWITCHES, ops, 0, 1e9, "context switches recorded");
}

const struct kernel_desc kernel_vmswitch = {
	.name = "vmswitch",
	.family = "hwassist",
	.metric = "ns_per_roundtrip",
	.summary = "two VMs (or two guest address spaces) on one PU taking turns, touching a working set; native: pipe-proc",
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
