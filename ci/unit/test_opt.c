/* Unit tests: the table-driven option parser (core/opt_parse.c), its JSON
 * echo (core/opt_json.c), the comma-list splitter (core/commalist.c),
 * cli_parse() over a whole argv, and `run`'s table echoing a parsed
 * run_config as the results file's config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/commalist.h"
#include "core/opt.h"
#include "core/opt_json.h"
#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/run/run.h"

struct toy {
	unsigned count;
	size_t bytes;
	int flag;
	const char *str;
	const char *events;
	unsigned mode;
	size_t sizes[3];
	unsigned nsizes;
	int ints[4];
	size_t nints;
	int colors[2];
	unsigned ncolors;
	double ns;
	int cpu;
	uint64_t seed;
	size_t stride;
};

struct toy_suite {
	size_t bytes;
	double ns;
};

static int color_parse(const char *s, void *out, nb_error *err)
{
	int v = !strcmp(s, "red") ? 1 : !strcmp(s, "blue") ? 2 : 0;
	if (!v)
		return nb_fail(err, "unknown color '%s'", s);
	memcpy(out, &v, sizeof(v));
	return 0;
}

static const char *color_name(const void *p)
{
	int v;
	memcpy(&v, p, sizeof(v));
	return v == 1 ? "red" : "blue";
}

static int has_events(const void *cfg)
{
	return ((const struct toy *)cfg)->events != NULL;
}

#define M(f) (((struct toy *)0)->f)
#define F(f) .off = offsetof(struct toy, f), .width = sizeof(M(f))
#define L(a, n, fl)                                                                                             \
	.flags = OPT_F_LIST | (fl), .off = offsetof(struct toy, a), .width = sizeof(M(a)[0]),                   \
	.count_off = offsetof(struct toy, n), .count_width = sizeof(M(n)), .max_items = sizeof(M(a)) / sizeof(M(a)[0])

static const unsigned long mode_values[] = {1, 2, 3, 0};

static const struct cli_opt toy_opts[] = {
	{"count", 'n', "N", "a count", CLI_V_WORD, NULL, .type = OPT_T_UINT, F(count), .min = 1, .max = 16, .def = 4,
	 .config_key = "count"},
	{"bytes", 300, "SIZE", "a size", CLI_V_WORD, NULL, .type = OPT_T_SIZE, F(bytes), .min = 1,
	 .flags = OPT_F_SUITE, .suite_off = offsetof(struct toy_suite, bytes), .config_key = "bytes"},
	{"no-flag", 301, NULL, "a flag", CLI_V_NONE, NULL, .type = OPT_T_FLAG, F(flag), .flags = OPT_F_INVERT,
	 .config_key = "flag"},
	{"str", 302, "FILE", "a string", CLI_V_FILE, NULL, .type = OPT_T_STRING, F(str), .min = 1},
	{"events", 303, "LIST", "a checked list kept whole", CLI_V_WORD, NULL, .type = OPT_T_STRING, F(events),
	 .flags = OPT_F_LIST, .config_key = "events"},
	{"mode", 'm', "MODE", "a choice", CLI_V_CHOICE, "one two both", .type = OPT_T_CHOICE, F(mode),
	 .choice_values = mode_values, .def = 1, .config_key = "mode"},
	{"size", 304, "SIZE[,...]", "sizes", CLI_V_WORD, NULL, .type = OPT_T_SIZE, L(sizes, nsizes, OPT_F_NULL_EMPTY),
	 .align = 4096, .align_what = "4k pages", .config_key = "sizes_bytes"},
	{"ints", 305, "N[,...]", "numbers", CLI_V_WORD, NULL, .type = OPT_T_UINT, L(ints, nints, 0), .min = 1,
	 .max = 99, .config_key = "ints"},
	{"color", 306, "C[,...]", "names", CLI_V_WORD, NULL, .type = OPT_T_NAME, L(colors, ncolors, OPT_F_UNIQUE),
	 .name_parse = color_parse, .name_of = color_name, .config_key = "colors", .echo_if = has_events},
	{"ms", 307, "MS", "ms stored as ns", CLI_V_WORD, NULL, .type = OPT_T_UINT, F(ns),
	 .flags = OPT_F_DOUBLE | OPT_F_SUITE, .suite_off = offsetof(struct toy_suite, ns), .scale = 1e6, .min = 1,
	 .max = 1000, .config_key = "ns"},
	{"cpu", 308, "N", "signed, -1 unless given", CLI_V_WORD, NULL, .type = OPT_T_UINT, F(cpu),
	 .flags = OPT_F_SIGNED, .max = 100, .def = -1, .config_key = "cpu"},
	{"seed", 309, "N", "64-bit", CLI_V_WORD, NULL, .type = OPT_T_UINT, F(seed), .def = 1, .config_key = "seed"},
	{"stride", 310, "SIZE", "0 means 4k", CLI_V_WORD, NULL, .type = OPT_T_SIZE, F(stride), .echo_zero = 4096,
	 .config_key = "stride"},
	{"help", 'h', NULL, "this help", CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{NULL, 0, NULL, NULL, CLI_V_NONE, NULL, OPT_DOC_ONLY},
};

static const struct cli_opt *row(const char *name)
{
	int i = opt_index(toy_opts, name);
	assert_true(i >= 0);
	return &toy_opts[i];
}

/* opt_set's return, and err's message into msg. */
static int set(struct toy *t, const char *name, const char *arg, char *msg)
{
	nb_error err = {{0}};
	int rc = opt_set(row(name), arg, t, &err);
	strcpy(msg, rc ? err.msg : "");
	return rc;
}

