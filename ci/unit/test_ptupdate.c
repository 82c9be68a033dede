/* test_ptupdate.c - page-table-update kernels at smoke size: what the
 * software counters prove (one fault per page populated, none where pages
 * stay resident), verified backings, children reaped, and the skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/childguard.h"
#include "ci/unit/kernel_run.h"
#include "harness/mem/hugepool.h"
#include "bench/kutil.h"

#define MB ((size_t)1 << 20)

static const struct kernel_options opt1 = {.threads = 1};

static void skip_because(const char *why)
{
	print_message("skipped: %s\n", why);
	skip();
}

/* Run a kernel or skip the test when its backing cannot be had here. */
static void run_or_skip(const char *name, enum backing_kind b, size_t ws, const struct kernel_options *opt,
			uint64_t iters, struct krun *r)
{
	krun(name, b, ws, opt, iters, 3, r);
	if (r->rc == 1) {
		char why[600];
		snprintf(why, sizeof(why), "%s on %s: %s", name, backing_name(b), r->err.msg);
		krun_free(r);
		skip_because(why);
	}
	if (r->rc != 0)
		fail_msg("%s on %s: %s", name, backing_name(b), r->err.msg);
	if (r->counts[SWC_PAGE_FAULTS] == UINT64_MAX) {
		krun_free(r);
		skip_because("software counters unavailable");
	}
}

static void assert_verified(const struct krun *r, size_t page)
{
	json_int_t got = json_integer_value(json_object_get(r->backing, "verified_page_bytes"));
	if ((size_t)got != page)
		print_message("note: got %lld-byte pages, asked for %zu\n", (long long)got, page);
	assert_int_equal(got, page);
}

static void assert_no_contradiction(const struct krun *r)
{
	if (krun_flagged(r, "contradict"))
		fail_msg("flags: %s", json_dumps(r->flags, 0));
	assert_int_equal(r->counts[SWC_CPU_MIGRATIONS], 0);
}

/* One page fault per page populated: 4K pages one per 4K ... */
static void test_fault_4k(void **state)
{
	(void)state;
	struct krun r;
	run_or_skip("fault", BACKING_4K, 2 * MB, &opt1, 1000, &r);
	assert_verified(&r, 4096);
	assert_true(r.counts[SWC_PAGE_FAULTS] >= r.ops);
	assert_true(r.counts[SWC_PAGE_FAULTS] <= r.ops + 16);
	assert_int_equal(r.counts[SWC_MAJOR_FAULTS], 0);
	assert_no_contradiction(&r);
	krun_free(&r);
}

/* ... and one per 2M page, although every 4K of it is written. */
static void test_fault_thp(void **state)
{
	(void)state;
	struct krun r;
	run_or_skip("fault", BACKING_THP, 4 * MB, &opt1, 4, &r);
	if (json_integer_value(json_object_get(r.backing, "verified_page_bytes")) != (json_int_t)(2 * MB)) {
		krun_free(&r);
		skip_because("no transparent huge page could be had right now");
	}
	assert_true(r.counts[SWC_PAGE_FAULTS] >= r.ops);
	assert_true(r.counts[SWC_PAGE_FAULTS] <= r.ops + 16);
	assert_no_contradiction(&r);
	krun_free(&r);
}

static void test_fault_hugetlb(void **state)
{
	(void)state;
	struct krun r;
	run_or_skip("fault", BACKING_HUGETLB_2M, 2 * MB, &opt1, 3, &r);
	assert_verified(&r, 2 * MB);
	assert_true(r.counts[SWC_PAGE_FAULTS] >= r.ops);
	assert_true(r.counts[SWC_PAGE_FAULTS] <= r.ops + 16);
	assert_no_contradiction(&r);
	krun_free(&r);
}

static void test_mmap_munmap(void **state)
{
	(void)state;
	struct krun r;
	run_or_skip("mmap-munmap", BACKING_4K, 2 * MB, &opt1, 2, &r);
	assert_verified(&r, 4096);
	assert_true(r.counts[SWC_PAGE_FAULTS] >= 512 * r.ops);
	assert_true(r.counts[SWC_PAGE_FAULTS] <= 512 * r.ops + 16);
	assert_no_contradiction(&r);
	krun_free(&r);
}

/* Protection flips and reads: no faults at all. */
static void test_mprotect(void **state)
{
	(void)state;
	struct krun r;
	run_or_skip("mprotect", BACKING_4K, 2 * MB, &opt1, 20, &r);
	assert_verified(&r, 4096);
	assert_true(r.counts[SWC_PAGE_FAULTS] <= 16);
	assert_no_contradiction(&r);
	krun_free(&r);
}

static void test_madvise_dontneed(void **state)
{
	(void)state;
	struct krun r;
	run_or_skip("madvise-dontneed", BACKING_4K, 2 * MB, &opt1, 2, &r);
	assert_true(r.counts[SWC_PAGE_FAULTS] >= 512 * r.ops);
	assert_true(r.counts[SWC_PAGE_FAULTS] <= 512 * r.ops + 16);
	assert_no_contradiction(&r);
	krun_free(&r);
}

