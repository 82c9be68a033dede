/* Unit tests: the chase chain is one cycle through every element, with its
 * lines spread over cache sets, and the walker follows it; chase-ctl walks
 * the same offsets in the same order on its own large-page mapping; the
 * samples' fault and migration check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/chase.h"
#include "core/kernel.h"
#include "harness/mem/backing.h"
#include "harness/pmu/swcount.h"

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

/* The offsets, from the start of its chain, of the first n elements a
 * kernel's set-up chain visits.  The kernels' private state starts with the
 * cursor (bench/chase.c), which setup leaves at element 0. */
static void visit(const struct kernel_ctx *ctx, uint64_t *off, size_t n)
{
	void *start = *(void *const *)ctx->priv;
	void *p = start;
	for (size_t i = 0; i < n; i++) {
		off[i] = (uint64_t)((char *)p - (char *)start);
		p = chase_walk(p, 1);
	}
}

static void control_is_the_chain_on_the_largest_page(void **state)
{
	(void)state;
	const size_t ws = 8u << 20;
	struct kernel_options opt = {.seed = 7};
	const struct kernel_desc *chase = kernel_find("chase"), *ctl = kernel_find("chase-ctl");
	assert_non_null(chase);
	assert_non_null(ctl);
	struct buffer buf;
	nb_error err = {{0}};
	assert_int_equal(buffer_alloc(&buf, BACKING_4K, chase->buffer_bytes(ws, &opt), &err), 0);
	struct kernel_ctx a = {.desc = chase, .backing = BACKING_4K, .buf = &buf, .working_set_bytes = ws, .opt = &opt,
			       .params = json_object(), .flags = json_array()};
	struct kernel_ctx c = a;
	c.desc = ctl;
	c.params = json_object();
	c.flags = json_array();
	assert_int_equal(chase->setup(&a, &err), 0);
	int rc = ctl->setup(&c, &err);
	if (rc == 1) {
		/* No large page on this machine: said, with both reasons. */
		assert_non_null(strstr(err.msg, "hugetlb-1g"));
		assert_non_null(strstr(err.msg, "hugetlb-2m"));
	} else {
		assert_int_equal(rc, 0);
		enum { N = 4096 };
		uint64_t *x = malloc(N * sizeof(*x)), *y = malloc(N * sizeof(*y));
		assert_non_null(x);
		assert_non_null(y);
		visit(&a, x, N);
		visit(&c, y, N);
		assert_memory_equal(x, y, N * sizeof(*x));
		free(x);
		free(y);
		/* The same stride; its own mapping recorded, verified on >= 2M. */
		assert_int_equal(json_integer_value(json_object_get(c.params, "stride_bytes")), 4096);
		const json_t *cb = json_object_get(c.params, "control_backing");
		json_int_t page = json_integer_value(json_object_get(cb, "verified_page_bytes"));
		assert_true(page >= (2 << 20));
		assert_int_equal(json_integer_value(json_object_get(c.params, "verified_pages")),
				 ((json_int_t)ws + page - 1) / page);
		assert_int_equal(json_integer_value(json_object_get(a.params, "verified_pages")), ws / 4096);
		/* And it is not the harness buffer. */
		assert_ptr_not_equal(*(void **)c.priv, buf.base);
		ctl->teardown(&c);
	}
	chase->teardown(&a);
	json_decref(a.params);
	json_decref(a.flags);
	json_decref(c.params);
	json_decref(c.flags);
	buffer_free(&buf);
}

static void samples_with_faults_are_flagged(void **state)
{
	(void)state;
	const struct kernel_desc *k = kernel_find("chase");
	struct kernel_ctx ctx = {.desc = k, .params = json_object(), .flags = json_array()};
	uint64_t counts[SWC_COUNT];
	for (int i = 0; i < SWC_COUNT; i++)
		counts[i] = 0;
	k->check(&ctx, counts, 1000);
	assert_int_equal(json_array_size(ctx.flags), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(ctx.params, "sample_check"), "page_faults")), 0);
	counts[SWC_PAGE_FAULTS] = 3;
	counts[SWC_CPU_MIGRATIONS] = 1;
	k->check(&ctx, counts, 1000);
	assert_int_equal(json_array_size(ctx.flags), 2);
	assert_non_null(strstr(json_string_value(json_array_get(ctx.flags, 0)), "3 page faults"));
	assert_non_null(strstr(json_string_value(json_array_get(ctx.flags, 1)), "1 cpu migrations"));
	/* Counters that could not be read say nothing either way. */
	json_array_clear(ctx.flags);
	counts[SWC_PAGE_FAULTS] = counts[SWC_CPU_MIGRATIONS] = UINT64_MAX;
	k->check(&ctx, counts, 1000);
	assert_int_equal(json_array_size(ctx.flags), 0);
	assert_true(json_is_null(json_object_get(json_object_get(ctx.params, "sample_check"), "page_faults")));
	json_decref(ctx.params);
	json_decref(ctx.flags);
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
		cmocka_unit_test(control_is_the_chain_on_the_largest_page),
		cmocka_unit_test(samples_with_faults_are_flagged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
