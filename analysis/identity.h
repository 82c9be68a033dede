/* identity.h - what makes two measurements "the same measurement".
 *
 * compare and report match measurements across results files by identity:
 * kernel, mode, backing.requested, working_set_bytes, guest_page (requested
 * and built page size, absent for native) and the parameters that define
 * the measurement.  Everything else (samples, cpu index, verified pages,
 * flags, counters) is an outcome, not identity.  The rule and the key are
 * core/identity.h's, which the run's own derivations share; this adds the
 * parsed file's view and a label.
 */
#ifndef NESTBENCH_IDENTITY_H
#define NESTBENCH_IDENTITY_H

#include <jansson.h>

#include "analysis/resfile.h"
#include "core/identity.h"

/* identity_key() of a parsed measurement, and a readable label ("chase vm 4k guest=2m ws=64M stride_bytes=64").
 * Both malloc'd; returns 0 or -1 (out of memory). */
int identity_make(const struct res_meas *m, char **key, char **label);

#endif