static void assert_no_children(void)
{
	assert_int_equal(childguard_count(), 0);
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void test_fork(void **state)
{
	(void)state;
	struct krun r;
	run_or_skip("fork", BACKING_4K, 2 * MB, &opt1, 3, &r);
	assert_verified(&r, 4096);
	assert_no_children();
	krun_free(&r);
}

/* Counted in the children: one copy-on-write fault per page written. */
static void test_fork_cow(void **state)
{
	(void)state;
	struct krun r;
	struct kernel_options o = opt1;
	o.cow_pages = 64;
	run_or_skip("fork-cow", BACKING_4K, 2 * MB, &o, 128, &r);
	assert_int_equal(json_integer_value(json_object_get(r.params, "cow_pages_per_fork")), 64);
	assert_true(r.counts[SWC_PAGE_FAULTS] >= r.ops);
	assert_no_contradiction(&r);
	assert_no_children();
	krun_free(&r);
}

static void test_shootdown(void **state)
{
	(void)state;
	struct krun r;
	run_or_skip("shootdown", BACKING_4K, 4 * MB, &opt1, 50, &r);
	assert_int_equal(json_array_size(json_object_get(r.params, "pus")), 1);
	assert_true(r.counts[SWC_PAGE_FAULTS] <= 16);
	assert_no_contradiction(&r);
	krun_free(&r);

	if (topology_pu_count() < 2)
		skip_because("one PU: no second thread to shoot down");
	struct kernel_options o = opt1;
	o.threads = 2;
	run_or_skip("shootdown", BACKING_4K, 4 * MB, &o, 20, &r);
	json_t *pus = json_object_get(r.params, "pus");
	assert_int_equal(json_array_size(pus), 2);
	assert_int_not_equal(json_integer_value(json_array_get(pus, 0)), json_integer_value(json_array_get(pus, 1)));
	assert_true(r.counts[SWC_PAGE_FAULTS] <= 16);
	assert_int_equal(r.counts[SWC_CPU_MIGRATIONS], 0);
	krun_free(&r);
}

/* Bad input: more threads than PUs, sizes that are not whole pages. */
static void test_skips(void **state)
{
	(void)state;
	struct krun r;
	struct kernel_options o = opt1;
	o.threads = topology_pu_count() + 1;
	assert_int_equal(krun("shootdown", BACKING_4K, 4 * MB, &o, 1, 1, &r), 1);
	assert_non_null(strstr(r.err.msg, "needs"));
	krun_free(&r);
	assert_int_equal(krun("fault", BACKING_HUGETLB_2M, 4096, &opt1, 1, 1, &r), 1);
	assert_non_null(strstr(r.err.msg, "whole number"));
	krun_free(&r);
	assert_int_equal(krun("shootdown", BACKING_4K, 4096, &opt1, 1, 1, &r), 1);
	assert_non_null(strstr(r.err.msg, "at least 2 pages"));
	krun_free(&r);
}

/* The claim check itself: a count outside the claim is flagged. */
static void test_claim(void **state)
{
	(void)state;
	struct kernel_ctx ctx = {.params = json_object(), .flags = json_array()};
	uint64_t counts[SWC_COUNT] = {0};
	counts[SWC_PAGE_FAULTS] = 100;
	ku_claim(&ctx, counts, SWC_PAGE_FAULTS, 100, 1, 1, "one per page");
	assert_int_equal(json_array_size(ctx.flags), 0);
	ku_claim(&ctx, counts, SWC_PAGE_FAULTS, 200, 1, 1, "one per page");
	assert_int_equal(json_array_size(ctx.flags), 1);
	counts[SWC_PAGE_FAULTS] = 51200;
	ku_claim(&ctx, counts, SWC_PAGE_FAULTS, 100, 1, 1, "one per page");
	assert_int_equal(json_array_size(ctx.flags), 2);
	assert_true(json_real_value(json_object_get(ctx.params, "page_faults_per_op")) == 512.0);
	counts[SWC_PAGE_FAULTS] = UINT64_MAX;
	ku_claim(&ctx, counts, SWC_PAGE_FAULTS, 100, 1, 1, "one per page");
	assert_int_equal(json_array_size(ctx.flags), 2);
	assert_true(json_is_null(json_object_get(ctx.params, "page_faults_per_op")));
	json_decref(ctx.params);
	json_decref(ctx.flags);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_4k),
		cmocka_unit_test(test_fault_thp),
		cmocka_unit_test(test_fault_hugetlb),
		cmocka_unit_test(test_mmap_munmap),
		cmocka_unit_test(test_mprotect),
		cmocka_unit_test(test_madvise_dontneed),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_fork_cow),
		cmocka_unit_test(test_shootdown),
		cmocka_unit_test(test_skips),
		cmocka_unit_test(test_claim),
	};
	hugepool_install_cleanup();
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	hugepool_restore_all();
	return rc;
}
