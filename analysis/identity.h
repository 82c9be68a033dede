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

#include "resfile.h"

/* Does params[name] define the measurement?  Scalar parameters do (stride_bytes,
 * tlb_locality_bytes, threads, ...), except "seed" (a different permutation
 * measures the same thing) and the outcomes of the working set and verified
 * page size ("lines", "span_bytes", "verified_pages").  Arrays and objects are
 * descriptive and never part of identity. */
int identity_param_counts(const char *name, const json_t *value);

/* Canonical key (compact JSON with sorted keys, so no string can forge a
 * separator) and a readable label ("chase vm 4k guest=2m ws=64M stride_bytes=64").
 * Both malloc'd; returns 0 or -1 (out of memory). */
int identity_make(const struct res_meas *m, char **key, char **label);

#endif
