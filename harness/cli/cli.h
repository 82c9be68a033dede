/* cli.h - the command-line description of each subcommand, as data.
 *
 * Every subcommand describes itself in one struct cli_cmd: summary, synopsis,
 * description and a table of options {long name, short letter, argument,
 * help}.  From that one table come getopt_long's option arrays (cli_parser),
 * the --help text (cli_help), the man pages (cli_man.h) and the shell
 * completion data (`nestbench help --complete`), so none of them can drift
 * from what the parser accepts.
 *
 * struct cli_opt is meant to grow: the planned single option table of `run`
 * (parse, help, echo into the results file's config) adds fields such as a
 * default, a parser and a config key after the ones below, without changing
 * the writers that use these.
 */
#ifndef NESTBENCH_CLI_H
#define NESTBENCH_CLI_H

#include <getopt.h>
#include <stdio.h>

/* What an option argument or an operand is, for completion (and the man page). */
enum cli_value {
	CLI_V_NONE,     /* a flag: no argument */
	CLI_V_WORD,     /* free text: nothing to complete */
	CLI_V_FILE,     /* a path to a file */
	CLI_V_DIR,      /* a path to a directory */
	CLI_V_CHOICE,   /* one of cli_opt.choices (comma lists allowed where the arg says so) */
	CLI_V_KERNELS,  /* kernel names: `nestbench list kernels --names` */
	CLI_V_BACKINGS, /* backing names: `nestbench list backings --names` */
	CLI_V_SUITES,   /* suite names: `nestbench list suites --names` */
	CLI_V_EVENTS,   /* libpfm4 event strings: `nestbench list events --names` */
	CLI_V_COMMANDS, /* subcommand names */
	CLI_V_COUNT
};

/* The word `help --complete` prints for each kind ("none", "file", "kernels", ...). */
const char *cli_value_name(enum cli_value v);

struct cli_opt {
	const char *name;     /* long name without "--"; NULL ends a table */
	int key;              /* getopt_long's val: the short letter, or a value >= 256 (long only) */
	const char *arg;      /* metavariable ("N", "K[,K...]"), NULL for a flag */
	const char *help;     /* one paragraph, not wrapped: the writers wrap it */
	enum cli_value value; /* what the argument is */
	const char *choices;  /* CLI_V_CHOICE: the words, space-separated */
};

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
	enum cli_value operand;  /* what the non-option arguments are */
	const char *operand_choices; /* CLI_V_CHOICE operands (list's topics) */
	const char *notes;       /* paragraphs printed after the options ("" or NULL: none) */
	const char *exit_status; /* one paragraph */
	const struct cli_item *examples;
	const struct cli_item *files;       /* the program's FILES (cli_program only) */
	const struct cli_item *environment; /* the program's ENVIRONMENT (cli_program only) */
};

/* getopt_long's arrays built from a table. */
#define CLI_MAX_OPTS 48
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

#endif
