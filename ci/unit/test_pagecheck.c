/* test_pagecheck.c - smaps parsing on known text, pagemap/kpageflags decoding, and real walks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness/mem/pagecheck.h"

#define KB ((size_t)1024)
#define MB (KB * 1024)

/* Four VMAs: a file mapping, a PMD-mapped THP region, a 4K region right
 * after it, and a 1G hugetlb mapping. */
static const char smaps_text[] =
	"00400000-00452000 r-xp 00000000 08:02 173521                             /usr/bin/true\n"
	"Size:                328 kB\n"
	"KernelPageSize:        4 kB\n"
	"MMUPageSize:           4 kB\n"
	"Rss:                 300 kB\n"
	"Pss:                 300 kB\n"
	"AnonHugePages:         0 kB\n"
	"Shared_Hugetlb:        0 kB\n"
	"Private_Hugetlb:       0 kB\n"
	"THPeligible:    0\n"
	"VmFlags: rd ex mr mw me dw\n"
	"7f0000000000-7f0000400000 rw-p 00000000 00:00 0 \n"
	"Size:               4096 kB\n"
	"KernelPageSize:        4 kB\n"
	"MMUPageSize:           4 kB\n"
	"Rss:                4096 kB\n"
	"AnonHugePages:      4096 kB\n"
	"Shared_Hugetlb:        0 kB\n"
	"Private_Hugetlb:       0 kB\n"
	"THPeligible:    1\n"
	"VmFlags: rd wr mr mw me ac sd hg\n"
	"7f0000400000-7f0000600000 rw-p 00000000 00:00 0 \n"
	"Size:               2048 kB\n"
	"KernelPageSize:        4 kB\n"
	"MMUPageSize:           4 kB\n"
	"Rss:                1024 kB\n"
	"AnonHugePages:         0 kB\n"
	"VmFlags: rd wr mr mw me ac sd nh\n"
	"7f4000000000-7f4080000000 rw-p 00000000 00:0f 1234                       /anon_hugepage (deleted)\n"
	"Size:            2097152 kB\n"
	"KernelPageSize:  1048576 kB\n"
	"MMUPageSize:     1048576 kB\n"
	"Rss:                   0 kB\n"
	"AnonHugePages:         0 kB\n"
	"Shared_Hugetlb:        0 kB\n"
	"Private_Hugetlb: 2097152 kB\n"
	"VmFlags: rd wr mr mw me de ht\n";

static void test_smaps_thp_vma(void **state)
{
	(void)state;
	struct smaps_summary s;
	nb_error err;
	assert_int_equal(smaps_parse(smaps_text, 0x7f0000000000, 0x7f0000400000, &s, &err), 0);
	assert_int_equal(s.vmas, 1);
	assert_int_equal(s.kernel_page_bytes, 4 * KB);
	assert_int_equal(s.mmu_page_bytes, 4 * KB);
	assert_int_equal(s.rss_bytes, 4 * MB);
	assert_int_equal(s.anon_huge_bytes, 4 * MB);
	assert_int_equal(s.hugetlb_bytes, 0);
}

static void test_smaps_overlap_counts_whole_vmas(void **state)
{
	(void)state;
	struct smaps_summary s;
	nb_error err;
	/* Starts inside the THP VMA, ends inside the 4K one: both count in full. */
	assert_int_equal(smaps_parse(smaps_text, 0x7f0000200000, 0x7f0000401000, &s, &err), 0);
	assert_int_equal(s.vmas, 2);
	assert_int_equal(s.rss_bytes, 5 * MB);
	assert_int_equal(s.anon_huge_bytes, 4 * MB);
	/* Touching the end boundary only (end is exclusive) is no overlap. */
	assert_int_equal(smaps_parse(smaps_text, 0x7eff00000000, 0x7f0000000000, &s, &err), 0);
	assert_int_equal(s.vmas, 0);
	assert_int_equal(s.rss_bytes, 0);
	/* A range in a gap. */
	assert_int_equal(smaps_parse(smaps_text, 0x7f1000000000, 0x7f1000001000, &s, &err), 0);
	assert_int_equal(s.vmas, 0);
}

