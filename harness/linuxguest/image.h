/* image.h - the initramfs that runs nestbench inside a Linux guest.
 *
 * Contents: this nestbench binary, the shared libraries its dynamic loader
 * resolves for it, busybox (a shell for the init script and for anyone
 * debugging the image), the KVM modules of the guest kernel (kvm, kvm-amd,
 * kvm-intel and what modules.dep says they need), /init, and
 * /etc/nestbench/modules.json: the modules to load.  That base is cached;
 * the run's arguments (/etc/nestbench/guest.json) come in a second, small
 * archive appended to it.
 * The guest's own side is `nestbench guest-init` (guest_init.c).
 */
#ifndef NESTBENCH_LINUXGUEST_IMAGE_H
#define NESTBENCH_LINUXGUEST_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

#define IMAGE_CONFIG_PATH "/etc/nestbench/guest.json"
#define IMAGE_MODULES_PATH "/etc/nestbench/modules.json"
#define IMAGE_RESULTS_PATH "/results.json"

struct image_spec {
	const char *kernel;        /* the guest kernel (bzImage), for its version */
	const char *modules_root;  /* "/lib/modules" unless a test says otherwise */
	const char *busybox;       /* a static busybox */
	const char *self;          /* the nestbench binary to put in ("/proc/self/exe") */
};

/* The version string a bzImage carries in its setup header ("6.1.0-57-amd64"),
 * its first word.  0 or -1. */
int image_kernel_version(const char *kernel, char *out, size_t len, nb_error *err);

/* The newest readable /boot/vmlinuz-* (version order), or -1 with a hint. */
int image_default_kernel(char *out, size_t len, nb_error *err);

/* Where base images are cached: $NESTBENCH_CACHE_DIR, else
 * $XDG_CACHE_HOME/nestbench, else $HOME/.cache/nestbench (created). */
int image_cache_dir(char *out, size_t len, nb_error *err);

/* The base image (everything but the run's configuration) is cached as
 * DIR/initramfs-<kernel version>-<key>.cpio; key is FNV-1a over the image
 * format, the kernel version and path, size, mtime and inode of every file
 * that goes in.  Built (temp file and rename) when missing; older images of
 * the same kernel version are removed. */
struct image_cache {
	char path[4400], key[17], kernel_version[128];
	uint64_t bytes;
	int cached; /* 1: found, 0: built now */
};
int image_cached(const struct image_spec *spec, const char *dir, struct image_cache *out, nb_error *err);

/* The run's configuration (IMAGE_CONFIG_PATH: the arguments of `nestbench
 * run` inside) as a cpio archive of its own: the kernel unpacks
 * concatenated archives in turn, so base + this is the guest's initramfs. */
int image_write_config(char *const *run_args, const char *out, nb_error *err);

#endif
