/* test_report.c - unit tests of escaping, gnuplot argument safety and the doc writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/doc.h"
#include "analysis/escape.h"
#include "analysis/gnuplot.h"

typedef void (*esc_fn)(FILE *, const char *);

static char *render(esc_fn fn, const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	fn(f, s);
	fclose(f);
	return buf;
}

static const char evil[] = "a`id`$(id) system(\"id\") 'q' <script>x</script>\n\x1b[2J&";

static void test_html(void **state)
{
	(void)state;
	char *o = render(esc_html, evil);
	assert_string_equal(o, "a`id`$(id) system(&quot;id&quot;) &#39;q&#39; &lt;script&gt;x&lt;/script&gt;"
			       "&#xfffd;&#xfffd;[2J&amp;");
	free(o);
}

static void test_md(void **state)
{
	(void)state;
	char *o = render(esc_md, "x|y *b* `c` [l](u) <i>\n");
	assert_string_equal(o, "x\\|y \\*b\\* \\`c\\` \\[l\\](u) &lt;i&gt; ");
	free(o);
}

static void test_text_and_csv(void **state)
{
	(void)state;
	char *o = render(esc_text, "a\nb\x1b[31m");
	assert_string_equal(o, "a?b?[31m");
	free(o);
	o = render(esc_csv, "=cmd|\"x\"\n");
	assert_string_equal(o, "\"'=cmd|\"\"x\"\" \"");
	free(o);
	char buf[8];
	esc_text_buf(buf, sizeof(buf), "abc\ndefghij");
	assert_string_equal(buf, "abc?def");
	/* Cut short between the bytes of a character: the whole character goes. */
	esc_text_buf(buf, sizeof(buf), "abcdef\xc3\xa9");
	assert_string_equal(buf, "abcdef");
	esc_text_buf(buf, sizeof(buf), "abcde\xe2\x82\xac");
	assert_string_equal(buf, "abcde");
	esc_text_buf(buf, sizeof(buf), "abcd\xc3\xa9xy");
	assert_string_equal(buf, "abcd\xc3\xa9x");
}

static void test_plot_label(void **state)
{
	(void)state;
	char buf[64];
	plot_label(buf, sizeof(buf), "A chase vm 4k guest=2m");
	assert_string_equal(buf, "A chase vm 4k guest=2m");
	plot_label(buf, sizeof(buf), evil);
	assert_null(strpbrk(buf, "`$\"'<>()\n\x1b;&"));
}

static void test_gp_vars(void **state)
{
	(void)state;
	struct gp_vars v = {0};
	gp_var_str(&v, "ttl", "guest/native, file A, ws 64M");
	gp_var_int(&v, "n", 3);
	assert_false(v.bad);
	assert_string_equal(v.buf, "ttl='guest/native, file A, ws 64M'; n=3; ");
	static const char *const bad[] = {"a'b", "a\"b", "`x`", "a\nb", "a\\b", "x;y", "$HOME", "a<b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct gp_vars w = {0};
		gp_var_str(&w, "ttl", bad[i]);
		assert_true(w.bad);
		nb_error err;
		char warn[64];
		assert_int_equal(gp_run("/", "/nonexistent.gp", &w, warn, sizeof(warn), &err), -1);
		assert_non_null(strstr(err.msg, "refused"));
	}
}

static void test_doc_escapes_cells(void **state)
{
	(void)state;
	for (int html = 0; html <= 1; html++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		struct doc d = {.f = f, .html = html};
		static const char *const hdr[] = {"h"};
		doc_begin(&d, "t");
		doc_table_begin(&d, hdr, 1);
		doc_row_begin(&d);
		doc_cell(&d, "<script>alert(1)</script>|");
		doc_row_end(&d);
		doc_table_end(&d);
		doc_end(&d);
		fclose(f);
		assert_null(strstr(buf, "<script>"));
		assert_non_null(strstr(buf, "&lt;script&gt;"));
		if (html)
			assert_non_null(strstr(buf, "Content-Security-Policy"));
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_html),	     cmocka_unit_test(test_md),	      cmocka_unit_test(test_text_and_csv),
		cmocka_unit_test(test_plot_label),   cmocka_unit_test(test_gp_vars),
		cmocka_unit_test(test_doc_escapes_cells),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
