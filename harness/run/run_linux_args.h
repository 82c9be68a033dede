/* run_linux_args.h - what a Linux guest of `run --mode linux` is asked to do:
 * the mode lists of --mode and --guest-mode, the arguments of the nestbench
 * run inside, and the guest kernel's command line.  Pure: unit-tested in
 * ci/unit/test_linuxguest.c. */
#ifndef NESTBENCH_RUN_LINUX_ARGS_H
#define NESTBENCH_RUN_LINUX_ARGS_H

#include <stddef.h>

#include "harness/run/run.h"

/* --guest-accel values (OPT_T_CHOICE values must not be 0). */
enum { RUN_GUEST_ACCEL_AUTO = 1, RUN_GUEST_ACCEL_KVM, RUN_GUEST_ACCEL_TCG };

/* "native,vm,linux", "both" (= native,vm): RUN_MODE_* bits.  allow_linux 0:
 * --guest-mode (no guest inside the guest).  0, or -1 with a message. */
int run_mode_parse(const char *s, int allow_linux, unsigned *out, nb_error *err);
/* The echo of a mode set: "native", "vm", "both", "linux", "native,linux", ... */
const char *run_mode_name(unsigned modes);

/* The arguments of `nestbench run` inside the guest: the host's own
 * (argv[1..argc), as parsed with opts) without --mode, --backing, --out,
 * --cpu, --quiet, --help and the --guest-* rows (--guest-page stays: it is
 * the guest's micro-VMs'), then --mode GUEST-MODES, --backing GUEST-BACKINGS
 * when given, --quiet when the host run is quiet.  NULL-terminated,
 * malloc'd (free with run_linux_args_free).  0 or -1. */
int run_linux_guest_args(int argc, char **argv, const struct cli_opt *opts, const struct run_config *cfg,
			 char ***out, nb_error *err);
void run_linux_args_free(char **args);

/* Does the guest run backing k (--guest-backing, none given: all)? */
int run_linux_guest_has_backing(const struct run_config *cfg, enum backing_kind k);

/* The guest kernel's extra command line: THP in madvise mode (the thp
 * backing madvises, the 4k one opts out) and hugetlb pools for the guest
 * backings that need them: one 1G page from 3G of memory, two from 6G, a
 * sixteenth of the memory in 2M pages (the guest's own nestbench grows the
 * 2M pool further when a run needs it; 1G pages are only had at boot). */
void run_linux_cmdline(const struct run_config *cfg, char *out, size_t len);

#endif
