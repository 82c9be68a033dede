/* identity.h - what makes two measurements "the same measurement".
 *
 * compare and report match measurements across results files by identity:
 * kernel, mode, backing.requested, working_set_bytes, guest_page (requested
 * and built page size, absent for native) and the parameters that define
 * the measurement.  Everything else (samples, cpu index, verified pages,
 * flags, counters) is an outcome, not identity.
 */
#ifndef NESTBENCH_IDENTITY_H
#define NESTBENCH_IDENTITY_H

#include <jansson.h>

#include "analysis/resfile.h"

/* Does params[name] define the measurement?  Scalar inputs do (stride_bytes,
 * tlb_locality_bytes, threads, placement, cow_pages_per_fork, ...).  Not:
 * the seed, what follows from the working set or the verified page size
 * (lines, span_bytes, verified_pages, pages, page_bytes, region_bytes,
 * touch_bytes_per_switch),
 * machine facts (pcid, page_table_isolation), the VM's host-side cross-check
 * (host_crosscheck_ns_per_access), descriptions (op, timed_at,
 * switches_per_roundtrip) and the rates kernels observe to prove their
 * claims (names ending in "_per_op").  Arrays and objects never count. */
int identity_param_counts(const char *name, const json_t *value);

/* Canonical key (compact JSON with sorted keys, so no string can forge a
 * separator) and a readable label ("chase vm 4k guest=2m ws=64M stride_bytes=64").
 * Both malloc'd; returns 0 or -1 (out of memory). */
int identity_make(const struct res_meas *m, char **key, char **label);

#endif
