/* derive.h - the document's "derived" section, computed from the run's
 * records (records.h) once they are all in: translation cost (chase minus
 * the chase-ctl of the same identity, core/identity.h: mode, backing,
 * working set, guest page, defining parameters) and the knees of every
 * swept curve. */
#ifndef NESTBENCH_DERIVE_H
#define NESTBENCH_DERIVE_H

#include <jansson.h>

#include "harness/run/records.h"
#include "harness/run/run.h"

/* Appends to doc.derived.translation. */
void derive_translation(json_t *doc, const struct run_records *rs);

/* Appends to doc.derived.knees: per swept kernel, backing and mode (native,
 * and each guest page size of a VM run). */
void derive_knees(json_t *doc, const struct run_records *rs, const struct run_config *cfg);

#endif
