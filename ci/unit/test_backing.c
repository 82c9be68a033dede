/* test_backing.c - backing names, usability and real buffers verified at their page size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/mem/backing.h"
#include "harness/mem/hugepool.h"
#include "core/kernel.h"
#include <sys/mman.h>

#define MB ((size_t)1 << 20)
#define GB ((size_t)1 << 30)

static void skip_because(const char *why)
{
	print_message("skipped: %s\n", why);
	skip();
}

static void test_names(void **state)
{
	(void)state;
	for (int k = 0; k < BACKING_COUNT; k++) {
		enum backing_kind got;
		nb_error err;
		assert_int_equal(backing_parse(backing_name((enum backing_kind)k), &got, &err), 0);
		assert_int_equal(got, k);
	}
	assert_string_equal(backing_name(BACKING_HUGETLB_1G), "hugetlb-1g");
	assert_int_equal(backing_page_bytes(BACKING_4K), 4096);
	assert_int_equal(backing_page_bytes(BACKING_THP), 2 * MB);
	assert_int_equal(backing_page_bytes(BACKING_HUGETLB_2M), 2 * MB);
	assert_int_equal(backing_page_bytes(BACKING_HUGETLB_1G), GB);

	enum backing_kind k;
	nb_error err;
	assert_int_equal(backing_parse("2m", &k, &err), -1);
	assert_non_null(strstr(err.msg, "hugetlb-2m"));
	assert_int_equal(backing_parse(NULL, &k, &err), -1);
}

static void test_usable(void **state)
{
	(void)state;
	nb_error err;
	assert_int_equal(backing_usable(BACKING_4K, 4096, &err), 0);
	int rc = backing_usable(BACKING_THP, 2 * MB, &err);
	if (rc == 1)
		assert_non_null(strstr(err.msg, "echo madvise"));
	else
		assert_int_equal(rc, 0);
	/* As root a hugetlb pool that exists is usable (it can grow); otherwise
	 * the skip reason carries the exact command that fixes it. */
	rc = backing_usable(BACKING_HUGETLB_2M, 64 * MB, &err);
	if (geteuid() == 0) {
		assert_int_equal(rc, 0);
	} else if (rc == 1) {
		assert_non_null(strstr(err.msg, "nr_hugepages"));
	}
}

/* Allocation checks common to every backing; returns 0 or skips. */
static void check_buffer(const struct buffer *b, enum backing_kind kind, size_t bytes)
{
	assert_int_equal(b->kind, kind);
	assert_int_equal(b->bytes, bytes);
	assert_int_equal((uintptr_t)b->base % backing_page_bytes(kind), 0);
	assert_true((char *)b->base >= (char *)b->map_base);
	assert_true((char *)b->base + bytes <= (char *)b->map_base + b->map_bytes);
	assert_true(b->coverage >= 0.0 && b->coverage <= 1.0);
	assert_true(strncmp(b->verify_method, "smaps", 5) == 0);
	if (geteuid() == 0)
		assert_string_equal(b->verify_method, "smaps+kpageflags");

	json_t *j = buffer_json(b);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "requested")), backing_name(kind));
	assert_int_equal(json_integer_value(json_object_get(j, "requested_page_bytes")), backing_page_bytes(kind));
	assert_int_equal(json_integer_value(json_object_get(j, "verified_page_bytes")), b->verified_page_bytes);
	assert_true(json_real_value(json_object_get(j, "coverage")) == b->coverage);
	assert_string_equal(json_string_value(json_object_get(j, "verify_method")), b->verify_method);
	json_decref(j);
}

static void test_4k(void **state)
{
	(void)state;
	struct buffer b;
	nb_error err;
	const size_t bytes = 8 * MB + 100; /* not a page multiple on purpose */
	assert_int_equal(buffer_alloc(&b, BACKING_4K, bytes, &err), 0);
	check_buffer(&b, BACKING_4K, bytes);
	print_message("4k: verified %zu coverage %.4f (%s)\n", b.verified_page_bytes, b.coverage, b.verify_method);
	assert_int_equal(b.verified_page_bytes, 4096);
	assert_true(b.coverage > 0.99);
	/* the memory is really there and writable end to end */
	memset(b.base, 0xa5, bytes);
	assert_int_equal(buffer_verify(&b, &err), 0);
	assert_int_equal(b.verified_page_bytes, 4096);
	buffer_free(&b);
	assert_null(b.base);
	buffer_free(&b); /* idempotent */
	assert_int_equal(buffer_verify(&b, &err), -1);
}

