/* cli.c - getopt_long arrays and --help text from a subcommand's option table. */
#include <string.h>

#include "harness/cli/cli.h"

#define HELP_WIDTH 80
#define HELP_COL 28 /* options' help starts here */

const char *cli_value_name(enum cli_value v)
{
	static const char *const names[CLI_V_COUNT] = {
		[CLI_V_NONE] = "none",	       [CLI_V_WORD] = "word",	      [CLI_V_FILE] = "file",
		[CLI_V_DIR] = "dir",	       [CLI_V_CHOICE] = "choice",     [CLI_V_KERNELS] = "kernels",
		[CLI_V_BACKINGS] = "backings", [CLI_V_SUITES] = "suites",     [CLI_V_EVENTS] = "events",
		[CLI_V_COMMANDS] = "commands",
	};
	return (unsigned)v < CLI_V_COUNT ? names[v] : "word";
}

const struct cli_opt *cli_cmd_opts(const struct cli_cmd *c)
{
	return c->opts_fn ? c->opts_fn() : c->opts;
}

int cli_opt_short(const struct cli_opt *o)
{
	return o->key > 0 && o->key < 128 ? o->key : 0;
}

void cli_parser_init(struct cli_parser *p, const struct cli_cmd *c)
{
	size_t n = 0, s = 0;
	/* A table longer than CLI_MAX_OPTS is cut short; the unit test
	 * (test_cli.c) keeps every table within it. */
	memset(p, 0, sizeof(*p));
	for (const struct cli_opt *o = cli_cmd_opts(c); o && o->name && n < CLI_MAX_OPTS; o++, n++) {
		p->longopts[n] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL, o->key};
		if (cli_opt_short(o)) {
			p->shortopts[s++] = (char)o->key;
			if (o->arg)
				p->shortopts[s++] = ':';
		}
	}
}

/* One word at a time, breaking before a word that would pass the width. */
static void wrap_len(FILE *out, const char *p, size_t n, int col, int indent, int width)
{
	const char *end = p + n;
	int at_line_start = 1;
	while (p < end) {
		if (*p == '\n') {
			fprintf(out, "\n%*s", indent, "");
			col = indent;
			at_line_start = 1;
			p++;
			continue;
		}
		if (*p == ' ') {
			p++;
			continue;
		}
		size_t len = strcspn(p, " \n");
		if (len > (size_t)(end - p))
			len = (size_t)(end - p);
		if (!at_line_start && col + 1 + (int)len > width) {
			fprintf(out, "\n%*s", indent, "");
			col = indent;
			at_line_start = 1;
		}
		if (!at_line_start) {
			fputc(' ', out);
			col++;
		}
		fprintf(out, "%.*s", (int)len, p);
		col += (int)len;
		at_line_start = 0;
		p += len;
	}
}

void cli_wrap(FILE *out, const char *text, int col, int indent, int width)
{
	wrap_len(out, text, strlen(text), col, indent, width);
}

/* Paragraphs are separated by "\n\n"; each is wrapped on its own. */
static void paragraphs(FILE *out, const char *text)
{
	while (text && *text) {
		const char *end = strstr(text, "\n\n");
		size_t len = end ? (size_t)(end - text) : strlen(text);
		wrap_len(out, text, len, 0, 0, HELP_WIDTH);
		fputs("\n\n", out);
		text = end ? end + 2 : NULL;
	}
}

static void usage_lines(FILE *out, const struct cli_cmd *c)
{
	const char *syn = c->synopsis ? c->synopsis : "";
	int indent = 0;
	do {
		size_t len = strcspn(syn, "\n");
		if (!indent)
			indent = fprintf(out, "usage: nestbench %s%s", c->name, len ? " " : "");
		else
			fprintf(out, "%*s", indent, "");
		fprintf(out, "%.*s\n", (int)len, syn);
		syn += len;
	} while (*syn++ == '\n');
	fputc('\n', out);
}

void cli_help(FILE *out, const struct cli_cmd *c)
{
	usage_lines(out, c);
	paragraphs(out, c->description);
	const struct cli_opt *opts = cli_cmd_opts(c);
	if (opts && opts->name) {
		fputs("options:\n", out);
		for (const struct cli_opt *o = opts; o->name; o++) {
			char head[96];
			int sh = cli_opt_short(o);
			int n = snprintf(head, sizeof(head), "  %c%c%s--%s%s%s", sh ? '-' : ' ', sh ? sh : ' ',
					 sh ? ", " : "  ", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
			fputs(head, out);
			if (n + 2 > HELP_COL) {
				fprintf(out, "\n%*s", HELP_COL, "");
			} else {
				fprintf(out, "%*s", HELP_COL - n, "");
			}
			cli_wrap(out, o->help, HELP_COL, HELP_COL, HELP_WIDTH);
			fputc('\n', out);
		}
		fputc('\n', out);
	}
	paragraphs(out, c->notes);
	if (c->exit_status) {
		char buf[1024];
		snprintf(buf, sizeof(buf), "Exit status: %s", c->exit_status);
		cli_wrap(out, buf, 0, 0, HELP_WIDTH);
		fputc('\n', out);
	}
}
