/* hugepool.c - grow hugetlb pools for a run and give the pages back on exit, error and signal.
 *
 * Composition across processes: see poolledger.h.  A run never writes back
 * a size it saved; it shrinks the persistent size by the pages it added, so
 * runs that overlap in any order end with the pool as it was before the
 * first started.
 *
 * Signal handling: for SIGINT, SIGTERM and SIGHUP the handler gives the
 * pages back (flock/open/read/write/close/unlink only, with every path
 * formatted beforehand into static buffers), then
 *   - if the disposition before hugepool_install_cleanup() was the default,
 *     restores the default and re-raises, so the process still dies of the
 *     signal (exit status and core behaviour unchanged);
 *   - if a handler had been installed before, calls it and returns, leaving
 *     what happens next to that handler;
 *   - if the signal was ignored (e.g. SIGHUP under nohup), nothing is
 *     installed for it at all.
 * Handlers installed after ours replace it; whoever does that must call
 * hugepool_restore_all() themselves.
 *
 * Only the process that changed a pool restores it: a fork()ed child inherits
 * the atexit hook and the handlers, and must not shrink the pool under its
 * parent when it exits.
 */
#include "harness/mem/hugepool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#define HUGEPAGES_DIR "/sys/kernel/mm/hugepages"

static const char *pools_root = HUGEPAGES_DIR;

struct pool {
	size_t page_bytes;
	const char *label;
	/* Everything the signal handler needs, formatted before it can run. */
	char path[256];             /* .../nr_hugepages */
	char surplus_path[256];     /* .../surplus_hugepages */
	char record[300];           /* this run's ledger record */
	volatile long grown;        /* pages this process added and still owes */
	volatile sig_atomic_t changed;
	volatile pid_t owner;       /* the process that changed it */
	int warned_stale;           /* told the user about pages of unfinished runs */
};

static struct pool pools[] = {
	{.page_bytes = (size_t)2 << 20, .label = "2M"},
	{.page_bytes = (size_t)1 << 30, .label = "1G"},
};

static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP};
static struct sigaction old_actions[ARRAY_SIZE(cleanup_signals)];
static int cleanup_installed;

static struct pool *pool_of(size_t page_bytes)
{
	for (size_t i = 0; i < ARRAY_SIZE(pools); i++)
		if (pools[i].page_bytes == page_bytes)
			return &pools[i];
	return NULL;
}

void hugepool_path(size_t page_bytes, const char *file, char *buf, size_t len)
{
	snprintf(buf, len, "%s/hugepages-%zukB/%s", pools_root, page_bytes / 1024, file);
}

void hugepool_set_root(const char *dir)
{
	pools_root = dir ? dir : HUGEPAGES_DIR;
	/* A fake pool directory gets a ledger of its own beside it. */
	char ledger[256];
	if (dir)
		snprintf(ledger, sizeof(ledger), "%s/ledger", dir);
	ledger_set_dir(dir ? ledger : NULL);
}

static void size_label(size_t page_bytes, char *buf, size_t len)
{
	format_size(page_bytes, buf, len);
}

int hugepool_read(size_t page_bytes, struct hugepool_state *st)
{
	static const char *const files[] = {"nr_hugepages", "free_hugepages", "resv_hugepages",
					    "surplus_hugepages"};
	long *dst[] = {&st->total, &st->free, &st->resv, &st->surplus};
	memset(st, 0, sizeof(*st));
	st->page_bytes = page_bytes;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char path[256];
		hugepool_path(page_bytes, files[i], path, sizeof(path));
		if (read_long_file(path, dst[i]) != 0)
			return -1;
	}
	st->present = 1;
	return 0;
}

/* Async-signal-safe helpers: open, read, write, close only. */
static long raw_read_long(const char *path)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	long v = 0;
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		v = v * 10 + (buf[i] - '0');
	return v;
}

static void raw_write_long(const char *path, long v)
{
	char buf[32];
	size_t n = 0;
	char rev[32];
	do {
		rev[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && n < sizeof(rev));
	for (size_t i = 0; i < n; i++)
		buf[i] = rev[n - 1 - i];
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t w = write(fd, buf, n);
		(void)w; /* nothing better to do in a handler or at exit */
		close(fd);
	}
}