static void uint_bounds(void **state)
{
	(void)state;
	struct toy t = {0};
	char msg[512];
	assert_int_equal(set(&t, "count", "16", msg), 0);
	assert_int_equal(t.count, 16);
	assert_int_equal(set(&t, "count", "0", msg), -1);
	assert_string_equal(msg, "--count: must be at least 1");
	assert_int_equal(set(&t, "count", "17", msg), -1);
	assert_string_equal(msg, "--count: number 17 is out of range (at most 16)");
	assert_int_equal(set(&t, "count", "x", msg), -1);
	assert_non_null(strstr(msg, "--count: "));
	assert_int_equal(t.count, 16); /* a refused value leaves the field alone */
	assert_int_equal(set(&t, "seed", "18446744073709551615", msg), 0);
	assert_true(t.seed == UINT64_MAX);
	assert_int_equal(set(&t, "ms", "5", msg), 0);
	assert_true(t.ns == 5e6);
}

static void sizes_and_alignment(void **state)
{
	(void)state;
	struct toy t = {0};
	char msg[512];
	assert_int_equal(set(&t, "bytes", "64k", msg), 0);
	assert_int_equal(t.bytes, 65536);
	assert_int_equal(set(&t, "bytes", "0", msg), -1);
	assert_string_equal(msg, "--bytes: must be larger than 0");
	assert_int_equal(set(&t, "bytes", "12q", msg), -1);
	assert_non_null(strstr(msg, "--bytes: "));
	assert_int_equal(set(&t, "size", "3k", msg), -1);
	assert_string_equal(msg, "--size 3k is not a whole number of 4k pages");
	assert_int_equal(set(&t, "size", "0,8k", msg), 0); /* 0 is a size where min is 0 */
	assert_int_equal(t.nsizes, 2);
	assert_int_equal(t.sizes[1], 8192);
}

static void flags_strings_choices(void **state)
{
	(void)state;
	struct toy t = {0};
	char msg[512];
	assert_int_equal(set(&t, "no-flag", NULL, msg), 0);
	assert_int_equal(t.flag, 1);
	assert_int_equal(set(&t, "str", "", msg), 2);
	assert_string_equal(msg, "--str needs a file name");
	assert_int_equal(set(&t, "str", "a.json", msg), 0);
	assert_string_equal(t.str, "a.json");
	assert_int_equal(set(&t, "events", "cycles,,instructions", msg), 2);
	assert_string_equal(msg, "--events 'cycles,,instructions': empty item in the comma-separated list");
	assert_null(t.events);
	assert_int_equal(set(&t, "events", "cycles,instructions", msg), 0);
	assert_string_equal(t.events, "cycles,instructions"); /* kept whole */
	assert_int_equal(set(&t, "mode", "both", msg), 0);
	assert_int_equal(t.mode, 3);
	assert_int_equal(set(&t, "mode", "bot", msg), 2);
	assert_string_equal(msg, "--mode must be one, two or both");
	assert_int_equal(t.mode, 3);
}

