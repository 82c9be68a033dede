/* vcpu.h - the first vCPU of a VM: one thread, pinned, that runs KVM_RUN.
 *
 * Every command is handed to that thread (KVM wants a vCPU run from one
 * thread) and answered when the guest sends SYNC or DONE; benchmark exits
 * are answered at once and counted, messages logged or decoded, anything
 * else stops the VM with the exit reason, guest RIP and last message.
 * Each KVM_RUN is bounded by the watchdog (vm_watchdog.h).
 */
#ifndef NESTBENCH_VCPU_H
#define NESTBENCH_VCPU_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util.h"
#include "harness/vmm/vm_impl.h"

/* vcpu_thread_start's argument: pin to cpu (-1: not pinned), then say
 * ready (rc, err) and serve commands until vm->req.quit. */
struct thread_start {
	struct vm *vm;
	int cpu;
	int rc;
	nb_error err;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ready;
};

void *vcpu_thread_start(void *arg);

/* Hand command op (0 = none: run until the boot's SYNC) to the vCPU thread;
 * end waits for its reply.  0, or -1 with err. */
void vcpu_call_begin(struct vm *vm, uint32_t op, const uint64_t *args, size_t nargs, double timeout_s);
int vcpu_call_end(struct vm *vm, struct vm_reply *reply, nb_error *err);
int vcpu_call(struct vm *vm, uint32_t op, const uint64_t *args, size_t nargs, double timeout_s,
	      struct vm_reply *reply, nb_error *err);

#endif
