/* poolledger.c - records of hugetlb pool growth per run (see poolledger.h). */
#include "harness/mem/poolledger.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir_path[256] = LEDGER_DIR;
static int lock_fd = -1;

void ledger_set_dir(const char *dir)
{
	snprintf(dir_path, sizeof(dir_path), "%s", dir ? dir : LEDGER_DIR);
	if (lock_fd >= 0)
		close(lock_fd);
	lock_fd = -1;
}

const char *ledger_dir(void)
{
	return dir_path;
}

int ledger_fd(void)
{
	return lock_fd;
}

int ledger_open(nb_error *err)
{
	if (lock_fd >= 0)
		return lock_fd;
	if (mkdir(dir_path, 0755) != 0 && errno != EEXIST)
		return nb_fail(err, "cannot create %s to record hugetlb pool changes: %s", dir_path, strerror(errno));
	/* Root writes records here: it must be a real directory of our own,
	 * not a symlink or a directory someone else planted. */
	struct stat st;
	if (lstat(dir_path, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return nb_fail(err, "%s is not a directory owned by this user and writable only by it; remove it", dir_path);
	char path[300];
	snprintf(path, sizeof(path), "%s/lock", dir_path);
	/* O_NOFOLLOW: a planted symlink must not make root create files elsewhere. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return nb_fail(err, "cannot open %s: %s", path, strerror(errno));
	lock_fd = fd;
	return fd;
}

unsigned long long ledger_proc_start(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small_file(path, buf, sizeof(buf)) < 0)
		return 0;
	/* The command name may hold spaces and parentheses: fields count from
	 * the last ')'.  starttime is field 22, the 20th after it. */
	const char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p + 1, ' ');
	}
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

void ledger_record_path(pid_t pid, size_t page_kb, char *buf, size_t len)
{
	snprintf(buf, len, "%s/pool-%zukB-%d", dir_path, page_kb, (int)pid);
}

int ledger_write(pid_t pid, unsigned long long start, size_t page_kb, long pages, nb_error *err)
{
	char path[300];
	ledger_record_path(pid, page_kb, path, sizeof(path));
	if (pages <= 0) {
		if (unlink(path) != 0 && errno != ENOENT)
			return nb_fail(err, "cannot remove %s: %s", path, strerror(errno));
		return 0;
	}
	char text[128];
	int n = snprintf(text, sizeof(text), "%d %llu %zu %ld\n", (int)pid, start, page_kb, pages);
	return write_file_atomic(path, text, (size_t)n, err);
}

static int parse_record(const char *dir, const char *name, struct ledger_entry *e)
{
	unsigned kb;
	int pid;
	char tail;
	if (sscanf(name, "pool-%ukB-%d%c", &kb, &pid, &tail) != 2)
		return -1;
	snprintf(e->path, sizeof(e->path), "%s/%s", dir, name);
	char buf[128];
	if (read_small_file(e->path, buf, sizeof(buf)) < 0)
		return -1;
	int rpid;
	if (sscanf(buf, "%d %llu %zu %ld", &rpid, &e->start, &e->page_kb, &e->pages) != 4 || rpid != pid ||
	    e->page_kb != kb || e->pages <= 0)
		return -1;
	e->pid = (pid_t)pid;
	e->alive = (kill(e->pid, 0) == 0 || errno == EPERM) && ledger_proc_start(e->pid) == e->start;
	return 0;
}

size_t ledger_scan(size_t page_kb, struct ledger_entry *out, size_t max)
{
	DIR *d = opendir(dir_path);
	if (!d)
		return 0;
	size_t n = 0;
	struct dirent *de;
	while (n < max && (de = readdir(d)) != NULL) {
		struct ledger_entry e;
		memset(&e, 0, sizeof(e));
		if (parse_record(dir_path, de->d_name, &e) != 0)
			continue;
		if (page_kb && e.page_kb != page_kb)
			continue;
		out[n++] = e;
	}
	closedir(d);
	return n;
}