static void lists(void **state)
{
	(void)state;
	struct toy t = {0};
	char msg[512];
	const char *empty[] = {"4k,,", ",4k", "4k,", "", ","};
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		assert_int_equal(set(&t, "size", empty[i], msg), 2);
		assert_non_null(strstr(msg, "empty item in the comma-separated list"));
		assert_int_equal(t.nsizes, 0);
	}
	assert_int_equal(set(&t, "size", "4k,8k,12k,16k", msg), 2);
	assert_string_equal(msg, "--size takes at most 3 values");
	assert_int_equal(set(&t, "ints", "3,1,3", msg), 0); /* not unique: kept as given */
	assert_int_equal(t.nints, 3);
	assert_int_equal(t.ints[0], 3);
	assert_int_equal(t.ints[2], 3);
	assert_int_equal(set(&t, "ints", "7", msg), 0); /* given again: replaces */
	assert_int_equal(t.nints, 1);
	assert_int_equal(t.ints[0], 7);
	assert_int_equal(set(&t, "ints", "1,0", msg), -1);
	assert_string_equal(msg, "--ints: must be at least 1");
	assert_int_equal(set(&t, "color", "blue,red,blue,red", msg), 0); /* unique: once each, in order */
	assert_int_equal(t.ncolors, 2);
	assert_int_equal(t.colors[0], 2);
	assert_int_equal(t.colors[1], 1);
	assert_int_equal(set(&t, "color", "red,green", msg), -1);
	assert_string_equal(msg, "unknown color 'green'"); /* the name parser's message as it is */
}

static int collect(const char *item, void *arg)
{
	char *out = arg;
	strcat(out, "[");
	strcat(out, item);
	strcat(out, "]");
	return !strcmp(item, "stop") ? 7 : 0;
}

static void comma_list(void **state)
{
	(void)state;
	char got[128] = "";
	nb_error err;
	assert_int_equal(comma_list_each("a,bb,c", collect, got, &err), 0);
	assert_string_equal(got, "[a][bb][c]");
	got[0] = '\0';
	assert_int_equal(comma_list_each("a,stop,c", collect, got, &err), 7);
	assert_string_equal(got, "[a][stop]");
	got[0] = '\0';
	assert_int_equal(comma_list_each("a,,c", collect, got, &err), -1);
	assert_string_equal(got, ""); /* nothing handed out from a refused list */
	assert_string_equal(err.msg, "'a,,c': empty item in the comma-separated list");
	assert_int_equal(comma_list_each("x", NULL, NULL, &err), 0);
}

static void defaults_fill_what_was_not_given(void **state)
{
	(void)state;
	const struct toy_suite s = {.bytes = 1 << 20, .ns = 2e6};
	struct toy t = {0};
	char msg[512];
	assert_int_equal(set(&t, "count", "9", msg), 0);
	opt_defaults(toy_opts, 1ull << opt_index(toy_opts, "count"), &t, &s);
	assert_int_equal(t.count, 9);          /* given */
	assert_int_equal(t.bytes, 1 << 20);    /* from the suite */
	assert_true(t.ns == 2e6);              /* from the suite, a double */
	assert_int_equal(t.mode, 1);           /* the row's default */
	assert_int_equal(t.cpu, -1);           /* a negative default in an int */
	assert_true(t.seed == 1);
	assert_int_equal(t.stride, 0);         /* no default: stays 0 */
}

