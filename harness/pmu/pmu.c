/* pmu.c - perf_event_open groups, reading, scaling, JSON (see pmu.h). */
#include "harness/pmu/pmu.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <perfmon/pfmlib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness/pmu/pmu_derived.h"
#include "harness/pmu/pmu_events.h"

#define SW_EVENTS 6
#define MAX_SLOTS (PMU_MAX_EVENTS + SW_EVENTS)
#define READ_FORMAT \
	(PERF_FORMAT_GROUP | PERF_FORMAT_ID | PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING)

static const struct {
	const char *name;
	uint64_t config;
} sw_events[SW_EVENTS] = {
	{"page_faults", PERF_COUNT_SW_PAGE_FAULTS},
	{"minor_faults", PERF_COUNT_SW_PAGE_FAULTS_MIN},
	{"major_faults", PERF_COUNT_SW_PAGE_FAULTS_MAJ},
	{"context_switches", PERF_COUNT_SW_CONTEXT_SWITCHES},
	{"cpu_migrations", PERF_COUNT_SW_CPU_MIGRATIONS},
	{"task_clock_ns", PERF_COUNT_SW_TASK_CLOCK},
};

struct slot {
	struct pmu_event ev;
	int fd;
	int group;       /* index into groups, -1 if not open */
	int open_errno;  /* 0 when open */
	uint64_t id;
	int read_ok;
	uint64_t value, enabled, running;
};

struct group {
	int leader_fd;
	int nslots;
	int slot[PMU_MAX_EVENTS];
};

struct pmu_session {
	struct pmu_eventset set;
	int guest;
	size_t nslots;
	struct slot slots[MAX_SLOTS];
	int ngroups;
	struct group groups[MAX_SLOTS];
};

const char *pmu_errno_sentence(int e)
{
	switch (e) {
	case ENOENT:
	case EOPNOTSUPP:
		return "no hardware PMU is exposed to this kernel (typical in a VM without a virtual PMU): run on bare "
		       "metal or on a VM or cloud instance type that provides a vPMU";
	case EACCES:
	case EPERM:
		return "not permitted: lower /proc/sys/kernel/perf_event_paranoid (1 or less for this thread, -1 for "
		       "everything), or run as root or with CAP_PERFMON";
	case EINVAL:
	case ENODEV:
		return "the CPU or kernel does not accept this event encoding (an event table for another CPU, or a "
		       "vPMU that filters the event): check 'nestbench list events'";
	case EMFILE:
	case ENFILE:
		return "too many open files: raise the file descriptor limit (ulimit -n)";
	case ESRCH:
		return "the thread to count does not exist";
	case EBUSY:
		return "the PMU is taken by another user (another profiler or the hypervisor)";
	default:
		return "perf_event_open failed; see errno";
	}
}

static const char *errno_name(int e)
{
	switch (e) {
	case ENOENT: return "ENOENT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EINVAL: return "EINVAL";
	case ENODEV: return "ENODEV";
	case EMFILE: return "EMFILE";
	case ENFILE: return "ENFILE";
	case ESRCH: return "ESRCH";
	case EBUSY: return "EBUSY";
	default: return "other";
	}
}

static const char *not_scheduled =
	"never scheduled on a counter: its group did not fit the free counters (NMI watchdog, another profiler, "
	"or a vPMU with fewer counters); try fewer events with --events";

/* perf_event_open with the kernel dropped when paranoid forbids counting it. */
static int open_event(struct perf_event_attr *attr, pid_t tid, int group_fd)
{
	long fd = syscall(SYS_perf_event_open, attr, tid, -1, group_fd, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM) && !attr->exclude_kernel) {
		attr->exclude_kernel = 1;
		attr->exclude_hv = 1;
		fd = syscall(SYS_perf_event_open, attr, tid, -1, group_fd, PERF_FLAG_FD_CLOEXEC);
	}
	return (int)fd;
}

/* Open the slots [first, first + n) as groups of at most size events; an
 * event that fails to open is recorded and the next one may lead. */
