/* ptupdate_fork.c - fork and copy-on-write kernels: `fork` and `fork-cow`.
 *
 * A process holds a populated region of the requested backing and forks:
 * fork copies its page tables and write-protects them (a page-table update
 * per page under shadow paging); the child's first write to each page is a
 * copy-on-write fault.  Children are made through childguard (reaped on
 * every path, SIGINT included) and waited for under the watchdog.
 *
 * fork: every sample also times the same forks with the region marked
 * MADV_DONTFORK (fork copies nothing of it): the region's share of a fork,
 * its page-table copy and the child's teardown of it, is the difference,
 * in params.components.  fork-cow: what Linux really copies per fault is
 * measured in the child from its smaps (the private bytes the writes made,
 * AnonHugePages before and after) and the system's thp_split_pmd count: a
 * write to a shared THP splits the PMD and copies one 4K page, not 2 MiB.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/childguard.h"
#include "bench/kutil.h"
#include "core/tsc.h"

#define MB ((size_t)1 << 20)

struct fork_state {
	struct buffer buf;
	size_t page_bytes;
	size_t pages;
	size_t cow_pages;          /* fork-cow: pages written per fork */
	volatile uint64_t *slot;   /* fork-cow: the child's results, in a shared page (enum slot_index) */
	struct ku_parts parts;     /* fork: with the region, without it */
	unsigned p_fork, p_empty;
	/* fork-cow: what the measured children copied (the first fork of each kept sample) */
	uint64_t cow_iters, cow_faults, cow_copied, cow_huge_before, cow_huge_after, cow_splits, cow_forks;
	uint64_t cow_timed_faults; /* faults the measured children counted in their timed writes (UINT64_MAX: unknown) */
	int cow_unmeasured;        /* smaps or vmstat could not be read in a child */
};

/* What a fork-cow child leaves in the shared page. */
enum slot_index { SLOT_TICKS, SLOT_MEASURED, SLOT_COPIED, SLOT_HUGE_BEFORE, SLOT_HUGE_AFTER, SLOT_SPLITS, SLOT_FAULTS };

static int fork_setup_common(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = ku_size_fits(ctx, ctx->working_set_bytes, err);
	if (rc)
		return rc;
	struct fork_state *st = calloc(1, sizeof(*st));
	if (!st)
		return nb_fail(err, "out of memory");
	ctx->priv = st;
	st->page_bytes = backing_page_bytes(ctx->backing);
	st->pages = ctx->working_set_bytes / st->page_bytes;
	if ((rc = buffer_alloc(&st->buf, ctx->backing, ctx->working_set_bytes, err)) != 0)
		return rc;
	ctx->backing_json = buffer_json(&st->buf);
	json_object_set_new(ctx->params, "region_bytes", json_integer((json_int_t)ctx->working_set_bytes));
	json_object_set_new(ctx->params, "pages", json_integer((json_int_t)st->pages));
	json_object_set_new(ctx->params, "page_bytes", json_integer((json_int_t)st->page_bytes));
	return 0;
}

static void fork_teardown(struct kernel_ctx *ctx)
{
	struct fork_state *st = ctx->priv;
	if (!st)
		return;
	if (st->buf.map_base)
		buffer_free(&st->buf);
	if (st->slot)
		munmap((void *)(uintptr_t)st->slot, KU_4K);
	free(st);
	ctx->priv = NULL;
}

/* Wait for a child and insist it exited 0; a signal (SIGBUS: the hugetlb
 * pool ran dry for a copy) is reported with its name. */
static int reap(pid_t pid, const char *who, nb_error *err)
{
	int status;
	if (childguard_wait(pid, &status, err))
		return -1;
	if (WIFSIGNALED(status))
		return nb_fail(err, "%s: the child died of signal %d (%s)%s", who, WTERMSIG(status),
			       strsignal(WTERMSIG(status)),
			       WTERMSIG(status) == SIGBUS ? "; the hugetlb pool had no page left for a copy" : "");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return nb_fail(err, "%s: the child exited with status %d", who, WEXITSTATUS(status));
	return 0;
}

/* ---- fork: fork + exit + wait with the region mapped ---- */

static int fork_setup_(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = fork_setup_common(ctx, err);
	if (rc)
		return rc;
	json_object_set_new(ctx->params, "op", json_string("fork, child exits at once, parent waits"));
	struct fork_state *st = ctx->priv;
	st->p_fork = ku_parts_add(&st->parts, "fork", "fork, exit and wait with the populated region mapped");
	st->p_empty = ku_parts_add(&st->parts, "fork_without_region",
				   "the same with the region excluded from fork (MADV_DONTFORK): the empty-region fork, "
				   "subtracted");
	return 0;
}

