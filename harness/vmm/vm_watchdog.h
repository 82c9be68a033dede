/* vm_watchdog.h - bounding every KVM_RUN of a vCPU thread.
 *
 * A per-thread POSIX timer sends a real-time signal to the thread that runs
 * the vCPU; the handler sets kvm_run->immediate_exit, so KVM_RUN returns
 * even when the guest spins, and the thread sees vm_watchdog_fired().
 *
 * Race-free by construction: each arming has a generation number carried in
 * the signal's value, and the handler ignores a signal of any other
 * generation, or one that arrives while nothing is armed (a timer that fired
 * just after a command finished, delivered late).  Arming and disarming both
 * clear immediate_exit, so no command starts with it set by an earlier one.
 * Signals sent with pthread_kill (to kick a vCPU thread out of KVM_RUN) only
 * interrupt; they never count as the watchdog firing.
 */
#ifndef NESTBENCH_VM_WATCHDOG_H
#define NESTBENCH_VM_WATCHDOG_H

#include <stdint.h>
#include <time.h>

#include "core/util.h"

struct vm_watchdog {
	timer_t timer;
	int armed;
};

/* Install the signal handler (once per process).  0 or -1. */
int vm_watchdog_install(nb_error *err);
/* The signal used (also to kick a vCPU thread out of KVM_RUN). */
int vm_watchdog_signal(void);
/* The calling thread's immediate_exit byte (its kvm_run's), or NULL. */
void vm_watchdog_bind(volatile uint8_t *immediate_exit);

/* Fire in `seconds`, then every 100 ms until disarmed (a signal landing
 * between two KVM_RUNs must not be lost). */
int vm_watchdog_arm(struct vm_watchdog *w, double seconds, nb_error *err);
void vm_watchdog_disarm(struct vm_watchdog *w);
/* Has the armed generation fired (on this thread)? */
int vm_watchdog_fired(void);
/* The generation now armed on this thread, 0 when none (tests). */
uint32_t vm_watchdog_generation(void);

#endif
