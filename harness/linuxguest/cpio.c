/* cpio.c - the newc cpio writer (see cpio.h).
 *
 * newc: per entry a 110-byte ASCII header ("070701" and thirteen 8-digit hex
 * fields), the NUL-terminated name, padding to 4 bytes, the data, padding to
 * 4 bytes; the archive ends with an entry named "TRAILER!!!".
 */
#include "harness/linuxguest/cpio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_DIR 0040000u
#define S_REG 0100000u
#define S_LNK 0120000u

static int put_header(struct cpio *c, const char *name, unsigned mode, size_t size, nb_error *err)
{
	const char *n = name[0] == '/' ? name + 1 : name; /* archive paths are relative */
	size_t namesize = strlen(n) + 1;
	if (fprintf(c->f, "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", ++c->ino, mode, 0u, 0u,
		    (mode & S_DIR) ? 2u : 1u, 0u, size, 0u, 0u, 0u, 0u, namesize, 0u) < 0 ||
	    fwrite(n, 1, namesize, c->f) != namesize)
		goto io;
	static const char zeros[4];
	size_t pad = (4 - (110 + namesize) % 4) % 4;
	if (pad && fwrite(zeros, 1, pad, c->f) != pad)
		goto io;
	return 0;
io:
	c->failed = 1;
	return nb_fail(err, "initramfs %s: write failed: %s", c->path, strerror(errno));
}

static int pad_data(struct cpio *c, size_t size, nb_error *err)
{
	static const char zeros[4];
	size_t pad = (4 - size % 4) % 4;
	if (pad && fwrite(zeros, 1, pad, c->f) != pad) {
		c->failed = 1;
		return nb_fail(err, "initramfs %s: write failed: %s", c->path, strerror(errno));
	}
	return 0;
}

static int have_dir(const struct cpio *c, const char *d)
{
	for (size_t i = 0; i < c->ndirs; i++)
		if (!strcmp(c->dirs[i], d))
			return 1;
	return 0;
}

/* Every parent directory of name that the archive lacks, outermost first. */
static int add_parents(struct cpio *c, const char *name, nb_error *err)
{
	char p[4096];
	if (snprintf(p, sizeof(p), "%s", name) >= (int)sizeof(p))
		return nb_fail(err, "initramfs: path too long: %s", name);
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (!have_dir(c, p) && cpio_add_dir(c, p, err))
			return -1;
		*s = '/';
	}
	return 0;
}

int cpio_add_dir(struct cpio *c, const char *name, nb_error *err)
{
	if (have_dir(c, name))
		return 0;
	if (c->ndirs == CPIO_MAX_DIRS)
		return nb_fail(err, "initramfs: more than %d directories", CPIO_MAX_DIRS);
	if (add_parents(c, name, err) || put_header(c, name, S_DIR | 0755u, 0, err))
		return -1;
	if (!(c->dirs[c->ndirs] = strdup(name)))
		return nb_fail(err, "out of memory");
	c->ndirs++;
	return 0;
}

int cpio_open(struct cpio *c, const char *path, nb_error *err)
{
	memset(c, 0, sizeof(*c));
	if (snprintf(c->path, sizeof(c->path), "%s", path) >= (int)sizeof(c->path) ||
	    snprintf(c->tmp, sizeof(c->tmp), "%s.tmp-XXXXXX", path) >= (int)sizeof(c->tmp))
		return nb_fail(err, "initramfs: path too long: %s", path);
	int fd = mkstemp(c->tmp);
	if (fd < 0)
		return nb_fail(err, "initramfs: cannot create a temporary file beside %s: %s", path, strerror(errno));
	c->f = fdopen(fd, "wb");
	if (!c->f) {
		close(fd);
		unlink(c->tmp);
		return nb_fail(err, "initramfs: %s", strerror(errno));
	}
	return 0;
}

int cpio_add_bytes(struct cpio *c, const char *name, const void *data, size_t len, unsigned mode, nb_error *err)
{
	if (add_parents(c, name, err) || put_header(c, name, S_REG | (mode & 07777u), len, err))
		return -1;
	if (len && fwrite(data, 1, len, c->f) != len) {
		c->failed = 1;
		return nb_fail(err, "initramfs %s: write failed: %s", c->path, strerror(errno));
	}
	return pad_data(c, len, err);
}

int cpio_add_file(struct cpio *c, const char *name, const char *src, unsigned mode, nb_error *err)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nb_fail(err, "initramfs: cannot read %s: %s", src, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return nb_fail(err, "initramfs: %s is not a regular file", src);
	}
	size_t size = (size_t)st.st_size;
	if (add_parents(c, name, err) || put_header(c, name, S_REG | ((mode ? mode : st.st_mode) & 07777u), size, err)) {
		close(fd);
		return -1;
	}
	char buf[1 << 16];
	size_t done = 0;
	while (done < size) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || fwrite(buf, 1, (size_t)n, c->f) != (size_t)n) {
			close(fd);
			c->failed = 1;
			return nb_fail(err, "initramfs: copying %s failed: %s", src, n < 0 ? strerror(errno) : "short read");
		}
		done += (size_t)n;
	}
	close(fd);
	return pad_data(c, size, err);
}

int cpio_add_symlink(struct cpio *c, const char *name, const char *target, nb_error *err)
{
	size_t len = strlen(target);
	if (add_parents(c, name, err) || put_header(c, name, S_LNK | 0777u, len, err))
		return -1;
	if (fwrite(target, 1, len, c->f) != len) {
		c->failed = 1;
		return nb_fail(err, "initramfs %s: write failed: %s", c->path, strerror(errno));
	}
	return pad_data(c, len, err);
}

static void free_dirs(struct cpio *c)
{
	for (size_t i = 0; i < c->ndirs; i++)
		free(c->dirs[i]);
	c->ndirs = 0;
}

void cpio_abort(struct cpio *c)
{
	if (c->f)
		fclose(c->f);
	c->f = NULL;
	unlink(c->tmp);
	free_dirs(c);
}

int cpio_close(struct cpio *c, nb_error *err)
{
	int rc = c->failed ? -1 : put_header(c, "TRAILER!!!", 0, 0, err);
	if (rc == 0 && (fflush(c->f) || fsync(fileno(c->f))))
		rc = nb_fail(err, "initramfs %s: write failed: %s", c->path, strerror(errno));
	if (fclose(c->f) && rc == 0)
		rc = nb_fail(err, "initramfs %s: write failed: %s", c->path, strerror(errno));
	c->f = NULL;
	if (rc == 0 && rename(c->tmp, c->path))
		rc = nb_fail(err, "initramfs: cannot rename into %s: %s", c->path, strerror(errno));
	if (rc)
		unlink(c->tmp);
	free_dirs(c);
	return rc;
}
