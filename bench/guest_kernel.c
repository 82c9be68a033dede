/* guest_kernel.c - the guest-kernel kernels: what the micro-VM's own kernel
 * costs for a system call (guest-syscall), a first-touch fault
 * (guest-fault), a protect and an unmap of a mapped page (guest-protect,
 * guest-unmap) and an address-space switch without and with PCID
 * (guest-ctxsw, guest-ctxsw-pcid), each timed at guest CPL3 around one guest
 * command, in a VM over the requested backing and guest page (bench/hwvm.c).
 *
 * One descriptor per figure rather than one kernel with variants: each
 * figure has its own metric (ns_per_call, ns_per_fault, ...) and its own
 * kernel name in results files, reports and compare's identity, as it had
 * when run_vm.c measured them implicitly; variants would move them all under
 * one name with params.variant and break every older results file's pairing.
 *
 * Guest side only (KERNEL_HAS_GUEST): natively they are skipped with the
 * reason, which names where the host's own version is measured (vmexit's
 * syscall variant, fault, mprotect, mmap-munmap, pipe-proc): those kernels
 * time other operations in other units (a whole region, a round trip), so
 * running them here again would pair figures that do not compare.
 *
 * The size a suite gives is the VM's region; a figure runs at most its own
 * count of operations per guest command over the guest pages the region
 * holds (64 faults, 16 protects/unmaps) and records that working set, so a
 * 1G guest page gives one fault per command, as before.
 */
#include <stdlib.h>

#include "bench/hwvm.h"
#include "core/stats.h"
#include "core/tsc.h"

enum gk_fig { GK_SYSCALL, GK_FAULT, GK_PROTECT, GK_UNMAP, GK_CTXSW, GK_CTXSW_PCID };

#define GK_MAX_FAULTS 64
#define GK_MAX_REMAPS 16
#define GK_SWITCHES 64
#define GK_CALLS 64
#define GK_TOUCH_PAGES 16 /* 4K pages each side touches after a switch */

struct gk_state {
	struct hwvm h;
	enum gk_fig fig;
	uint64_t per_cmd;       /* operations per guest command */
	uint64_t touch;         /* ctxsw: 4K pages touched after each switch */
	double *kern_ns;        /* guest-kernel ns per op, per sample call */
	size_t nk, capk;
};

static enum gk_fig fig_of(const struct kernel_desc *k);

/* Where the host's own version of each figure is measured (named in the
 * native skip reason). */
static const char *const host_peer[] = {
	[GK_SYSCALL] = "vmexit's syscall variant",
	[GK_FAULT] = "the fault kernel",
	[GK_PROTECT] = "the mprotect kernel",
	[GK_UNMAP] = "the mmap-munmap kernel",
	[GK_CTXSW] = "pipe-proc (a switch between host processes)",
	[GK_CTXSW_PCID] = "pipe-proc (a switch between host processes)",
};

static void gk_teardown(struct kernel_ctx *ctx);

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static int gk_setup_(struct kernel_ctx *ctx, struct gk_state *st, nb_error *err)
{
	uint64_t page = hwvm_guest_page(ctx);
	size_t want = ctx->working_set_bytes ? ctx->working_set_bytes : (size_t)page;
	uint64_t pages = (want + page - 1) / page;
	/* Only the pages a command can touch: a 16M region of 4K guest pages
	 * would map 4096 of them for 64 faults. */
	pages = min_u64(pages, GK_MAX_FAULTS);
	switch (st->fig) {
	case GK_SYSCALL:
		st->per_cmd = GK_CALLS;
		break;
	case GK_FAULT:
		st->per_cmd = pages;
		break;
	case GK_PROTECT:
	case GK_UNMAP:
		st->per_cmd = min_u64(pages, GK_MAX_REMAPS);
		break;
	case GK_CTXSW:
	case GK_CTXSW_PCID:
		st->per_cmd = GK_SWITCHES;
		st->touch = min_u64(pages * page / 4096, GK_TOUCH_PAGES);
		break;
	}
	int ctxsw = st->fig == GK_CTXSW || st->fig == GK_CTXSW_PCID;
	ctx->working_set_bytes = (size_t)(st->per_cmd * (ctxsw ? 4096 : page));
	ctx->min_iters_per_sample = st->per_cmd; /* a whole command per sample, as ever */
	int rc = hwvm_open(&st->h, ctx, (size_t)(pages * page), ctxsw ? 2 : 1, 1, NULL, err);
	if (rc)
		return rc;
	/* No guest PMU session: these figures have never carried one, and a
	 * start/stop around every command would be timed with them. */
	if (st->h.pmu)
		pmu_session_close(st->h.pmu);
	st->h.pmu = NULL;
	ctx->backing_json = buffer_json(&st->h.region);
	if (st->fig == GK_CTXSW_PCID && !vm_has_pcid(st->h.vm))
		return nb_skip(err, "the guest has no PCID (CPUID.1:ECX.PCID not offered by KVM)");
	st->capk = 4096;
	st->kern_ns = calloc(st->capk, sizeof(double));
	if (!st->kern_ns)
		return nb_fail(err, "out of memory");
	json_object_set_new(ctx->params, "ops_per_sample", json_integer((json_int_t)st->per_cmd));
	json_object_set_new(ctx->params, "timed_at", json_string("guest cpl3 (includes the guest-kernel path)"));
	return 0;
}

