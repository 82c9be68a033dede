/* hw_shootdown.c - the `guest-shootdown` kernel: TLB shootdowns in a guest
 * with several vCPUs, beside the native `shootdown` kernel.
 *
 * T vCPUs (--threads; one PU each, picked as the native kernel picks its
 * threads' PUs; the VM has the in-kernel irqchip and local APICs): vCPUs
 * 1..T-1 read every region page but the first at CPL3 in a loop, so their
 * TLBs hold the region, while vCPU 0 asks its kernel to unmap the first
 * page, flush it locally, send the shootdown IPI to every other vCPU
 * through the x2APIC ICR, wait for each to INVLPG and acknowledge, and map
 * the page again; timed at CPL3 per shootdown (T = 1: the local flush
 * only).  Every shootdown must reach every vCPU: the acknowledgements
 * counted by the guest and the interrupts each vCPU handled are checked
 * and recorded.  A vCPU that never acknowledges ends the command with the
 * vCPU and where it was; a vCPU that never reaches the start barrier too.
 * Natively: the shootdown kernel with T threads.
 */
#include <stdlib.h>
#include <string.h>

#include "bench/hwvm.h"
#include "bench/kutil.h"
#include "harness/host/topology.h"
#include "core/tsc.h"

#define GS_WAIT_S 2.0

extern const struct kernel_desc kernel_shootdown;

struct gs_state {
	struct hwvm h;
	unsigned vcpus;
	uint64_t ops, acks;
	void *native_priv;
};

static void gs_teardown(struct kernel_ctx *ctx);

static int gs_setup_(struct kernel_ctx *ctx, nb_error *err)
{
	int T = ctx->opt->threads > 0 ? ctx->opt->threads : 1;
	struct gs_state *st = calloc(1, sizeof(*st));
	if (!st)
		return nb_fail(err, "out of memory");
	int rc;
	if (!ctx->opt->in_vm) {
		rc = kernel_shootdown.setup(ctx, err);
		if (rc) {
			free(st);
			return rc;
		}
		st->native_priv = ctx->priv;
		ctx->priv = st;
		return 0;
	}
	ctx->priv = st;
	if (T > NB_MAX_VCPUS)
		return nb_skip(err, "guest-shootdown: %d vCPUs asked for, the payload serves at most %d", T, NB_MAX_VCPUS);
	uint64_t page = ctx->opt->guest_page_bytes ? ctx->opt->guest_page_bytes : 4096;
	if (ctx->working_set_bytes < 2 * page)
		return nb_skip(err, "guest-shootdown needs at least 2 guest pages (one to unmap, the others to read), "
			       "not %zu bytes", ctx->working_set_bytes);
	if ((rc = ku_size_fits(ctx, ctx->working_set_bytes, err)) != 0)
		return rc;
	int pus[NB_MAX_VCPUS];
	/* One PU per vCPU: fewer PUs than vCPUs is a skip with the reason. */
	if ((rc = topology_pick_pus(T, ctx->cpu, pus, err)) != 0)
		return rc;
	if ((rc = hwvm_open(&st->h, ctx, ctx->working_set_bytes, 1, (unsigned)T, pus + 1, err)) != 0)
		return rc;
	st->vcpus = (unsigned)T;
	ctx->backing_json = buffer_json(&st->h.region);
	json_t *used = json_array();
	for (int i = 0; i < T; i++)
		json_array_append_new(used, json_integer(pus[i]));
	json_object_set_new(ctx->params, "threads", json_integer(T));
	json_object_set_new(ctx->params, "pus", used);
	json_object_set_new(ctx->params, "region_bytes", json_integer((json_int_t)ctx->working_set_bytes));
	json_object_set_new(ctx->params, "bytes_protected", json_integer((json_int_t)page));
	json_object_set_new(ctx->params, "op",
			    json_string("unmap one guest page, flush it on every vCPU (x2APIC IPI, INVLPG, acknowledge) "
					"and map it again while vCPUs 1..T-1 read the rest of the region"));
	return 0;
}

static int gs_setup(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = gs_setup_(ctx, err);
	if (rc && ctx->priv)
		gs_teardown(ctx);
	return rc;
}

static int gs_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	struct gs_state *st = ctx->priv;
	if (!ctx->opt->in_vm)
		return hwvm_native_sample(ctx, &kernel_shootdown, st->native_priv, iters, ticks, err);
	uint64_t wait = (uint64_t)(GS_WAIT_S * 1e9 * tsc_ticks_per_ns());
	uint64_t args[] = {iters, 0, wait};
	struct vm_reply r;
	/* Up to 1 ms per shootdown (emulated guest kernel), plus the waits. */
	if (hwvm_command(&st->h, NB_CMD_SHOOT, args, 3, hwvm_timeout_s(iters, 1e6) + 2 * GS_WAIT_S, &r, err))
		return -1;
	uint64_t want = iters * (st->vcpus - 1);
	if (r.arg[3] != want)
		return nb_fail(err, "guest-shootdown: %llu shootdowns to %u other vCPUs should be %llu acknowledgements, "
				    "the guest counted %llu",
			       (unsigned long long)iters, st->vcpus - 1, (unsigned long long)want,
			       (unsigned long long)r.arg[3]);
	st->ops += iters;
	st->acks += r.arg[3];
	*ticks = r.arg[1];
	return 0;
}

static void gs_teardown(struct kernel_ctx *ctx)
{
	struct gs_state *st = ctx->priv;
	if (!st)
		return;
	if (!ctx->opt->in_vm) {
		hwvm_native_teardown(ctx, &kernel_shootdown, st->native_priv);
		free(st);
		return;
	}
	if (st->h.vm && st->ops) {
		json_t *per = json_array();
		for (unsigned i = 0; i < st->vcpus; i++) {
			struct nb_cpu_status c;
			if (vm_vcpu_status(st->h.vm, i, &c) == 0)
				json_array_append_new(per, json_integer((json_int_t)c.ipis));
		}
		json_object_set_new(ctx->params, "shootdowns",
				    json_pack("{s:I, s:I, s:o}", "sent", (json_int_t)st->ops, "acknowledged",
					      (json_int_t)st->acks, "ipis_handled_per_vcpu", per));
		json_object_set_new(ctx->params, "host_share", hwvm_share_json(&st->h));
		json_object_set_new(ctx->params, "guest_pmu", hwvm_pmu_json(&st->h, st->ops));
	}
	hwvm_close(&st->h);
	free(st);
	ctx->priv = NULL;
}

static void gs_check(struct kernel_ctx *ctx, const uint64_t *counts, uint64_t ops)
{
	if (!ctx->opt->in_vm && kernel_shootdown.check)
		kernel_shootdown.check(ctx, counts, ops);
}

const struct kernel_desc kernel_guest_shootdown = {
	.name = "guest-shootdown",
	.family = "hwassist",
	.metric = "ns_per_mprotect_pair",
	.summary = "TLB shootdown in a guest with T vCPUs (x2APIC IPIs, in-kernel irqchip); native: shootdown",
	.params_help = "--threads: vCPUs (one PU each; default 1, 2, 4, ..., all); --size: shared region; --mode "
		       "vm|both for the guest side",
	.flags = KERNEL_HAS_GUEST | KERNEL_COUNTS_CHILDREN | KERNEL_USES_THREADS,
	.setup = gs_setup,
	.sample = gs_sample,
	.teardown = gs_teardown,
	.check = gs_check,
	.default_sizes = {1, {4 << 20}},
};
