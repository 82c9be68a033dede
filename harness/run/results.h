/* results.h - building and writing results documents (schema v1, results/schema.json). */
#ifndef NESTBENCH_RESULTS_H
#define NESTBENCH_RESULTS_H

#include <jansson.h>
#include <time.h>

#include "core/util.h"
#include "harness/run/record.h"

#define RESULTS_SCHEMA_VERSION 1

/* "2026-11-22T01:43:10Z" */
void results_timestamp(time_t t, char *buf, size_t len);

/* A new document with schema_version, tool, timestamp, host, config, timing,
 * and empty measurements / derived.  Takes ownership of host and config. */
json_t *results_new(json_t *host, json_t *config, const char *timestamp);

/* The measurement object of record m (schema v1); takes ownership of m's
 * JSON parts.  The one place a measurement becomes JSON. */
json_t *results_measurement_json(struct measurement *m);
/* Measurements of doc marked "failed". */
size_t results_count_failed(const json_t *doc);

/* Write the document with SIGINT, SIGTERM and SIGHUP held off while it is
 * written, so an interrupt never leaves a half-written file: to a regular
 * file (or nothing yet) atomically, a temporary file renamed over it; to a
 * character device or FIFO in place (never renamed over: /dev/null stays a
 * device); anything else is refused. */
int results_write(const json_t *doc, const char *path, nb_error *err);

/* Default output path: results/<host>-<YYYYmmddTHHMMSSZ>.json, with the host
 * name reduced to [A-Za-z0-9._-]. */
void results_default_path(time_t t, char *buf, size_t len);

/* Check before a long run that `path` can be written the way results_write()
 * will (its directory exists and is writable, or it is a writable device or
 * FIFO); nothing is left behind.  0 or -1. */
int results_check_writable(const char *path, nb_error *err);

#endif
