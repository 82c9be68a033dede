/* What makes two measurements the same (core/identity.c): the fields of the
 * key, the params that count, and the mode-linux fields that keep one guest
 * backing on two host backings apart without changing native or vm keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/identity.h"

static struct identity_fields chase(const char *mode, json_t *params)
{
	return (struct identity_fields){.kernel = "chase", .mode = mode, .backing = "4k", .has_ws = 1,
					.working_set_bytes = 1 << 20, .guest_built_page_bytes = -1, .params = params};
}

static int same(const struct identity_fields *a, const struct identity_fields *b)
{
	char *ka = identity_key(a, NULL), *kb = identity_key(b, NULL);
	assert_non_null(ka);
	assert_non_null(kb);
	int eq = !strcmp(ka, kb);
	free(ka);
	free(kb);
	return eq;
}

/* Inputs count, outcomes do not: the seed and the verified pages differ
 * between two runs of one measurement. */
static void outcomes_are_not_identity(void **state)
{
	(void)state;
	json_t *p1 = json_pack("{s:i, s:i, s:i, s:f}", "stride_bytes", 4096, "seed", 1, "verified_pages", 256,
			       "first_create_boot_ns", 3.0e7);
	json_t *p2 = json_pack("{s:i, s:i, s:i, s:f}", "stride_bytes", 4096, "seed", 2, "verified_pages", 255,
			       "first_create_boot_ns", 2.1e7);
	json_t *p3 = json_pack("{s:i}", "stride_bytes", 64);
	struct identity_fields a = chase("native", p1), b = chase("native", p2), c = chase("native", p3);
	assert_true(same(&a, &b));
	assert_false(same(&a, &c));
	c.except_param = "stride_bytes"; /* chase-ctl pairs with chase whatever the stride */
	a.except_param = "stride_bytes";
	assert_true(same(&a, &c));
	json_decref(p1);
	json_decref(p2);
	json_decref(p3);
}

/* Mode linux: the host backing and the guest's own mode are part of the key;
 * for every other mode the key has no such fields at all. */
static void linux_host_backing_counts(void **state)
{
	(void)state;
	struct identity_fields n = chase("native", NULL);
	char *kn = identity_key(&n, NULL);
	assert_non_null(kn);
	assert_null(strstr(kn, "host_backing"));
	assert_null(strstr(kn, "inner_mode"));
	free(kn);

	struct identity_fields on4k = chase("linux", NULL), onthp = chase("linux", NULL);
	on4k.inner_mode = onthp.inner_mode = "native";
	on4k.host_backing = "4k";
	onthp.host_backing = "thp";
	assert_false(same(&on4k, &onthp));
	struct identity_fields again = on4k;
	assert_true(same(&on4k, &again));
	struct identity_fields invm = on4k;
	invm.inner_mode = "vm";
	assert_false(same(&on4k, &invm));
	assert_false(same(&on4k, &n));
}

/* A string cannot forge another key: the key is JSON, not a joined string. */
static void no_forged_separator(void **state)
{
	(void)state;
	struct identity_fields a = chase("linux", NULL), b = chase("linux", NULL);
	a.host_backing = "4k\",\"inner_mode\":\"vm";
	b.host_backing = "4k";
	b.inner_mode = "vm";
	assert_false(same(&a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(outcomes_are_not_identity),
		cmocka_unit_test(linux_host_backing_counts),
		cmocka_unit_test(no_forged_separator),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
