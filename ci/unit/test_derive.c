/* The derivations from a run's records (harness/run/derive.c, records.c):
 * chase pairs with the chase-ctl of its identity (core/identity.h), a
 * missing control gives no translation, VM pairs stay within one guest
 * page, and a real run's records give the `derived` section the JSON-reading
 * derivation wrote for it (ci/fixtures/run/derive-run.json). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness/run/derive.h"
#include "harness/run/records.h"
#include "harness/run/run_vm.h"

/* A measured chase-family record with the given median (CI median +- 1). */
static void add(struct run_records *rs, const char *kernel, const char *mode, const char *guest, size_t ws,
		int locality, double median)
{
	struct measurement m = {
		.kernel = kernel, .family = "chase", .metric = "ns_per_access", .mode = mode,
		.backing = json_pack("{s:s}", "requested", "4k"), .working_set_bytes = ws, .cpu = 0,
		/* seed and verified_pages differ per cell: outcomes, not identity. */
		/* chase-ctl's stride is one line, whatever chase's (derive.c). */
		.params = json_pack("{s:i, s:i, s:i, s:i}", "stride_bytes", strcmp(kernel, "chase") ? 64 : 4096,
				    "tlb_locality_bytes", locality, "seed",
				    (int)ws + (int)strlen(kernel), "verified_pages", (int)(ws / 4096)),
		.guest_page = guest, .guest_built_page_bytes = guest ? 4096 : 0, .mmu_virt_mode = guest ? "ept" : NULL,
	};
	m.summary.median = median;
	m.summary.ci95_low = median - 1;
	m.summary.ci95_high = median + 1;
	assert_int_equal(records_write(rs, &m), 0);
}

static json_t *new_doc(void)
{
	return json_pack("{s:{s:[], s:[]}}", "derived", "translation", "knees");
}

static json_t *translation(json_t *doc)
{
	return json_object_get(json_object_get(doc, "derived"), "translation");
}

static void chase_pair(void **state)
{
	(void)state;
	struct run_records rs = {0};
	add(&rs, "chase", "native", NULL, 65536, 0, 10.0);
	add(&rs, "chase-ctl", "native", NULL, 65536, 65536, 1.0); /* another locality: not its control */
	add(&rs, "chase-ctl", "native", NULL, 65536, 0, 4.0);
	json_t *doc = new_doc();
	derive_translation(doc, &rs);
	json_t *t = translation(doc);
	assert_int_equal(json_array_size(t), 1);
	json_t *e = json_array_get(t, 0);
	assert_string_equal(json_string_value(json_object_get(e, "mode")), "native");
	assert_string_equal(json_string_value(json_object_get(e, "backing")), "4k");
	assert_int_equal(json_integer_value(json_object_get(e, "working_set_bytes")), 65536);
	assert_float_equal(json_real_value(json_object_get(e, "ns_per_access")), 6.0, 1e-12);
	assert_float_equal(json_real_value(json_object_get(e, "ci95_low")), 4.0, 1e-12);
	assert_float_equal(json_real_value(json_object_get(e, "ci95_high")), 8.0, 1e-12);
	assert_null(json_object_get(e, "guest_page"));
	json_decref(doc);
	records_free(&rs);
}

static void missing_control(void **state)
{
	(void)state;
	struct run_records rs = {0};
	add(&rs, "chase", "native", NULL, 65536, 0, 10.0);
	add(&rs, "chase-ctl", "native", NULL, 131072, 0, 4.0); /* another working set */
	struct measurement skipped;
	record_skipped(&skipped, "chase-ctl", "chase", "ns_per_access", "native", json_pack("{s:s}", "requested", "4k"),
		       65536, 0, "no memory");
	assert_int_equal(records_write(&rs, &skipped), 0);
	json_t *doc = new_doc();
	derive_translation(doc, &rs);
	assert_int_equal(json_array_size(translation(doc)), 0);
	assert_null(records_find_like(&rs, &rs.r[0], "chase-ctl", "native", "stride_bytes"));
	json_decref(doc);
	records_free(&rs);
}

