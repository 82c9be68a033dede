/* commands.h - the subcommands of the nestbench binary.
 *
 * Each takes the arguments after its own name (argv[0] is the subcommand
 * name, as getopt_long expects) and returns the process exit status
 * (EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, EXIT_REGRESSION from util.h).
 */
#ifndef NESTBENCH_COMMANDS_H
#define NESTBENCH_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

#include "harness/cli/cli.h"

int cmd_info(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_help(int argc, char **argv);
int cmd_cleanup(int argc, char **argv);
/* Not listed: the first process of the image `run --mode linux` boots (linuxguest/guest_init.h). */
int cmd_guest_init(int argc, char **argv);

/* Each subcommand's description and option table (cli.h), next to its code. */
extern const struct cli_cmd cli_cmd_info, cli_cmd_list, cli_cmd_run, cli_cmd_compare, cli_cmd_report,
	cli_cmd_help, cli_cmd_cleanup;

/* The program itself (global options, overview, files, environment) and
 * every subcommand in the order `nestbench --help` lists them
 * (cli_commands.c); the man pages and completion iterate over these. */
extern const struct cli_cmd cli_program;
extern const struct cli_cmd *const cli_commands[];
extern const size_t cli_commands_len;
const struct cli_cmd *cli_command_find(const char *name);
/* `nestbench --help`: the commands with their summaries. */
void cli_program_usage(FILE *out);

#endif
