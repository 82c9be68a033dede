/* commands.h - the subcommands of the nestbench binary.
 *
 * Each takes the arguments after its own name (argv[0] is the subcommand
 * name, as getopt_long expects) and returns the process exit status
 * (EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, EXIT_REGRESSION from util.h).
 */
#ifndef NESTBENCH_COMMANDS_H
#define NESTBENCH_COMMANDS_H

int cmd_info(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_cleanup(int argc, char **argv);

#endif
