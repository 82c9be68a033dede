/* reportdir.c - write a report beside --out, then put it in place (see reportdir.h). */
#include "analysis/reportdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const int report_signals[] = {SIGINT, SIGTERM, SIGHUP};
static volatile sig_atomic_t arrived;

static void on_signal(int sig)
{
	arrived = sig;
}

void reportdir_catch_signals(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(report_signals); i++) {
		struct sigaction cur;
		if (sigaction(report_signals[i], NULL, &cur) != 0 || cur.sa_handler == SIG_IGN)
			continue; /* ignored on purpose (nohup): keep it that way */
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(report_signals[i], &sa, NULL);
	}
}

int reportdir_interrupted(void)
{
	return arrived;
}

void reportdir_reraise(void)
{
	int sig = arrived;
	if (!sig)
		return;
	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
}

int reportdir_begin(struct reportdir *d, const char *out, nb_error *err)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	char *c1 = strdup(out), *c2 = strdup(out);
	d->final = strdup(out);
	if (!c1 || !c2 || !d->final) {
		free(c1);
		free(c2);
		return nb_fail(err, "out of memory");
	}
	const char *parent = dirname(c1), *base = basename(c2);
	int rc = 0;
	struct stat st;
	if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode)) {
		rc = nb_fail(err, "cannot write the report to %s: it exists and is not a directory", out);
		goto done;
	}
	if (mkdir_parents(parent, 0755) != 0) {
		rc = nb_fail(err, "cannot create %s: %s", parent, strerror(errno));
		goto done;
	}
	size_t n = strlen(parent) + strlen(base) + 32;
	d->tmp = malloc(n);
	if (!d->tmp) {
		rc = nb_fail(err, "out of memory");
		goto done;
	}
	snprintf(d->tmp, n, "%s/.%s.tmpXXXXXX", parent, base);
	if (!mkdtemp(d->tmp)) {
		rc = nb_fail(err, "cannot create a temporary directory beside %s: %s", out, strerror(errno));
		free(d->tmp);
		d->tmp = NULL;
		goto done;
	}
	d->fd = open(d->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (d->fd < 0) {
		rc = nb_fail(err, "cannot open %s: %s", d->tmp, strerror(errno));
		reportdir_abort(d);
	}
done:
	free(c1);
	free(c2);
	return rc;
}

void reportdir_abort(struct reportdir *d)
{
	if (d->tmp) {
		int fd = open(d->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *de;
		while (dir && (de = readdir(dir)) != NULL)
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				unlinkat(fd, de->d_name, 0);
		if (dir)
			closedir(dir);
		else if (fd >= 0)
			close(fd);
		rmdir(d->tmp);
		free(d->tmp);
		d->tmp = NULL;
	}
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	free(d->final);
	d->final = NULL;
}

/* --out exists: move each file of the report into it. */
static int move_into(struct reportdir *d, nb_error *err)
{
	int out = open(d->final, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (out < 0)
		return nb_fail(err, "cannot open %s: %s", d->final, strerror(errno));
	int dupfd = dup(d->fd);
	DIR *dir = dupfd >= 0 ? fdopendir(dupfd) : NULL;
	if (!dir) {
		if (dupfd >= 0)
			close(dupfd);
		close(out);
		return nb_fail(err, "cannot read %s: %s", d->tmp, strerror(errno));
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(dir)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (renameat(d->fd, de->d_name, out, de->d_name) != 0)
			rc = nb_fail(err, "cannot move %s into %s: %s", de->d_name, d->final, strerror(errno));
	}
	closedir(dir);
	close(out);
	return rc;
}

int reportdir_commit(struct reportdir *d, nb_error *err)
{
	/* Not interrupted half-way: the renames are quick. */
	sigset_t block, old;
	sigemptyset(&block);
	for (size_t i = 0; i < ARRAY_SIZE(report_signals); i++)
		sigaddset(&block, report_signals[i]);
	sigprocmask(SIG_BLOCK, &block, &old);
	int rc = 0;
	if (fchmod(d->fd, 0755) != 0 || fsync(d->fd) != 0)
		rc = nb_fail(err, "cannot finish %s: %s", d->tmp, strerror(errno));
	else if (rename(d->tmp, d->final) == 0) {
		free(d->tmp);
		d->tmp = NULL; /* nothing left to remove */
	} else if (errno == EEXIST || errno == ENOTEMPTY || errno == EISDIR || errno == ENOTDIR) {
		rc = move_into(d, err);
	} else {
		rc = nb_fail(err, "cannot rename %s to %s: %s", d->tmp, d->final, strerror(errno));
	}
	reportdir_abort(d);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}
