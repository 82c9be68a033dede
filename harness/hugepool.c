/* hugepool.c - grow hugetlb pools for a run and put them back on exit, error and signal.
 *
 * Signal handling: for SIGINT, SIGTERM and SIGHUP the handler writes the
 * saved nr_hugepages values back (open/write/close only, with strings
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
#include "hugepool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#define HUGEPAGES_DIR "/sys/kernel/mm/hugepages"

static const char *pools_root = HUGEPAGES_DIR;

struct pool {
	size_t page_bytes;
	const char *label;
	/* Everything the signal handler needs, formatted before it can run. */
	char path[256];             /* .../nr_hugepages */
	char value[32];             /* original nr_hugepages, decimal */
	size_t value_len;
	long original;
	volatile sig_atomic_t changed;
	volatile pid_t owner;       /* the process that changed it */
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

/* Async-signal-safe: open, write, close and getpid only. */
static void restore_pool(struct pool *p)
{
	if (!p->changed || p->owner != getpid())
		return;
	int fd = open(p->path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = write(fd, p->value, p->value_len);
		(void)n; /* nothing better to do in a handler or at exit */
		close(fd);
	}
	p->changed = 0;
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
		sigemptyset(&sa.sa_mask);
		/* No other cleanup signal may interrupt the restore half-way. */
		for (size_t j = 0; j < ARRAY_SIZE(cleanup_signals); j++)
			sigaddset(&sa.sa_mask, cleanup_signals[j]);
		sigaction(cleanup_signals[i], &sa, NULL);
	}
}

/* Remember the size to go back to, before the first write to this pool. */
static void record_original(struct pool *p, const struct hugepool_state *st)
{
	if (p->changed && p->owner == getpid())
		return;
	/* Surplus pages are overcommit, not part of the persistent size the
	 * administrator set; writing them back would make them persistent. */
	p->original = st->total - st->surplus;
	hugepool_path(p->page_bytes, "nr_hugepages", p->path, sizeof(p->path));
	int n = snprintf(p->value, sizeof(p->value), "%ld", p->original);
	p->value_len = n > 0 ? (size_t)n : 0;
	p->owner = getpid();
	/* The handler may run as soon as changed is set: path and value first. */
	atomic_signal_fence(memory_order_seq_cst);
	p->changed = 1;
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
	/* Free pages already promised to existing mappings are not ours to take. */
	long avail = st.free - st.resv;
	if (avail >= 0 && (size_t)avail >= npages)
		return 0;
	if (npages > (size_t)(LONG_MAX / 2))
		return nb_skip(err, "%zu %s hugetlb pages is more than any pool can hold", npages, label);
	long want = st.total + ((long)npages - (avail > 0 ? avail : 0));
	if (access(path, W_OK) != 0)
		return nb_skip(err,
			       "the %s hugetlb pool has %ld free of %ld pages, %zu needed, and cannot be grown here (%s); "
			       "as root run: echo %ld > %s",
			       label, avail > 0 ? avail : 0, st.total, npages, strerror(errno), want, path);

	hugepool_install_cleanup();
	record_original(p, &st);
	char value[32];
	snprintf(value, sizeof(value), "%ld", want);
	if (write_string_file(path, value) != 0) {
		int e = errno;
		restore_pool(p);
		return nb_skip(err, "cannot grow the %s hugetlb pool to %ld pages: writing %s failed: %s", label, want,
			       path, strerror(e));
	}
	/* The write succeeds even when the kernel finds fewer free contiguous
	 * blocks than asked for: the only truth is what the pool now holds. */
	struct hugepool_state now;
	if (hugepool_read(page_bytes, &now) != 0) {
		restore_pool(p);
		return nb_fail(err, "cannot re-read the %s hugetlb pool after growing it", label);
	}
	long got = now.free - now.resv;
	if (got < 0 || (size_t)got < npages) {
		restore_pool(p);
		return nb_skip(err,
			       "the kernel could only provide %ld of %zu %s hugetlb pages (physical memory is too "
			       "fragmented or too small); free memory, try echo 1 > /proc/sys/vm/compact_memory, or "
			       "reserve them at boot (hugepagesz=%s hugepages=N on the kernel command line)",
			       got > 0 ? got : 0, npages, label, label);
	}
	return 0;
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
