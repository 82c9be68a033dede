/* test_ptupdate.c - page-table-update kernels at smoke size: what the
 * software counters prove (one fault per page populated, none where pages
 * stay resident), verified backings, children reaped, and the skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/childguard.h"
#include "ci/unit/kernel_run.h"
#include "harness/mem/hugepool.h"
#include "bench/kutil.h"
#include "ci/unit/components_check.h"
#include "core/tsc.h"

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

/* fault's components: first touch minus rewrite is the net, zeroing and the
 * fault path apart; and the phase counters: every page of the first touch
 * faulted exactly once (warm-up included: 4 samples), none after. */
static void assert_fault_parts(const struct krun *r, uint64_t iters, json_int_t pages_per_map)
{
	const json_t *c = assert_components(r->params, "first_touch", "rewrite", 1, "ns_per_fault", 4, iters);
	double net = json_number_value(json_object_get(json_object_get(c, "net"), "value"));
	double zero = comp_part(c, "zeroing"), path = comp_part(c, "fault_path");
	assert_true(json_is_false(json_object_get(json_object_get(json_object_get(c, "parts"), "fault_path"),
						  "measured")));
	assert_true(fabs(path - (net - zero)) <= 1e-6 * (fabs(net) + fabs(zero)) + 1e-9);
	const json_t *ph = json_object_get(r->params, "phase_faults");
	assert_int_equal(json_integer_value(json_object_get(ph, "pages")), 4 * iters);
	assert_int_equal(json_integer_value(json_object_get(ph, "pages_per_map")), pages_per_map);
	if (json_is_integer(json_object_get(ph, "first_touch_faults"))) {
		assert_int_equal(json_integer_value(json_object_get(ph, "first_touch_faults")), 4 * iters);
		assert_int_equal(json_integer_value(json_object_get(ph, "after_faults")), 0);
	}
	json_t *proof = json_object_get(r->params, "counter_proof");
	assert_int_equal(json_array_size(proof), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(proof, 0), "verdict")), "holds");
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
	assert_fault_parts(&r, 1000, 512);
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
	assert_fault_parts(&r, 4, 2);
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
	/* The region's share: forks with it minus forks with it MADV_DONTFORK. */
	assert_components(r.params, "fork", "fork_without_region", 1, "ns_per_fork", 4, 3);
	krun_free(&r);
}

/* What the children copied per fault, and their own fault count of exactly
 * the timed writes: one per page written.  thp: the PMD was split. */
static void assert_cow_copy(const struct krun *r, double bytes, int thp)
{
	json_t *cc = json_object_get(r->params, "cow_copy");
	if (!json_is_number(json_object_get(cc, "copied_bytes_per_fault")))
		fail_msg("no copied bytes: %s", json_dumps(cc, 0));
	assert_true(json_number_value(json_object_get(cc, "copied_bytes_per_fault")) == bytes);
	json_t *tf = json_object_get(cc, "timed_faults_per_fault");
	if (json_is_number(tf))
		assert_true(json_number_value(tf) == 1.0);
	/* thp_split_pmd is system-wide: others may split too, never fewer. */
	if (thp)
		assert_true(json_number_value(json_object_get(cc, "thp_splits_per_fault")) >= 1.0);
	if (krun_flagged(r, "contradict"))
		fail_msg("flags: %s", json_dumps(r->flags, 0));
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
	assert_cow_copy(&r, 4096, 0);
	krun_free(&r);
}

/* On THP a child's write to a shared huge page splits the PMD and copies one
 * 4K page: counted in the child, not assumed from the page size. */
static void test_fork_cow_thp(void **state)
{
	(void)state;
	struct krun r;
	run_or_skip("fork-cow", BACKING_THP, 4 * MB, &opt1, 2, &r);
	if (json_integer_value(json_object_get(r.backing, "verified_page_bytes")) != (json_int_t)(2 * MB)) {
		krun_free(&r);
		skip_because("no transparent huge page could be had right now");
	}
	assert_no_children();
	assert_cow_copy(&r, 4096, 1);
	assert_int_equal(json_real_value(json_object_get(json_object_get(r.params, "cow_copy"), "page_bytes_written")),
			 2 * MB);
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
	/* T minus the same pairs in a one-PU helper process: the IPI share. */
	const json_t *c = assert_components(r.params, "mprotect_pair", "mprotect_pair_alone", 1, "ns_per_mprotect_pair",
					    4, 50);
	assert_true(json_is_number(json_object_get(c, "baseline_tlb_shootdown_irqs_per_op")) ||
		    json_is_null(json_object_get(c, "baseline_tlb_shootdown_irqs_per_op")));
	assert_no_children();
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
	assert_components(r.params, "mprotect_pair", "mprotect_pair_alone", 1, "ns_per_mprotect_pair", 4, 20);
	krun_free(&r);
	assert_no_children();
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
	json_t *proof = json_object_get(ctx.params, "counter_proof");
	assert_int_equal(json_array_size(proof), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(proof, 0), "verdict")), "holds");
	assert_string_equal(json_string_value(json_object_get(json_array_get(proof, 1), "verdict")), "contradicted");
	assert_string_equal(json_string_value(json_object_get(json_array_get(proof, 3), "verdict")), "not counted");
	/* User-mode-only counting: a context-switch claim cannot be proved... */
	counts[SWC_CONTEXT_SWITCHES] = UINT64_MAX;
	ku_claim_mode(&ctx, counts, SWC_CONTEXT_SWITCHES, 100, 2, 3, "two switches", 0);
	json_t *e = json_array_get(proof, 4);
	assert_string_equal(json_string_value(json_object_get(e, "verdict")), "cannot prove");
	assert_true(json_is_false(json_object_get(e, "kernel_included")));
	assert_non_null(strstr(json_string_value(json_object_get(e, "why")), "kernel included: false, cannot prove"));
	/* ... while user-mode faults still count, and say the kernel was excluded. */
	counts[SWC_PAGE_FAULTS] = 100;
	ku_claim_mode(&ctx, counts, SWC_PAGE_FAULTS, 100, 1, 1, "one per page", 0);
	e = json_array_get(proof, 5);
	assert_string_equal(json_string_value(json_object_get(e, "verdict")), "holds");
	assert_true(json_is_false(json_object_get(e, "kernel_included")));
	assert_int_equal(json_array_size(ctx.flags), 2);
	json_decref(ctx.params);
	json_decref(ctx.flags);
}

