/* image.h - the initramfs that runs nestbench inside a Linux guest.
 *
 * Contents: this nestbench binary, the shared libraries its dynamic loader
 * resolves for it, busybox (a shell for the init script and for anyone
 * debugging the image), the KVM modules of the guest kernel (kvm, kvm-amd,
 * kvm-intel and what modules.dep says they need), /init, and
 * /etc/nestbench/guest.json: the arguments of the run and the modules to load.
 * The guest's own side is `nestbench guest-init` (guest_init.c).
 */
#ifndef NESTBENCH_LINUXGUEST_IMAGE_H
#define NESTBENCH_LINUXGUEST_IMAGE_H

#include <stddef.h>

#include "core/util.h"

#define IMAGE_CONFIG_PATH "/etc/nestbench/guest.json"
#define IMAGE_RESULTS_PATH "/results.json"

struct image_spec {
	const char *kernel;        /* the guest kernel (bzImage), for its version */
	const char *modules_root;  /* "/lib/modules" unless a test says otherwise */
	const char *busybox;       /* a static busybox */
	const char *self;          /* the nestbench binary to put in ("/proc/self/exe") */
	char *const *run_args;     /* arguments of `nestbench run` inside (NULL-terminated) */
};

/* The version string a bzImage carries in its setup header ("6.1.0-57-amd64"),
 * its first word.  0 or -1. */
int image_kernel_version(const char *kernel, char *out, size_t len, nb_error *err);

/* The newest readable /boot/vmlinuz-* (version order), or -1 with a hint. */
int image_default_kernel(char *out, size_t len, nb_error *err);

/* Build the initramfs at out (temp file and rename). 0 or -1. */
int image_build(const struct image_spec *spec, const char *out, nb_error *err);

#endif
