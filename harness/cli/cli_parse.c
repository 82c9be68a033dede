/* cli_parse.c - a whole command line parsed from the option table alone. */
#include <string.h>

#include "harness/cli/cli.h"

/* given is a bit mask of the table's rows. */
_Static_assert(CLI_MAX_OPTS <= 64, "cli_parse's given holds one bit per row");

static int usage(const struct cli_cmd *c, const char *msg, int hint)
{
	if (hint)
		nb_error_msg("%s (see 'nestbench %s --help')", msg, c->name);
	else
		nb_error_msg("%s", msg);
	return EXIT_USAGE;
}

int cli_parse(const struct cli_cmd *c, int argc, char **argv, void *cfg, uint64_t *given)
{
	struct cli_parser p;
	cli_parser_init(&p, c);
	*given = 0;
	optind = 1;
	opterr = 0;
	const struct cli_opt *opts = cli_cmd_opts(c);
	int k;
	while ((k = getopt_long(argc, argv, p.shortopts, p.longopts, NULL)) != -1) {
		int i = 0;
		while (opts[i].name && opts[i].key != k)
			i++;
		const struct cli_opt *o = &opts[i];
		if (!o->name) {
			char msg[256];
			if (optopt && optopt < 256)
				snprintf(msg, sizeof(msg), "%s: unknown option or missing value for '-%c'", c->name, optopt);
			else
				snprintf(msg, sizeof(msg), "%s: unknown option or missing value in '%s'", c->name,
					 argv[optind - 1]);
			return usage(c, msg, 1);
		}
		if (o->type == OPT_T_NONE) {
			if (strcmp(o->name, "help"))
				return usage(c, "option not in the parser's table", 0);
			cli_help(stdout, c);
			return CLI_PARSE_HELP;
		}
		nb_error err;
		int rc = opt_set(o, optarg, cfg, &err);
		if (rc)
			return usage(c, err.msg, rc == 2);
		*given |= 1ull << i;
	}
	if (optind < argc) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s: unexpected argument '%s'", c->name, argv[optind]);
		return usage(c, msg, 1);
	}
	return 0;
}
