/* cmd_cleanup.c - `nestbench cleanup`: give back hugetlb pages left by runs that did not finish. */
#include <getopt.h>
#include <stdio.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/mem/hugepool.h"
#include "core/util.h"

static const struct cli_opt cleanup_opts[] = {
	{"help", 'h', NULL, "show this help", CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{NULL, 0, NULL, NULL, CLI_V_NONE, NULL, OPT_DOC_ONLY},
};

const struct cli_cmd cli_cmd_cleanup = {
	.name = "cleanup",
	.fn = cmd_cleanup,
	.summary = "give back hugepages left in the pools by runs that did not finish",
	.synopsis = "",
	.description = "Give back the hugetlb pages that runs which did not finish (killed outright, e.g. with "
		       "SIGKILL) added to the hugepage pools.  Every run records what it grows under " LEDGER_DIR
		       "; pages of runs still going are left alone.  Needs root when there is something to give back.",
	.opts = cleanup_opts,
	.exit_status = "0 done (or nothing to do), 1 the pages could not be given back, 2 usage error.",
	.examples = (const struct cli_item[]){{"cleanup", "after a run was killed with kill -9"}, {NULL, NULL}},
};

int cmd_cleanup(int argc, char **argv)
{
	struct cli_parser p;
	cli_parser_init(&p, &cli_cmd_cleanup);
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, p.shortopts, p.longopts, NULL)) != -1) {
		if (c == 'h') {
			cli_help(stdout, &cli_cmd_cleanup);
			return EXIT_OK;
		}
		nb_error_msg("cleanup: unknown option '%s' (see 'nestbench cleanup --help')", argv[optind - 1]);
		return EXIT_USAGE;
	}
	if (optind < argc) {
		nb_error_msg("cleanup: unexpected argument '%s' (see 'nestbench cleanup --help')", argv[optind]);
		return EXIT_USAGE;
	}
	nb_error err;
	if (hugepool_cleanup(stdout, &err) != 0) {
		nb_error_msg("cleanup: %s", err.msg);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}
