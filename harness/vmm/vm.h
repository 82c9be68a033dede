/* vm.h - a small KVM virtual machine monitor for the guest payload.
 *
 * One VM = a system memory slot (payload image, stacks, page-table pool,
 * 4K backing), a benchmark-region slot backed by a caller's verified buffer,
 * and one vCPU served by its own thread, pinned to a chosen PU.  The vCPU
 * starts in 64-bit long mode at the payload's entry with boot page tables
 * built by the VMM; the payload then maps the region itself with the
 * requested guest page size, walks its tables to verify them and reports
 * back (see guest-payloads/protocol.h).
 *
 * Every KVM_RUN is bounded by a watchdog: a per-thread timer signal sets
 * kvm_run->immediate_exit, so a guest that spins is stopped and reported
 * with its RIP instead of hanging the run.  A guest fault, triple fault or
 * watchdog stop leaves the VM dead (later commands fail at once) with a
 * message naming the exit reason, the guest RIP and the payload's last
 * message.  Failing ioctls are named in the error.
 */
#ifndef NESTBENCH_VM_H
#define NESTBENCH_VM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness/mem/backing.h"
#include "guest-payloads/protocol.h"
#include "core/util.h"

struct vm;

struct vm_config {
	struct buffer *region;      /* host memory of the benchmark region (borrowed, outlives the VM) */
	size_t region_bytes;        /* bytes of it to map; a multiple of region_page_bytes */
	uint64_t region_page_bytes; /* guest page size: 4096, 2M or 1G */
	unsigned spaces;            /* guest address spaces for NB_CMD_CTXSW (0 = 1) */
	unsigned vcpus;             /* vCPUs (0 = 1, at most NB_MAX_VCPUS); more than one: in-kernel irqchip
				     * and local APICs; vCPU i > 0 runs the payload's shootdown target loop */
	const int *ap_cpus;         /* vcpus > 1: PU of vCPU i at ap_cpus[i - 1] (NULL: not pinned) */
	int cpu;                    /* PU the vCPU thread is pinned to; -1 = not pinned */
	double boot_timeout_s;      /* watchdog for the boot (0 = 10 s) */
	const void *image;          /* payload image; NULL = the one built into nestbench */
	size_t image_bytes;
};

struct vm_reply {
	uint64_t arg[NB_MSG_ARGS]; /* the RESULT message's arguments (arg[0] = sequence number) */
	int done;                  /* the guest sent DONE (arg[0] = its status) */
	uint64_t host_ticks;       /* host TSC ticks from resuming the vCPU to the RESULT exit */
	unsigned exits;            /* VM exits while the command ran */
	long preempted;            /* involuntary context switches of the vCPU thread meanwhile (-1: unknown) */
	/* Host-side share, measured on the vCPU thread. */
	uint64_t bench_exits;      /* benchmark exits (NB_PORT_BENCH, NB_BENCH_GPA) answered at once */
	uint64_t turns;            /* NB_TURN_GPA rings served (turns handed on) */
	uint64_t run_ticks;        /* TSC ticks inside KVM_RUN */
	uint64_t vmm_ticks;        /* TSC ticks in the VMM answering benchmark exits (KVM_RUN return to re-entry) */
	/* KVM's own count of this vCPU's exits while the command ran (also those
	 * handled inside KVM), in vm_kvm_exit_names order; kvm_counted = 0
	 * where KVM has no binary statistics. */
	int kvm_counted;
	uint64_t kvm_exits[5];
};
#define KVM_EXIT_STATS 5
extern const char *const vm_kvm_exit_names[KVM_EXIT_STATS]; /* exits, io_exits, mmio_exits, irq_exits, halt_exits */

/* The turn hand-off of NB_TURN_GPA: called on the vCPU thread at each ring
 * with the turn number (0 = ready); returns 0 once this VM may run again,
 * or -1 with the reason (the token never came back). */
typedef int (*vm_turn_fn)(void *ctx, uint32_t turn, nb_error *err);

/* Can VMs be run here?  0 = yes; 1 = no, with the reason (no /dev/kvm, no
 * permission, wrong API version, cannot create a VM). */
int vm_available(nb_error *err);

/* Can guests have pages of this size here (1G needs the pdpe1gb CPUID bit
 * offered by KVM)?  0 = yes, 1 = no with the reason. */
int vm_guest_page_usable(uint64_t page_bytes, nb_error *err);

