/* vm_lifecycle.c - the `vm-lifecycle` kernel: what one micro-VM costs from
 * nothing to gone: create (KVM VM, memslots, boot state, vCPU), boot the
 * payload to its first message, one command (EXIT), destroy.  One operation
 * is that whole cycle, over a region of the requested backing and guest
 * page allocated once (bench/hwvm.c's hwvm_region): the host memory is
 * borrowed by every VM, as a VMM reusing its guest memory would.
 *
 * The first VM of the measurement is timed apart in setup (params
 * first_create_boot_ns, first_destroy_ns): a cold KVM may pay for what
 * the later ones find ready.  Guest side only: a VM has no native
 * counterpart.
 */
#include <stdlib.h>
#include <time.h>

#include "bench/hwvm.h"
#include "core/tsc.h"

struct lc_state {
	struct hwvm h; /* h.region only: the VMs come and go in every sample */
};

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int lc_create(struct lc_state *st, const struct kernel_ctx *ctx, struct vm **vm, nb_error *err)
{
	struct vm_config vc = {
		.region = &st->h.region,
		.region_bytes = st->h.region.bytes,
		.region_page_bytes = hwvm_guest_page(ctx),
		.spaces = 1,
		.cpu = ctx->cpu,
	};
	return vm_create(vm, &vc, err);
}

static void lc_teardown(struct kernel_ctx *ctx)
{
	struct lc_state *st = ctx->priv;
	if (!st)
		return;
	hwvm_close(&st->h);
	free(st);
	ctx->priv = NULL;
}

static int lc_first(struct kernel_ctx *ctx, struct lc_state *st, nb_error *err)
{
	struct vm *vm;
	struct vm_reply r;
	double t0 = now_ns();
	int rc = lc_create(st, ctx, &vm, err);
	if (rc)
		return rc;
	double created = now_ns();
	ctx->guest_built_page_bytes = vm_built_page_bytes(vm);
	/* NESTBENCH_INJECT_GUEST_FAULT=vm-lifecycle stops this guest: a failed cell. */
	if (vm_inject_fault_if_asked(vm, ctx->desc->name, err) || vm_command(vm, NB_CMD_EXIT, NULL, 0, 5, &r, err)) {
		vm_destroy(vm);
		return -1;
	}
	double t1 = now_ns();
	vm_destroy(vm);
	json_object_set_new(ctx->params, "region_bytes", json_integer((json_int_t)st->h.region.bytes));
	json_object_set_new(ctx->params, "first_create_boot_ns", json_real(created - t0));
	json_object_set_new(ctx->params, "first_destroy_ns", json_real(now_ns() - t1));
	return 0;
}

static int lc_setup(struct kernel_ctx *ctx, nb_error *err)
{
	if (!ctx->opt->in_vm)
		return nb_skip(err, "vm-lifecycle: no native counterpart (it creates, boots and destroys a micro-VM)");
	struct lc_state *st = calloc(1, sizeof(*st));
	if (!st)
		return nb_fail(err, "out of memory");
	ctx->priv = st;
	int rc = hwvm_region(&st->h, ctx, ctx->working_set_bytes, err);
	if (rc == 0) {
		ctx->working_set_bytes = st->h.region.bytes;
		ctx->backing_json = buffer_json(&st->h.region);
		rc = lc_first(ctx, st, err);
	}
	if (rc)
		lc_teardown(ctx);
	return rc;
}

static int lc_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	struct lc_state *st = ctx->priv;
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < iters; i++) {
		struct vm *vm;
		struct vm_reply r;
		if (lc_create(st, ctx, &vm, err))
			return -1;
		int rc = vm_command(vm, NB_CMD_EXIT, NULL, 0, 5, &r, err);
		vm_destroy(vm);
		if (rc)
			return -1;
	}
	*ticks = tsc_end() - t0;
	return 0;
}

const struct kernel_desc kernel_vm_lifecycle = {
	.name = "vm-lifecycle",
	.family = "vm",
	.metric = "ns_per_vm",
	.summary = "a micro-VM created, booted, run for one command and destroyed",
	.params_help = "guest side only (--mode vm|both); size = the VM's region (default 16M)",
	.flags = KERNEL_HAS_GUEST,
	.setup = lc_setup,
	.sample = lc_sample,
	.teardown = lc_teardown,
	.default_sizes = {1, {16u << 20}},
};