static void echo_from_a_parsed_config(void **state)
{
	(void)state;
	const struct toy_suite s = {.bytes = 4096, .ns = 1e6};
	struct toy t = {0};
	char msg[512];
	assert_int_equal(set(&t, "no-flag", NULL, msg), 0);
	assert_int_equal(set(&t, "ints", "5,6", msg), 0);
	assert_int_equal(set(&t, "seed", "18446744073709551615", msg), 0);
	opt_defaults(toy_opts, 1ull << opt_index(toy_opts, "seed"), &t, &s);
	json_t *j = opt_echo(toy_opts, &t);
	char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(text, "{\"bytes\":4096,\"count\":4,\"cpu\":null,\"events\":null,\"flag\":false,"
				  "\"ints\":[5,6],\"mode\":\"one\",\"ns\":1000000.0,\"seed\":9223372036854775807,"
				  "\"sizes_bytes\":null,\"stride\":4096}");
	free(text);
	json_decref(j);
	/* echo_if: colors only with events; a signed value echoes as given. */
	assert_int_equal(set(&t, "events", "cycles", msg), 0);
	assert_int_equal(set(&t, "color", "red", msg), 0);
	assert_int_equal(set(&t, "cpu", "3", msg), 0);
	assert_int_equal(set(&t, "mode", "two", msg), 0);
	j = opt_echo(toy_opts, &t);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "colors"), 0)), "red");
	assert_int_equal(json_integer_value(json_object_get(j, "cpu")), 3);
	assert_string_equal(json_string_value(json_object_get(j, "mode")), "two");
	assert_string_equal(json_string_value(json_object_get(j, "events")), "cycles");
	json_decref(j);
}

static void cli_parse_walks_argv(void **state)
{
	(void)state;
	const struct cli_cmd toy = {.name = "toy", .opts = toy_opts};
	struct toy t = {0};
	uint64_t given;
	char *argv[] = {"toy", "-n", "3", "--size", "4k,8k", "--no-flag", NULL};
	assert_int_equal(cli_parse(&toy, 6, argv, &t, &given), 0);
	assert_int_equal(t.count, 3);
	assert_int_equal(t.nsizes, 2);
	assert_int_equal(t.flag, 1);
	assert_true(given == (1ull << opt_index(toy_opts, "count") | 1ull << opt_index(toy_opts, "size") |
			      1ull << opt_index(toy_opts, "no-flag")));
	char *bad[] = {"toy", "--count", "99", NULL};
	assert_int_equal(cli_parse(&toy, 3, bad, &t, &given), EXIT_USAGE);
	char *extra[] = {"toy", "operand", NULL};
	assert_int_equal(cli_parse(&toy, 2, extra, &t, &given), EXIT_USAGE);
	char *unknown[] = {"toy", "--nope", NULL};
	assert_int_equal(cli_parse(&toy, 2, unknown, &t, &given), EXIT_USAGE);
}

/* `run`'s own table: a parsed command line echoed as the results file's config. */
static void run_config_echo(void **state)
{
	(void)state;
	struct run_config cfg = {0};
	cfg.suite = suite_find("quick");
	uint64_t given;
	char *argv[] = {"run", "--suite", "smoke", "--size", "4k,8k", "--no-pmu", "--mode", "both", "--guest-page",
			"2m,2m", "--placement", "cross-pu", "--sample-ms", "3", NULL};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	assert_int_equal(cli_parse(&cli_cmd_run, argc, argv, &cfg, &given), 0);
	opt_defaults(run_options(), given, &cfg, cfg.suite);
	cfg.argc = argc;
	cfg.argv = argv;
	json_t *c = run_config_json(&cfg, "r.json");
	assert_string_equal(json_string_value(json_object_get(c, "suite")), "smoke");
	assert_true(json_is_false(json_object_get(c, "pmu")));
	assert_string_equal(json_string_value(json_object_get(c, "mode")), "both");
	json_t *gp = json_object_get(c, "guest_pages");
	assert_int_equal(json_array_size(gp), 1);
	assert_string_equal(json_string_value(json_array_get(gp, 0)), "2m");
	assert_int_equal(json_integer_value(json_array_get(json_object_get(c, "sizes_bytes"), 1)), 8192);
	assert_string_equal(json_string_value(json_array_get(json_object_get(c, "placements"), 0)), "cross-pu");
	assert_true(json_is_null(json_object_get(c, "threads")));
	assert_true(json_is_null(json_object_get(c, "cpu")));
	assert_true(json_is_null(json_object_get(c, "events")));
	assert_int_equal(json_integer_value(json_object_get(c, "samples")), (json_int_t)suite_find("smoke")->samples);
	assert_true(json_real_value(json_object_get(c, "target_sample_ns")) == 3e6);
	assert_int_equal(json_integer_value(json_object_get(c, "stride_bytes")), 4096);
	assert_int_equal(json_integer_value(json_object_get(c, "seed")), 1);
	assert_int_equal(json_array_size(json_object_get(c, "command_line")), (size_t)argc);
	assert_string_equal(json_string_value(json_object_get(c, "out")), "r.json");
	/* The keys results files have carried since schema version 1, no more. */
	const char *keys[] = {"suite", "kernels", "backings", "ws_min_bytes", "ws_max_bytes", "points_per_octave",
			      "samples", "warmup_samples", "target_sample_ns", "stride_bytes", "tlb_locality_bytes",
			      "seed", "command_line", "out", "cpu", "events", "pmu", "mode", "guest_pages",
			      "sizes_bytes", "threads", "placements", "rounds", "precision_pct", "time_budget_s"};
	assert_int_equal(json_object_size(c), sizeof(keys) / sizeof(keys[0]));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_non_null(json_object_get(c, keys[i]));
	json_decref(c);
}