static void open_groups(struct pmu_session *s, size_t first, size_t n, int size, pid_t tid)
{
	size_t i = first;
	while (i < first + n) {
		struct group *g = &s->groups[s->ngroups];
		g->leader_fd = -1;
		g->nslots = 0;
		for (; i < first + n && g->nslots < size; i++) {
			struct slot *sl = &s->slots[i];
			if (!sl->ev.encoded)
				continue;
			sl->ev.attr.read_format = READ_FORMAT;
			sl->ev.attr.disabled = g->leader_fd < 0; /* members follow the leader */
			sl->ev.attr.inherit = 0;                 /* PERF_FORMAT_GROUP cannot inherit */
			int fd = open_event(&sl->ev.attr, tid, g->leader_fd);
			if (fd < 0) {
				sl->open_errno = errno;
				continue;
			}
			sl->fd = fd;
			if (ioctl(fd, PERF_EVENT_IOC_ID, &sl->id) < 0) {
				sl->open_errno = errno;
				close(fd);
				sl->fd = -1;
				continue;
			}
			if (g->leader_fd < 0)
				g->leader_fd = fd;
			sl->group = s->ngroups;
			g->slot[g->nslots++] = (int)i;
		}
		if (g->nslots)
			s->ngroups++;
	}
}

struct pmu_session *pmu_session_open(const struct pmu_request *req, nb_error *err)
{
	struct pmu_session *s = calloc(1, sizeof(*s));
	if (!s) {
		nb_fail(err, "out of memory");
		return NULL;
	}
	if (pmu_eventset_resolve(req->events, &s->set, err)) {
		free(s);
		return NULL;
	}
	s->guest = req->guest;
	for (size_t i = 0; i < s->set.n; i++) {
		struct slot *sl = &s->slots[s->nslots++];
		sl->ev = s->set.ev[i];
		sl->fd = -1;
		sl->group = -1;
		if (req->guest && sl->ev.encoded && !sl->ev.kind_software) {
			/* after encoding: libpfm4 writes both fields itself */
			sl->ev.attr.exclude_host = 1;
			sl->ev.attr.exclude_guest = 0;
		}
	}
	size_t nhw = s->nslots;
	if (!req->no_software) {
		for (size_t i = 0; i < SW_EVENTS; i++) {
			struct slot *sl = &s->slots[s->nslots++];
			snprintf(sl->ev.key, sizeof(sl->ev.key), "%s", sw_events[i].name);
			sl->ev.kind_software = 1;
			sl->ev.encoded = 1;
			sl->ev.attr.size = sizeof(sl->ev.attr);
			sl->ev.attr.type = PERF_TYPE_SOFTWARE;
			sl->ev.attr.config = sw_events[i].config;
			sl->fd = -1;
			sl->group = -1;
		}
	}
	open_groups(s, 0, nhw, s->set.group_size > 0 ? s->set.group_size : 1, req->tid);
	if (s->nslots > nhw)
		open_groups(s, nhw, s->nslots - nhw, SW_EVENTS, req->tid);
	for (int g = 0; g < s->ngroups; g++)
		ioctl(s->groups[g].leader_fd, PERF_EVENT_IOC_RESET, PERF_IOC_FLAG_GROUP);
	return s;
}

void pmu_session_start(struct pmu_session *s)
{
	for (int g = 0; g < s->ngroups; g++)
		ioctl(s->groups[g].leader_fd, PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP);
}

void pmu_session_stop(struct pmu_session *s)
{
	for (int g = 0; g < s->ngroups; g++)
		ioctl(s->groups[g].leader_fd, PERF_EVENT_IOC_DISABLE, PERF_IOC_FLAG_GROUP);
}

static void read_groups(struct pmu_session *s)
{
	for (int g = 0; g < s->ngroups; g++) {
		struct group *gr = &s->groups[g];
		uint64_t buf[3 + 2 * PMU_MAX_EVENTS];
		ssize_t len = read(gr->leader_fd, buf, sizeof(buf));
		if (len < (ssize_t)(3 * sizeof(uint64_t)))
			continue;
		uint64_t nr = buf[0];
		if (nr > PMU_MAX_EVENTS || (size_t)len < (3 + 2 * nr) * sizeof(uint64_t))
			continue;
		for (uint64_t k = 0; k < nr; k++)
			for (int m = 0; m < gr->nslots; m++) {
				struct slot *sl = &s->slots[gr->slot[m]];
				if (sl->id != buf[3 + 2 * k + 1])
					continue;
				sl->value = buf[3 + 2 * k];
				sl->enabled = buf[1];
				sl->running = buf[2];
				sl->read_ok = 1;
			}
	}
}