static void test_smaps_hugetlb(void **state)
{
	(void)state;
	struct smaps_summary s;
	nb_error err;
	assert_int_equal(smaps_parse(smaps_text, 0x7f4000000000, 0x7f4080000000, &s, &err), 0);
	assert_int_equal(s.vmas, 1);
	assert_int_equal(s.kernel_page_bytes, 1024 * MB);
	assert_int_equal(s.mmu_page_bytes, 1024 * MB);
	assert_int_equal(s.rss_bytes, 0);
	assert_int_equal(s.hugetlb_bytes, 2048 * MB);
	/* Largest KernelPageSize wins when a range spans several VMAs. */
	assert_int_equal(smaps_parse(smaps_text, 0, UINTPTR_MAX, &s, &err), 0);
	assert_int_equal(s.vmas, 4);
	assert_int_equal(s.kernel_page_bytes, 1024 * MB);
	assert_int_equal(s.rss_bytes, 300 * KB + 5 * MB);
}

static void test_smaps_empty(void **state)
{
	(void)state;
	struct smaps_summary s;
	nb_error err;
	assert_int_equal(smaps_parse("", 0, UINTPTR_MAX, &s, &err), 0);
	assert_int_equal(s.vmas, 0);
}

static void expect_malformed(const char *text, const char *needle)
{
	struct smaps_summary s;
	nb_error err = {{0}};
	assert_int_equal(smaps_parse(text, 0, UINTPTR_MAX, &s, &err), -1);
	if (!strstr(err.msg, needle))
		fail_msg("error '%s' does not mention '%s'", err.msg, needle);
}

static void test_smaps_malformed(void **state)
{
	(void)state;
	expect_malformed("this is not smaps\n", "line 1");
	expect_malformed("Rss: 4 kB\n", "before the first mapping");
	expect_malformed("1000-2000 rw-p 0 00:00 0\nRss: four kB\n", "malformed Rss");
	expect_malformed("1000-2000 rw-p 0 00:00 0\nRss: 4 MB\n", "malformed Rss");
	expect_malformed("1000-2000 rw-p 0 00:00 0\nRss: 4\n", "malformed Rss");
	expect_malformed("1000-2000 rw-p 0 00:00 0\nAnonHugePages: 99999999999999999999999 kB\n",
			 "malformed AnonHugePages");
	/* end before start is no header; then it is no field either */
	expect_malformed("2000-1000 rw-p 0 00:00 0\n", "line 1");
	expect_malformed("1000-2000 rw-p 0 00:00 0\nRss: 4 kB\n: 4 kB\n", "line 3");
	assert_int_equal(smaps_parse(NULL, 0, 1, &(struct smaps_summary){0}, NULL), -1);
}

static void test_pagemap_entry(void **state)
{
	(void)state;
	uint64_t present = UINT64_C(1) << 63;
	assert_true(pagemap_entry_present(present | 0x12345));
	assert_int_equal(pagemap_entry_pfn(present | 0x12345), 0x12345);
	/* bit 55 (soft-dirty) and above are not part of the PFN; bit 54 is */
	uint64_t e = present | (UINT64_C(1) << 55) | (UINT64_C(1) << 54) | 5;
	assert_int_equal(pagemap_entry_pfn(e), (UINT64_C(1) << 54) | 5);
	/* swapped (bit 62) is not present */
	assert_false(pagemap_entry_present(UINT64_C(1) << 62));
	assert_false(pagemap_entry_present(0));
	/* a non-root reader sees present pages with PFN 0 */
	assert_int_equal(pagemap_entry_pfn(present), 0);
}

