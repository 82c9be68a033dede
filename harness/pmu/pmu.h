/* pmu.h - PMU page-walk counters around a measured region.
 *
 * A session counts one thread's events in perf_event_open groups (the CPU's
 * page-walk event set from pmu_events.h, split into groups that fit the
 * counters, plus one group of software events), enabled only between
 * pmu_session_start() and pmu_session_stop(); counts accumulate across
 * start/stop pairs.  Groups are read with PERF_FORMAT_GROUP |
 * TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING and scaled for multiplexing, the
 * scaling ratio kept beside each count.
 *
 * No PMU (ENOENT), paranoid too high (EACCES/EPERM), an event the CPU does
 * not know (EINVAL/ENODEV), too few counters: the session still opens, and its
 * JSON says per event available:false, the errno and how to enable it.
 *
 * Typical use by the measuring loop:
 *   struct pmu_request rq = {.events = opt_events};      // NULL = this CPU's table
 *   struct pmu_session *s = pmu_session_open(&rq, &err);  // before the first sample
 *   for each sample: pmu_session_start(s); measured call; pmu_session_stop(s);
 *   json_t *j = pmu_session_json(s, accesses_done_while_counting);
 *   pmu_session_close(s);
 */
#ifndef NESTBENCH_PMU_H
#define NESTBENCH_PMU_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/util.h"

struct pmu_request {
	const char *events; /* --events: comma-separated libpfm4 strings; NULL = this CPU's table */
	pid_t tid;          /* thread to count; 0 = the calling thread */
	int guest;          /* count tid's guest-mode events only (a vCPU thread, from the host):
			     * exclude_host=1, exclude_guest=0 on hardware events, set after
			     * libpfm4 encoding (libpfm4 overwrites both).  Software events
			     * still count the thread on the host side. */
	int no_software;    /* 1 = no software-event group */
};

struct pmu_session;

/* Open the groups, disabled and reset.  Returns NULL (reason in err) only for
 * a bad --events string or out of memory; missing hardware is recorded in
 * the session, not an error. */
struct pmu_session *pmu_session_open(const struct pmu_request *req, nb_error *err);
/* Enable / disable every group (counts accumulate across pairs). */
void pmu_session_start(struct pmu_session *s);
void pmu_session_stop(struct pmu_session *s);
/* Read the groups and describe them:
 * {"available": bool (a hardware event counted), "reason": null|sentence,
 *  "software_available": bool, "pmu": "icl"|"raw:zen5"|..., "pmu_desc", "note",
 *  "guest_mode": bool, "group_size": n, "total_ops": n,
 *  "events": [{"name", "kind": "hardware"|"software", "pfm", "source",
 *              "encoding": {"type", "config", "config1", "exclude_kernel",
 *                           "exclude_host", "exclude_guest"},
 *              "group", "available", "errno", "errno_name", "why",
 *              "count" (scaled), "raw_count", "time_enabled", "time_running",
 *              "scaling" (time_running / time_enabled)}],
 *  "derived": {metric: {"value", "inputs", "formula"}},
 *  "derived_missing": {metric: why}}
 * total_ops: operations (accesses) done while counting, 0 if unknown. */
json_t *pmu_session_json(struct pmu_session *s, uint64_t total_ops);
void pmu_session_close(struct pmu_session *s);

/* For `nestbench info`: libpfm4 version and detected PMUs, the CPU, the event
 * set chosen, whether hardware counting works here and why not, whether the
 * kernel has a CPU PMU driver, perf_event_paranoid. */
json_t *pmu_info_json(void);

/* For `nestbench list events`: the resolved set (or override) with encodings
 * and whether each event can be opened here, and why not.  0 or -1. */
int pmu_list_events(FILE *out, int as_json, const char *override, nb_error *err);

/* The sentence stored for an errno from perf_event_open (how to enable). */
const char *pmu_errno_sentence(int e);

#endif
