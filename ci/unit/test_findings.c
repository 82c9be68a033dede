/* test_findings.c - analysis/findings.c on fixtures with known answers
 * (ci/fixtures/findings/, written by gen-findings.py there). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/doc.h"
#include "analysis/findings.h"
#include "analysis/resfile.h"
#include "harness/run/run_summary.h" /* the run's declaration of findings_print_doc must match */

#define FX "ci/fixtures/findings/"

struct loaded {
	struct res_file rf[2];
	size_t n;
	struct findings fs;
};

static void load(struct loaded *l, const char *a, const char *b)
{
	nb_error err;
	memset(l, 0, sizeof(*l));
	const char *names[2] = {a, b};
	for (l->n = 0; l->n < 2 && names[l->n]; l->n++)
		if (res_load(&l->rf[l->n], names[l->n], &err))
			fail_msg("%s", err.msg);
	if (findings_build(l->rf, l->n, &l->fs, &err))
		fail_msg("%s", err.msg);
}

static void unload(struct loaded *l)
{
	findings_free(&l->fs);
	for (size_t i = 0; i < l->n; i++)
		res_free(&l->rf[i]);
}

static const struct finding *nth(const struct findings *fs, enum finding_kind k, const char *needle)
{
	for (size_t i = 0; i < fs->n; i++)
		if (fs->v[i].kind == k && (!needle || strstr(fs->v[i].text, needle)))
			return &fs->v[i];
	return NULL;
}

static void test_splintered(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, FX "splintered.json", NULL);
	/* thp, hugetlb-2m and hugetlb-1g all step where 4k does. */
	assert_int_equal(findings_count(&l.fs, FK_SPLINTER), 3);
	assert_int_equal(findings_count(&l.fs, FK_REACH_GAIN), 0);
	assert_int_equal(findings_count(&l.fs, FK_REACH), 4);
	const struct finding *s = nth(&l.fs, FK_SPLINTER, "hugetlb-2m");
	assert_non_null(s);
	assert_true(fabs(s->value - 1.0) < 1e-9); /* first knees at the same working set */
	assert_non_null(strstr(s->text, "itself a guest"));
	assert_non_null(strstr(s->text, "What would fix it"));
	assert_true(s->nsrc >= 4);
	/* Knees named by the level derived.knees carries, with the bracket. */
	const struct finding *r = nth(&l.fs, FK_REACH, "4k backing");
	assert_non_null(r);
	assert_non_null(strstr(r->text, "L1 dTLB: 64 entries x 4K = 256 KiB; steps between 256 KiB and 364 KiB"));
	assert_non_null(strstr(r->text, "L2 STLB: 2048 entries x 4K = 8 MiB; steps between 8 MiB and 11.3 MiB"));
	assert_true(r->lo == 256 * 1024 && r->hi == 364 * 1024);
	/* The cost of each level: the translation plateau (curve minus the 1.0 ns control). */
	const struct finding *c = nth(&l.fs, FK_LEVEL_COST, "4k backing");
	assert_non_null(c);
	assert_true(fabs(c->value - 15.0) < 1e-6);
	assert_true(c->lo < c->value && c->value < c->hi);
	/* Large-page gain of 1.00x everywhere. */
	const struct finding *g = nth(&l.fs, FK_GAIN, "thp backing instead of 4k");
	assert_non_null(g);
	assert_true(fabs(g->value - 1.0) < 1e-9);
	/* No VM measurements here, and /dev/kvm was usable: say how to get them. */
	assert_int_equal(findings_count(&l.fs, FK_NO_VM), 1);
	assert_int_equal(findings_count(&l.fs, FK_TAX), 0);
	unload(&l);
}

