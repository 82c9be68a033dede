/* cli_man.h - man pages in roff (man macros) from the subcommands' tables.
 *
 * The build runs `nestbench help --man` to write build/nestbench.1 (every
 * command, one page) and `nestbench help --man COMMAND` for
 * nestbench-COMMAND.1, in the layout of perf's and git's pages: NAME,
 * SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES,
 * SEE ALSO.  The text is the --help text, so the two cannot drift.
 */
#ifndef NESTBENCH_CLI_MAN_H
#define NESTBENCH_CLI_MAN_H

#include <stdio.h>

#include "harness/cli/cli.h"

struct cli_man_info {
	const char *version; /* "nestbench VERSION" in the footer */
	const char *date;    /* YYYY-MM-DD */
	const char *datadir; /* substituted for @DATADIR@ in FILES */
};

/* Write the page of cmd; cmd == &cli_program writes nestbench(1) with all commands. */
void cli_man_write(FILE *out, const struct cli_cmd *cmd, const struct cli_man_info *info);

#endif
