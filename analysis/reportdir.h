/* reportdir.h - a report directory that appears complete or not at all.
 *
 * `nestbench report` writes every file (data, plots, report.md/.html) into a
 * fresh temporary directory beside --out (mkdtemp: mode 0700, ours alone, so
 * nothing can be planted in it), and only when everything is written moves
 * it into place: renamed to --out when that does not exist yet, else each
 * file renamed into the existing directory (renameat replaces a planted
 * symlink instead of writing through it).  On failure or interruption the
 * temporary directory is removed: nothing new is left.
 *
 * SIGINT, SIGTERM and SIGHUP only set a flag here (childguard kills gnuplot
 * first, then chains to us); the report checks reportdir_interrupted()
 * between steps, cleans up, and then dies of the signal as before (130/143).
 */
#ifndef NESTBENCH_REPORTDIR_H
#define NESTBENCH_REPORTDIR_H

#include "core/util.h"

struct reportdir {
	char *final;  /* --out as given */
	char *tmp;    /* the temporary directory */
	int fd;       /* open on tmp */
};

/* Install the flag-setting handlers (before anything forks gnuplot). */
void reportdir_catch_signals(void);
/* The signal that arrived, or 0. */
int reportdir_interrupted(void);
/* Die of the signal that arrived (no-op when none did). */
void reportdir_reraise(void);

/* Create the parent of out if needed and the temporary directory.  0 or -1. */
int reportdir_begin(struct reportdir *d, const char *out, nb_error *err);
/* Move the finished report into place.  0 or -1 (the temporary directory
 * is removed either way). */
int reportdir_commit(struct reportdir *d, nb_error *err);
/* Remove the temporary directory and everything in it (idempotent). */
void reportdir_abort(struct reportdir *d);

#endif
