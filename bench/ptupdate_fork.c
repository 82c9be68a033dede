/* ptupdate_fork.c - fork and copy-on-write kernels: `fork` and `fork-cow`.
 *
 * A process holds a populated region of the requested backing and forks:
 * fork copies its page tables and write-protects them (a page-table update
 * per page under shadow paging); the child's first write to each page is a
 * copy-on-write fault.  Children are made through childguard (reaped on
 * every path, SIGINT included) and waited for under the watchdog.
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
	volatile uint64_t *slot;   /* fork-cow: the child's ticks, in a shared page */
};

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

static int fork_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	(void)ctx;
	watchdog_arm(CHILDGUARD_TIMEOUT_S);
	int rc = 0;
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < iters && !rc; i++) {
		pid_t pid = childguard_fork(err);
		if (pid == 0)
			_exit(0);
		rc = pid < 0 ? -1 : reap(pid, "fork", err);
	}
	uint64_t t1 = tsc_end();
	watchdog_disarm();
	*ticks = t1 - t0;
	return rc;
}

const struct kernel_desc kernel_fork = {
	.name = "fork",
	.family = "ptupdate",
	.metric = "ns_per_fork",
	.summary = "fork a process holding a populated region; the child exits at once (page-table copy)",
	.params_help = "--size: region held (whole pages of the backing)",
	.flags = 0,
	.setup = fork_setup,
	.sample = fork_sample,
	.teardown = fork_teardown,
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
	ctx->alt_metric = "ns_per_mib";
	ctx->alt_per_op = KU_MIB / (double)ku_page_bytes(ctx->backing_json, ctx->backing);
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
static int cow_sample(struct kernel_ctx *ctx, uint64_t iters, uint64_t *ticks, nb_error *err)
{
	struct fork_state *st = ctx->priv;
	uint64_t total = 0;
	int rc = 0;
	watchdog_arm(CHILDGUARD_TIMEOUT_S);
	while (iters && !rc) {
		size_t n = iters < st->cow_pages ? (size_t)iters : st->cow_pages;
		*st->slot = UINT64_MAX;
		pid_t pid = childguard_fork(err);
		if (pid == 0) {
			uint64_t t0 = tsc_begin();
			ku_write_pages(st->buf.base, n * st->page_bytes, st->page_bytes);
			uint64_t t1 = tsc_end();
			*st->slot = t1 - t0;
			_exit(0);
		}
		if (pid < 0 || reap(pid, "fork-cow", err)) {
			rc = -1;
			break;
		}
		if (*st->slot == UINT64_MAX)
			rc = nb_fail(err, "fork-cow: the child left no result");
		total += *st->slot;
		iters -= n;
	}
	watchdog_disarm();
	*ticks = total;
	return rc;
}

static void cow_check(struct kernel_ctx *ctx, const uint64_t *counts, uint64_t ops)
{
	/* Each timed write faults; fork and exit add a few faults per child
	 * (its stack, libc data), hence the loose upper bound. */
	json_int_t per_fork = json_integer_value(json_object_get(ctx->params, "cow_pages_per_fork"));
	double forks_per_op = per_fork > 0 ? 1.0 / (double)per_fork : 1.0;
	ku_claim(ctx, counts, SWC_PAGE_FAULTS, ops, 1, 1 + 64 * forks_per_op,
		 "one copy-on-write fault per page the child writes");
}

static void cow_teardown(struct kernel_ctx *ctx)
{
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
	.summary = "copy-on-write faults: a forked child writes pages of its parent's populated region",
	.params_help = "--size: region (whole pages of the backing); --cow-pages: pages written per fork",
	.flags = KERNEL_COUNTS_CHILDREN,
	.setup = cow_setup,
	.sample = cow_sample,
	.teardown = cow_teardown,
	.check = cow_check,
	.default_sizes = {1, {2 * MB}},
	.opts = cow_opts,
};