static void vm_pairs_per_guest_page(void **state)
{
	(void)state;
	struct run_records rs = {0};
	add(&rs, "chase", "native", NULL, 65536, 0, 5.0);
	add(&rs, "chase", "vm", "4k", 65536, 0, 20.0);
	add(&rs, "chase", "vm", "2m", 65536, 0, 12.0);
	add(&rs, "chase-ctl", "vm", "2m", 65536, 0, 2.0);
	add(&rs, "chase-ctl", "vm", "4k", 65536, 0, 3.0);
	json_t *doc = new_doc();
	derive_translation(doc, &rs);
	json_t *t = translation(doc);
	assert_int_equal(json_array_size(t), 2); /* the native chase has no control */
	assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "guest_page")), "4k");
	assert_float_equal(json_real_value(json_object_get(json_array_get(t, 0), "ns_per_access")), 17.0, 1e-12);
	assert_string_equal(json_string_value(json_object_get(json_array_get(t, 1), "guest_page")), "2m");
	assert_float_equal(json_real_value(json_object_get(json_array_get(t, 1), "ns_per_access")), 10.0, 1e-12);
	assert_string_equal(json_string_value(json_object_get(json_array_get(t, 1), "mode")), "vm");
	/* The summary's VM-native pairing: each guest page with the one native chase. */
	assert_ptr_equal(records_find_like(&rs, &rs.r[1], "chase", "native", NULL), &rs.r[0]);
	assert_ptr_equal(records_find_like(&rs, &rs.r[2], "chase", "native", NULL), &rs.r[0]);
	json_decref(doc);
	records_free(&rs);
}

/* Numbers as the results file rounds them. */
static int near(const json_t *a, const json_t *b)
{
	if (!json_is_number(a) || !json_is_number(b))
		return json_equal(a, b);
	double x = json_number_value(a), y = json_number_value(b);
	return fabs(x - y) <= 1e-6 * (1 + fabs(x) + fabs(y));
}

static void assert_entries_near(json_t *want, const json_t *got)
{
	assert_int_equal(json_array_size(got), json_array_size(want));
	size_t i;
	json_t *w;
	json_array_foreach(want, i, w) {
		const json_t *g = json_array_get(got, i);
		assert_int_equal(json_object_size(g), json_object_size(w));
		const char *k;
		const json_t *v;
		json_object_foreach(w, k, v) {
			if (!near(v, json_object_get(g, k)))
				fail_msg("entry %zu, %s differs", i, k);
		}
	}
}

static void same_as_json_derivation(void **state)
{
	(void)state;
	json_error_t jerr;
	json_t *fx = json_load_file("ci/fixtures/run/derive-run.json", 0, &jerr);
	if (!fx)
		fail_msg("ci/fixtures/run/derive-run.json: %s", jerr.text);
	struct run_records rs = {0};
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(fx, "measurements"), i, m) {
		assert_true(json_is_null(json_object_get(m, "skipped")));
		const json_t *s = json_object_get(m, "summary");
		const char *gp = json_string_value(json_object_get(json_object_get(m, "guest_page"), "requested"));
		struct measurement r = {
			.kernel = json_string_value(json_object_get(m, "kernel")),
			.family = json_string_value(json_object_get(m, "family")),
			.metric = json_string_value(json_object_get(m, "metric")),
			.mode = json_string_value(json_object_get(m, "mode")),
			.backing = json_deep_copy(json_object_get(m, "backing")),
			.working_set_bytes = (size_t)json_integer_value(json_object_get(m, "working_set_bytes")),
			.params = json_deep_copy(json_object_get(m, "params")),
			/* The static names the harness uses, as a record would carry them. */
			.guest_page = gp ? run_vm_guest_page_name(run_vm_guest_page_parse(gp)) : NULL,
			.guest_built_page_bytes = (uint64_t)json_integer_value(
				json_object_get(json_object_get(m, "guest_page"), "built_page_bytes")),
		};
		r.summary.median = json_real_value(json_object_get(s, "median"));
		r.summary.ci95_low = json_real_value(json_object_get(s, "ci95_low"));
		r.summary.ci95_high = json_real_value(json_object_get(s, "ci95_high"));
		assert_int_equal(records_write(&rs, &r), 0);
	}
	struct run_config cfg = {
		.kernels = {kernel_find("chase"), kernel_find("chase-ctl")},
		.nkernels = 2,
		.backings = {BACKING_4K, BACKING_THP},
		.nbackings = 2,
		.modes = RUN_MODE_NATIVE | RUN_MODE_VM,
		.guest_pages = {4096, 2u << 20},
		.nguest_pages = 2,
	};
	assert_non_null(cfg.kernels[0]);
	assert_non_null(cfg.kernels[1]);
	json_t *doc = new_doc();
	derive_translation(doc, &rs);
	derive_knees(doc, &rs, &cfg);
	json_t *want = json_object_get(fx, "derived");
	const json_t *got = json_object_get(doc, "derived");
	assert_true(json_array_size(json_object_get(want, "translation")) > 0);
	assert_entries_near(json_object_get(want, "translation"), json_object_get(got, "translation"));
	/* The knees are no longer the JSON derivation's (those were found on
	 * the raw curves): every one says which curve it was found on and
	 * brackets its step. */
	size_t ki;
	json_t *kn;
	assert_true(json_array_size(json_object_get(got, "knees")) > 0);
	json_array_foreach(json_object_get(got, "knees"), ki, kn) {
		const char *curve = json_string_value(json_object_get(kn, "curve"));
		assert_non_null(curve);
		const json_t *b = json_object_get(kn, "bracket");
		json_int_t ws = json_integer_value(json_object_get(kn, "working_set_bytes"));
		assert_true(json_integer_value(json_object_get(b, "below_bytes")) < ws);
		assert_true(json_integer_value(json_object_get(b, "above_bytes")) >= ws);
		assert_non_null(json_string_value(json_object_get(kn, "text")));
		/* chase has its controls in this run: its knees are translation's. */
		if (!strcmp(json_string_value(json_object_get(kn, "kernel")), "chase"))
			assert_string_equal(curve, "translation");
	}
	json_decref(doc);
	json_decref(fx);
	records_free(&rs);
}