static int gk_setup(struct kernel_ctx *ctx, nb_error *err)
{
	enum gk_fig fig = fig_of(ctx->desc);
	if (!ctx->opt->in_vm)
		return nb_skip(err, "%s: no native counterpart (the guest's own kernel, timed from guest CPL3); the host's "
				    "own is measured by %s",
			       ctx->desc->name, host_peer[fig]);
	struct gk_state *st = calloc(1, sizeof(*st));
	if (!st)
		return nb_fail(err, "out of memory");
	st->fig = fig;
	ctx->priv = st;
	int rc = gk_setup_(ctx, st, err);
	if (rc)
		gk_teardown(ctx);
	return rc;
}

/* One guest command of n operations. */
static int gk_command(struct gk_state *st, uint64_t n, struct vm_reply *r, nb_error *err)
{
	uint64_t args[4] = {0};
	uint32_t op = NB_CMD_SYSCALL;
	switch (st->fig) {
	case GK_SYSCALL:
		args[0] = n;
		break;
	case GK_FAULT:
		op = NB_CMD_TOUCH;
		args[0] = NB_REGION_VA;
		args[1] = n;
		break;
	case GK_PROTECT:
	case GK_UNMAP:
		op = NB_CMD_REMAP;
		args[0] = st->fig == GK_PROTECT ? NB_REMAP_PROTECT : NB_REMAP_UNMAP;
		args[1] = NB_REGION_VA;
		args[2] = n;
		break;
	case GK_CTXSW:
	case GK_CTXSW_PCID:
		op = NB_CMD_CTXSW;
		args[0] = n;
		args[1] = st->fig == GK_CTXSW_PCID;
		args[2] = st->touch;
		args[3] = 2;
		break;
	}
	/* Up to 1 ms per operation under emulation, before the watchdog. */
	return hwvm_command(&st->h, op, args, 4, hwvm_timeout_s(n, 1e6), r, err);
}

/* iters operations as commands of at most per_cmd each (a fault or remap
 * command covers each guest page of the region once). */
static int gk_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	struct gk_state *st = ctx->priv;
	uint64_t total = 0, kern = 0;
	for (uint64_t done = 0; done < iters;) {
		uint64_t n = min_u64(st->per_cmd, iters - done);
		struct vm_reply r;
		if (gk_command(st, n, &r, err))
			return -1;
		total += r.arg[1];
		kern += r.arg[2];
		done += n;
	}
	*ticks = total;
	if (st->nk < st->capk && iters)
		st->kern_ns[st->nk++] = (double)kern / tsc_ticks_per_ns() / (double)iters;
	return 0;
}

static void gk_teardown(struct kernel_ctx *ctx)
{
	struct gk_state *st = ctx->priv;
	if (!st)
		return;
	if (st->nk) {
		/* Every sample call, calibration and warm-up included: the
		 * guest-kernel share per operation does not depend on how many. */
		json_object_set_new(ctx->params, "guest_kernel_ns_per_op", json_real(median_of(st->kern_ns, st->nk)));
		json_object_set_new(ctx->params, "guest_kernel_note",
				    json_string("time inside the guest kernel (CPL0, emulated under PVM), a separate figure"));
		hwvm_kvm_facts(&st->h, ctx);
	}
	hwvm_close(&st->h);
	free(st->kern_ns);
	free(st);
	ctx->priv = NULL;
}

#define GUEST_KERNEL(sym, kname, kmetric, ksummary)                                                                    \
	const struct kernel_desc sym = {                                                                               \
		.name = kname,                                                                                         \
		.family = "guest-kernel",                                                                              \
		.metric = kmetric,                                                                                     \
		.summary = ksummary,                                                                                   \
		.params_help = "guest side only (--mode vm|both); size = the VM's region (default 16M)",             \
		.flags = KERNEL_HAS_GUEST,                                                                             \
		.setup = gk_setup,                                                                                     \
		.sample = gk_sample,                                                                                   \
		.teardown = gk_teardown,                                                                               \
		.default_sizes = {1, {16u << 20}},                                                                     \
	}

GUEST_KERNEL(kernel_guest_syscall, "guest-syscall", "ns_per_call", "the guest's own null system call, from its CPL3");
GUEST_KERNEL(kernel_guest_fault, "guest-fault", "ns_per_fault", "a first-touch fault the guest kernel resolves");
GUEST_KERNEL(kernel_guest_protect, "guest-protect", "ns_per_op", "the guest kernel write-protects a page, then a touch");
GUEST_KERNEL(kernel_guest_unmap, "guest-unmap", "ns_per_op", "the guest kernel unmaps a page, then a touch");
GUEST_KERNEL(kernel_guest_ctxsw, "guest-ctxsw", "ns_per_switch", "a guest address-space switch (CR3 write, no PCID)");
GUEST_KERNEL(kernel_guest_ctxsw_pcid, "guest-ctxsw-pcid", "ns_per_switch",
	     "a guest address-space switch with PCID (skipped where KVM offers none)");

static enum gk_fig fig_of(const struct kernel_desc *k)
{
	/* The descriptor's address, not its name, says which figure it is. */
	return k == &kernel_guest_syscall   ? GK_SYSCALL
	       : k == &kernel_guest_fault   ? GK_FAULT
	       : k == &kernel_guest_protect ? GK_PROTECT
	       : k == &kernel_guest_unmap   ? GK_UNMAP
	       : k == &kernel_guest_ctxsw   ? GK_CTXSW
					    : GK_CTXSW_PCID;
}