/* Options the kernels declare (bench/chase.c, bench/ptupdate_fork.c) land in
 * the run_config's kernel_options, and are echoed under the kernels' keys. */
static void kernel_options_from_the_kernels(void **state)
{
	(void)state;
	struct run_config cfg = {0};
	cfg.suite = suite_find("smoke");
	uint64_t given;
	char *argv[] = {"run", "--stride", "128", "--tlb-locality", "64k", "--cow-pages", "3", NULL};
	assert_int_equal(cli_parse(&cli_cmd_run, 7, argv, &cfg, &given), 0);
	assert_int_equal(cfg.kopt.stride_bytes, 128);
	assert_int_equal(cfg.kopt.tlb_locality_bytes, 65536);
	assert_int_equal(cfg.kopt.cow_pages, 3);
	json_t *c = opt_echo(run_options(), &cfg);
	assert_int_equal(json_integer_value(json_object_get(c, "stride_bytes")), 128);
	assert_int_equal(json_integer_value(json_object_get(c, "tlb_locality_bytes")), 65536);
	assert_null(json_object_get(c, "cow_pages")); /* never echoed: schema version 1 has no such key */
	json_decref(c);
	/* chase's own cross-check, reached through the kernel table. */
	const struct kernel_desc *chase = kernel_find("chase");
	nb_error err;
	cfg.kopt.stride_bytes = 100;
	assert_int_equal(chase->check_opts(&cfg.kopt, &err), -1);
	assert_string_equal(err.msg, "--stride must be a multiple of 64 bytes (one cache line)");
	/* --help stays the last row; every kernel row is there once. */
	const struct cli_opt *o = run_options();
	int n = 0;
	while (o[n].name)
		n++;
	assert_string_equal(o[n - 1].name, "help");
	assert_true(opt_index(o, "stride") >= 0 && opt_index(o, "cow-pages") >= 0);
}

/* Every row of `run` but --help is parsed from the table, with a field to go to. */
static void run_table_is_complete(void **state)
{
	(void)state;
	for (const struct cli_opt *o = run_options(); o->name; o++) {
		if (!strcmp(o->name, "help")) {
			assert_int_equal(o->type, OPT_T_NONE);
			continue;
		}
		assert_int_not_equal(o->type, OPT_T_NONE);
		assert_true(o->width == 4 || o->width == 8); /* what opt_set and opt_echo handle */
		assert_true((o->arg == NULL) == (o->type == OPT_T_FLAG));
		if ((o->flags & OPT_F_LIST) && o->type != OPT_T_STRING)
			assert_true(o->count_width > 0 && o->max_items > 0);
		if (o->type == OPT_T_NAME)
			assert_true(o->name_parse && o->name_of);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uint_bounds),
		cmocka_unit_test(sizes_and_alignment),
		cmocka_unit_test(flags_strings_choices),
		cmocka_unit_test(lists),
		cmocka_unit_test(comma_list),
		cmocka_unit_test(defaults_fill_what_was_not_given),
		cmocka_unit_test(echo_from_a_parsed_config),
		cmocka_unit_test(cli_parse_walks_argv),
		cmocka_unit_test(run_config_echo),
		cmocka_unit_test(run_table_is_complete),
		cmocka_unit_test(kernel_options_from_the_kernels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
