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

#include "harness/run/run.h"
#include "harness/run/run_linux_args.h"
#include "harness/run/run_linux_merge.h"

/* Boot a guest per host backing and merge (see above); doc gets "qemu".
 * Errors end up as failed cells: returns -1 only when out of memory. */
int run_linux_execute(struct run_config *cfg, json_t *doc);

#endif
