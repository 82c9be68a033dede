/* vm_watchdog.c - the vCPU threads' watchdog (see vm_watchdog.h). */
#include "harness/vmm/vm_watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static __thread volatile uint8_t *volatile tls_exit;
static __thread volatile sig_atomic_t tls_fired;
static __thread volatile uint32_t tls_gen; /* armed generation, 0 = none */
static atomic_uint next_gen = 1;

int vm_watchdog_signal(void)
{
	return SIGRTMIN + 2;
}

static void on_signal(int sig, siginfo_t *info, void *uctx)
{
	(void)sig;
	(void)uctx;
	/* Only our timer's signal of the generation armed now counts. */
	if (info->si_code != SI_TIMER || tls_gen == 0 || (uint32_t)info->si_value.sival_int != tls_gen)
		return;
	tls_fired = 1;
	if (tls_exit)
		*tls_exit = 1;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int install_rc;

static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: KVM_RUN must return */
	sigemptyset(&sa.sa_mask);
	install_rc = sigaction(vm_watchdog_signal(), &sa, NULL);
}

int vm_watchdog_install(nb_error *err)
{
	if (pthread_once(&once, install) || install_rc)
		return nb_fail(err, "vm: cannot install the watchdog signal handler");
	return 0;
}

void vm_watchdog_bind(volatile uint8_t *immediate_exit)
{
	tls_exit = immediate_exit;
}

int vm_watchdog_arm(struct vm_watchdog *w, double seconds, nb_error *err)
{
	uint32_t gen = atomic_fetch_add(&next_gen, 1);
	if (gen == 0)
		gen = atomic_fetch_add(&next_gen, 1);
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = vm_watchdog_signal();
	sev.sigev_value.sival_int = (int)gen;
	/* glibc before 2.35 has no sigev_notify_thread_id macro. */
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &sev, &w->timer))
		return nb_fail(err, "vm: cannot create the watchdog timer: %s", strerror(errno));
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)seconds;
	its.it_value.tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9);
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	its.it_interval.tv_nsec = 100000000;
	/* Clean state before the new generation can fire. */
	tls_fired = 0;
	if (tls_exit)
		*tls_exit = 0;
	tls_gen = gen;
	if (timer_settime(w->timer, 0, &its, NULL)) {
		tls_gen = 0;
		timer_delete(w->timer);
		return nb_fail(err, "vm: cannot arm the watchdog timer: %s", strerror(errno));
	}
	w->armed = 1;
	return 0;
}

void vm_watchdog_disarm(struct vm_watchdog *w)
{
	/* Stop counting first: a signal of this generation still in flight is
	 * then ignored, and immediate_exit cleared after it cannot be set again. */
	tls_gen = 0;
	if (w->armed)
		timer_delete(w->timer);
	w->armed = 0;
	if (tls_exit)
		*tls_exit = 0;
}

int vm_watchdog_fired(void)
{
	return tls_fired;
}

uint32_t vm_watchdog_generation(void)
{
	return tls_gen;
}
