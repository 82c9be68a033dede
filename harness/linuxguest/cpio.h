/* cpio.h - writing an initramfs: a cpio archive in the "newc" format, the one
 * the Linux kernel unpacks into its root file system at boot.
 *
 * Directories are created on demand (every parent of an added path), so the
 * caller adds files by their final path.  The archive is written to a
 * temporary file and renamed into place by cpio_close, so a failed build
 * never leaves a half-written image behind.
 */
#ifndef NESTBENCH_LINUXGUEST_CPIO_H
#define NESTBENCH_LINUXGUEST_CPIO_H

#include <stddef.h>
#include <stdio.h>

#include "core/util.h"

#define CPIO_MAX_DIRS 256

struct cpio {
	FILE *f;
	char path[4096], tmp[4096];
	unsigned ino;
	char *dirs[CPIO_MAX_DIRS]; /* directories already in the archive */
	size_t ndirs;
	int failed;
};

int cpio_open(struct cpio *c, const char *path, nb_error *err);
/* A regular file from memory at archive path `name` (absolute, e.g. "/init"). */
int cpio_add_bytes(struct cpio *c, const char *name, const void *data, size_t len, unsigned mode, nb_error *err);
/* A copy of the host file src (symlinks followed) at `name`; mode from src unless mode != 0. */
int cpio_add_file(struct cpio *c, const char *name, const char *src, unsigned mode, nb_error *err);
int cpio_add_symlink(struct cpio *c, const char *name, const char *target, nb_error *err);
int cpio_add_dir(struct cpio *c, const char *name, nb_error *err);
/* Trailer, flush, fsync, rename into place.  Frees everything either way. */
int cpio_close(struct cpio *c, nb_error *err);
/* Give up: remove the temporary file. */
void cpio_abort(struct cpio *c);

#endif
