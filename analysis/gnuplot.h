/* gnuplot.h - run gnuplot on a fixed template, as a separate process.
 *
 * gnuplot is started with fork + execvp and an argv (never a shell), in the
 * output directory, with a minimal environment, as a childguard child (killed
 * and reaped when nestbench is interrupted; dies with it when killed).  Its only inputs are the
 * template file, data files written by plotdata.c and `-e` assignments
 * built by nestbench from numbers and its own names; gp_safe() refuses any
 * assignment value outside a small character set, so no string from a
 * results file can reach a gnuplot command.  gnuplot's stderr is captured:
 * anything it prints is a warning the caller reports.
 */
#ifndef NESTBENCH_GNUPLOT_H
#define NESTBENCH_GNUPLOT_H

#include <stddef.h>

#include "core/util.h"

#define GP_TIMEOUT_S 60

/* Is s acceptable inside a single-quoted gnuplot string we generate?
 * Only [A-Za-z0-9 ,./:=_()%+-]; never quotes, backslashes, backticks or controls. */
int gp_safe(const char *s);

/* An -e assignment list under construction: "name='value'; n=3; ...". */
struct gp_vars {
	char buf[1024];
	size_t len;
	int bad; /* a value failed gp_safe() or the buffer overflowed */
};
void gp_var_str(struct gp_vars *v, const char *name, const char *value);
void gp_var_int(struct gp_vars *v, const char *name, long long value);

/* Run `gnuplot -e VARS TEMPLATE` in dir.  Returns 0 when gnuplot exited 0
 * (its stderr, if any, in warnings: the caller treats it as a warning),
 * -1 with err otherwise (not found, cannot be executed and why, crashed,
 * timed out, non-zero exit). */
int gp_run(const char *dir, const char *template_path, const struct gp_vars *vars, char *warnings, size_t wlen,
	   nb_error *err);

/* Is file (in dirfd, never through a symlink) a complete plot: a regular,
 * non-empty file that ends the way a PNG or SVG ends?  0, or -1 with err. */
int gp_check_output(int dirfd, const char *file, nb_error *err);

#endif
