/* test_guest_pt.c - the guest page-table builder, run on the host: what it
 * builds for 4K, 2M and 1G pages is walked entry by entry, and misuse
 * (misalignment, conflicts, exhaustion) is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "guest-payloads/guest_pt.h"

#define POOL_PA 0x400000ull
#define POOL_BYTES (4ull << 20)

struct fx {
	void *mem;
	struct pt_pool pool;
	struct pt_space sp;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_int_equal(posix_memalign(&f->mem, 4096, POOL_BYTES), 0);
	memset(f->mem, 0xa5, POOL_BYTES); /* the builder must zero what it hands out */
	assert_int_equal(pt_pool_init(&f->pool, f->mem, POOL_PA, POOL_BYTES, 0), PT_OK);
	assert_int_equal(pt_space_init(&f->sp, &f->pool), PT_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	free(f->mem);
	free(f);
	return 0;
}

/* Raw PTE lookup, independent of pt_walk: follow the entries by hand. */
static uint64_t raw_entry(struct fx *f, uint64_t va, int level)
{
	uint64_t table = f->sp.root;
	for (int l = 4;; l--) {
		uint64_t *t = (uint64_t *)(void *)((char *)f->mem + (table - POOL_PA));
		uint64_t e = t[(va >> (12 + 9 * (l - 1))) & 511];
		if (l == level)
			return e;
		assert_true(e & PT_P);
		table = e & PT_ADDR_MASK;
	}
}

static void check_size(void **state, uint64_t page, int level, uint64_t va, uint64_t pa, uint64_t bytes)
{
	struct fx *f = *state;
	assert_int_equal(pt_map(&f->sp, va, pa, bytes, page, PT_W | PT_U), PT_OK);
	assert_int_equal(pt_verify(&f->sp, va, pa, bytes, page, PT_W | PT_U, NULL), 0);
	for (uint64_t off = 0; off < bytes; off += page) {
		uint64_t e = raw_entry(f, va + off, level);
		assert_int_equal(e & PT_ADDR_MASK, pa + off);
		assert_true(e & PT_P);
		assert_true(e & PT_W);
		assert_int_equal(!!(e & PT_PS), level > 1);
		struct pt_walk_result w;
		assert_int_equal(pt_walk(&f->sp, va + off + 123, &w), PT_OK);
		assert_int_equal(w.pa, pa + off + 123);
		assert_int_equal(w.page_bytes, page);
		assert_int_equal(w.level, level);
	}
	/* Just past the end is not mapped. */
	struct pt_walk_result w;
	assert_int_equal(pt_walk(&f->sp, va + bytes, &w), PT_E_ABSENT);
}

static void test_map_4k(void **state)
{
	/* Crosses a page-table boundary (512 entries). */
	check_size(state, PT_4K, 1, 0x8000000000ull + 510 * PT_4K, 0x100000000ull, 700 * PT_4K);
}

static void test_map_2m(void **state)
{
	check_size(state, PT_2M, 2, 0x8000000000ull, 0x100000000ull, 600 * PT_2M);
}

static void test_map_1g(void **state)
{
	check_size(state, PT_1G, 3, 0x8000000000ull, 0x100000000ull, 3 * PT_1G);
}

static void test_unmap_protect(void **state)
{
	struct fx *f = *state;
	uint64_t va = 0x8000000000ull, pa = 0x100000000ull;
	assert_int_equal(pt_map(&f->sp, va, pa, 16 * PT_4K, PT_4K, PT_W | PT_U), PT_OK);
	assert_int_equal(pt_unmap(&f->sp, va + 4 * PT_4K, 2 * PT_4K, PT_4K), PT_OK);
	struct pt_walk_result w;
	assert_int_equal(pt_walk(&f->sp, va + 4 * PT_4K, &w), PT_E_ABSENT);
	assert_int_equal(pt_walk(&f->sp, va + 6 * PT_4K, &w), PT_OK);
	/* pt_verify points at the first hole: page 5 (1-based). */
	uint64_t bad = 0;
	assert_int_equal(pt_verify(&f->sp, va, pa, 16 * PT_4K, PT_4K, PT_W | PT_U, &bad), 5);
	assert_int_equal(bad, va + 4 * PT_4K);
	assert_int_equal(pt_unmap(&f->sp, va + 4 * PT_4K, PT_4K, PT_4K), PT_E_ABSENT);

	assert_int_equal(pt_protect(&f->sp, va, PT_4K, PT_4K, 0, PT_W), PT_OK);
	assert_int_equal(pt_walk(&f->sp, va, &w), PT_OK);
	assert_int_equal(w.flags & PT_W, 0);
	assert_int_equal(pt_protect(&f->sp, va, PT_4K, PT_4K, PT_W, 0), PT_OK);
	assert_int_equal(pt_walk(&f->sp, va, &w), PT_OK);
	assert_true(w.flags & PT_W);
	assert_int_equal(pt_protect(&f->sp, va, PT_4K, PT_4K, PT_P, 0), PT_E_ARG);
}