/* A setup that fails or skips leaves nothing behind (threads, children, memory). */
static int fork_setup(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = fork_setup_(ctx, err);
	if (rc && ctx->priv)
		fork_teardown(ctx);
	return rc;
}

/* iters forks, each child exiting at once; 0 or -1. */
static int fork_loop(uint64_t iters, uint64_t *ticks, nb_error *err)
{
	int rc = 0;
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < iters && !rc; i++) {
		pid_t pid = childguard_fork(err);
		if (pid == 0)
			_exit(0);
		rc = pid < 0 ? -1 : reap(pid, "fork", err);
	}
	uint64_t t1 = tsc_end();
	*ticks = t1 - t0;
	return rc;
}

/* The forks with the region, then the same forks with it excluded from
 * fork (MADV_DONTFORK: the child gets no copy of it), untimed between. */
static int fork_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	struct fork_state *st = ctx->priv;
	uint64_t with = 0, without = 0;
	watchdog_arm(CHILDGUARD_TIMEOUT_S);
	int rc = fork_loop(iters, &with, err);
	if (!rc && madvise(st->buf.base, st->buf.bytes, MADV_DONTFORK) != 0)
		rc = nb_fail(err, "fork: madvise(MADV_DONTFORK) failed: %s", strerror(errno));
	if (!rc) {
		rc = fork_loop(iters, &without, err);
		if (madvise(st->buf.base, st->buf.bytes, MADV_DOFORK) != 0 && !rc)
			rc = nb_fail(err, "fork: madvise(MADV_DOFORK) failed: %s", strerror(errno));
	}
	watchdog_disarm();
	if (!rc) {
		ku_parts_begin(&st->parts, iters);
		ku_parts_time(&st->parts, st->p_fork, with, iters);
		ku_parts_time(&st->parts, st->p_empty, without, iters);
	}
	*ticks = with;
	return rc;
}

static void fork_only_teardown(struct kernel_ctx *ctx)
{
	struct fork_state *st = ctx->priv;
	if (st && st->parts.samples)
		ku_components(ctx, &st->parts, st->p_fork, st->p_empty, 1, "region", "ns_per_fork",
			      "the populated region's share of one fork: copying (or, for hugetlb, sharing) its page "
			      "tables and write-protecting them, and the child's teardown of them at exit",
			      "paired in every sample: iters forks with the region (timed), then iters forks with the "
			      "region marked MADV_DONTFORK, so fork copies nothing of it (timed); medians over the "
			      "samples at the final iteration count");
	fork_teardown(ctx);
}

const struct kernel_desc kernel_fork = {
	.name = "fork",
	.family = "ptupdate",
	.metric = "ns_per_fork",
	.summary = "fork a process holding a populated region; the child exits at once (the region's share apart)",
	.params_help = "--size: region held (whole pages of the backing); params.components: fork, "
		       "fork_without_region (MADV_DONTFORK, subtracted), net = the region's share",
	.flags = 0,
	.setup = fork_setup,
	.sample = fork_sample,
	.teardown = fork_only_teardown,
	.default_sizes = {1, {2 * MB}},
};

/* ---- fork-cow: copy-on-write faults in the child ---- */

static int cow_setup_(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = fork_setup_common(ctx, err);
	if (rc)
		return rc;
	struct fork_state *st = ctx->priv;
	st->cow_pages = ctx->opt->cow_pages && ctx->opt->cow_pages < st->pages ? ctx->opt->cow_pages : st->pages;
	if (ctx->opt->cow_pages > st->pages) {
		size_t page = ku_page_bytes(ctx->backing_json, ctx->backing);
		/* On 4k pages no backing has more pages in this region: the
		 * request can never be met.  On larger pages, say it is clamped. */
		if (page <= KU_4K)
			return nb_fail(err, "fork-cow: --cow-pages %u is more than the %zu pages of the region; give at "
				       "most %zu or a larger --size", ctx->opt->cow_pages, st->pages, st->pages);
		json_array_append_new(ctx->flags, json_sprintf("--cow-pages %u clamped to the %zu pages of the region",
							       ctx->opt->cow_pages, st->pages));
	}
	/* The child's copies of hugetlb pages come from the pool, unreserved. */
	if ((rc = ku_reserve(ctx->backing, st->cow_pages, err)) != 0)
		return rc;
	void *slot = mmap(NULL, KU_4K, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slot == MAP_FAILED)
		return nb_fail(err, "fork-cow: cannot map the result page: %s", strerror(errno));
	st->slot = slot;
	/* ns per MiB copied: set from the bytes the children really copied (cow_record). */
	ctx->alt_metric = NULL;
	json_object_set_new(ctx->params, "cow_pages_per_fork", json_integer((json_int_t)st->cow_pages));
	json_object_set_new(ctx->params, "op",
			    json_string("child's first write to a page shared with its parent (timed in the child)"));
	return 0;
}

