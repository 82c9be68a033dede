/* gnuplot.c - gnuplot as a child process with captured stderr and a time limit. */
#include "analysis/gnuplot.h"

#include "core/childguard.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int gp_safe(const char *s)
{
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(" ,./:=_()%+-", c)))
			return 0;
	}
	return 1;
}

static void gp_append(struct gp_vars *v, const char *s)
{
	size_t n = strlen(s);
	if (v->len + n + 1 > sizeof(v->buf)) {
		v->bad = 1;
		return;
	}
	memcpy(v->buf + v->len, s, n + 1);
	v->len += n;
}

void gp_var_str(struct gp_vars *v, const char *name, const char *value)
{
	if (!gp_safe(name) || !gp_safe(value)) {
		v->bad = 1;
		return;
	}
	gp_append(v, name);
	gp_append(v, "='");
	gp_append(v, value);
	gp_append(v, "'; ");
}

void gp_var_int(struct gp_vars *v, const char *name, long long value)
{
	char num[32];
	if (!gp_safe(name)) {
		v->bad = 1;
		return;
	}
	snprintf(num, sizeof(num), "%lld", value);
	gp_append(v, name);
	gp_append(v, "=");
	gp_append(v, num);
	gp_append(v, "; ");
}

/* What a child that could not become gnuplot writes back. */
struct gp_exec_failure {
	char stage; /* 's' streams, 'c' chdir, 'x' exec */
	int err;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int gp_run(const char *dir, const char *template_path, const struct gp_vars *vars, char *warnings, size_t wlen,
	   nb_error *err)
{
	if (wlen)
		warnings[0] = '\0';
	if (vars->bad)
		return nb_fail(err, "internal: refused an unsafe or too long gnuplot variable list");
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return nb_fail(err, "cannot create a pipe for gnuplot: %s", strerror(errno));
	/* A fixed, minimal environment: no user gnuplot init file or library
	 * path changes what the template does. */
	const char *path = getenv("PATH");
	char pathvar[4096];
	snprintf(pathvar, sizeof(pathvar), "PATH=%s", path && *path ? path : "/usr/bin:/bin");
	char *const envp[] = {pathvar, "HOME=/nonexistent", "LC_ALL=C", NULL};
	char *const argv[] = {"gnuplot", "-e", (char *)(uintptr_t)vars->buf,
			      (char *)(uintptr_t)template_path, NULL};
	/* The child reports why exec (or the set-up before it) failed through
	 * a close-on-exec pipe: nothing arrives when exec succeeded. */
	int efd[2];
	if (pipe2(efd, O_CLOEXEC) != 0) {
		close(pfd[0]);
		close(pfd[1]);
		return nb_fail(err, "cannot create a pipe for gnuplot: %s", strerror(errno));
	}
	/* Registered with childguard: killed and reaped if report is
	 * interrupted, and dies with us if we are killed outright. */
	nb_error ferr;
	pid_t pid = childguard_fork(&ferr);
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		close(efd[0]);
		close(efd[1]);
		return nb_fail(err, "cannot start gnuplot: %s", ferr.msg);
	}
	if (pid == 0) {
		struct gp_exec_failure f = {.stage = 's'};
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0 && dup2(devnull, 0) >= 0 && dup2(devnull, 1) >= 0 && dup2(pfd[1], 2) >= 0) {
			f.stage = 'c';
			if (chdir(dir) == 0) {
				f.stage = 'x';
				execvpe("gnuplot", argv, envp);
			}
		}
		f.err = errno;
		ssize_t w = write(efd[1], &f, sizeof(f));
		(void)w;
		_exit(127);
	}
	close(pfd[1]);
	close(efd[1]);
	size_t got = 0;
	double deadline = now_s() + GP_TIMEOUT_S;
	int timed_out = 0;
	for (;;) {
		double left = deadline - now_s();
		if (left <= 0) {
			timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		int r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		char chunk[1024];
		ssize_t n = read(pfd[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n && got + 1 < wlen; i++)
			warnings[got++] = chunk[i];
		if (wlen)
			warnings[got] = '\0';
	}
	close(pfd[0]);
	struct gp_exec_failure f;
	ssize_t fn;
	while ((fn = read(efd[0], &f, sizeof(f))) < 0 && errno == EINTR)
		;
	close(efd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno == ECHILD) /* reaped by childguard: we were interrupted */
			return nb_fail(err, "gnuplot was stopped: nestbench was interrupted");
		if (errno != EINTR)
			return nb_fail(err, "waiting for gnuplot: %s", strerror(errno));
	}
	childguard_forget(pid);
	if (timed_out)
		return nb_fail(err, "gnuplot took longer than %d s on %s and was stopped", GP_TIMEOUT_S, template_path);
	if (fn == (ssize_t)sizeof(f)) {
		if (f.stage == 'x' && f.err == ENOENT)
			return nb_fail(err, "gnuplot not found in PATH (install gnuplot-nox: make deps)");
		if (f.stage == 'x')
			return nb_fail(err, "cannot run gnuplot: %s", strerror(f.err));
		if (f.stage == 'c')
			return nb_fail(err, "cannot start gnuplot in the output directory: %s", strerror(f.err));
		return nb_fail(err, "cannot set up gnuplot's standard streams: %s", strerror(f.err));
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* Keep the first line of what it said. */
		char *nl = strchr(warnings, '\n');
		if (nl)
			*nl = '\0';
		return nb_fail(err, "gnuplot failed on %s: %.300s", template_path, wlen ? warnings : "");
	}
	return 0;
}

/* A PNG ends with its IEND chunk (length 0, type, CRC); an SVG with </svg>.
 * gnuplot does not notice a short write (a full disk): a file without its
 * end is a failure, not a plot. */
int gp_check_output(int dirfd, const char *file, nb_error *err)
{
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return nb_fail(err, "gnuplot did not write %s: %s", file, strerror(errno));
	struct stat st;
	char tail[64];
	size_t n = 0;
	int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
	if (ok) {
		off_t at = st.st_size > (off_t)sizeof(tail) ? st.st_size - (off_t)sizeof(tail) : 0;
		ssize_t r = pread(fd, tail, sizeof(tail), at);
		n = r > 0 ? (size_t)r : 0;
	}
	close(fd);
	const char *dot = strrchr(file, '.');
	if (ok && dot && !strcmp(dot, ".png")) {
		static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
		ok = n >= sizeof(iend) && !memcmp(tail + n - sizeof(iend), iend, sizeof(iend));
	} else if (ok && dot && !strcmp(dot, ".svg")) {
		while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r' || tail[n - 1] == ' '))
			n--;
		ok = n >= 6 && !memcmp(tail + n - 6, "</svg>", 6);
	}
	if (!ok)
		return nb_fail(err, "gnuplot wrote an incomplete %s (%lld bytes; is the disk full?)", file,
			       (long long)st.st_size);
	return 0;
}
