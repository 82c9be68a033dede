/* cli.h - the command-line description of each subcommand, as data.
 *
 * Every subcommand describes itself in one struct cli_cmd: summary, synopsis,
 * description and a table of options {long name, short letter, argument,
 * help}.  From that one table come getopt_long's option arrays (cli_parser),
 * the --help text (cli_help), the man pages (cli_man.h) and the shell
 * completion data (`nestbench help --complete`), so none of them can drift
 * from what the parser accepts.
 *
 * A row (struct cli_opt, core/opt.h) may also say how its argument is parsed,
 * where the value goes and its config key: cli_parse() then parses a whole
 * command line from the table alone (`run` does; the smaller commands switch
 * on the keys by hand), and opt_echo() writes the effective values back.
 */
#ifndef NESTBENCH_CLI_H
#define NESTBENCH_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "core/opt.h" /* struct cli_opt, enum cli_value: the row type, shared with run/ */

/* The word `help --complete` prints for each kind ("none", "file", "kernels", ...). */
const char *cli_value_name(enum cli_value v);

/* A term and its explanation: an example command line (after "nestbench "),
 * a file or an environment variable.  A NULL term ends a list.  "@DATADIR@"
 * in a term stands for the data directory the binary was built for. */
struct cli_item {
	const char *term;
	const char *text;
};

struct cli_cmd {
	const char *name;        /* "run"; "nestbench" for the program itself */
	int (*fn)(int argc, char **argv);
	const char *summary;     /* one line: `nestbench --help` and the man page NAME */
	const char *synopsis;    /* what follows "nestbench NAME ", lines separated by '\n' */
	const char *description; /* paragraphs separated by "\n\n", not wrapped */
	const struct cli_opt *opts;
	/* Instead of opts, a table assembled at run time (run's: its own rows
	 * and the kernels'); read either through cli_cmd_opts(). */
	const struct cli_opt *(*opts_fn)(void);
	enum cli_value operand;  /* what the non-option arguments are */
	const char *operand_choices; /* CLI_V_CHOICE operands (list's topics) */
	const char *notes;       /* paragraphs printed after the options ("" or NULL: none) */
	const char *exit_status; /* one paragraph */
	const struct cli_item *examples;
	const struct cli_item *files;       /* the program's FILES (cli_program only) */
	const struct cli_item *environment; /* the program's ENVIRONMENT (cli_program only) */
};

/* The command's option table: c->opts_fn() or c->opts. */
const struct cli_opt *cli_cmd_opts(const struct cli_cmd *c);

/* getopt_long's arrays built from a table. */
#define CLI_MAX_OPTS OPT_TABLE_MAX
struct cli_parser {
	struct option longopts[CLI_MAX_OPTS + 1];
	char shortopts[3 * CLI_MAX_OPTS + 1];
};
/* Fill p from c->opts (short letters with ':' where an argument is taken). */
void cli_parser_init(struct cli_parser *p, const struct cli_cmd *c);

/* The option's short letter, or 0 when it is long-only. */
int cli_opt_short(const struct cli_opt *o);

/* `nestbench NAME --help`: usage, description, options, notes, exit status. */
void cli_help(FILE *out, const struct cli_cmd *c);

/* Print text wrapped at width, every line after the first indented by indent
 * (the first line is assumed to start at column col). */
void cli_wrap(FILE *out, const char *text, int col, int indent, int width);

/* Parse argv with getopt_long from c->opts: each row with a type is stored
 * into cfg by opt_set() (messages on stderr); bit i of *given says opts[i]
 * was given.  "help" prints cli_help.  Returns 0 to go on, CLI_PARSE_HELP
 * after --help (exit 0), or 2 (usage error, reported). */
#define CLI_PARSE_HELP (-1)
int cli_parse(const struct cli_cmd *c, int argc, char **argv, void *cfg, uint64_t *given);

#endif