/* A setup that fails or skips leaves nothing behind (threads, children, memory). */
static int cow_setup(struct kernel_ctx *ctx, nb_error *err)
{
	int rc = cow_setup_(ctx, err);
	if (rc && ctx->priv)
		fork_teardown(ctx);
	return rc;
}

/* iters copy-on-write faults, spread over forks of cow_pages each.  The
 * child times its own writes (the TSC is shared) and leaves the ticks in the
 * shared slot; fork, exit and wait are not timed. */
/* In the child: the region's private (copied) bytes and its THP bytes. */
static int child_vma(const struct fork_state *st, uint64_t *priv, uint64_t *huge)
{
	struct ku_vma_mem m;
	if (ku_vma_mem(st->buf.base, &m))
		return -1;
	*priv = m.private_dirty_bytes + m.private_hugetlb_bytes;
	*huge = m.anon_huge_bytes;
	return 0;
}

/* The child of a measured fork: its copies counted from its smaps and the
 * system's PMD splits around the timed writes (outside the timed region). */
static void cow_child(struct fork_state *st, size_t n, int measure)
{
	uint64_t p0 = 0, h0 = 0, p1 = 0, h1 = 0;
	long long s0 = -1, s1 = -1;
	int ok = measure && child_vma(st, &p0, &h0) == 0 && (s0 = ku_vmstat("thp_split_pmd")) >= 0;
	/* Its own fault counter around exactly the timed writes: the proof
	 * that each page written took one fault, free of fork's and exit's. */
	int fd = ok ? ku_faults_open() : -1;
	ku_fd_enable(fd);
	uint64_t t0 = tsc_begin();
	ku_write_pages(st->buf.base, n * st->page_bytes, st->page_bytes);
	uint64_t t1 = tsc_end();
	ku_fd_disable(fd);
	st->slot[SLOT_FAULTS] = ku_fd_read(fd);
	if (ok)
		ok = child_vma(st, &p1, &h1) == 0 && (s1 = ku_vmstat("thp_split_pmd")) >= 0;
	if (ok) {
		st->slot[SLOT_COPIED] = p1 > p0 ? p1 - p0 : 0;
		st->slot[SLOT_HUGE_BEFORE] = h0;
		st->slot[SLOT_HUGE_AFTER] = h1;
		st->slot[SLOT_SPLITS] = (uint64_t)(s1 - s0);
	}
	st->slot[SLOT_MEASURED] = ok;
	st->slot[SLOT_TICKS] = t1 - t0;
	_exit(0);
}

/* iters copy-on-write faults, spread over forks of cow_pages each.  The
 * child times its own writes (the TSC is shared) and leaves the ticks in the
 * shared slot; fork, exit and wait are not timed.  The first fork of a
 * sample also measures what its child copied. */
static int cow_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	struct fork_state *st = ctx->priv;
	uint64_t total = 0;
	int rc = 0, first = 1;
	if (iters != st->cow_iters) {
		/* Only samples at the final iteration count are kept (calibration is not). */
		st->cow_iters = iters;
		st->cow_faults = st->cow_copied = st->cow_huge_before = st->cow_huge_after = 0;
		st->cow_splits = st->cow_forks = st->cow_timed_faults = 0;
		st->cow_unmeasured = 0;
	}
	watchdog_arm(CHILDGUARD_TIMEOUT_S);
	while (iters && !rc) {
		size_t n = iters < st->cow_pages ? (size_t)iters : st->cow_pages;
		st->slot[SLOT_TICKS] = UINT64_MAX;
		st->slot[SLOT_MEASURED] = 0;
		pid_t pid = childguard_fork(err);
		if (pid == 0)
			cow_child(st, n, first);
		if (pid < 0 || reap(pid, "fork-cow", err)) {
			rc = -1;
			break;
		}
		if (st->slot[SLOT_TICKS] == UINT64_MAX)
			rc = nb_fail(err, "fork-cow: the child left no result");
		total += st->slot[SLOT_TICKS];
		if (first && st->slot[SLOT_MEASURED]) {
			st->cow_forks++;
			st->cow_faults += n;
			st->cow_copied += st->slot[SLOT_COPIED];
			st->cow_huge_before += st->slot[SLOT_HUGE_BEFORE];
			st->cow_huge_after += st->slot[SLOT_HUGE_AFTER];
			st->cow_splits += st->slot[SLOT_SPLITS];
			if (st->slot[SLOT_FAULTS] == UINT64_MAX || st->cow_timed_faults == UINT64_MAX)
				st->cow_timed_faults = UINT64_MAX;
			else
				st->cow_timed_faults += st->slot[SLOT_FAULTS];
		} else if (first) {
			st->cow_unmeasured = 1;
		}
		first = 0;
		iters -= n;
	}
	watchdog_disarm();
	*ticks = total;
	return rc;
}

