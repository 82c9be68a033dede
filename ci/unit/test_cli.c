/* Unit tests: the option tables of every command are sound (one key, one long
 * name each, help for all, within CLI_MAX_OPTS), getopt_long's arrays are
 * derived correctly, and the roff writer neutralizes what roff would take as
 * markup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/cli.h"
#include "harness/cli/cli_man.h"
#include "harness/cli/commands.h"

static char *capture(void (*fn)(FILE *, const void *), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	fn(f, arg);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void tables_are_sound(void **state)
{
	(void)state;
	const struct cli_cmd *all[16] = {&cli_program};
	size_t n = 1;
	for (size_t i = 0; i < cli_commands_len; i++)
		all[n++] = cli_commands[i];
	for (size_t c = 0; c < n; c++) {
		const struct cli_cmd *cmd = all[c];
		assert_non_null(cmd->summary);
		assert_non_null(cmd->exit_status);
		if (cmd != &cli_program)
			assert_non_null(cmd->fn);
		size_t count = 0;
		for (const struct cli_opt *o = cli_cmd_opts(cmd); o->name; o++, count++) {
			assert_non_null(o->help);
			assert_true(strlen(o->help) > 0);
			/* An argument has a kind, a flag has none; choices go with CHOICE. */
			assert_true((o->arg != NULL) == (o->value != CLI_V_NONE));
			assert_true((o->choices != NULL) == (o->value == CLI_V_CHOICE));
			for (const struct cli_opt *p = cli_cmd_opts(cmd); p < o; p++) {
				assert_int_not_equal(p->key, o->key);
				assert_string_not_equal(p->name, o->name);
			}
		}
		assert_true(count <= CLI_MAX_OPTS);
		assert_true(count >= 1); /* every command has at least --help */
	}
}

static const struct cli_opt toy_opts[] = {
	{"alpha", 'a', "N", "takes a number", CLI_V_WORD, NULL, OPT_DOC_ONLY},
	{"beta", 'b', NULL, "a flag", CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{"gamma", 300, "FILE", "long only", CLI_V_FILE, NULL, OPT_DOC_ONLY},
	{NULL, 0, NULL, NULL, CLI_V_NONE, NULL, OPT_DOC_ONLY},
};

static void parser_is_derived_from_the_table(void **state)
{
	(void)state;
	const struct cli_cmd toy = {.name = "toy", .opts = toy_opts};
	struct cli_parser p;
	cli_parser_init(&p, &toy);
	assert_string_equal(p.shortopts, "a:b");
	assert_string_equal(p.longopts[0].name, "alpha");
	assert_int_equal(p.longopts[0].has_arg, required_argument);
	assert_int_equal(p.longopts[1].has_arg, no_argument);
	assert_int_equal(p.longopts[2].val, 300);
	assert_null(p.longopts[3].name);
}

static void wrap_keeps_width(FILE *f, const void *arg)
{
	cli_wrap(f, arg, 0, 4, 20);
}

static void wrapping_breaks_between_words(void **state)
{
	(void)state;
	char *s = capture(wrap_keeps_width, "one two three four five six seven\nforced");
	assert_string_equal(s, "one two three four\n    five six seven\n    forced");
	free(s);
}

static const struct cli_opt hostile_opts[] = {
	{"dash-ed", 'd', "A-B", "\\ backslash and `code`", CLI_V_WORD, NULL, OPT_DOC_ONLY},
	{NULL, 0, NULL, NULL, CLI_V_NONE, NULL, OPT_DOC_ONLY},
};
static const struct cli_cmd hostile = {
	.name = "hostile",
	.summary = "s",
	.synopsis = ".SH injected",
	.description = ".SH NOT A SECTION\n'also not a request\n\n.TP paragraph",
	.opts = hostile_opts,
	.exit_status = "0",
};

static void man_of(FILE *f, const void *arg)
{
	const struct cli_man_info info = {.version = "1.0", .date = "2026-01-01", .datadir = "/usr/share/nb"};
	cli_man_write(f, arg, &info);
}

static void roff_escapes_markup(void **state)
{
	(void)state;
	char *s = capture(man_of, &hostile);
	/* Text that starts a line never becomes a request. */
	assert_non_null(strstr(s, "\n\\&.SH NOT A SECTION\n.br\n\\&'also not a request\n.PP\n\\&.TP paragraph"));
	assert_null(strstr(s, "\n.SH NOT"));
	assert_non_null(strstr(s, "\\fB\\-d\\fR, \\fB\\-\\-dash\\-ed\\fR \\fIA\\-B\\fR"));
	assert_non_null(strstr(s, "\\e backslash and \\fBcode\\fR"));
	assert_non_null(strstr(s, ".TH \"NESTBENCH-HOSTILE\" 1 \"2026-01-01\" \"nestbench 1.0\""));
	/* FILES name the data directory given. */
	assert_non_null(strstr(s, "/usr/share/nb/schema.json"));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tables_are_sound),
		cmocka_unit_test(parser_is_derived_from_the_table),
		cmocka_unit_test(wrapping_breaks_between_words),
		cmocka_unit_test(roff_escapes_markup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
