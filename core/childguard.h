/* childguard.h - child processes and blocking waits that always end.
 *
 * Kernels fork partners (pipe-proc) and short-lived children (fork, fork-cow)
 * and block on them.  Whatever happens, no child may outlive the run and no
 * wait may hang:
 *   - children are made with childguard_fork(): registered in the parent, and
 *     in the child PR_SET_PDEATHSIG(SIGKILL) plus default signal handlers, so
 *     a parent killed outright still takes its children along;
 *   - on SIGINT, SIGTERM and SIGHUP the parent SIGKILLs and reaps every
 *     registered child, then hands the signal on to the handler that was
 *     there before (hugepool's, which restores the pools and re-raises);
 *     a signal that was ignored when the handlers were installed stays
 *     ignored (nohup, background jobs);
 *   - blocking waits between the sides run under a watchdog: while armed, a
 *     periodic SIGALRM interrupts blocked system calls (EINTR) so the caller
 *     can see that the deadline passed and give up with a clear message.
 * Threads that block must keep SIGALRM blocked (childguard_block_alarm) so the
 * interruption reaches the thread that owns the deadline.
 */
#ifndef NESTBENCH_CHILDGUARD_H
#define NESTBENCH_CHILDGUARD_H

#include <signal.h>
#include <sys/types.h>

#include "core/util.h"

/* Install the signal handlers (idempotent; call after hugepool_install_cleanup
 * so that ours runs first and chains to it). */
void childguard_install(void);

/* fork(): returns 0 in the child, the child's pid in the parent (registered),
 * -1 with the reason in err.  Installs the handlers if needed. */
pid_t childguard_fork(nb_error *err);

/* Wait for a registered child to exit; *status as waitpid's.  Bounded by the
 * watchdog when one is armed (no system call added to a timed loop), else by
 * CHILDGUARD_TIMEOUT_S of its own.  On timeout the child is killed and
 * reaped and -1 returned. */
#define CHILDGUARD_TIMEOUT_S 30.0
int childguard_wait(pid_t pid, int *status, nb_error *err);

/* Unregister a child the caller has reaped itself with waitpid(). */
void childguard_forget(pid_t pid);

/* SIGKILL and reap one registered child (no-op for pid <= 0). */
void childguard_kill(pid_t pid);

/* Has a registered child exited?  1 = reaped (status as waitpid's, and no
 * longer registered), 0 = still running, -1 = no such child.  Never blocks:
 * for children that run long (a QEMU guest) under their own deadline. */
int childguard_reap(pid_t pid, int *status);

/* Number of children registered now (tests). */
int childguard_count(void);

/* Arm the watchdog (once per timed sample, outside the timed region):
 * blocking calls in this process are interrupted about every 200 ms until
 * watchdog_disarm(); watchdog_expired() says whether timeout_s have passed
 * since arming. */
void watchdog_arm(double timeout_s);
int watchdog_expired(void);
void watchdog_disarm(void);

/* Block SIGALRM in the calling thread (saving the old mask in *old) before
 * creating threads that block, and restore it after. */
void childguard_block_alarm(sigset_t *old);
void childguard_restore_mask(const sigset_t *old);

#endif