static void test_misuse(void **state)
{
	struct fx *f = *state;
	uint64_t va = 0x8000000000ull;
	assert_int_equal(pt_map(&f->sp, va + 4096, 0, PT_2M, PT_2M, 0), PT_E_ARG);    /* misaligned va */
	assert_int_equal(pt_map(&f->sp, va, 4096, PT_2M, PT_2M, 0), PT_E_ARG);        /* misaligned pa */
	assert_int_equal(pt_map(&f->sp, va, 0, 8192, 8192, 0), PT_E_ARG);             /* no such page size */
	assert_int_equal(pt_map(&f->sp, va, 0, 0, PT_4K, 0), PT_E_ARG);              /* empty */
	assert_int_equal(pt_map(&f->sp, 1ull << 47, 0, PT_4K, PT_4K, 0), PT_E_ARG);   /* non-canonical */
	/* A 2M page, then 4K pages inside it: conflict; and the other way round. */
	assert_int_equal(pt_map(&f->sp, va, 0, PT_2M, PT_2M, PT_W), PT_OK);
	assert_int_equal(pt_map(&f->sp, va, 0, PT_4K, PT_4K, PT_W), PT_E_CONFLICT);
	assert_int_equal(pt_map(&f->sp, va + PT_2M, 0, PT_4K, PT_4K, PT_W), PT_OK);
	assert_int_equal(pt_map(&f->sp, va + PT_2M, 0, PT_2M, PT_2M, PT_W), PT_E_CONFLICT);
	/* A verify that expects the wrong page size fails at page 1. */
	assert_int_equal(pt_verify(&f->sp, va, 0, PT_2M, PT_4K, PT_W, NULL), 1);
}

static void test_pool_exhaustion(void **state)
{
	(void)state;
	static unsigned char small[3 * 4096] __attribute__((aligned(4096)));
	struct pt_pool pool;
	struct pt_space sp;
	assert_int_equal(pt_pool_init(&pool, small, 0x1000, sizeof(small), 0), PT_OK);
	assert_int_equal(pt_space_init(&sp, &pool), PT_OK);
	/* A 4K mapping needs PML4 + PDPT + PD + PT: one page short. */
	assert_int_equal(pt_map(&sp, 0x200000, 0, PT_4K, PT_4K, 0), PT_E_NOMEM);
	assert_int_equal(pt_pool_init(&pool, small + 1, 0x1000, sizeof(small), 0), PT_E_ARG);
	assert_string_equal(pt_strerror(PT_E_NOMEM), "page-table pool exhausted");
}

static void test_share_top(void **state)
{
	struct fx *f = *state;
	struct pt_space other;
	assert_int_equal(pt_map(&f->sp, 0x200000, 0x200000, PT_2M, PT_2M, PT_W), PT_OK);
	assert_int_equal(pt_space_init(&other, &f->pool), PT_OK);
	assert_int_equal(pt_share_top(&other, &f->sp, 0), PT_OK);
	struct pt_walk_result w;
	assert_int_equal(pt_walk(&other, 0x200000, &w), PT_OK);
	assert_int_equal(w.pa, 0x200000);
	assert_int_equal(pt_share_top(&other, &f->sp, 512), PT_E_ARG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_map_4k, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_2m, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_1g, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_protect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_misuse, setup, teardown),
		cmocka_unit_test(test_pool_exhaustion),
		cmocka_unit_test_setup_teardown(test_share_top, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