/* Shrink the persistent size of a pool by pages (async-signal-safe).  The
 * persistent size is nr_hugepages minus surplus pages: writing surplus pages
 * back would make them persistent.  Pages still mapped by someone become
 * surplus and the kernel frees them when they are unmapped. */
static void shrink_pool(const char *nr_path, const char *surplus_path, long pages)
{
	long total = raw_read_long(nr_path), surplus = raw_read_long(surplus_path);
	if (total < 0 || pages <= 0)
		return;
	long target = total - (surplus > 0 ? surplus : 0) - pages;
	raw_write_long(nr_path, target > 0 ? target : 0);
}

/* Async-signal-safe: flock, open, read, write, close, unlink and getpid.
 * The lock is taken through the process's one cached descriptor, so a
 * handler interrupting a thread of this process that holds it does not
 * deadlock (the same open file description already owns the lock). */
static void restore_pool(struct pool *p)
{
	if (!p->changed || p->owner != getpid())
		return;
	int fd = ledger_fd();
	int locked = fd >= 0 && flock(fd, LOCK_EX) == 0;
	shrink_pool(p->path, p->surplus_path, p->grown);
	unlink(p->record);
	p->grown = 0;
	p->changed = 0;
	if (locked)
		flock(fd, LOCK_UN);
}

void hugepool_restore_all(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(pools); i++)
		restore_pool(&pools[i]);
}

static void atexit_restore(void)
{
	hugepool_restore_all();
}

static void on_signal(int sig, siginfo_t *info, void *ctx)
{
	int saved_errno = errno;
	hugepool_restore_all();
	for (size_t i = 0; i < ARRAY_SIZE(cleanup_signals); i++) {
		if (cleanup_signals[i] != sig)
			continue;
		const struct sigaction *old = &old_actions[i];
		if (old->sa_flags & SA_SIGINFO) {
			errno = saved_errno;
			old->sa_sigaction(sig, info, ctx);
			return;
		}
		if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
			errno = saved_errno;
			old->sa_handler(sig);
			return;
		}
	}
	/* Default disposition: die of the signal as if we had not been here.
	 * The signal is blocked while we run, so it is delivered on return. */
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved_errno;
}

static void cleanup_sigset(sigset_t *set)
{
	sigemptyset(set);
	for (size_t j = 0; j < ARRAY_SIZE(cleanup_signals); j++)
		sigaddset(set, cleanup_signals[j]);
}

void hugepool_install_cleanup(void)
{
	if (cleanup_installed)
		return;
	cleanup_installed = 1;
	atexit(atexit_restore);
	for (size_t i = 0; i < ARRAY_SIZE(cleanup_signals); i++) {
		struct sigaction cur;
		if (sigaction(cleanup_signals[i], NULL, &cur) != 0)
			continue;
		if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN)
			continue; /* ignored on purpose (nohup): keep it that way */
		old_actions[i] = cur;
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_signal;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		/* No other cleanup signal may interrupt the restore half-way. */
		cleanup_sigset(&sa.sa_mask);
		sigaction(cleanup_signals[i], &sa, NULL);
	}
}

/* Pages of this pool that other live runs added: they are about to be
 * mapped by those runs even when they are free now, so they are not ours
 * to count as available.  Pages of runs that are gone are reported once. */
static long others_pages(struct pool *p, const char *label)
{
	struct ledger_entry e[LEDGER_MAX_ENTRIES];
	size_t n = ledger_scan(p->page_bytes / 1024, e, ARRAY_SIZE(e));
	long live = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].pid == getpid() && e[i].alive)
			continue;
		if (e[i].alive) {
			live += e[i].pages;
		} else if (!p->warned_stale) {
			p->warned_stale = 1;
			nb_warn("the %s hugetlb pool holds %ld pages left by a run that did not finish (pid %d, gone); "
				"`nestbench cleanup` gives them back", label, e[i].pages, (int)e[i].pid);
		}
	}
	return live;
}

/* Grow the pool so that npages are available to this run; called with the
 * ledger locked and the cleanup signals blocked in this thread. */