static void test_thp(void **state)
{
	(void)state;
	struct buffer b;
	nb_error err;
	int rc = buffer_alloc(&b, BACKING_THP, 16 * MB, &err);
	if (rc == 1)
		skip_because(err.msg);
	assert_int_equal(rc, 0);
	check_buffer(&b, BACKING_THP, 16 * MB);
	print_message("thp: verified %zu coverage %.4f (%s)\n", b.verified_page_bytes, b.coverage, b.verify_method);
	/* Not necessarily 1.0: a THP is only faulted in (or collapsed) when the
	 * kernel finds a free, physically contiguous 2M block at that moment;
	 * on a fragmented or memory-tight machine some 2M regions stay on 4K
	 * pages, and the verification reports exactly that share. */
	assert_int_equal(b.verified_page_bytes, 2 * MB);
	assert_true(b.coverage > 0.5);
	buffer_free(&b);
}

/* hugetlb buffer of `bytes`: pool grown, verified at its page size, and the
 * pool back at its original size after free + restore. */
static void check_hugetlb(enum backing_kind kind, size_t bytes)
{
	size_t page = backing_page_bytes(kind);
	if (geteuid() != 0)
		skip_because("hugetlb pools can only be grown by root");
	struct hugepool_state before, during, after;
	if (hugepool_read(page, &before) != 0)
		skip_because("this kernel has no pool of that size");

	struct buffer b;
	nb_error err;
	int rc = buffer_alloc(&b, kind, bytes, &err);
	if (rc == 1)
		skip_because(err.msg);
	assert_int_equal(rc, 0);
	check_buffer(&b, kind, bytes);
	print_message("%s: verified %zu coverage %.4f (%s)\n", backing_name(kind), b.verified_page_bytes, b.coverage,
		      b.verify_method);
	assert_int_equal(b.verified_page_bytes, page);
	assert_true(b.coverage == 1.0);
	assert_int_equal(hugepool_read(page, &during), 0);
	assert_true(during.total - during.free >= (long)(bytes / page));

	buffer_free(&b);
	hugepool_restore_all();
	assert_int_equal(hugepool_read(page, &after), 0);
	assert_int_equal(after.total, before.total);
	assert_int_equal(after.free, before.free);
}

static void test_hugetlb_2m(void **state)
{
	(void)state;
	check_hugetlb(BACKING_HUGETLB_2M, 16 * MB);
}

static void test_hugetlb_1g(void **state)
{
	(void)state;
	check_hugetlb(BACKING_HUGETLB_1G, GB);
}

/* A shared hugetlb buffer (for memory a forked child keeps using): verified
 * like any other, and really shared: what the child writes, the parent sees,
 * with no copy-on-write of a huge page in between. */
static void test_hugetlb_shared_across_fork(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip_because("not root: the 2M pool cannot be grown");
	struct buffer b;
	nb_error err;
	int rc = buffer_alloc_shared(&b, BACKING_HUGETLB_2M, 2 * MB, &err);
	if (rc == 1)
		skip_because(err.msg);
	assert_int_equal(rc, 0);
	assert_true(b.shared);
	assert_int_equal(b.verified_page_bytes, 2 * MB);
	volatile unsigned char *p = b.base;
	p[0] = 1;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		p[4096] = 42;
		_exit(p[0] == 1 ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(p[4096], 42);
	buffer_free(&b);
	hugepool_restore_all();

	/* Anonymous memory stays private (shared would be shmem). */
	assert_int_equal(buffer_alloc_shared(&b, BACKING_4K, 64 * 1024, &err), 0);
	assert_false(b.shared);
	buffer_free(&b);
}

/* The pool files claim free pages the kernel does not have (a fake pool
 * directory, while the real 2M pool is short): mmap fails with ENOMEM and
 * buffer_alloc must turn that into a skip with a reason, never a SIGBUS on
 * first touch. */
static void test_hugetlb_enomem_is_skip(void **state)
{
	(void)state;
	const size_t pages = 4;
	struct hugepool_state real;
	if (hugepool_read(2 * MB, &real) != 0 || real.free - real.resv >= (long)pages)
		skip_because("the real 2M pool has free pages; the ENOMEM path cannot be provoked");
	char root[64], pool[128], path[256];
	snprintf(root, sizeof(root), "/tmp/nb-backing.XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(pool, sizeof(pool), "%s/hugepages-2048kB", root);
	assert_int_equal(mkdir(pool, 0755), 0);
	static const char *const files[] = {"nr_hugepages", "free_hugepages", "resv_hugepages", "surplus_hugepages"};
	static const char *const values[] = {"9", "9", "0", "0"};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", pool, files[i]);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(values[i], f);
		assert_int_equal(fclose(f), 0);
	}
	hugepool_set_root(root);

	struct buffer b;
	nb_error err;
	int rc = buffer_alloc(&b, BACKING_HUGETLB_2M, pages * 2 * MB, &err);
	hugepool_set_root(NULL);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", pool, files[i]);
		unlink(path);
	}
	rmdir(pool);
	rmdir(root);
	assert_int_equal(rc, 1);
	print_message("reason: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "cannot map 4 2M hugetlb pages"));
	assert_null(b.base);
}

static void test_bad_requests(void **state)
{
	(void)state;
	struct buffer b;
	nb_error err;
	assert_int_equal(buffer_alloc(&b, BACKING_4K, 0, &err), -1);
	assert_non_null(strstr(err.msg, "empty"));
	assert_int_equal(buffer_alloc(&b, BACKING_COUNT, 4096, &err), -1);
	assert_int_equal(buffer_alloc(&b, BACKING_4K, SIZE_MAX - 10, &err), -1);
	assert_null(b.base);

	/* An unverified buffer reports nulls, as the schema allows. */
	struct buffer none = {.kind = BACKING_THP};
	json_t *j = buffer_json(&none);
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(j, "verified_page_bytes")));
	assert_true(json_is_null(json_object_get(j, "coverage")));
	assert_string_equal(json_string_value(json_object_get(j, "verify_method")), "none");
	json_decref(j);
}

