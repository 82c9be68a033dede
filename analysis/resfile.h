/* resfile.h - strict reader of nestbench results files (results/schema.json, v1).
 *
 * Results files come from other machines, so they are untrusted input: the
 * reader checks every field that compare and report use (presence, type,
 * range, enum), rejects NaN/Inf/negative samples and absurd sizes, and on the
 * first problem fails with one line naming the file and the field, e.g.
 *   "b.json: measurements[3].samples[7]: expected a finite number >= 0".
 * Strings are kept exactly as they were; escaping them is the job of whoever
 * writes them out (escape.h).
 */
#ifndef NESTBENCH_RESFILE_H
#define NESTBENCH_RESFILE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

/* Limits on untrusted input, far above what a real run writes. */
#define RES_MAX_FILE_BYTES (256u << 20)
#define RES_MAX_MEASUREMENTS 100000u
#define RES_MAX_SAMPLES 1000000u
#define RES_MAX_STRING 4096u /* characters, as the schema's maxLength */
#define RES_MAX_DERIVED 100000u
/* A sample or summary value is 0 or between these (ns per operation: from
 * a picosecond-scale fraction to days).  Outside them a value cannot come
 * from a measurement, and would overflow a ratio (1e308 / 5e-324) or
 * break a plot axis; the schema says the same (results/schema.json). */
#define RES_MIN_VALUE 1e-9
#define RES_MAX_VALUE 1e15

struct res_summary {
	double median, min, mean, stddev, cv, ci95_low, ci95_high;
};

struct res_meas {
	size_t index;              /* position in measurements[] */
	const char *kernel;        /* strings point into the JSON tree */
	const char *family;
	const char *mode;          /* "native", "vm", "qemu-tcg", "linux" */
	int timing_invalid;        /* "timing_valid": false (a Linux guest under TCG) */
	const char *backing;       /* backing.requested */
	long long requested_page_bytes; /* -1 when absent */
	long long verified_page_bytes;  /* -1 when absent or null */
	double coverage;           /* -1 when absent or null */
	int has_ws;
	uint64_t working_set_bytes;
	const char *guest_page;    /* guest_page.requested, NULL for native */
	long long guest_built_page_bytes; /* -1 when absent */
	const char *inner_mode;    /* mode linux: the guest's own mode; NULL otherwise */
	const char *host_backing;  /* mode linux: host_backing.requested; NULL otherwise */
	const char *metric;
	json_t *params;            /* object (borrowed) */
	double *samples;           /* n values, finite, >= 0 */
	size_t n;
	double *rounds;            /* rounds.medians: nrounds values (NULL, 0: not measured in rounds) */
	size_t nrounds;
	int has_summary;
	struct res_summary summary;
	const char *skipped;       /* NULL when the measurement was made */
	json_t *flags;             /* array of strings, or NULL */
	json_t *pmu;               /* validated object, or NULL */
	json_t *counters;          /* validated object, or NULL */
	char *key;                 /* identity (identity.h), malloc'd */
	char *label;               /* readable identity, malloc'd */
};

struct res_derived_point {
	const char *kernel;        /* NULL for translation points */
	const char *mode;
	const char *backing;
	const char *guest_page;    /* VM points: the guest page size asked for; NULL for native */
	uint64_t working_set_bytes;
	double y, lo, hi;          /* translation: ns_per_access, ci; knees: ns_after, ns_before, - */
	long long pages;           /* knees only */
};

struct res_file {
	char *path;
	json_t *root;
	/* Host facts (strings NULL when absent). */
	const char *cpu_vendor, *cpu_name, *hostname, *kernel_release;
	long long cpu_family, cpu_model;
	int hypervisor_present;
	const char *hypervisor_signature;
	const char *mmu_virt_mode;
	const char *tool_version, *timestamp;
	json_t *config;            /* validated object */
	struct res_meas *meas;
	size_t nmeas;
	struct res_derived_point *translation;
	size_t ntranslation;
	struct res_derived_point *knees;
	size_t nknees;
};

/* Parse and validate a results document held in memory; `name` is used in
 * messages.  Returns 0, or -1 with "name: field: problem" in err. */
int res_parse(struct res_file *rf, const char *name, const char *text, size_t len, nb_error *err);
/* Read path (at most RES_MAX_FILE_BYTES) and res_parse() it. */
int res_load(struct res_file *rf, const char *path, nb_error *err);
void res_free(struct res_file *rf);

/* One-line PMU state of the file: "available" or "unavailable: <reason>"
 * or "not recorded"; written into buf. */
void res_pmu_state(const struct res_file *rf, char *buf, size_t len);

#endif
