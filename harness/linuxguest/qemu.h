/* qemu.h - booting a Linux guest with QEMU and bringing its results back.
 *
 * One guest = qemu-system-x86_64 with the kernel and an initramfs built by
 * image.c, the guest's first serial port to a console log (echoed as
 * progress), the second to the result channel file (channel.h).  The guest
 * powers itself off when its run is done; a watchdog kills QEMU when it does
 * not, and so does Ctrl-C (the QEMU process is a childguard child).
 */
#ifndef NESTBENCH_LINUXGUEST_QEMU_H
#define NESTBENCH_LINUXGUEST_QEMU_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/util.h"

enum qemu_accel { QEMU_ACCEL_AUTO = 0, QEMU_ACCEL_KVM, QEMU_ACCEL_TCG };

struct qemu_config {
	const char *qemu;        /* binary (NULL: qemu-system-x86_64 from PATH) */
	const char *kernel, *initrd;
	enum qemu_accel accel;   /* KVM or TCG (AUTO must be resolved first: qemu_choose_accel) */
	unsigned cpus;
	uint64_t memory_bytes;
	const char *append;      /* extra kernel command line (hugepages, THP), may be NULL */
	const char *console_log; /* where the guest console goes */
	const char *channel;     /* where the result channel goes */
	double timeout_s;
	int echo;                /* echo console lines to stderr as "guest: ..." */
	const char *memory_object; /* NULL, or a -object memory backend with id ram0 (hostmem.h) */
	/* NULL, or called about every 100 ms while QEMU runs (the host-side
	 * smaps sampler) and once when the guest's console first speaks. */
	void (*on_poll)(void *arg, pid_t pid, int booted);
	void *poll_arg;
	/* NULL, or where qemu_run leaves the console's last lines ("|" between
	 * lines), whatever the outcome: for errors found after QEMU ended. */
	char *console_tail;
	size_t console_tail_len;
};

/* KVM where /dev/kvm is usable and the local KVM can run a Linux guest's
 * kernel at speed (ept, npt, shadow); TCG otherwise (pvm-shadow emulates
 * guest CPL0).  why says which and why. */
enum qemu_accel qemu_choose_accel(char *why, size_t len);
const char *qemu_accel_name(enum qemu_accel a);

/* The argument vector for cfg (tests read it); *argv is malloc'd, free with
 * qemu_argv_free.  0 or -1. */
int qemu_build_argv(const struct qemu_config *cfg, char ***argv, nb_error *err);
void qemu_argv_free(char **argv);

/* Run the guest to its end.  0 when QEMU exited by itself (the guest
 * powered off), -1 with the reason (cannot start, timeout, killed, QEMU's
 * own error with the console's last lines). */
int qemu_run(const struct qemu_config *cfg, nb_error *err);

#endif