/* A count that can be used: read, and running on a counter some of the time
 * (or never enabled, which is a true zero). */
static int slot_counted(const struct slot *sl)
{
	return sl->read_ok && (sl->running > 0 || sl->enabled == 0);
}

static double slot_scaled(const struct slot *sl)
{
	if (sl->running == 0 || sl->running >= sl->enabled)
		return (double)sl->value;
	return (double)sl->value * ((double)sl->enabled / (double)sl->running);
}

static json_t *encoding_json(const struct perf_event_attr *a)
{
	return json_pack("{s:I, s:I, s:I, s:b, s:b, s:b}", "type", (json_int_t)a->type, "config",
			 (json_int_t)a->config, "config1", (json_int_t)a->config1, "exclude_kernel",
			 (int)a->exclude_kernel, "exclude_host", (int)a->exclude_host, "exclude_guest",
			 (int)a->exclude_guest);
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *slot_json(const struct slot *sl, const char **why_out)
{
	json_t *o = json_object();
	int counted = slot_counted(sl);
	const char *why = NULL;
	if (!sl->ev.encoded)
		why = sl->ev.why;
	else if (sl->open_errno)
		why = pmu_errno_sentence(sl->open_errno);
	else if (sl->fd < 0 || !sl->read_ok)
		why = "could not be read";
	else if (!counted)
		why = not_scheduled;
	json_object_set_new(o, "name", json_string(sl->ev.key));
	json_object_set_new(o, "kind", json_string(sl->ev.kind_software ? "software" : "hardware"));
	json_object_set_new(o, "pfm", str_or_null(sl->ev.pfm));
	json_object_set_new(o, "source", str_or_null(sl->ev.source));
	json_object_set_new(o, "encoding", sl->ev.encoded ? encoding_json(&sl->ev.attr) : json_null());
	json_object_set_new(o, "group", sl->group >= 0 ? json_integer(sl->group) : json_null());
	json_object_set_new(o, "available", json_boolean(counted));
	json_object_set_new(o, "errno", sl->open_errno ? json_integer(sl->open_errno) : json_null());
	json_object_set_new(o, "errno_name", sl->open_errno ? json_string(errno_name(sl->open_errno)) : json_null());
	json_object_set_new(o, "why", why ? json_string(why) : json_null());
	if (counted) {
		json_object_set_new(o, "count", json_integer((json_int_t)(slot_scaled(sl) + 0.5)));
		json_object_set_new(o, "raw_count", json_integer((json_int_t)sl->value));
	} else {
		json_object_set_new(o, "count", json_null());
		json_object_set_new(o, "raw_count", json_null());
	}
	json_object_set_new(o, "time_enabled", sl->read_ok ? json_integer((json_int_t)sl->enabled) : json_null());
	json_object_set_new(o, "time_running", sl->read_ok ? json_integer((json_int_t)sl->running) : json_null());
	json_object_set_new(o, "scaling", counted && sl->enabled ? json_real((double)sl->running / (double)sl->enabled)
							   : json_null());
	if (why_out)
		*why_out = why;
	return o;
}

json_t *pmu_session_json(struct pmu_session *s, uint64_t total_ops)
{
	read_groups(s);
	json_t *o = json_object(), *events = json_array();
	struct pmu_count counts[MAX_SLOTS];
	size_t ncounts = 0;
	int hw_ok = 0, sw_ok = 0;
	const char *first_hw_why = NULL;
	for (size_t i = 0; i < s->nslots; i++) {
		const struct slot *sl = &s->slots[i];
		const char *why = NULL;
		json_array_append_new(events, slot_json(sl, &why));
		int counted = slot_counted(sl);
		if (sl->ev.kind_software) {
			sw_ok |= counted;
			if (counted && i < s->set.n) { /* an --events software event */
				counts[ncounts].key = sl->ev.key;
				counts[ncounts++].value = slot_scaled(sl);
			}
			continue;
		}
		if (counted) {
			hw_ok = 1;
			counts[ncounts].key = sl->ev.key;
			counts[ncounts++].value = slot_scaled(sl);
		} else if (!first_hw_why) {
			first_hw_why = why;
		}
	}
	json_object_set_new(o, "available", json_boolean(hw_ok));
	json_object_set_new(o, "reason", hw_ok ? json_null()
					       : json_string(first_hw_why ? first_hw_why : "no hardware events in the set"));
	json_object_set_new(o, "software_available", json_boolean(sw_ok));
	json_object_set_new(o, "pmu", json_string(s->set.name));
	json_object_set_new(o, "pmu_desc", str_or_null(s->set.desc));
	json_object_set_new(o, "note", str_or_null(s->set.note));
	json_object_set_new(o, "guest_mode", json_boolean(s->guest));
	json_object_set_new(o, "group_size", json_integer(s->set.group_size));
	json_object_set_new(o, "total_ops", json_integer((json_int_t)total_ops));
	json_object_set_new(o, "events", events);
	json_t *derived = json_object(), *missing = json_object();
	pmu_derived(s->set.formula, counts, ncounts, total_ops, derived, missing);
	json_object_set_new(o, "derived", derived);
	json_object_set_new(o, "derived_missing", missing);
	return o;
}

void pmu_session_close(struct pmu_session *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nslots; i++)
		if (s->slots[i].fd >= 0)
			close(s->slots[i].fd);
	free(s);
}

