/* swcount.c - software perf events (see swcount.h). */
#include "harness/pmu/swcount.h"

#include <errno.h>
#include <linux/perf_event.h>
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

int swcount_open(struct swcount *sc, pid_t tid, int inherit, nb_error *err)
{
	int opened = 0, last_errno = 0;
	for (int i = 0; i < SWC_COUNT; i++) {
		struct perf_event_attr attr;
		memset(&attr, 0, sizeof(attr));
		attr.size = sizeof(attr);
		attr.type = PERF_TYPE_SOFTWARE;
		attr.config = events[i].config;
		attr.disabled = 1;
		attr.inherit = inherit ? 1 : 0;
		/* Kernel-side faults and switches are what we want to see; with
		 * perf_event_paranoid = 2 user-only counting still works. */
		attr.exclude_kernel = 0;
		long fd = syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0 && (errno == EACCES || errno == EPERM)) {
			attr.exclude_kernel = 1;
			fd = syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
		}
		sc->fd[i] = (int)fd;
		sc->open_errno[i] = fd < 0 ? errno : 0;
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
		if (sc->fd[i] >= 0 && read(sc->fd[i], &v, sizeof(v)) == (ssize_t)sizeof(v))
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
	for (int i = 0; i < SWC_COUNT; i++) {
		if (sc->fd[i] < 0 || counts[i] == UINT64_MAX)
			json_object_set_new(o, events[i].name, json_null());
		else
			json_object_set_new(o, events[i].name, json_integer((json_int_t)counts[i]));
	}
	return o;
}