/* One step alone (as likely a data cache's) is not evidence of splintering. */
static void test_one_step_not_splintered(void **state)
{
	(void)state;
	json_error_t jerr;
	json_t *doc = json_load_file(FX "splintered.json", 0, &jerr);
	assert_non_null(doc);
	json_t *knees = json_object_get(json_object_get(doc, "derived"), "knees");
	for (size_t i = json_array_size(knees); i-- > 0;)
		if (json_integer_value(json_object_get(json_array_get(knees, i), "working_set_bytes")) > 1 << 20)
			json_array_remove(knees, i);
	char *text = json_dumps(doc, JSON_COMPACT);
	struct res_file rf;
	struct findings fs;
	nb_error err;
	memset(&rf, 0, sizeof(rf));
	assert_int_equal(res_parse(&rf, "one-step", text, strlen(text), &err), 0);
	assert_int_equal(findings_build(&rf, 1, &fs, &err), 0);
	assert_int_equal(findings_count(&fs, FK_SPLINTER), 0);
	assert_int_equal(findings_count(&fs, FK_REACH), 4);
	findings_free(&fs);
	res_free(&rf);
	free(text);
	json_decref(doc);
}

static void test_reach512(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, FX "reach512.json", NULL);
	assert_int_equal(findings_count(&l.fs, FK_SPLINTER), 0);
	const struct finding *g = findings_first(&l.fs, 0, FK_REACH_GAIN);
	assert_non_null(g);
	assert_true(fabs(g->value - 512.0) < 1e-9);
	assert_non_null(strstr(g->text, "512x"));
	/* Named from host.tlb (the knees carry no level): 64 x 2M = 128 MiB. */
	const struct finding *r = nth(&l.fs, FK_REACH, "hugetlb-2m");
	assert_non_null(r);
	assert_non_null(strstr(r->text, "L2 STLB: 64 entries x 2M = 128 MiB"));
	/* Gain past 4k's L2 STLB step: 18 ns vs 1.2 ns = 15x. */
	const struct finding *gain = nth(&l.fs, FK_GAIN, "instead of 4k");
	assert_non_null(gain);
	assert_true(gain->detail);
	assert_true(fabs(gain->value - 15.0) < 1e-6);
	assert_true(gain->lo < 15.0 && gain->hi > 15.0);
	/* The headline: at 1 GiB, 18 ns vs 6 ns. */
	const struct finding *gs = nth(&l.fs, FK_GAIN, "at the largest working set both have");
	assert_non_null(gs);
	assert_false(gs->detail);
	assert_true(fabs(gs->value - 3.0) < 1e-6);
	assert_non_null(strstr(gs->text, "hugetlb-2m 3.00x faster"));
	unload(&l);
}