/* A 4k and a THP chase, each with controls, over 1 MiB .. 64 MiB: the
 * translation steps at 8..16 MiB on both; the document's host.tlb has a
 * 2048-entry L2 dTLB for 4K pages and none for 2M. */
static void add_backed(struct run_records *rs, const char *kernel, const char *backing, size_t page, size_t ws,
		       double median)
{
	struct measurement m = {
		.kernel = kernel, .family = "chase", .metric = "ns_per_access", .mode = "native",
		.backing = json_pack("{s:s, s:I, s:I}", "requested", backing, "requested_page_bytes", (json_int_t)page,
				     "verified_page_bytes", (json_int_t)page),
		.working_set_bytes = ws, .cpu = 0,
		.params = json_pack("{s:i, s:i, s:I}", "stride_bytes", strcmp(kernel, "chase") ? 64 : 4096,
				    "tlb_locality_bytes", 0, "verified_pages", (json_int_t)((ws + page - 1) / page)),
	};
	m.summary.median = median;
	m.summary.ci95_low = median * 0.99;
	m.summary.ci95_high = median * 1.01;
	assert_int_equal(records_write(rs, &m), 0);
}

static void knees_on_translation(void **state)
{
	(void)state;
	struct run_records rs = {0};
	const char *bk[2] = {"4k", "thp"};
	size_t pg[2] = {4096, 2u << 20};
	for (int b = 0; b < 2; b++)
		for (int i = 0; i <= 6; i++) {
			size_t ws = (size_t)1 << (20 + i); /* 1M .. 64M */
			/* The control rises at 4M (a cache), the chase with it and
			 * again at 16M (translation): only the latter is a knee of
			 * chase minus control. */
			double ctl = ws >= (4u << 20) ? 20.0 : 5.0;
			double chase = ctl + (ws >= (16u << 20) ? 30.0 : 1.0);
			add_backed(&rs, "chase", bk[b], pg[b], ws, chase);
			add_backed(&rs, "chase-ctl", bk[b], pg[b], ws, ctl);
		}
	struct run_config cfg = {
		.kernels = {kernel_find("chase"), kernel_find("chase-ctl")},
		.nkernels = 2,
		.backings = {BACKING_4K, BACKING_THP},
		.nbackings = 2,
		.modes = RUN_MODE_NATIVE,
	};
	json_t *doc = json_pack("{s:{s:[], s:[]}, s:{s:{s:s, s:n, s:[{s:s, s:i, s:i, s:i, s:i}]}}}", "derived",
				"translation", "knees", "host", "tlb", "source", "cpuid 0x80000005/0x80000006",
				"unavailable", "levels", "name", "L2 dTLB", "level", 2, "page_bytes", 4096, "entries",
				2048, "ways", 8);
	derive_knees(doc, &rs, &cfg);
	json_t *knees = json_object_get(json_object_get(doc, "derived"), "knees");
	const json_t *k4 = NULL, *kthp = NULL;
	size_t i;
	json_t *k;
	json_array_foreach(knees, i, k) {
		if (!strcmp(json_string_value(json_object_get(k, "kernel")), "chase-ctl")) {
			/* Its step at 2..4 MiB is no 4K TLB level's (8 MiB): a cache's. */
			assert_true(json_is_false(json_object_get(k, "control_pays_translation")));
			assert_true(json_is_null(json_object_get(k, "level")));
			continue;
		}
		const char *b = json_string_value(json_object_get(k, "backing"));
		if (!strcmp(b, "4k")) {
			assert_null(k4);
			k4 = k;
		} else {
			assert_null(kthp);
			kthp = k;
		}
	}
	assert_non_null(k4);
	assert_non_null(kthp);
	assert_string_equal(json_string_value(json_object_get(k4, "curve")), "translation");
	const json_t *br = json_object_get(k4, "bracket");
	assert_int_equal(json_integer_value(json_object_get(br, "below_bytes")), 8u << 20);
	assert_int_equal(json_integer_value(json_object_get(br, "above_bytes")), 16u << 20);
	assert_int_equal(json_integer_value(json_object_get(br, "below_pages")), 2048);
	assert_int_equal(json_integer_value(json_object_get(br, "above_pages")), 4096);
	const json_t *lv = json_object_get(k4, "level");
	assert_string_equal(json_string_value(json_object_get(lv, "name")), "L2 dTLB");
	assert_true(json_is_true(json_object_get(lv, "consistent")));
	assert_string_equal(json_string_value(json_object_get(k4, "text")),
			    "L2 dTLB: 2048 entries x 4K = 8 MiB; measured step between 8 MiB and 16 MiB: consistent");
	assert_true(json_is_null(json_object_get(k4, "at_4k_knee")));
	/* THP: no 2M level in host.tlb, and the knee sits where the 4K one does. */
	assert_true(json_is_null(json_object_get(kthp, "level")));
	assert_true(json_is_true(json_object_get(kthp, "at_4k_knee")));
	assert_int_equal(json_integer_value(json_object_get(kthp, "page_bytes")), 2u << 20);
	json_decref(doc);
	records_free(&rs);
}

