/* identity.h - what makes two measurements "the same measurement".
 *
 * Identity is kernel, mode, backing.requested, working_set_bytes,
 * guest_page (requested and built page size, absent for native) and the
 * parameters that define the measurement; everything else (samples, cpu
 * index, verified pages, flags, counters) is an outcome.  It lives in core/
 * because two sides need the one rule: analysis/ matches measurements
 * across results files (analysis/identity.h, from parsed files), and the
 * run's derivations and summaries pair chase with chase-ctl and VM with
 * native from the records the harness wrote (harness/run/records.h), and
 * harness/ may not include analysis/. */
#ifndef NESTBENCH_CORE_IDENTITY_H
#define NESTBENCH_CORE_IDENTITY_H

#include <jansson.h>
#include <stdint.h>

/* Does params[name] define the measurement?  Scalar inputs do (stride_bytes,
 * tlb_locality_bytes, threads, placement, cow_pages_per_fork, ...).  Not:
 * the seed, what follows from the working set or the verified page size
 * (lines, span_bytes, verified_pages, pages, page_bytes, region_bytes,
 * touch_bytes_per_switch),
 * machine facts (pcid, page_table_isolation), the VM's host-side cross-check
 * (host_crosscheck_ns_per_access), descriptions (op, timed_at,
 * switches_per_roundtrip) and the rates kernels observe to prove their
 * claims (names ending in "_per_op") and the times they measured beside
 * their metric (names ending in "_ns").  Arrays and objects never count. */
int identity_param_counts(const char *name, const json_t *value);

/* The identity fields of one measurement, however it is held. */
struct identity_fields {
	const char *kernel, *mode, *backing; /* backing: backing.requested */
	int has_ws;                          /* working_set_bytes is not null */
	uint64_t working_set_bytes;
	const char *guest_page;              /* NULL: native */
	long long guest_built_page_bytes;    /* -1: absent or null */
	json_t *params;                      /* NULL: {}; only read (jansson iterates non-const) */
	/* NULL, or a parameter left out of the key: what the two sides of a
	 * pair set differently by design (chase-ctl walks one line per element
	 * whatever chase's stride_bytes). */
	const char *except_param;
	/* Mode linux only (NULL otherwise, and then absent from the key, so
	 * native and vm keys are what they always were): the guest's own mode
	 * and the host backing under the guest's memory; one guest backing on
	 * two host backings is two measurements. */
	const char *inner_mode, *host_backing;
};

/* Canonical key: compact JSON with sorted keys, so no string can forge a
 * separator.  *params_out (if not NULL) gets the counted params (a new
 * reference), for a label.  malloc'd key, NULL when out of memory. */
char *identity_key(const struct identity_fields *f, json_t **params_out);

#endif