static void test_kpageflags_bits(void **state)
{
	(void)state;
	assert_true(kpageflags_is_thp(UINT64_C(1) << 22));
	assert_false(kpageflags_is_thp(~(UINT64_C(1) << 22)));
	assert_true(kpageflags_is_huge(UINT64_C(1) << 17));
	assert_false(kpageflags_is_huge(~(UINT64_C(1) << 17)));
	assert_true(kpageflags_is_head(UINT64_C(1) << 15));
	assert_false(kpageflags_is_head(UINT64_C(1) << 16));
	assert_true(kpageflags_is_tail(UINT64_C(1) << 16));
	assert_false(kpageflags_is_tail(UINT64_C(1) << 15));
	assert_false(kpageflags_is_thp(0) || kpageflags_is_huge(0) || kpageflags_is_head(0) || kpageflags_is_tail(0));
}

/* A real anonymous mapping: half its pages touched. */
static void test_self_walks(void **state)
{
	(void)state;
	const size_t pages = 16, len = pages * 4096;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(madvise(m, len, MADV_NOHUGEPAGE), 0);
	for (size_t i = 0; i < pages / 2; i++)
		m[i * 4096] = 1;
	uintptr_t start = (uintptr_t)m, end = start + len;

	struct smaps_summary s;
	nb_error err;
	assert_int_equal(smaps_self(start, end, &s, &err), 0);
	assert_true(s.vmas >= 1);
	assert_int_equal(s.kernel_page_bytes, 4096);
	assert_true(s.rss_bytes >= len / 2);
	assert_int_equal(s.anon_huge_bytes, 0);

	struct pagemap_summary pm;
	int rc = pagemap_self(start, end, &pm, &err);
	assert_int_equal(pm.pages, pages);
	assert_int_equal(pm.present, pages / 2);
	if (geteuid() == 0) {
		assert_int_equal(rc, 0);
		assert_int_equal(pm.pfn_known, pages / 2);
		assert_int_equal(pm.thp, 0);
		assert_int_equal(pm.hugetlb, 0);
		assert_int_equal(pm.in_2m_compound, 0);
	} else {
		assert_int_equal(rc, 1);
		assert_int_equal(pm.pfn_known, 0);
		assert_true(strlen(err.msg) > 0);
	}
	munmap(m, len);
}

/* ---- the measured range's snapshot and comparison ---- */

#define P2M (2u << 20)

static void test_range_classify(void **state)
{
	(void)state;
	struct range_snapshot r;
	/* 4M of THP, both 2M compound pages PMD-mapped. */
	struct pagemap_summary pm = {.pages = 1024, .present = 1024, .pfn_known = 1024, .thp = 1024,
				     .in_2m_compound = 1024, .pfn_digest = 42};
	struct smaps_summary sm = {.vmas = 1, .rss_bytes = 4u << 20, .anon_huge_bytes = 4u << 20};
	range_snapshot_classify(&pm, &sm, 0, 4u << 20, &r);
	assert_string_equal(r.method, "pagemap+kpageflags");
	assert_int_equal(r.verified_page_bytes, P2M);
	assert_int_equal(r.verified_pages, 2);
	assert_float_equal(r.coverage, 1.0, 1e-12);
	/* The same compound pages PTE-mapped (smaps sees no AnonHugePages):
	 * 1024 4K pages to the TLB. */
	sm.anon_huge_bytes = 0;
	range_snapshot_classify(&pm, &sm, 0, 4u << 20, &r);
	assert_int_equal(r.verified_page_bytes, 4096);
	assert_int_equal(r.verified_pages, 1024);
	/* One hugetlb 1G page. */
	struct pagemap_summary g = {.pages = 262144, .present = 262144, .pfn_known = 262144, .hugetlb = 262144,
				    .in_2m_compound = 262144, .in_1g_compound = 262144};
	range_snapshot_classify(&g, NULL, 1, 1u << 30, &r);
	assert_int_equal(r.verified_page_bytes, 1u << 30);
	assert_int_equal(r.verified_pages, 1);
	/* No PFNs (not root): the mapping's smaps. */
	struct smaps_summary h = {.vmas = 1, .kernel_page_bytes = P2M, .hugetlb_bytes = 8u << 20};
	range_snapshot_classify(NULL, &h, 1, 8u << 20, &r);
	assert_string_equal(r.method, "smaps (whole mapping)");
	assert_int_equal(r.verified_pages, 4);
	/* Nothing at all. */
	range_snapshot_classify(NULL, NULL, 0, 4096, &r);
	assert_string_equal(r.method, "none");
	assert_int_equal(r.verified_page_bytes, 0);
}

