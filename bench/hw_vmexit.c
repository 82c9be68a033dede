/* hw_vmexit.c - the `vmexit` kernel: what the exits a guest causes cost.
 *
 * Variants (opt->variant), per operation:
 *   pio      a 32-bit OUT to a port the VMM (user space) answers at once.
 *            From the guest kernel: CPL3 has no port I/O here.  Timed at
 *            CPL3 around one system call that runs n OUTs (unrolled by 16),
 *            minus the same call with n = 0.  Under PVM the guest kernel's
 *            instructions are emulated: the same block of NOPs is measured
 *            once and recorded beside it (guest_kernel_instruction_ns).
 *   mmio     a 32-bit store from CPL3 to unbacked guest-physical memory: an
 *            MMIO exit to the VMM.
 *   syscall  the guest's own system call into its kernel (the #UD gate or
 *            SYSCALL, with IRETQ back): no exit at all under hardware
 *            assist, an emulation here.  Its native counterpart is a host
 *            system call (getppid), the only variant measured natively.
 * The host-side share comes from the vCPU thread: exits counted by the VMM
 * (they must equal the operations), time inside KVM_RUN and time in the VMM
 * answering the exits (params.host_share).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench/hwvm.h"
#include "bench/kutil.h"
#include "core/tsc.h"

enum ve_kind { VE_PIO, VE_MMIO, VE_SYSCALL };

static const char *const ve_variants[] = {"pio", "mmio", "syscall", NULL};

struct ve_state {
	enum ve_kind kind;
	struct hwvm h;
	uint64_t ops;          /* operations the guest ran (all samples, calibration included) */
	uint64_t guest_kticks; /* syscall/pio: ticks inside the guest kernel */
	uint64_t empty_ticks;  /* pio: the n = 0 calls */
	uint64_t empty_calls;
	uint64_t msg_exits;    /* exits that were messages (RESULT, SYNC) */
	double cpl0_ns;        /* pio: one guest-kernel NOP (the OUT loop's own instructions cost as much) */
};

static void ve_teardown(struct kernel_ctx *ctx);

/* Guest-kernel instructions alone: the OUT block with NOPs. */
static int cpl0_baseline(struct ve_state *st, nb_error *err)
{
	const uint64_t n = 256;
	uint64_t args[] = {n, NB_PIO_NOP};
	struct vm_reply r;
	double best = -1;
	for (int i = 0; i < 3; i++) {
		if (vm_command(st->h.vm, NB_CMD_PIO, args, 2, hwvm_timeout_s(n, 1e5), &r, err))
			return -1;
		double ns = ((double)r.arg[1] - (double)r.arg[3]) / tsc_ticks_per_ns() / (double)n;
		if (best < 0 || ns < best)
			best = ns;
	}
	st->cpl0_ns = best > 0 ? best : 0;
	return 0;
}

static int ve_setup_(struct kernel_ctx *ctx, nb_error *err)
{
	const char *v = ctx->opt->variant ? ctx->opt->variant : "syscall";
	enum ve_kind kind = !strcmp(v, "pio") ? VE_PIO : !strcmp(v, "mmio") ? VE_MMIO : VE_SYSCALL;
	if (!ctx->opt->in_vm && kind != VE_SYSCALL)
		return nb_skip(err, "vmexit %s: no native counterpart (only a guest exits to its VMM); the native side "
				    "is the syscall variant",
			       v);
	int rc = hwvm_size0_once(ctx, 0, err);
	if (rc)
		return rc;
	struct ve_state *st = calloc(1, sizeof(*st));
	if (!st)
		return nb_fail(err, "out of memory");
	ctx->priv = st;
	st->kind = kind;
	json_object_set_new(ctx->params, "exit", json_string(v));
	ctx->backing_json = json_pack("{s:s}", "requested", "none");
	/* Descriptions go in an object: they are not part of a measurement's
	 * identity, so native and guest sides pair by exit kind. */
	if (!ctx->opt->in_vm) {
		json_object_set_new(ctx->params, "about", json_pack("{s:s}", "timed_at", "host user space (getppid)"));
		return 0;
	}
	if ((rc = hwvm_open(&st->h, ctx, 0, 1, 1, NULL, err)) != 0)
		return rc;
	json_object_set_new(ctx->params, "about",
			    json_pack("{s:s}", "timed_at",
				      kind == VE_PIO ? "guest cpl3, around a guest-kernel loop of OUTs (minus the empty call)"
						     : "guest cpl3"));
	if (kind == VE_PIO && cpl0_baseline(st, err))
		return -1;
	return 0;
}

