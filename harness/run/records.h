/* records.h - the typed view of a run's measurements, kept beside the
 * document they are written to.
 *
 * Every measurement still becomes JSON once, as it is made
 * (results_measurement_json), so the document is the one output and a
 * record's borrowed samples and owned JSON parts need not outlive the cell.
 * What the derivations (derive.c) and the terminal summaries read of a
 * measurement is kept here as well, typed, so that they never parse back
 * what the harness has just written, and pair measurements by the identity
 * rules of core/identity.h (chase with chase-ctl, VM with native). */
#ifndef NESTBENCH_RECORDS_H
#define NESTBENCH_RECORDS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/stats.h"
#include "harness/run/record.h"

struct run_record {
	const char *kernel, *family, *metric, *mode; /* static: the kernel table and literals */
	const char *backing;            /* backing.requested; points into backing_json */
	json_t *backing_json;           /* a reference: verified_page_bytes, coverage; may be NULL */
	int has_ws;                     /* working_set_bytes was written as a number */
	size_t working_set_bytes;
	json_t *params;                 /* a reference, never NULL */
	const char *guest_page;         /* NULL: native */
	uint64_t guest_built_page_bytes; /* 0: not built */
	struct summary summary;         /* measured records only */
	char *skipped;                  /* malloc'd as written ("failed: ..." for failed); NULL: measured */
	char *key;                      /* core/identity.h's key, malloc'd; NULL if out of memory */
};

/* Where a run's measurements go: the document's array and the typed view. */
struct run_records {
	json_t *measurements; /* borrowed: the document's "measurements"; NULL: the view only (tests) */
	struct run_record *r;
	size_t n, cap;
	int lost;             /* a view could not be kept (out of memory): derivations would be incomplete */
	/* While set, records_write hands every measurement to hold() instead
	 * (which takes its JSON parts and returns what records_write returns):
	 * the rounds (rounds.h) keep each round's measurement of a point to
	 * merge them, and write the merged one once, after the last round. */
	int (*hold)(void *arg, struct measurement *m);
	void *hold_arg;
};

/* Write m to rs->measurements (results_measurement_json, which takes m's
 * JSON parts; without an array they are freed) and keep its typed view.
 * 0, or -1 when the view could not be kept (out of memory; the measurement
 * is still written). */
int records_write(struct run_records *rs, struct measurement *m);

/* The measured record with r's identity (core/identity.h) but as `kernel`
 * in `mode` (mode native: no guest page), the parameter `except` (NULL:
 * none) aside on both sides: NULL when there is none. */
const struct run_record *records_find_like(const struct run_records *rs, const struct run_record *r,
					   const char *kernel, const char *mode, const char *except);

void records_free(struct run_records *rs);

#endif