static int has_event(const json_t *ev, const char *what)
{
	size_t i;
	json_t *e;
	json_array_foreach(ev, i, e)
		if (!strcmp(json_string_value(e), what))
			return 1;
	return 0;
}

static void test_range_compare(void **state)
{
	(void)state;
	struct pagemap_summary pm = {.pages = 1024, .present = 1024, .pfn_known = 1024, .thp = 1024,
				     .in_2m_compound = 1024, .pfn_digest = 42};
	struct smaps_summary sm = {.vmas = 1, .rss_bytes = 4u << 20, .anon_huge_bytes = 4u << 20};
	struct range_snapshot b, a;
	range_snapshot_classify(&pm, &sm, 0, 4u << 20, &b);
	a = b;
	json_t *ev = json_array();
	assert_int_equal(range_snapshot_compare(&b, &a, P2M, ev), 0);
	assert_int_equal(json_array_size(ev), 0);
	/* khugepaged or a partial unmap split one of the two pages. */
	struct smaps_summary split = sm;
	split.anon_huge_bytes = 2u << 20;
	range_snapshot_classify(&pm, &split, 0, 4u << 20, &a);
	assert_int_equal(range_snapshot_compare(&b, &a, P2M, ev), 1);
	assert_true(has_event(ev, "thp_split"));
	assert_true(has_event(ev, "fallback")); /* the range is no longer all 2M */
	json_array_clear(ev);
	/* ... and the reverse is a collapse. */
	assert_int_equal(range_snapshot_compare(&a, &b, P2M, ev), 1);
	assert_true(has_event(ev, "thp_collapse"));
	json_array_clear(ev);
	/* The same sizes on other frames: a migration. */
	struct pagemap_summary moved = pm;
	moved.pfn_digest = 43;
	range_snapshot_classify(&moved, &sm, 0, 4u << 20, &a);
	assert_int_equal(range_snapshot_compare(&b, &a, P2M, ev), 1);
	assert_true(has_event(ev, "migration"));
	assert_false(has_event(ev, "thp_split"));
	json_array_clear(ev);
	/* A 4K range asked for as 2M: a fallback, though nothing changed. */
	struct pagemap_summary small = {.pages = 1024, .present = 1024, .pfn_known = 1024};
	struct smaps_summary nosm = {.vmas = 1, .rss_bytes = 4u << 20};
	range_snapshot_classify(&small, &nosm, 0, 4u << 20, &b);
	assert_int_equal(range_snapshot_compare(&b, &b, P2M, ev), 0);
	assert_true(has_event(ev, "fallback"));
	json_t *j = range_check_json(&b, &b, 4u << 20, P2M);
	assert_int_equal(json_integer_value(json_object_get(j, "verified_pages")), 1024);
	assert_true(json_is_false(json_object_get(j, "changed")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "before"), "on_4k_bytes")), 4u << 20);
	json_decref(j);
	json_decref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smaps_thp_vma),
		cmocka_unit_test(test_smaps_overlap_counts_whole_vmas),
		cmocka_unit_test(test_smaps_hugetlb),
		cmocka_unit_test(test_smaps_empty),
		cmocka_unit_test(test_smaps_malformed),
		cmocka_unit_test(test_pagemap_entry),
		cmocka_unit_test(test_kpageflags_bits),
		cmocka_unit_test(test_self_walks),
		cmocka_unit_test(test_range_classify),
		cmocka_unit_test(test_range_compare),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