/* The measured range's watch on real memory: a 4K range counted page by
 * page, unchanged; a THP range with one 4K page dropped in the middle
 * during the "measurement" is seen split. */
static void watch(struct range_watch *w, struct buffer *b, size_t span, json_t *params)
{
	struct kernel_ctx ctx = {.buf = b, .working_set_bytes = span, .params = params};
	range_watch_begin(w, &ctx);
}

static void test_range_watch(void **state)
{
	(void)state;
	struct buffer b;
	nb_error err;
	assert_int_equal(buffer_alloc(&b, BACKING_4K, 4 * MB, &err), 0);
	json_t *params = json_pack("{s:i, s:i}", "span_bytes", (int)MB, "verified_pages", 1);
	json_t *flags = json_array();
	struct range_watch w;
	watch(&w, &b, 4 * MB, params);
	assert_true(w.on);
	assert_int_equal(w.bytes, MB); /* the span the kernel said, not the buffer */
	json_t *pc = range_watch_end(&w, flags, params);
	assert_non_null(pc);
	assert_true(json_is_false(json_object_get(pc, "changed")));
	assert_int_equal(json_array_size(flags), 0);
	if (geteuid() == 0) {
		assert_int_equal(json_integer_value(json_object_get(pc, "verified_pages")), MB / 4096);
		/* params.verified_pages is the count, not what the kernel guessed. */
		assert_int_equal(json_integer_value(json_object_get(params, "verified_pages")), MB / 4096);
	}
	json_decref(pc);
	buffer_free(&b);

	/* No buffer, or memory the kernel verifies itself: nothing watched. */
	struct kernel_ctx none = {.params = params};
	range_watch_begin(&w, &none);
	assert_false(w.on);
	assert_null(range_watch_end(&w, flags, params));

	if (buffer_alloc(&b, BACKING_THP, 4 * MB, &err) != 0 || b.verified_page_bytes != 2 * MB) {
		buffer_free(&b);
		json_decref(params);
		json_decref(flags);
		skip_because("no THP for the split case");
		return;
	}
	json_object_set_new(params, "span_bytes", json_integer((json_int_t)(4 * MB)));
	watch(&w, &b, 4 * MB, params);
	/* Dropping one 4K page of a PMD-mapped THP splits the mapping. */
	assert_int_equal(madvise((char *)b.base + MB, 4096, MADV_DONTNEED), 0);
	pc = range_watch_end(&w, flags, params);
	assert_true(json_is_true(json_object_get(pc, "changed")));
	int split = 0;
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(pc, "events"), i, e)
		split |= !strcmp(json_string_value(e), "thp_split");
	assert_true(split);
	assert_true(json_array_size(flags) > 0);
	json_decref(pc);
	json_decref(params);
	json_decref(flags);
	buffer_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_usable),
		cmocka_unit_test(test_4k),
		cmocka_unit_test(test_thp),
		cmocka_unit_test(test_hugetlb_2m),
		cmocka_unit_test(test_hugetlb_1g),
		cmocka_unit_test(test_hugetlb_shared_across_fork),
		cmocka_unit_test(test_hugetlb_enomem_is_skip),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_range_watch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
