/* Unit tests: the chase chain is one cycle through every element, with its
 * lines spread over cache sets, and the walker follows it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/chase.h"

/* Follow the chain from element 0 and check it visits every element exactly
 * once before returning to the start. */
static void check_single_cycle(unsigned char *buf, uint64_t vbase, uint64_t n, uint64_t stride)
{
	unsigned char *seen = calloc(n, 1);
	assert_non_null(seen);
	uint64_t off = chase_element_offset(0, stride);
	for (uint64_t step = 0; step < n; step++) {
		uint64_t e = off / stride;
		assert_true(e < n);
		assert_int_equal(off, chase_element_offset(e, stride));
		assert_int_equal(seen[e], 0);
		seen[e] = 1;
		off = *(uint64_t *)(void *)(buf + off) - vbase;
	}
	assert_int_equal(off, chase_element_offset(0, stride));
	free(seen);
}

static void page_stride_chain_is_one_cycle(void **state)
{
	(void)state;
	const uint64_t n = 1000, stride = 4096;
	unsigned char *buf = aligned_alloc(4096, n * stride);
	assert_non_null(buf);
	assert_int_equal(chase_build(buf, 0x40000000u, n, stride, 0, 42), 0);
	check_single_cycle(buf, 0x40000000u, n, stride);
	free(buf);
}

static void grouped_and_control_chains_are_one_cycle(void **state)
{
	(void)state;
	unsigned char *buf = aligned_alloc(4096, 777 * 4096);
	assert_non_null(buf);
	/* Groups of 16 elements that do not divide 777 evenly. */
	assert_int_equal(chase_build(buf, (uint64_t)(uintptr_t)buf, 777, 4096, 16, 7), 0);
	check_single_cycle(buf, (uint64_t)(uintptr_t)buf, 777, 4096);
	assert_int_equal(chase_build(buf, (uint64_t)(uintptr_t)buf, 777, 64, 0, 7), 0);
	check_single_cycle(buf, (uint64_t)(uintptr_t)buf, 777, 64);
	free(buf);
}

static void groups_are_visited_whole(void **state)
{
	(void)state;
	const uint64_t n = 256, g = 16, stride = 4096;
	unsigned char *buf = aligned_alloc(4096, n * stride);
	assert_non_null(buf);
	assert_int_equal(chase_build(buf, 0, n, stride, g, 3), 0);
	/* Starting anywhere, the walk stays within a group for g steps once it enters one. */
	uint64_t off = chase_element_offset(0, stride), changes = 0, prev = off / stride / g;
	for (uint64_t i = 0; i < n; i++) {
		off = *(uint64_t *)(void *)(buf + off);
		uint64_t grp = off / stride / g;
		changes += grp != prev;
		prev = grp;
	}
	assert_int_equal(changes, n / g);
	free(buf);
}

static void lines_spread_over_sets(void **state)
{
	(void)state;
	/* Every aligned block of 64 page-stride elements uses all 64 lines of a
	 * page, so a page-stride chase covers every L1 set evenly. */
	for (uint64_t start = 0; start < 8192; start += 64 * 7) {
		int used[64] = {0};
		for (uint64_t e = start; e < start + 64; e++)
			used[(chase_element_offset(e, 4096) % 4096) / 64]++;
		for (int l = 0; l < 64; l++)
			assert_int_equal(used[l], 1);
	}
	/* Under 2M pages the L2 set index also takes page-number bits 12..15:
	 * over 1024 elements every (bits 12..15, line) pair occurs exactly once. */
	int pair[16][64] = {{0}};
	for (uint64_t e = 0; e < 1024; e++) {
		uint64_t off = chase_element_offset(e, 4096);
		pair[(off >> 12) & 15][(off >> 6) & 63]++;
	}
	for (int i = 0; i < 16; i++)
		for (int l = 0; l < 64; l++)
			assert_int_equal(pair[i][l], 1);
}

static void walker_follows_the_chain(void **state)
{
	(void)state;
	const uint64_t n = 100;
	unsigned char *buf = aligned_alloc(4096, n * 4096);
	assert_non_null(buf);
	assert_int_equal(chase_build(buf, (uint64_t)(uintptr_t)buf, n, 4096, 0, 9), 0);
	void *start = buf + chase_element_offset(0, 4096);
	/* A full lap (any iteration count, unrolled part and remainder) returns home. */
	assert_ptr_equal(chase_walk(start, n), start);
	assert_ptr_equal(chase_walk(start, 3 * n), start);
	assert_ptr_not_equal(chase_walk(start, n - 1), start);
	free(buf);
}

static void rejects_bad_arguments(void **state)
{
	(void)state;
	unsigned char buf[4096];
	assert_int_equal(chase_build(buf, 0, 0, 64, 0, 1), -1);
	assert_int_equal(chase_build(buf, 0, 4, 100, 0, 1), -1);
	assert_int_equal(chase_build(NULL, 0, 4, 64, 0, 1), -1);
}

static void seed_changes_order_deterministically(void **state)
{
	(void)state;
	const uint64_t n = 64;
	unsigned char *a = aligned_alloc(4096, n * 64), *b = aligned_alloc(4096, n * 64);
	assert_non_null(a);
	assert_non_null(b);
	chase_build(a, 0, n, 64, 0, 5);
	chase_build(b, 0, n, 64, 0, 5);
	assert_memory_equal(a, b, n * 64);
	chase_build(b, 0, n, 64, 0, 6);
	assert_memory_not_equal(a, b, n * 64);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(page_stride_chain_is_one_cycle),
		cmocka_unit_test(grouped_and_control_chains_are_one_cycle),
		cmocka_unit_test(groups_are_visited_whole),
		cmocka_unit_test(lines_spread_over_sets),
		cmocka_unit_test(walker_follows_the_chain),
		cmocka_unit_test(rejects_bad_arguments),
		cmocka_unit_test(seed_changes_order_deterministically),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