static int ve_setup(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = ve_setup_(ctx, err);
	if (rc && ctx->priv)
		ve_teardown(ctx);
	return rc;
}

static int ve_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	struct ve_state *st = ctx->priv;
	if (!ctx->opt->in_vm) {
		uint64_t t0 = tsc_begin();
		for (uint64_t i = 0; i < iters; i++)
			(void)syscall(SYS_getppid);
		*ticks = tsc_end() - t0;
		st->ops += iters;
		return 0;
	}
	struct vm_reply r;
	uint64_t args[2] = {iters, NB_PIO_OUT};
	uint32_t op = st->kind == VE_PIO ? NB_CMD_PIO : st->kind == VE_MMIO ? NB_CMD_MMIO : NB_CMD_SYSCALL;
	/* Up to 100 us per operation under emulation, before the watchdog. */
	if (hwvm_command(&st->h, op, args, st->kind == VE_PIO ? 2 : 1, hwvm_timeout_s(iters, 1e5), &r, err))
		return -1;
	/* Every exit the guest claims must have reached the VMM, and no more. */
	if (st->kind != VE_SYSCALL && r.bench_exits != iters)
		return nb_fail(err, "vmexit %s: the guest ran %llu operations but the VMM answered %llu exits",
			       ctx->opt->variant, (unsigned long long)iters, (unsigned long long)r.bench_exits);
	st->msg_exits += r.exits - r.bench_exits;
	st->ops += iters;
	if (st->kind == VE_PIO) {
		*ticks = r.arg[1] > r.arg[3] ? r.arg[1] - r.arg[3] : 0;
		st->guest_kticks += r.arg[2];
		st->empty_ticks += r.arg[3];
		st->empty_calls++;
	} else {
		*ticks = r.arg[1];
		if (st->kind == VE_SYSCALL)
			st->guest_kticks += r.arg[2];
	}
	return 0;
}

static void ve_teardown(struct kernel_ctx *ctx)
{
	struct ve_state *st = ctx->priv;
	if (!st)
		return;
	if (ctx->opt->in_vm && st->h.vm && st->ops) {
		double tpn = tsc_ticks_per_ns(), ops = (double)st->ops;
		json_t *share = hwvm_share_json(&st->h);
		json_object_set_new(share, "ops", json_integer((json_int_t)st->ops));
		if (st->kind != VE_SYSCALL && st->h.bench_exits) {
			double ex = (double)st->h.bench_exits;
			json_object_set_new(share, "vmm_ns_per_exit", json_real((double)st->h.vmm_ticks / tpn / ex));
		}
		/* Exits other than the two messages per command (RESULT, SYNC). */
		double other = (double)st->msg_exits - 2.0 * (double)st->h.commands;
		json_object_set_new(share, "other_exits_per_op", json_real(other > 0 ? other / ops : 0));
		if (st->kind != VE_MMIO)
			json_object_set_new(share, "guest_kernel_ns_per_op", json_real((double)st->guest_kticks / tpn / ops));
		if (st->kind == VE_PIO)
			json_object_set_new(share, "guest_kernel_instruction_ns", json_real(st->cpl0_ns));
		if (st->empty_calls)
			json_object_set_new(share, "empty_call_ns",
					    json_real((double)st->empty_ticks / tpn / (double)st->empty_calls));
		json_object_set_new(ctx->params, "host_share", share);
		json_object_set_new(ctx->params, "guest_pmu", hwvm_pmu_json(&st->h, st->ops));
	}
	hwvm_close(&st->h);
	free(st);
	ctx->priv = NULL;
}

const struct kernel_desc kernel_vmexit = {
	.name = "vmexit",
	.family = "hwassist",
	.metric = "ns_per_op",
	.summary = "VM exits a guest causes (port I/O, MMIO) and its own system call; native: a host system call",
	.params_help = "variants pio, mmio, syscall (native: syscall only); --mode vm|both for the guest side",
	.flags = KERNEL_HAS_GUEST,
	.setup = ve_setup,
	.sample = ve_sample,
	.teardown = ve_teardown,
	.default_sizes = {1, {0}},
	.variants = ve_variants,
};