static void test_matrix(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, FX "matrix.json", NULL);
	static const struct {
		const char *needle;
		double tax;
	} want[] = {{"4k guest pages on 4k host", 1.9},
		    {"2m guest pages on 4k host", 1.6},
		    {"4k guest pages on hugetlb-2m host", 1.5},
		    {"2m guest pages on hugetlb-2m host", 1.1}};
	/* One per guest page x host backing and the summary; the linux guest is not among them. */
	assert_int_equal(findings_count(&l.fs, FK_TAX), 5);
	const struct finding *sum = nth(&l.fs, FK_TAX, "guest page on host backing: 4k on 4k 1.90x");
	assert_non_null(sum);
	assert_false(sum->detail);
	assert_non_null(strstr(sum->text, "2m on hugetlb-2m 1.10x"));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct finding *t = nth(&l.fs, FK_TAX, want[i].needle);
		assert_non_null(t);
		assert_true(fabs(t->value - want[i].tax) < 1e-6);
		assert_true(t->lo <= t->value && t->hi >= t->value);
		assert_true(t->nsrc >= 2);
		assert_true(t->detail);
		assert_null(strstr(t->text, "linux"));
	}
	/* TCG: function only, never a timing. */
	const struct finding *tcg = findings_first(&l.fs, 0, FK_TCG);
	assert_non_null(tcg);
	assert_non_null(strstr(tcg->text, "function only"));
	assert_true(tcg->value == 4);
	for (size_t i = 0; i < l.fs.n; i++)
		if (l.fs.v[i].kind != FK_TCG)
			assert_null(strstr(l.fs.v[i].text, "linux"));
	/* EPT, with the guest kernel's own fault beside the host's: 3x; its
	 * protect beside mprotect without a ratio (not the same operation). */
	const struct finding *m = findings_first(&l.fs, 0, FK_MMU);
	assert_non_null(m);
	assert_non_null(strstr(m->text, "ept"));
	assert_true(fabs(m->value - 3.0) < 1e-6);
	assert_non_null(strstr(m->text, "guest-fault 2.1 µs per fault, 3x native fault's 700 ns per fault"));
	assert_non_null(strstr(m->text, "guest-protect 9 µs per op (native mprotect: 50 µs per cycle)"));
	/* Page-table update per MiB of memory: 700*256 / (60000*0.5) = 5.97x. */
	const struct finding *p = findings_first(&l.fs, 0, FK_PTUPDATE);
	assert_non_null(p);
	assert_true(fabs(p->value - 700.0 * 256 / 30000.0) < 1e-6);
	assert_non_null(strstr(p->text, "700 ns per fault"));
	assert_non_null(strstr(p->text, "60 µs per fault"));
	const struct finding *cs = findings_first(&l.fs, 0, FK_CTXSW);
	assert_non_null(cs);
	assert_true(fabs(cs->value - 1.1) < 1e-6);
	/* The native hugetlb-2m curve has a cache step at 512K as 4k does, but
	 * costs far less past 4k's steps: not splintered. */
	assert_int_equal(findings_count(&l.fs, FK_SPLINTER), 0);
	assert_int_equal(findings_count(&l.fs, FK_NO_VM), 0);
	/* KVM's mapping: 4k guest pages on hugetlb-2m were mapped with 4K pages only. */
	const struct finding *km = findings_first(&l.fs, 0, FK_KVM_MAP);
	assert_non_null(km);
	assert_true(km->value == 1);
	assert_false(km->detail);
	assert_non_null(strstr(km->text, "4k guest pages on hugetlb-2m: 16384 x 4K, 0 x 2M, 0 x 1G (the large host pages mapped as 4K"));
	assert_non_null(strstr(km->text, "2m guest pages on hugetlb-2m: 40 x 4K, 32 x 2M"));
	assert_non_null(strstr(km->text, "1 of 2 large-host-backing cells"));
	unload(&l);
}

static void test_novm(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, FX "novm.json", NULL);
	const struct finding *x = findings_first(&l.fs, 0, FK_NO_VM);
	assert_non_null(x);
	assert_non_null(strstr(x->text, "fixture: /dev/kvm does not exist"));
	assert_int_equal(findings_count(&l.fs, FK_TAX), 0);
	assert_int_equal(findings_count(&l.fs, FK_MMU), 0);
	assert_int_equal(findings_count(&l.fs, FK_REACH), 1);
	unload(&l);
}

static void test_allskipped(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, FX "allskipped.json", NULL);
	const struct finding *x = findings_first(&l.fs, 0, FK_NOTHING);
	assert_non_null(x);
	assert_non_null(strstr(x->text, "all 5 cells were skipped"));
	assert_non_null(strstr(x->text, "3 x fixture: no hugepages could be reserved"));
	assert_non_null(strstr(x->text, "2 x fixture: /dev/kvm is not usable"));
	assert_int_equal(x->nsrc, 5);
	for (size_t i = 0; i < l.fs.n; i++)
		assert_true(l.fs.v[i].kind == FK_NOTHING || l.fs.v[i].kind == FK_NO_VM);
	unload(&l);
}

