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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
