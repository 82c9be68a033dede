/* swcount.c - software perf events (see swcount.h). */
#include "harness/pmu/swcount.h"

#include <errno.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const struct {
	const char *name;
	uint64_t config;
} events[SWC_COUNT] = {
	[SWC_PAGE_FAULTS] = {"page_faults", PERF_COUNT_SW_PAGE_FAULTS},
	[SWC_MINOR_FAULTS] = {"minor_faults", PERF_COUNT_SW_PAGE_FAULTS_MIN},
	[SWC_MAJOR_FAULTS] = {"major_faults", PERF_COUNT_SW_PAGE_FAULTS_MAJ},
	[SWC_CONTEXT_SWITCHES] = {"context_switches", PERF_COUNT_SW_CONTEXT_SWITCHES},
	[SWC_CPU_MIGRATIONS] = {"cpu_migrations", PERF_COUNT_SW_CPU_MIGRATIONS},
	[SWC_TASK_CLOCK_NS] = {"task_clock_ns", PERF_COUNT_SW_TASK_CLOCK},
};

const char *swcount_name(enum swc_event ev)
{
	return events[ev].name;
}

static long open_one(uint64_t config, pid_t tid, int inherit, int exclude_kernel)
{
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = config;
	attr.disabled = 1;
	attr.inherit = inherit ? 1 : 0;
	attr.exclude_kernel = exclude_kernel ? 1 : 0;
	return syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static int open_all(struct swcount *sc, pid_t tid, int inherit, int user_only, nb_error *err)
{
	int opened = 0, last_errno = 0;
	for (int i = 0; i < SWC_COUNT; i++) {
		/* Kernel-side faults and switches are what we want to see; with
		 * perf_event_paranoid >= 2 and no privilege only user-mode
		 * counting is allowed, and what that cannot see is marked. */
		int excl = user_only;
		long fd = open_one(events[i].config, tid, inherit, excl);
		if (fd < 0 && !excl && (errno == EACCES || errno == EPERM)) {
			excl = 1;
			fd = open_one(events[i].config, tid, inherit, excl);
		}
		sc->fd[i] = (int)fd;
		sc->open_errno[i] = fd < 0 ? errno : 0;
		sc->user_only[i] = fd >= 0 && excl;
		if (fd >= 0)
			opened++;
		else
			last_errno = errno;
	}
	if (!opened)
		return nb_fail(err, "cannot open software perf events: %s (check /proc/sys/kernel/perf_event_paranoid)",
			       strerror(last_errno));
	return 0;
}

int swcount_open(struct swcount *sc, pid_t tid, int inherit, nb_error *err)
{
	return open_all(sc, tid, inherit, 0, err);
}

int swcount_open_user_only(struct swcount *sc, pid_t tid, int inherit, nb_error *err)
{
	return open_all(sc, tid, inherit, 1, err);
}

int swcount_blind_user_only(enum swc_event ev)
{
	return ev == SWC_CONTEXT_SWITCHES || ev == SWC_CPU_MIGRATIONS;
}

int swcount_paranoid(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
	int v = INT_MIN;
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = INT_MIN;
		fclose(f);
	}
	return v;
}

int swcount_kernel_allowed(char *why, size_t whylen)
{
	/* -1 not probed yet; the answer cannot change within a process. */
	static int allowed = -1;
	static int probe_errno;
	if (allowed < 0) {
		long fd = open_one(PERF_COUNT_SW_CONTEXT_SWITCHES, 0, 0, 0);
		probe_errno = fd < 0 ? errno : 0;
		allowed = fd >= 0 || (probe_errno != EACCES && probe_errno != EPERM);
		if (fd >= 0)
			close((int)fd);
	}
	if (why && whylen) {
		if (allowed)
			snprintf(why, whylen, "kernel included");
		else
			snprintf(why, whylen, "kernel excluded: perf_event_paranoid is %d and this process has neither "
				 "CAP_PERFMON nor CAP_SYS_ADMIN, so only user-mode counting is allowed (%s)",
				 swcount_paranoid(), strerror(probe_errno));
	}
	return allowed;
}

void swcount_reset(struct swcount *sc)
{
	for (int i = 0; i < SWC_COUNT; i++)
		if (sc->fd[i] >= 0)
			ioctl(sc->fd[i], PERF_EVENT_IOC_RESET, 0);
}

void swcount_start(struct swcount *sc)
{
	for (int i = 0; i < SWC_COUNT; i++)
		if (sc->fd[i] >= 0)
			ioctl(sc->fd[i], PERF_EVENT_IOC_ENABLE, 0);
}

void swcount_stop(struct swcount *sc)
{
	for (int i = 0; i < SWC_COUNT; i++)
		if (sc->fd[i] >= 0)
			ioctl(sc->fd[i], PERF_EVENT_IOC_DISABLE, 0);
}

void swcount_read(const struct swcount *sc, uint64_t out[SWC_COUNT])
{
	for (int i = 0; i < SWC_COUNT; i++) {
		uint64_t v;
		if (sc->fd[i] >= 0 && sc->user_only[i] && swcount_blind_user_only((enum swc_event)i))
			out[i] = UINT64_MAX;
		else if (sc->fd[i] >= 0 && read(sc->fd[i], &v, sizeof(v)) == (ssize_t)sizeof(v))
			out[i] = v;
		else
			out[i] = UINT64_MAX;
	}
}

void swcount_close(struct swcount *sc)
{
	for (int i = 0; i < SWC_COUNT; i++)
		if (sc->fd[i] >= 0) {
			close(sc->fd[i]);
			sc->fd[i] = -1;
		}
}

json_t *swcount_json(const struct swcount *sc, const uint64_t counts[SWC_COUNT])
{
	json_t *o = json_object();
	int opened = 0, user_only = 0;
	for (int i = 0; i < SWC_COUNT; i++) {
		if (sc->fd[i] < 0 || counts[i] == UINT64_MAX)
			json_object_set_new(o, events[i].name, json_null());
		else
			json_object_set_new(o, events[i].name, json_integer((json_int_t)counts[i]));
		if (sc->fd[i] >= 0) {
			opened = 1;
			user_only |= sc->user_only[i];
		}
	}
	/* The results reader takes flat numbers, booleans and nulls here: the
	 * blind events are the nulls swcount_blind_user_only names. */
	json_object_set_new(o, "includes_kernel", opened ? json_boolean(!user_only) : json_null());
	return o;
}