/* Open one event alone, disabled, for this thread: 0 or the errno. */
static int probe_event(const struct pmu_event *ev, int *dropped_kernel)
{
	struct perf_event_attr attr = ev->attr;
	attr.disabled = 1;
	int fd = open_event(&attr, 0, -1);
	if (fd < 0)
		return errno;
	if (dropped_kernel)
		*dropped_kernel = attr.exclude_kernel && !ev->attr.exclude_kernel;
	close(fd);
	return 0;
}

json_t *pmu_info_json(void)
{
	json_t *o = json_object();
	nb_error err;
	int v = pfm_get_version();
	char ver[32];
	snprintf(ver, sizeof(ver), "%d.%d", PFM_MAJ_VERSION(v), PFM_MIN_VERSION(v));
	json_object_set_new(o, "libpfm_api_version", json_string(ver));

	char vendor[13];
	unsigned family, model;
	pmu_cpu_id(vendor, &family, &model);
	json_object_set_new(o, "cpu", json_pack("{s:s, s:I, s:I}", "vendor", vendor, "family", (json_int_t)family,
						"model", (json_int_t)model));

	json_t *pmus = json_array();
	if (pmu_pfm_init(&err) == 0) {
		pfm_pmu_t p;
		pfm_for_all_pmus(p)
		{
			pfm_pmu_info_t info;
			memset(&info, 0, sizeof(info));
			info.size = sizeof(info);
			if (pfm_get_pmu_info(p, &info) == PFM_SUCCESS && info.is_present)
				json_array_append_new(pmus, json_pack("{s:s, s:s}", "name", info.name, "desc",
								      info.desc ? info.desc : ""));
		}
	}
	json_object_set_new(o, "libpfm_pmus", pmus);

	struct pmu_eventset *set = calloc(1, sizeof(*set));
	if (set && pmu_eventset_resolve(NULL, set, &err) == 0) {
		json_object_set_new(o, "event_set", json_string(set->name));
		json_object_set_new(o, "event_set_note", str_or_null(set->note));
	} else {
		json_object_set_new(o, "event_set", json_null());
		json_object_set_new(o, "event_set_note", json_string(set ? err.msg : "out of memory"));
	}
	free(set);

	struct stat st;
	int kernel_pmu = stat("/sys/bus/event_source/devices/cpu", &st) == 0 ||
			 stat("/sys/bus/event_source/devices/cpu_core", &st) == 0;
	json_object_set_new(o, "kernel_cpu_pmu", json_boolean(kernel_pmu));

	/* Can a hardware event be counted here at all?  Generic cycles, user only. */
	struct pmu_event cyc;
	memset(&cyc, 0, sizeof(cyc));
	cyc.attr.size = sizeof(cyc.attr);
	cyc.attr.type = PERF_TYPE_HARDWARE;
	cyc.attr.config = PERF_COUNT_HW_CPU_CYCLES;
	cyc.attr.exclude_kernel = 1;
	cyc.attr.exclude_hv = 1;
	int e = probe_event(&cyc, NULL);
	json_object_set_new(o, "hardware_counting", json_boolean(e == 0));
	json_object_set_new(o, "errno", e ? json_integer(e) : json_null());
	json_object_set_new(o, "errno_name", e ? json_string(errno_name(e)) : json_null());
	json_object_set_new(o, "reason", e ? json_string(pmu_errno_sentence(e)) : json_null());

	struct pmu_event pf;
	memset(&pf, 0, sizeof(pf));
	pf.attr.size = sizeof(pf.attr);
	pf.attr.type = PERF_TYPE_SOFTWARE;
	pf.attr.config = PERF_COUNT_SW_PAGE_FAULTS;
	json_object_set_new(o, "software_counting", json_boolean(probe_event(&pf, NULL) == 0));

	long paranoid;
	json_object_set_new(o, "perf_event_paranoid",
			    read_long_file("/proc/sys/kernel/perf_event_paranoid", &paranoid) == 0
				    ? json_integer(paranoid)
				    : json_null());
	return o;
}

