/* hwvm.h - the VM library of every KERNEL_HAS_GUEST kernel (the
 * hardware-assist kernels vmexit, vmswitch, guest-shootdown; the
 * guest-kernel kernels; vm-lifecycle): a micro-VM over a region of the
 * requested backing with N vCPUs, pinned to the measuring PU, guest
 * commands, KVM's facts about it; the guest's own PMU counters (guest mode
 * of the vCPU thread, or why not); whether the host tags guest TLB entries
 * (ASID/VPID); the bookkeeping of the host-side share of a command.
 *
 * These kernels run the native counterpart (or skip, saying there is none)
 * when opt->in_vm is 0 and their guests when it is 1 (KERNEL_HAS_GUEST);
 * see bench/hw_*.c, bench/guest_kernel.c, bench/vm_lifecycle.c.
 */
#ifndef NESTBENCH_HWVM_H
#define NESTBENCH_HWVM_H

#include <jansson.h>
#include <stdint.h>

#include "harness/mem/backing.h"
#include "core/kernel.h"
#include "harness/pmu/pmu.h"
#include "core/util.h"
#include "harness/vmm/vm.h"

struct hwvm {
	struct buffer region;
	struct vm *vm;
	struct pmu_session *pmu; /* guest-mode counters of the vCPU thread (NULL: --no-pmu or none) */
	const char *pmu_why;     /* pmu NULL: why no session was opened */
	/* Host-side share, summed over every command run through hwvm_command. */
	uint64_t commands, exits, bench_exits, turns, run_ticks, vmm_ticks, host_ticks;
	/* KVM's own exit counts (vm_kvm_exit_names order), all commands counted. */
	int kvm_counted;
	uint64_t kvm_exits[KVM_EXIT_STATS];
};

/* Boot one VM whose region is `bytes` (rounded up to a whole guest page, at
 * least one) of ctx->backing, guest page opt->guest_page_bytes, `spaces`
 * address spaces, `vcpus` vCPUs, the first pinned to ctx->cpu, vCPU i > 0 to
 * ap_cpus[i - 1].  Records the
 * guest page built in ctx.  0, 1 (skip, reason) or -1. */
int hwvm_open(struct hwvm *h, struct kernel_ctx *ctx, size_t bytes, unsigned spaces, unsigned vcpus,
	      const int *ap_cpus, nb_error *err);
/* The guest page size asked for (opt->guest_page_bytes, 4K by default). */
uint64_t hwvm_guest_page(const struct kernel_ctx *ctx);
/* The first half of hwvm_open: check that a VM with this guest page can be
 * had and allocate its region (h->region, `bytes` rounded up to a whole
 * guest page, at least one), no VM yet; for kernels that build their VMs
 * themselves (vm-lifecycle).  0, 1 (skip, reason) or -1. */
int hwvm_region(struct hwvm *h, const struct kernel_ctx *ctx, size_t bytes, nb_error *err);
/* KVM's facts about h's VM into ctx->kvm_json (the measurement's "kvm")
 * and the caveats they call for into ctx->flags; call before hwvm_close. */
void hwvm_kvm_facts(struct hwvm *h, struct kernel_ctx *ctx);
/* vm_command with the host-side share added to the totals and the guest
 * counters running around it. */
int hwvm_command(struct hwvm *h, uint32_t op, const uint64_t *args, size_t nargs, double timeout_s,
		 struct vm_reply *r, nb_error *err);
/* Add a reply's host-side share (for commands run with vm_command_begin/end). */
void hwvm_account(struct hwvm *h, const struct vm_reply *r);
/* {"commands", "vm_exits", "bench_exits", "turns", "in_kvm_run_ns", "vmm_ns", "vcpu_thread_ns"}: totals. */
json_t *hwvm_share_json(const struct hwvm *h);
/* The guest PMU part: {"available": false, "reason"} or the full session.
 * A session whose hardware events all counted zero is reported unavailable
 * (zero walks are never presented as a measurement). */
json_t *hwvm_pmu_json(struct hwvm *h, uint64_t ops);
/* The same for a session opened by the caller (another process's vCPU thread):
 * s NULL = not opened, for the reason why_not. */
json_t *hwvm_session_json(struct pmu_session *s, const char *why_not, uint64_t ops);
/* Open guest-mode counters of thread tid as ctx->opt asks (--no-pmu,
 * --events): NULL with *why_not when none is opened. */
struct pmu_session *hwvm_pmu_open(const struct kernel_ctx *ctx, int tid, const char **why_not);
void hwvm_close(struct hwvm *h);

/* Watchdog for a command of `ops` operations of up to `ns_per_op` each. */
double hwvm_timeout_s(uint64_t ops, double ns_per_op);

/* Does the host's KVM tag guest TLB entries (AMD ASID, Intel VPID)?  What
 * the module parameters and CPUID say, and the verdict:
 * {"verdict": "tagged"|"not tagged"|"unknown", "why", "module", "sources": {...}}. */
json_t *hwvm_tlb_tagging_json(void);

/* Skip a memory-less point on every backing but 4k (measured once). */
int hwvm_size0_once(const struct kernel_ctx *ctx, size_t bytes, nb_error *err);

/* Natively these kernels run a counterpart (pipe-proc, shootdown) whose
 * private state lives beside their own: these run one of its operations
 * with its state in ctx->priv, then put the caller's back. */
int hwvm_native_sample(struct kernel_ctx *ctx, const struct kernel_desc *native, void *native_priv,
		       uint64_t iters, uint64_t *ticks, nb_error *err);
/* Tear the counterpart down; ctx->priv is NULL afterwards (the caller frees its own state). */
void hwvm_native_teardown(struct kernel_ctx *ctx, const struct kernel_desc *native, void *native_priv);

#endif