static void test_two_files(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, FX "matrix.json", FX "reach512.json");
	/* The 4k level cost: 17 ns in both files -> 1x of the first's. */
	const struct finding *c = NULL;
	for (size_t i = 0; i < l.fs.n; i++)
		if (l.fs.v[i].file == 1 && l.fs.v[i].kind == FK_LEVEL_COST && strstr(l.fs.v[i].text, "4k backing"))
			c = &l.fs.v[i];
	assert_non_null(c);
	assert_true(c->has_vs_first);
	assert_true(fabs(c->vs_first - 1.0) < 1e-9);
	/* The gain: 15x in B against 7.2x in A. */
	const struct finding *g = NULL;
	for (size_t i = 0; i < l.fs.n; i++)
		if (l.fs.v[i].file == 1 && l.fs.v[i].kind == FK_GAIN && strstr(l.fs.v[i].text, "instead of 4k"))
			g = &l.fs.v[i];
	assert_non_null(g);
	assert_true(g->has_vs_first);
	assert_true(fabs(g->vs_first - 15.0 / 7.2) < 1e-6);
	for (size_t i = 0; i < l.fs.n; i++)
		if (l.fs.v[i].file == 0)
			assert_false(l.fs.v[i].has_vs_first);
	unload(&l);
}

static char *capture_text(const struct loaded *l)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	findings_write_text(f, &l->fs, l->rf, l->n, 1000);
	fclose(f);
	return buf;
}

static char *capture_doc(const struct loaded *l, int html)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	struct doc d = {.f = f, .html = html};
	findings_write_doc(&d, &l->fs, l->rf, l->n);
	fclose(f);
	return buf;
}

static void test_hostile(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, FX "hostile.json", NULL);
	/* The hostile strings do reach the findings (level names, kernels)... */
	size_t quoted = 0;
	for (size_t i = 0; i < l.fs.n; i++)
		quoted += strstr(l.fs.v[i].text, "<script>") != NULL;
	assert_true(quoted >= 3);
	/* ...and stay inert in every writer. */
	char *t = capture_text(&l);
	assert_null(strchr(t, '\x1b'));
	for (const char *p = t; (p = strstr(p, "alert(1)")); p++) {
		/* the newline inside the string is shown, not obeyed */
		const char *nl = strchr(p, '\n');
		assert_true(nl && strncmp(nl + 1, "next", 4));
	}
	free(t);
	char *h = capture_doc(&l, 1);
	assert_null(strstr(h, "<script"));
	assert_null(strchr(h, '\x1b'));
	assert_non_null(strstr(h, "&lt;script&gt;"));
	free(h);
	char *md = capture_doc(&l, 0);
	assert_null(strstr(md, "<script"));
	/* Markdown: no link can form (every ']' of the hostile string escaped). */
	size_t links = 0;
	for (const char *q = md; (q = strstr(q, "](javascript")); q++, links++)
		assert_true(q > md && q[-1] == '\\');
	assert_true(links > 0);
	free(md);
	unload(&l);
}

/* The run's terminal summary goes through the same findings. */
static void test_print_doc(void **state)
{
	(void)state;
	json_error_t jerr;
	json_t *doc = json_load_file(FX "matrix.json", 0, &jerr);
	assert_non_null(doc);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(findings_print_doc(f, doc), 0);
	fclose(f);
	/* The headline findings; the details counted, not printed. */
	assert_non_null(strstr(buf, "guest page on host backing: 4k on 4k 1.90x"));
	assert_null(strstr(buf, "Guest's tax, 4k guest pages on 4k host backing"));
	assert_non_null(strstr(buf, "more: reach and cost per curve"));
	assert_non_null(strstr(buf, "TCG: function only"));
	free(buf);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_splintered), cmocka_unit_test(test_one_step_not_splintered),
		cmocka_unit_test(test_reach512),   cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_novm),	   cmocka_unit_test(test_allskipped), cmocka_unit_test(test_two_files),
		cmocka_unit_test(test_hostile), cmocka_unit_test(test_print_doc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