static int grow_locked(struct pool *p, const char *label, const char *path, size_t npages, nb_error *err)
{
	struct hugepool_state st;
	if (hugepool_read(p->page_bytes, &st) != 0)
		return nb_skip(err, "this kernel has no %s hugetlb pool (%s is missing)", label, path);
	/* Free pages already promised to existing mappings, or added by other
	 * runs for their own mappings, are not ours to take. */
	long avail = st.free - st.resv - others_pages(p, label);
	if (avail >= 0 && (size_t)avail >= npages)
		return 0;
	if (avail < 0)
		avail = 0;
	long want = st.total + ((long)npages - avail);
	pid_t self = getpid();
	/* A forked child (vmswitch's second VMM) inherits its parent's counts:
	 * they are the parent's to give back, not this process's. */
	if (p->owner != self) {
		p->grown = 0;
		p->changed = 0;
	}
	unsigned long long start = ledger_proc_start(self);
	/* Record first: a run killed right after growing the pool has still
	 * said so. */
	nb_error lerr;
	if (ledger_write(self, start, p->page_bytes / 1024, p->grown + (want - st.total), &lerr) != 0)
		return nb_skip(err, "cannot record the growth of the %s hugetlb pool: %s", label, lerr.msg);
	hugepool_path(p->page_bytes, "nr_hugepages", p->path, sizeof(p->path));
	hugepool_path(p->page_bytes, "surplus_hugepages", p->surplus_path, sizeof(p->surplus_path));
	ledger_record_path(self, p->page_bytes / 1024, p->record, sizeof(p->record));
	p->owner = self;
	/* The handler may run as soon as changed is set: paths first. */
	atomic_signal_fence(memory_order_seq_cst);
	p->changed = 1;

	char value[32];
	snprintf(value, sizeof(value), "%ld", want);
	int werr = write_string_file(path, value) != 0 ? errno : 0;
	/* The write succeeds even when the kernel finds fewer free contiguous
	 * blocks than asked for: the only truth is what the pool now holds. */
	struct hugepool_state now;
	int rerr = hugepool_read(p->page_bytes, &now);
	long grown = rerr == 0 && now.total > st.total ? now.total - st.total : 0;
	p->grown += grown;
	long got = rerr == 0 ? now.free - now.resv : 0;
	int rc = 0;
	if (werr)
		rc = nb_skip(err, "cannot grow the %s hugetlb pool to %ld pages: writing %s failed: %s", label, want,
			     path, strerror(werr));
	else if (rerr)
		rc = nb_fail(err, "cannot re-read the %s hugetlb pool after growing it", label);
	else if (got < 0 || (size_t)got < npages)
		rc = nb_skip(err,
			     "the kernel could only provide %ld of %zu %s hugetlb pages (physical memory is too "
			     "fragmented or too small); free memory, try echo 1 > /proc/sys/vm/compact_memory, or "
			     "reserve them at boot (hugepagesz=%s hugepages=N on the kernel command line)",
			     got > 0 ? got : 0, npages, label, label);
	if (rc != 0 && grown > 0) {
		/* Give back what this attempt added, at once. */
		shrink_pool(p->path, p->surplus_path, grown);
		p->grown -= grown;
	}
	if (ledger_write(self, start, p->page_bytes / 1024, p->grown, &lerr) != 0 && rc == 0)
		nb_warn("%s", lerr.msg);
	if (p->grown == 0)
		p->changed = 0;
	return rc;
}