/* The components of synthetic parts: net = (gross - baseline) * scale, and
 * kept only for the samples of the latest iteration count. */
static void test_components(void **state)
{
	(void)state;
	struct kernel_ctx ctx = {.params = json_object(), .flags = json_array()};
	static struct ku_parts p;
	unsigned g = ku_parts_add(&p, "gross", "the operation"), b = ku_parts_add(&p, "base", "without it");
	ku_parts_begin(&p, 8); /* a calibration sample, forgotten */
	ku_parts_time(&p, g, 999999, 8);
	ku_parts_time(&p, b, 1, 8);
	for (int i = 0; i < 3; i++) {
		ku_parts_begin(&p, 100);
		/* The last sample was preempted: the medians do not move. */
		ku_parts_time(&p, g, i == 2 ? 300000 : 3000, 100);
		ku_parts_time(&p, b, 1000, 100);
	}
	assert_int_equal(p.samples, 3);
	ku_components(&ctx, &p, g, b, 0.5, "switch", "ns_per_switch", "one switch", "synthetic");
	const json_t *c = assert_components(ctx.params, "gross", "base", 0.5, "ns_per_switch", 3, 100);
	double tpn = tsc_ticks_per_ns();
	assert_true(fabs(comp_part(c, "gross") - 30 / tpn) < 1e-9 * 30 / tpn + 1e-12);
	double paired = json_number_value(json_object_get(json_object_get(c, "net"), "paired_median"));
	assert_true(fabs(paired - 10 / tpn) < 1e-9 * 10 / tpn + 1e-12);
	ku_components_derive(&ctx, "rest", "net", "base", "net minus base");
	assert_true(fabs(comp_part(c, "rest") - (10 / tpn - 10 / tpn)) < 1e-9);
	/* A second call (a counting pass) keeps the first. */
	static struct ku_parts q;
	ku_parts_add(&q, "other", "x");
	ku_parts_add(&q, "other2", "y");
	ku_parts_begin(&q, 1);
	ku_components(&ctx, &q, 0, 1, 1, "x", "ns_per_x", "x", "x");
	assert_string_equal(json_string_value(json_object_get(json_object_get(ctx.params, "components"), "gross")),
			    "gross");
	json_decref(ctx.params);
	json_decref(ctx.flags);
}

/* smaps of a VMA: the private bytes a COW child copied, and the VMA found by address. */
static void test_vma_mem(void **state)
{
	(void)state;
	const char *text = "7f0000000000-7f0000400000 rw-p 00000000 00:00 0 \n"
			   "Size:               4096 kB\n"
			   "Rss:                4096 kB\n"
			   "Shared_Dirty:       4092 kB\n"
			   "Private_Dirty:         4 kB\n"
			   "AnonHugePages:      2048 kB\n"
			   "Private_Hugetlb:       0 kB\n"
			   "7f0000400000-7f0000600000 rw-p 00000000 00:00 0 \n"
			   "Rss:                   0 kB\n"
			   "Private_Dirty:      2048 kB\n";
	struct ku_vma_mem m;
	assert_int_equal(ku_vma_mem_parse(text, 0x7f0000001000, &m), 0);
	assert_int_equal(m.rss_bytes, 4096 * 1024);
	assert_int_equal(m.private_dirty_bytes, 4096);
	assert_int_equal(m.anon_huge_bytes, 2 * MB);
	assert_int_equal(ku_vma_mem_parse(text, 0x7f0000400000, &m), 0);
	assert_int_equal(m.private_dirty_bytes, 2 * MB);
	assert_int_equal(ku_vma_mem_parse(text, 0x1000, &m), -1);
	/* And this process's own: a private page it wrote, a VMA of its own
	 * between two inaccessible pages (no merging with a neighbour). */
	char *g = mmap(NULL, 3 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g != MAP_FAILED);
	char *pg = g + 4096;
	assert_int_equal(mprotect(pg, 4096, PROT_READ | PROT_WRITE), 0);
	pg[0] = 1;
	assert_int_equal(ku_vma_mem(pg, &m), 0);
	assert_int_equal(m.private_dirty_bytes, 4096);
	munmap(g, 3 * 4096);
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
		cmocka_unit_test(test_fork_cow_thp),
		cmocka_unit_test(test_shootdown),
		cmocka_unit_test(test_skips),
		cmocka_unit_test(test_claim),
		cmocka_unit_test(test_components),
		cmocka_unit_test(test_vma_mem),
	};
	hugepool_install_cleanup();
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	hugepool_restore_all();
	return rc;
}
