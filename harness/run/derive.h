/* derive.h - the document's "derived" section, computed from its
 * measurements once they are all in: translation cost (chase minus
 * chase-ctl at each mode, backing, working set and guest page) and the
 * knees of every swept curve. */
#ifndef NESTBENCH_DERIVE_H
#define NESTBENCH_DERIVE_H

#include <jansson.h>

#include "harness/run/run.h"

/* Appends to doc.derived.translation. */
void derive_translation(json_t *doc);

/* Appends to doc.derived.knees: per swept kernel, backing and mode (native,
 * and each guest page size of a VM run). */
void derive_knees(json_t *doc, const struct run_config *cfg);

#endif
