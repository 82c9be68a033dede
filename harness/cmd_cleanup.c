/* cmd_cleanup.c - `nestbench cleanup`: give back hugetlb pages left by runs that did not finish. */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "hugepool.h"
#include "util.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: nestbench cleanup\n\n"
		     "Give back the hugetlb pages that runs which did not finish (killed outright,\n"
		     "e.g. with SIGKILL) added to the hugepage pools.  Every run records what it\n"
		     "grows under " LEDGER_DIR "; pages of runs still going are left alone.\n"
		     "Needs root when there is something to give back.\n\n"
		     "  --help    show this help\n\n"
		     "Exit status: 0 done (or nothing to do), 1 the pages could not be given back,\n"
		     "2 usage error.\n");
}

int cmd_cleanup(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
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
