/* run_linux.h - `nestbench run --mode linux`: the suite inside a Linux guest.
 *
 * After the native and micro-VM measurements (run.c), each host backing of
 * --backing gets one guest boot: QEMU with that backing's memory backend
 * (harness/linuxguest/hostmem.h), the guest kernel of --guest-kernel, an
 * initramfs built from this very binary and cached (image.h), and inside
 * `nestbench run` with the user's options (--mode from --guest-mode,
 * --backing from --guest-backing).  The guest's results come back over its
 * second serial port (channel.h) and are merged into this run's document:
 * mode "linux" ("inner_mode" the guest's own mode), "host_backing" (what
 * QEMU's smaps showed), "timing_valid" (false under TCG), the guest's facts
 * under "guest_host" and QEMU's under "qemu".  A guest that cannot be built,
 * booted or brings nothing back leaves its cells failed with the reason;
 * the native results are written all the same.
 */
#ifndef NESTBENCH_RUN_LINUX_H
#define NESTBENCH_RUN_LINUX_H

#include <jansson.h>
#include <stdio.h>

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

/* The guest kernel's extra command line: THP in madvise mode (the thp
 * backing madvises, the 4k one opts out) and hugetlb pools for the guest
 * backings that need them: one 1G page from 3G of memory, two from 6G, a
 * sixteenth of the memory in 2M pages (the guest's own nestbench grows the
 * 2M pool further when a run needs it; 1G pages are only had at boot). */
void run_linux_cmdline(const struct run_config *cfg, char *out, size_t len);

/* Merge a guest's results document into doc: its measurements (mode
 * "linux", host_backing and timing_valid added), and its host facts as
 * "guest_host" (the first guest's).  Returns how many were merged, -1 when
 * guest is not a results document. */
long run_linux_merge(json_t *doc, const json_t *guest, const json_t *host_backing, int timing_valid);

/* The linux cells of one host backing that did not run: one per kernel and
 * guest backing, failed (failed != 0) or skipped, with the reason. */
void run_linux_unrun_cells(json_t *doc, const struct run_config *cfg, const json_t *host_backing, int timing_valid,
			   const char *reason, int failed);

/* Boot a guest per host backing and merge (see above); doc gets "qemu".
 * Errors end up as failed cells: returns -1 only when out of memory. */
int run_linux_execute(struct run_config *cfg, json_t *doc);

/* The terminal's line(s) for the linux measurements ("TCG: function only"). */
void run_linux_print_summary(FILE *out, const json_t *doc);

#endif