/* Create, load and boot a VM until the payload is ready for commands.
 * Returns 0; 1 when what is asked cannot be had (e.g. 1G guest pages without
 * CPU support), reason in err; -1 on error (VM destroyed, *out NULL). */
int vm_create(struct vm **out, const struct vm_config *cfg, nb_error *err);

/* Run one command (NB_CMD_*; cmd->seq is filled in) with a watchdog of
 * timeout_s seconds.  0 with the reply, or -1 with an error that names the
 * exit reason, guest RIP and last message; the VM is then dead. */
int vm_command(struct vm *vm, uint32_t op, const uint64_t *args, size_t nargs, double timeout_s,
	       struct vm_reply *reply, nb_error *err);

/* The same in two halves, so that several VMs can run commands at once:
 * begin hands the command to the vCPU thread and returns; end waits for
 * the reply and checks it as vm_command does. */
int vm_command_begin(struct vm *vm, uint32_t op, const uint64_t *args, size_t nargs, double timeout_s,
		     nb_error *err);
int vm_command_end(struct vm *vm, struct vm_reply *reply, nb_error *err);

/* Serve NB_TURN_GPA rings with fn (NULL: a ring is an error). */
void vm_set_turn_hook(struct vm *vm, vm_turn_fn fn, void *ctx);

/* Thread id of the vCPU thread (for its counters), 0 if not running. */
int vm_vcpu_tid(const struct vm *vm);

/* What vCPU idx last wrote to its status block (guest memory; racy by
 * nature, read for reports).  0, or -1 if there is no such vCPU. */
int vm_vcpu_status(const struct vm *vm, unsigned idx, struct nb_cpu_status *out);

/* What KVM says about the VM: {"region_slot_bytes", "guest_page_tables_on",
 * "host_tsc_khz", "guest_tsc_khz", "stats": {"available", "vm": {pages_4k,
 * pages_2m, pages_1g}, "vcpu": {exits, io_exits, ...}} or {"available":
 * false, "reason"}}.  Read when called: after the warm-up, the page counts
 * say how KVM mapped what the guest touched. */
json_t *vm_kvm_json(const struct vm *vm);
/* KVM's mappings of guest memory now: pages[0..2] = 4K, 2M, 1G.  0, or -1
 * without binary statistics. */
int vm_kvm_pages(const struct vm *vm, uint64_t pages[3]);
/* The guest's TSC frequency as KVM sets it (KVM_GET_TSC_KHZ), 0 if unknown. */
uint32_t vm_guest_tsc_khz(const struct vm *vm);
/* Append to `flags` what KVM's facts call for (vm_flags.c): a region KVM
 * mapped with smaller pages than its backing's `backing_page_bytes`, a
 * guest TSC at another rate than the host's.  Every guest measurement
 * (run_vm.c's chase, the table kernels of bench/) flags the same way. */
void vm_kvm_flags(const struct vm *vm, size_t backing_page_bytes, json_t *flags);

/* What the payload reported at boot. */
uint64_t vm_built_page_bytes(const struct vm *vm);
/* Does the guest see PCID (CPUID and CR4.PCIDE)? */
int vm_has_pcid(const struct vm *vm);
/* The payload's last PRINT/ABORT text ("" if none). */
const char *vm_last_message(const struct vm *vm);

/* Testing hook: when the environment variable NESTBENCH_INJECT_GUEST_FAULT
 * names `kernel`, make the guest read an unmapped address at CPL3 (a real
 * guest page fault, which the payload reports as an abort): the VM is then
 * dead and -1 returned with the guest's message, as with any guest failure.
 * 0 otherwise.  How the tests prove that a failing VM cell never throws a
 * run away. */
int vm_inject_fault_if_asked(struct vm *vm, const char *kernel, nb_error *err);

/* Stop the vCPU thread, close every descriptor, unmap guest memory.  NULL is fine. */
void vm_destroy(struct vm *vm);

/* The payload image linked into this binary. */
const void *vm_payload_image(size_t *bytes);

/* Message parsing (exposed for tests): copy the nb_msg at guest-physical
 * `gpa` out of guest memory [mem, mem + mem_bytes) and validate it.  0, or
 * -1 with what is wrong in err. */
int vm_parse_msg(const void *mem, uint64_t mem_bytes, uint64_t gpa, struct nb_msg *out, nb_error *err);

/* Name of a KVM exit reason ("io", "shutdown", ...). */
const char *vm_exit_name(uint32_t reason);

#endif
