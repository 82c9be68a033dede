/* childguard.c - registered children, reaped on every exit path; the watchdog (see childguard.h). */
#include "core/childguard.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 64

static const int guard_signals[] = {SIGINT, SIGTERM, SIGHUP};
static struct sigaction old_actions[ARRAY_SIZE(guard_signals)];
static volatile sig_atomic_t installed;
/* Read by the signal handler: plain stores of pid_t, no locks. */
static volatile pid_t children[MAX_CHILDREN];

static void kill_all(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		pid_t p = children[i];
		if (p > 0) {
			kill(p, SIGKILL);
			while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
				;
			children[i] = 0;
		}
	}
}

static void on_signal(int sig, siginfo_t *info, void *ctx)
{
	int saved_errno = errno;
	kill_all();
	for (size_t i = 0; i < ARRAY_SIZE(guard_signals); i++) {
		if (guard_signals[i] != sig)
			continue;
		const struct sigaction *old = &old_actions[i];
		errno = saved_errno;
		if (old->sa_flags & SA_SIGINFO) {
			old->sa_sigaction(sig, info, ctx);
			return;
		}
		if (old->sa_handler == SIG_IGN)
			return;
		if (old->sa_handler != SIG_DFL) {
			old->sa_handler(sig);
			return;
		}
	}
	/* Default disposition: die of the signal (delivered when we return). */
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved_errno;
}

void childguard_install(void)
{
	if (installed)
		return;
	installed = 1;
	for (size_t i = 0; i < ARRAY_SIZE(guard_signals); i++) {
		struct sigaction cur;
		if (sigaction(guard_signals[i], NULL, &cur) != 0)
			continue;
		/* Ignored on purpose (nohup, a background job): the signal will
		 * not end the run, so there is nothing to clean up for it. */
		if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN)
			continue;
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_signal;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigemptyset(&sa.sa_mask);
		for (size_t j = 0; j < ARRAY_SIZE(guard_signals); j++)
			sigaddset(&sa.sa_mask, guard_signals[j]);
		sigaction(guard_signals[i], &sa, &old_actions[i]);
	}
}

static void block_guard_signals(sigset_t *old)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(guard_signals); i++)
		sigaddset(&set, guard_signals[i]);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

pid_t childguard_fork(nb_error *err)
{
	childguard_install();
	int slot = -1;
	for (int i = 0; i < MAX_CHILDREN && slot < 0; i++)
		if (children[i] == 0)
			slot = i;
	if (slot < 0)
		return nb_fail(err, "more than %d child processes at once", MAX_CHILDREN);
	/* No guard signal between fork() and registering the child. */
	sigset_t old;
	block_guard_signals(&old);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return nb_fail(err, "fork failed: %s", strerror(e));
	}
	if (pid == 0) {
		/* The child dies with its parent, and does not run the parent's
		 * cleanup (pool restore, killing siblings) on a signal. */
		for (size_t i = 0; i < ARRAY_SIZE(guard_signals); i++)
			signal(guard_signals[i], SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		for (int i = 0; i < MAX_CHILDREN; i++)
			children[i] = 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return 0;
	}
	children[slot] = pid;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return pid;
}

static void unregister(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

void childguard_forget(pid_t pid)
{
	unregister(pid);
}

void childguard_kill(pid_t pid)
{
	if (pid <= 0)
		return;
	sigset_t old;
	block_guard_signals(&old);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	unregister(pid);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int childguard_reap(pid_t pid, int *status)
{
	pid_t r;
	do
		r = waitpid(pid, status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == pid) {
		sigset_t old;
		block_guard_signals(&old);
		unregister(pid);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return 1;
	}
	return r == 0 ? 0 : -1;
}

int childguard_count(void)
{
	int n = 0;
	for (int i = 0; i < MAX_CHILDREN; i++)
		n += children[i] > 0;
	return n;
}

/* ---- watchdog ---- */

static struct timespec deadline;
static int alarm_installed, armed;

static void on_alarm(int sig)
{
	(void)sig; /* only here to interrupt a blocked system call */
}

void watchdog_arm(double timeout_s)
{
	if (!alarm_installed) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = 0; /* no SA_RESTART: blocked calls return EINTR */
		sigaction(SIGALRM, &sa, NULL);
		alarm_installed = 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)timeout_s;
	deadline.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	struct itimerval it = {{0, 200000}, {0, 200000}};
	setitimer(ITIMER_REAL, &it, NULL);
	armed = 1;
}

int watchdog_expired(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline.tv_sec || (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec);
}

void watchdog_disarm(void)
{
	struct itimerval it = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &it, NULL);
	armed = 0;
}

int childguard_wait(pid_t pid, int *status, nb_error *err)
{
	int own = !armed;
	if (own)
		watchdog_arm(CHILDGUARD_TIMEOUT_S);
	int rc = 0;
	for (;;) {
		pid_t r = waitpid(pid, status, 0);
		if (r == pid)
			break;
		if (r < 0 && errno == EINTR && !watchdog_expired())
			continue;
		if (r < 0 && errno == EINTR) {
			childguard_kill(pid);
			rc = nb_fail(err, "child %d did not finish in time: killed", (int)pid);
		} else {
			rc = nb_fail(err, "waiting for child %d failed: %s", (int)pid, strerror(errno));
		}
		break;
	}
	if (own)
		watchdog_disarm();
	unregister(pid);
	return rc;
}

void childguard_block_alarm(sigset_t *old)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

void childguard_restore_mask(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}