int hugepool_reserve(size_t page_bytes, size_t npages, nb_error *err)
{
	char label[16], path[256];
	size_label(page_bytes, label, sizeof(label));
	hugepool_path(page_bytes, "nr_hugepages", path, sizeof(path));
	struct pool *p = pool_of(page_bytes);
	struct hugepool_state st;
	if (!p || hugepool_read(page_bytes, &st) != 0)
		return nb_skip(err, "this kernel has no %s hugetlb pool (%s is missing)", label, path);
	long avail = st.free - st.resv;
	if (npages > (size_t)(LONG_MAX / 2))
		return nb_skip(err, "%zu %s hugetlb pages is more than any pool can hold", npages, label);
	if (access(path, W_OK) != 0) {
		if (avail >= 0 && (size_t)avail >= npages)
			return 0; /* not ours to grow, but enough is there */
		long want = st.total + ((long)npages - (avail > 0 ? avail : 0));
		return nb_skip(err,
			       "the %s hugetlb pool has %ld free of %ld pages, %zu needed, and cannot be grown here (%s); "
			       "as root run: echo %ld > %s",
			       label, avail > 0 ? avail : 0, st.total, npages, strerror(errno), want, path);
	}
	hugepool_install_cleanup();
	nb_error lerr;
	int fd = ledger_open(&lerr);
	if (fd < 0)
		return nb_skip(err, "cannot grow the %s hugetlb pool safely: %s", label, lerr.msg);
	/* No cleanup signal in this thread while the lock is held and the pool
	 * and its record are half-updated. */
	sigset_t block, old;
	cleanup_sigset(&block);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int rc;
	if (flock(fd, LOCK_EX) != 0)
		rc = nb_skip(err, "cannot lock %s/lock: %s", ledger_dir(), strerror(errno));
	else {
		rc = grow_locked(p, label, path, npages, err);
		flock(fd, LOCK_UN);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

size_t hugepool_left_behind(size_t page_bytes, struct ledger_entry *out, size_t max)
{
	struct ledger_entry e[LEDGER_MAX_ENTRIES];
	size_t n = ledger_scan(page_bytes / 1024, e, ARRAY_SIZE(e)), k = 0;
	for (size_t i = 0; i < n && k < max; i++)
		if (!e[i].alive)
			out[k++] = e[i];
	return k;
}

int hugepool_cleanup(FILE *out, nb_error *err)
{
	struct ledger_entry e[LEDGER_MAX_ENTRIES];
	size_t n = ledger_scan(0, e, ARRAY_SIZE(e)), stale = 0;
	for (size_t i = 0; i < n; i++)
		stale += !e[i].alive;
	if (!stale) {
		fprintf(out, "nothing to give back: no hugetlb pages left by runs that did not finish\n");
		return 0;
	}
	int fd = ledger_open(err);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX) != 0)
		return nb_fail(err, "cannot lock %s/lock: %s", ledger_dir(), strerror(errno));
	/* Scan again under the lock: another cleanup may have been faster. */
	n = ledger_scan(0, e, ARRAY_SIZE(e));
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (e[i].alive) {
			fprintf(out, "left alone: %ld pages of the %zukB pool belong to a running nestbench (pid %d)\n",
				e[i].pages, e[i].page_kb, (int)e[i].pid);
			continue;
		}
		char nr[256], sur[256], label[16];
		size_t page = e[i].page_kb * 1024;
		format_size(page, label, sizeof(label));
		hugepool_path(page, "nr_hugepages", nr, sizeof(nr));
		hugepool_path(page, "surplus_hugepages", sur, sizeof(sur));
		if (access(nr, W_OK) != 0) {
			rc = nb_fail(err, "cannot give back %ld %s hugetlb pages left by pid %d: %s is not writable "
				     "(%s; run as root)", e[i].pages, label, (int)e[i].pid, nr, strerror(errno));
			break;
		}
		long before = raw_read_long(nr);
		shrink_pool(nr, sur, e[i].pages);
		if (unlink(e[i].path) != 0 && errno != ENOENT) {
			rc = nb_fail(err, "cannot remove %s: %s", e[i].path, strerror(errno));
			break;
		}
		fprintf(out, "gave back %ld %s hugetlb pages left by a run that did not finish (pid %d): "
			"the pool went from %ld to %ld pages\n", e[i].pages, label, (int)e[i].pid, before, raw_read_long(nr));
	}
	flock(fd, LOCK_UN);
	return rc;
}

static json_t *pool_json(size_t page_bytes)
{
	struct hugepool_state st;
	if (hugepool_read(page_bytes, &st) != 0)
		return json_null();
	return json_pack("{s:I, s:I}", "total", (json_int_t)st.total, "free", (json_int_t)st.free);
}

json_t *hugepool_json(void)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(pools); i++) {
		json_t *v = pool_json(pools[i].page_bytes);
		if (!v || json_object_set_new(o, pools[i].label, v) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}
