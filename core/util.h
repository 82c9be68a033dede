/* util.h - error reporting, size parsing and small helpers shared by every module.
 *
 * Conventions (after git): library code never exits; it fills an nb_error and
 * returns -1 (or 1 for "skip, with a reason").  Only the subcommand front ends
 * turn errors into messages and exit statuses.  Messages are lowercase, say
 * what failed and, where possible, how to fix it.
 */
#ifndef NESTBENCH_UTIL_H
#define NESTBENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses of the nestbench binary (documented in README.md). */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,   /* the run could not be done: environment, I/O, resources */
	EXIT_USAGE = 2,     /* bad command line */
	EXIT_REGRESSION = 3, /* compare --threshold found a significant slowdown */
	EXIT_CELLS_FAILED = 4 /* run: the results file is written, but some cells failed (see their "skipped") */
};

typedef struct nb_error {
	char msg[512];
} nb_error;

/* Format a message into err (if err is non-NULL); always returns -1 so that
 * callers can write `return nb_fail(err, "...")`. */
int nb_fail(nb_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like nb_fail but returns 1: the operation was skipped for the stated reason. */
int nb_skip(nb_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write s with control bytes (newline, ESC, DEL, C1) as visible escapes
 * such as \n and \x1b: for strings from outside on a terminal. */
void fputs_visible(const char *s, FILE *out);

/* Program-level reporting: "nestbench: error: ..." on stderr, one line,
 * control bytes in the message escaped (fputs_visible). */
void nb_error_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void nb_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Progress on stderr, "nestbench: ..." with no "warning:": what a long step
 * is doing, nothing the user needs to act on. */
void nb_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void nb_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a byte size: a decimal number with an optional binary suffix
 * k/K, m/M, g/G, t/T (optionally followed by "i", "b", "ib"), e.g. "4k",
 * "2m", "64M", "1GiB", "4096".  Rejects empty strings, signs, fractions,
 * trailing garbage and values that overflow size_t.  Returns 0 or -1. */
int parse_size(const char *s, size_t *out, nb_error *err);

/* Format bytes compactly with the largest exact binary unit ("16K", "2M", "1536K"). */
void format_size(size_t bytes, char *buf, size_t len);
/* A time in nanoseconds in the unit that suits it, 3 significant digits:
 * "2.96 ns", "1.94 µs", "12.5 ms", "3.1 s"; "-" when not finite. */
void format_ns(char *buf, size_t len, double ns);

/* Parse a non-negative decimal integer no larger than max. */
int parse_uint(const char *s, unsigned long max, unsigned long *out, nb_error *err);

/* Read a whole small file (sysfs, procfs) into buf, NUL-terminated and with
 * the trailing newline removed.  Returns the length or -1 (errno set). */
long read_small_file(const char *path, char *buf, size_t len);
/* Read one integer from a sysfs/procfs file; returns 0 or -1. */
int read_long_file(const char *path, long *out);
/* Write a string to a sysfs/procfs file; returns 0 or -1 (errno set). */
int write_string_file(const char *path, const char *value);

/* Write len bytes to path atomically: a temporary file in the same directory,
 * fsync, rename.  On failure nothing is left behind. */
int write_file_atomic(const char *path, const char *data, size_t len, nb_error *err);

/* mkdir -p: create dir and any missing parents.  0 or -1 (errno set). */
int mkdir_parents(const char *dir, unsigned mode);

/* Is stderr a terminal (progress lines go there only when it is)? */
int stderr_is_tty(void);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
