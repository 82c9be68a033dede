/* vm_impl.h - the VM's state, shared by the files of the VMM (not for callers: they use vm.h).
 *
 * vm.c creates and destroys it (descriptors, memory slots, boot),
 * vcpu.c runs the first vCPU (its thread, the exit loop, commands),
 * vcpu_ap.c the vCPUs after the first, vm_msg.c decodes what the guest
 * and KVM say; x86_boot.c is the x86 boot state and needs none of this.
 */
#ifndef NESTBENCH_VM_IMPL_H
#define NESTBENCH_VM_IMPL_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "core/util.h"
#include "guest-payloads/protocol.h"
#include "harness/mem/backing.h"
#include "harness/vmm/kvm_stats.h"
#include "harness/vmm/vm.h"

#define MSG_LOG 256

/* A vCPU after the first: created with the in-kernel irqchip, run by its
 * own thread from boot to destroy (it serves no commands). */
struct ap {
	struct vm *vm;
	unsigned idx;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	int started;
	int cpu;
	volatile sig_atomic_t stop;
	char why[MSG_LOG + 64]; /* why it stopped on its own, "" if it did not */
};

/* What the vCPU thread is asked to do. */
struct vcpu_req {
	int pending;
	int quit;
	uint32_t op;
	uint64_t args[6];
	double timeout_s;
};

struct vm {
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_bytes;
	struct buffer sys;
	int have_sys;
	struct nb_mailbox *mbox;
	uint64_t built_page_bytes;
	int has_pcid, has_1g;
	int cpu;
	uint64_t seq;
	uint64_t region_slot_bytes;
	uint32_t tsc_khz;            /* KVM_GET_TSC_KHZ, 0 when KVM cannot say */
	struct kvm_stats vm_stats, vcpu_stats;
	struct kvm_stats_set exit_set; /* vm_kvm_exit_names in vcpu_stats, read around every command */
	int have_stats;
	char stats_why[sizeof(nb_error)]; /* why not, when !have_stats */

	pthread_t thread;
	int thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct vcpu_req req;
	int replied;
	int rc;
	struct vm_reply reply;
	nb_error err;

	int dead; /* a fault or watchdog stop: no further commands */
	int tid;
	struct ap ap[NB_MAX_VCPUS - 1];
	unsigned naps;
	pthread_mutex_t ap_mu; /* ap[].why */
	vm_turn_fn turn_fn;
	void *turn_ctx;
	char last_msg[MSG_LOG];
};

#endif
