/* cmd_help.c - `nestbench help`: one command's help, its man page, completion data. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness/cli/cli_man.h"
#include "harness/cli/commands.h"
#include "harness/cli/datadir.h"
#include "core/util.h"

enum { HELP_MAN = 'm', HELP_COMPLETE = 'c' };

static const struct cli_opt help_opts[] = {
	{"man", HELP_MAN, NULL,
	 "print the man page in roff instead: nestbench(1) with every command, or nestbench-COMMAND(1) (the build "
	 "writes build/*.1 so)",
	 CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{"complete", HELP_COMPLETE, NULL,
	 "print what the shell completion scripts complete, one tab-separated record a line: `command NAME`, "
	 "`option --LONG -S KIND CHOICES` and `operand KIND CHOICES` (`-` for an empty field)",
	 CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{"help", 'h', NULL, "this help", CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{NULL, 0, NULL, NULL, CLI_V_NONE, NULL, OPT_DOC_ONLY},
};

const struct cli_cmd cli_cmd_help = {
	.name = "help",
	.fn = cmd_help,
	.summary = "a command's help, its man page, or shell completion data",
	.synopsis = "[--man | --complete] [COMMAND]",
	.description = "Show the help of COMMAND (as `nestbench COMMAND --help`), or with no COMMAND the list of "
		       "commands.  The man pages and the completion data are printed from the same tables as the "
		       "help, so they always match this binary.",
	.opts = help_opts,
	.operand = CLI_V_COMMANDS,
	.exit_status = "0 ok, 2 usage error (an unknown command).",
	.examples = (const struct cli_item[]){{"help run", "the options of `nestbench run`"},
					      {"help --man run | man -l -", "read nestbench-run(1) from the build tree"},
					      {NULL, NULL}},
};

static const char *dash(const char *s)
{
	return s && *s ? s : "-";
}

static void complete_data(FILE *out, const struct cli_cmd *c)
{
	if (c == &cli_program)
		for (size_t i = 0; i < cli_commands_len; i++)
			fprintf(out, "command\t%s\n", cli_commands[i]->name);
	for (const struct cli_opt *o = cli_cmd_opts(c); o && o->name; o++) {
		int sh = cli_opt_short(o);
		char s[3] = {'-', (char)sh, '\0'};
		fprintf(out, "option\t--%s\t%s\t%s\t%s\n", o->name, sh ? s : "-", cli_value_name(o->arg ? o->value : CLI_V_NONE),
			dash(o->choices));
	}
	fprintf(out, "operand\t%s\t%s\n", cli_value_name(c->operand), dash(c->operand_choices));
}

/* The page date: SOURCE_DATE_EPOCH when set (reproducible builds), else today. */
static void page_date(char *buf, size_t len)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	time_t t = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d", &tm))
		snprintf(buf, len, "unknown");
}

int cmd_help(int argc, char **argv)
{
	struct cli_parser p;
	cli_parser_init(&p, &cli_cmd_help);
	int mode = 0, c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, p.shortopts, p.longopts, NULL)) != -1) {
		switch (c) {
		case HELP_MAN:
		case HELP_COMPLETE: mode = c; break;
		case 'h': cli_help(stdout, &cli_cmd_help); return EXIT_OK;
		default:
			nb_error_msg("help: unknown option '%s' (see 'nestbench help --help')", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		nb_error_msg("help: at most one command (see 'nestbench help --help')");
		return EXIT_USAGE;
	}
	const struct cli_cmd *cmd = &cli_program;
	if (optind < argc && !(cmd = cli_command_find(argv[optind]))) {
		nb_error_msg("help: unknown command '%s' (see 'nestbench --help')", argv[optind]);
		return EXIT_USAGE;
	}
	if (mode == HELP_MAN) {
		char date[32];
		page_date(date, sizeof(date));
		struct cli_man_info info = {.version = NESTBENCH_VERSION, .date = date, .datadir = datadir_compiled()};
		cli_man_write(stdout, cmd, &info);
	} else if (mode == HELP_COMPLETE) {
		complete_data(stdout, cmd);
	} else if (cmd == &cli_program) {
		cli_program_usage(stdout);
	} else {
		cli_help(stdout, cmd);
	}
	if (fflush(stdout) != 0) {
		nb_error_msg("help: cannot write to stdout");
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}