/* A control whose large pages the TLB caches as 4K (a hypervisor backing
 * the guest's 1G page with 4K pages): it steps where the 4K L2 dTLB fills. */
static void control_paying_translation(void **state)
{
	(void)state;
	struct run_records rs = {0};
	for (int i = 0; i <= 6; i++) {
		size_t ws = (size_t)1 << (20 + i);
		double y = ws >= (16u << 20) ? 30.0 : 5.0;
		add_backed(&rs, "chase-ctl", "4k", 4096, ws, y);
	}
	struct run_config cfg = {
		.kernels = {kernel_find("chase-ctl")}, .nkernels = 1, .backings = {BACKING_4K}, .nbackings = 1,
		.modes = RUN_MODE_NATIVE,
	};
	json_t *doc = json_pack("{s:{s:[], s:[]}, s:{s:{s:s, s:n, s:[{s:s, s:i, s:i, s:i, s:i}]}}}", "derived",
				"translation", "knees", "host", "tlb", "source", "cpuid 0x80000005/0x80000006",
				"unavailable", "levels", "name", "L2 dTLB", "level", 2, "page_bytes", 4096, "entries",
				2048, "ways", 8);
	derive_knees(doc, &rs, &cfg);
	json_t *knees = json_object_get(json_object_get(doc, "derived"), "knees");
	assert_int_equal(json_array_size(knees), 1);
	json_t *k = json_array_get(knees, 0);
	assert_true(json_is_true(json_object_get(k, "control_pays_translation")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(k, "level"), "name")), "L2 dTLB");
	assert_non_null(strstr(json_string_value(json_object_get(k, "text")), "cached as 4K entries"));
	json_decref(doc);
	records_free(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chase_pair),
		cmocka_unit_test(missing_control),
		cmocka_unit_test(vm_pairs_per_guest_page),
		cmocka_unit_test(same_as_json_derivation),
		cmocka_unit_test(knees_on_translation),
		cmocka_unit_test(control_paying_translation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
