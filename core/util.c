/* util.c - error reporting, size parsing and small file helpers. */
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((format(printf, 2, 0))) static void vformat(nb_error *err, const char *fmt, va_list ap)
{
	if (err)
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int nb_fail(nb_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vformat(err, fmt, ap);
	va_end(ap);
	return -1;
}

int nb_skip(nb_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vformat(err, fmt, ap);
	va_end(ap);
	return 1;
}

void fputs_visible(const char *s, FILE *out)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n')
			fputs("\\n", out);
		else if (*p == '\t')
			fputs("\\t", out);
		else if (*p == '\r')
			fputs("\\r", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\x%02x", *p);
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* C1 controls in UTF-8 */
			fprintf(out, "\\u%04x", p[1]), p++;
		else
			fputc(*p, out);
	}
}

/* Messages carry file names, JSON excerpts and kernel strings from outside:
 * one line each, with every control byte shown as an escape, so none can
 * break the line or reach the terminal as a control sequence. */
__attribute__((format(printf, 2, 0))) static void vreport(const char *prefix, const char *fmt, va_list ap)
{
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	fprintf(stderr, "nestbench: %s", prefix);
	fputs_visible(msg ? msg : "(out of memory formatting a message)", stderr);
	fputc('\n', stderr);
	free(msg);
}

void nb_error_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("error: ", fmt, ap);
	va_end(ap);
}

void nb_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("warning: ", fmt, ap);
	va_end(ap);
}

void nb_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("", fmt, ap);
	va_end(ap);
}

void nb_die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("error: ", fmt, ap);
	va_end(ap);
	exit(status);
}

int parse_size(const char *s, size_t *out, nb_error *err)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return nb_fail(err, "invalid size '%s': expected a number with an optional k, m, g or t suffix, e.g. 64M",
			       s ? s : "");
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return nb_fail(err, "size '%s' is too large", s);
	unsigned shift = 0;
	switch (tolower((unsigned char)*end)) {
	case 'k': shift = 10; end++; break;
	case 'm': shift = 20; end++; break;
	case 'g': shift = 30; end++; break;
	case 't': shift = 40; end++; break;
	default: break;
	}
	if (shift) {
		if (tolower((unsigned char)*end) == 'i')
			end++;
		if (tolower((unsigned char)*end) == 'b')
			end++;
	} else if (tolower((unsigned char)*end) == 'b') {
		end++;
	}
	if (*end != '\0')
		return nb_fail(err, "invalid size '%s': unexpected '%s' (use a suffix k, m, g or t)", s, end);
	if (v > (unsigned long long)(SIZE_MAX >> shift))
		return nb_fail(err, "size '%s' is too large", s);
	*out = (size_t)(v << shift);
	return 0;
}

void format_size(size_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	if (bytes == 0 || bytes % 1024) {
		snprintf(buf, len, "%zuB", bytes);
		return;
	}
	int u = -1;
	while (bytes % 1024 == 0 && u < 3) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, len, "%zu%c", bytes, units[u]);
}

void format_ns(char *buf, size_t len, double ns)
{
	double a = fabs(ns);
	if (!isfinite(ns))
		snprintf(buf, len, "-");
	else if (a >= 1e9)
		snprintf(buf, len, "%.3g s", ns / 1e9);
	else if (a >= 1e6)
		snprintf(buf, len, "%.3g ms", ns / 1e6);
	else if (a >= 1e3)
		snprintf(buf, len, "%.3g µs", ns / 1e3);
	else
		snprintf(buf, len, "%.3g ns", ns);
}

int parse_uint(const char *s, unsigned long max, unsigned long *out, nb_error *err)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return nb_fail(err, "invalid number '%s': expected a non-negative integer", s ? s : "");
	errno = 0;
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (errno == ERANGE || *end != '\0')
		return nb_fail(err, "invalid number '%s': expected a non-negative integer", s);
	if (v > max)
		return nb_fail(err, "number %s is out of range (at most %lu)", s, max);
	*out = v;
	return 0;
}

long read_small_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	while (got + 1 < len) {
		ssize_t n = read(fd, buf + got, len - 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		buf[--got] = '\0';
	return (long)got;
}

int read_long_file(const char *path, long *out)
{
	char buf[64];
	if (read_small_file(path, buf, sizeof(buf)) < 0)
		return -1;
	errno = 0;
	char *end;
	long v = strtol(buf, &end, 10);
	if (errno || end == buf) {
		errno = EINVAL;
		return -1;
	}
	*out = v;
	return 0;
}

int write_string_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	int e = errno;
	if (close(fd) != 0 && n >= 0) {
		return -1;
	}
	if (n != (ssize_t)len) {
		errno = n < 0 ? e : EIO;
		return -1;
	}
	return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len, nb_error *err)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	if (!tmp)
		return nb_fail(err, "out of memory");
	snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		nb_fail(err, "cannot write '%s': %s (check that its directory exists and is writable)", path,
			strerror(errno));
		free(tmp);
		return -1;
	}
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			nb_fail(err, "cannot write '%s': %s", tmp, n < 0 ? strerror(errno) : "short write");
			goto fail;
		}
		done += (size_t)n;
	}
	/* Results files are meant to be readable by the user who asked for them,
	 * not 0600 as mkstemp creates them. */
	if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
		nb_fail(err, "cannot write '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		nb_fail(err, "cannot write '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		nb_fail(err, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		goto fail;
	}
	free(tmp);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

int mkdir_parents(const char *dir, unsigned mode)
{
	char *p = strdup(dir);
	if (!p)
		return -1;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
			int e = errno;
			free(p);
			errno = e;
			return -1;
		}
		*s = '/';
	}
	int rc = mkdir(p, (mode_t)mode) != 0 && errno != EEXIST ? -1 : 0;
	int e = errno;
	free(p);
	errno = e;
	return rc;
}

int stderr_is_tty(void)
{
	return isatty(STDERR_FILENO);
}