/* params.cow_copy: what the measured children copied, per COW fault; and
 * ns per MiB copied, from the bytes really copied. */
static void cow_record(struct kernel_ctx *ctx)
{
	struct fork_state *st = ctx->priv;
	if (!st || json_object_get(ctx->params, "cow_copy"))
		return;
	if (!st->cow_forks || !st->cow_faults) {
		ctx->alt_metric = NULL;
		json_object_set_new(ctx->params, "cow_copy",
				    json_pack("{s:n, s:s}", "copied_bytes_per_fault",
					      "unavailable", "the child could not read its smaps or /proc/vmstat"));
		return;
	}
	double per = (double)st->cow_copied / (double)st->cow_faults;
	double faults = (double)st->cow_faults;
	json_object_set_new(ctx->params, "cow_copy",
			    json_pack("{s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:s}", "copied_bytes_per_fault", per,
				      "page_bytes_written", (double)st->page_bytes, "thp_splits_per_fault",
				      (double)st->cow_splits / faults, "anon_huge_bytes_before_per_fork",
				      (double)st->cow_huge_before / (double)st->cow_forks, "faults_measured",
				      (json_int_t)st->cow_faults, "forks_measured", (json_int_t)st->cow_forks,
				      "anon_huge_bytes_after_total", (json_int_t)st->cow_huge_after, "how",
				      "in the first child of each sample at the final iteration count: its private bytes in "
				      "the region's VMA (smaps Private_Dirty + Private_Hugetlb) after its writes minus "
				      "before, /proc/vmstat thp_split_pmd around them (system-wide), and its own page-fault "
				      "counter around exactly the timed writes"));
	json_t *cc = json_object_get(ctx->params, "cow_copy");
	json_object_set_new(cc, "timed_faults_per_fault",
			    st->cow_timed_faults == UINT64_MAX ? json_null()
							       : json_real((double)st->cow_timed_faults / faults));
	json_object_set_new(cc, "kernel_included", json_boolean(swcount_kernel_allowed(NULL, 0)));
	if (st->cow_timed_faults != UINT64_MAX && st->cow_timed_faults != st->cow_faults)
		json_array_append_new(ctx->flags, json_sprintf("counters contradict the claim 'one copy-on-write fault per "
							       "page the child writes': %llu faults in the timed writes "
							       "of %llu pages", (unsigned long long)st->cow_timed_faults,
							       (unsigned long long)st->cow_faults));
	if (per > 0) {
		ctx->alt_metric = "ns_per_mib_copied";
		ctx->alt_per_op = KU_MIB / per;
	} else {
		ctx->alt_metric = NULL;
	}
	if (st->cow_unmeasured)
		json_array_append_new(ctx->flags, json_string("fork-cow: some children could not count what they copied"));
}

static void cow_check(struct kernel_ctx *ctx, const uint64_t *counts, uint64_t ops)
{
	/* Each timed write faults; fork and exit add faults of their own per
	 * child (its stack, libc data; many more under a sanitizer) and the
	 * first child of a sample reading its smaps some more: over the whole
	 * sample only the lower bound is a claim.  The exact count of the timed
	 * writes alone, one per page, is params.cow_copy.timed_faults_per_fault
	 * (flagged in cow_record when it is not). */
	ku_claim(ctx, counts, SWC_PAGE_FAULTS, ops, 1, 1e9,
		 "at least one copy-on-write fault per page the child writes");
}

static void cow_teardown(struct kernel_ctx *ctx)
{
	cow_record(ctx);
	fork_teardown(ctx);
}

/* --cow-pages; checked against --size by `run`, against the region in cow_setup. */
static const struct cli_opt cow_opts[] = {
	{"cow-pages", 0, "N", "fork-cow: pages the child writes per fork (default: all in the region)", CLI_V_WORD,
	 NULL, .type = OPT_T_UINT, .off = offsetof(struct kernel_options, cow_pages),
	 .width = sizeof(((struct kernel_options *)0)->cow_pages), .min = 1, .max = 1ul << 30},
	{NULL, 0, NULL, NULL, CLI_V_NONE, NULL, OPT_DOC_ONLY},
};

const struct kernel_desc kernel_fork_cow = {
	.name = "fork-cow",
	.family = "ptupdate",
	.metric = "ns_per_cow_fault",
	.summary = "copy-on-write faults: a forked child writes pages of its parent's populated region (bytes copied "
		   "measured)",
	.params_help = "--size: region (whole pages of the backing); --cow-pages: pages written per fork",
	.flags = KERNEL_COUNTS_CHILDREN,
	.setup = cow_setup,
	.sample = cow_sample,
	.teardown = cow_teardown,
	.check = cow_check,
	.default_sizes = {1, {2 * MB}},
	.opts = cow_opts,
};