int pmu_list_events(FILE *out, int as_json, const char *override, nb_error *err)
{
	struct pmu_eventset *set = calloc(1, sizeof(*set));
	if (!set)
		return nb_fail(err, "out of memory");
	if (pmu_eventset_resolve(override, set, err)) {
		free(set);
		return -1;
	}
	json_t *arr = json_array();
	if (!as_json) {
		fprintf(out, "event set: %s%s%s%s, %zu events, groups of %d\n", set->name, set->desc[0] ? " (" : "",
			set->desc, set->desc[0] ? ")" : "", set->n, set->group_size);
		if (set->note[0])
			fprintf(out, "note: %s\n", set->note);
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct pmu_event *ev = &set->ev[i];
		int e = ev->encoded ? probe_event(ev, NULL) : 0;
		const char *why = !ev->encoded ? ev->why : e ? pmu_errno_sentence(e) : NULL;
		int ok = ev->encoded && !e;
		if (as_json) {
			json_t *o = json_object();
			json_object_set_new(o, "name", json_string(ev->key));
			json_object_set_new(o, "pfm", str_or_null(ev->pfm));
			json_object_set_new(o, "source", str_or_null(ev->source));
			json_object_set_new(o, "encoding", ev->encoded ? encoding_json(&ev->attr) : json_null());
			json_object_set_new(o, "opens", json_boolean(ok));
			json_object_set_new(o, "errno", e ? json_integer(e) : json_null());
			json_object_set_new(o, "errno_name", e ? json_string(errno_name(e)) : json_null());
			json_object_set_new(o, "why", why ? json_string(why) : json_null());
			json_array_append_new(arr, o);
			continue;
		}
		if (ev->encoded)
			fprintf(out, "  %-24s type=%u config=0x%llx config1=0x%llx  %s\n", ev->key, ev->attr.type,
				(unsigned long long)ev->attr.config, (unsigned long long)ev->attr.config1,
				ev->pfm[0] ? ev->pfm : "raw");
		else
			fprintf(out, "  %-24s (not encoded)  %s\n", ev->key, ev->pfm);
		if (ev->source[0])
			fprintf(out, "      source: %s\n", ev->source);
		if (ok)
			fprintf(out, "      opens here\n");
		else
			fprintf(out, "      cannot be opened here%s%s: %s\n", e ? ": " : "", e ? errno_name(e) : "", why);
	}
	if (as_json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:o}", "pmu", set->name, "pmu_desc", set->desc, "note",
				      set->note, "group_size", set->group_size, "events", arr);
		char *text = json_dumps(o, JSON_INDENT(2));
		if (text)
			fprintf(out, "%s\n", text);
		free(text);
		json_decref(o);
	} else {
		json_decref(arr);
	}
	free(set);
	return 0;
}
