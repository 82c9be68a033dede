/* cli_commands.c - the program's own description and the list of subcommands. */
#include <ctype.h>
#include <string.h>

#include "harness/cli/commands.h"
#include "core/util.h"

static const struct cli_opt program_opts[] = {
	{"version", 'V', NULL, "print the version and the data directory the templates and the schema are read from",
	 CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{"help", 'h', NULL, "list the commands (`nestbench COMMAND --help` shows one command's options)", CLI_V_NONE,
	 NULL, OPT_DOC_ONLY},
	{NULL, 0, NULL, NULL, CLI_V_NONE, NULL, OPT_DOC_ONLY},
};

const struct cli_cmd cli_program = {
	.name = "nestbench",
	.summary = "measure what nested paging (EPT/NPT) costs against native and shadow paging",
	.synopsis = "[--version] [--help] COMMAND [ARGS]",
	.description =
		"nestbench measures what nested paging (Intel EPT, AMD NPT/RVI) costs, against native execution "
		"and shadow paging: TLB-miss cost per page size, page-table updates, address-space switches, with "
		"verified page sizes, pinned threads, confidence intervals and one versioned results format.  The "
		"same measured loops run natively and inside micro-VMs of nestbench's own (KVM).\n\n"
		"A typical session: `nestbench info` shows what the machine offers, `nestbench run` measures and "
		"writes a results file, `nestbench compare` and `nestbench report` read results files, from "
		"this machine or others.",
	.opts = program_opts,
	.operand = CLI_V_COMMANDS,
	.exit_status = "0 ok; 1 run-time error (no results file is written); 2 usage error; 3 a regression "
		       "found by `compare --threshold`; 4 `run` wrote its results file but some cells failed.",
	.examples =
		(const struct cli_item[]){
			{"info", "what this machine offers for the measurements, and how to enable the rest"},
			{"run --suite smoke", "the quick functional check: every kernel at a few sizes"},
			{"run --suite quick --out base.json", "the default sweep, a few minutes"},
			{"compare --threshold 5 base.json new.json", "exit 3 on a significant slowdown above 5%"},
			{"report --out report base.json new.json", "plots, report.md and report.html"},
			{NULL, NULL}},
	.files = (const struct cli_item[]){{"@DATADIR@/templates/*.gp",
					    "gnuplot templates `nestbench report` draws its plots with"},
					   {"@DATADIR@/schema.json", "JSON schema of results files (schema_version 1)"},
					   {"results/HOST-TIME.json",
					    "where `nestbench run` writes its results by default"},
					   {NULL, NULL}},
	.environment =
		(const struct cli_item[]){
			{"NESTBENCH_DATADIR", "read the templates and the schema from this directory (installed layout: "
					      "templates/, schema.json) instead of the built-in one"},
			{"NESTBENCH_TEMPLATES", "gnuplot templates directory for `report` (as --templates)"},
			{"NESTBENCH_GUEST_LOG", "when set, the micro-VM's guest messages are printed on stderr"},
			{"NESTBENCH_CACHE_DIR", "where `run --mode linux` caches its guest initramfs (default "
						"$XDG_CACHE_HOME/nestbench, else ~/.cache/nestbench)"},
			{"NESTBENCH_GUEST_APPEND", "`run --mode linux`: more of the guest kernel's command line, for "
						   "debugging a guest (e.g. `loglevel=7`); recorded in qemu.kernel_cmdline"},
			{"LIBPFM_FORCE_PMU", "libpfm4: use this PMU model instead of the detected one"},
			{"LIBPFM_ENCODE_INACTIVE", "libpfm4: when 1, encode events of PMUs this CPU does not have"},
			{NULL, NULL}},
};

const struct cli_cmd *const cli_commands[] = {
	&cli_cmd_info, &cli_cmd_list, &cli_cmd_run, &cli_cmd_compare, &cli_cmd_report, &cli_cmd_cleanup, &cli_cmd_help,
};
const size_t cli_commands_len = ARRAY_SIZE(cli_commands);

const struct cli_cmd *cli_command_find(const char *name)
{
	for (size_t i = 0; i < cli_commands_len; i++)
		if (!strcmp(name, cli_commands[i]->name))
			return cli_commands[i];
	return NULL;
}

void cli_program_usage(FILE *out)
{
	fprintf(out, "usage: nestbench %s\n\n", cli_program.synopsis);
	fprintf(out, "%c%s.\n\ncommands:\n", toupper((unsigned char)cli_program.summary[0]), cli_program.summary + 1);
	for (size_t i = 0; i < cli_commands_len; i++)
		fprintf(out, "  %-9s %s\n", cli_commands[i]->name, cli_commands[i]->summary);
	fprintf(out, "\nRun 'nestbench <command> --help' for the options of one command.\n");
	char buf[512];
	snprintf(buf, sizeof(buf), "Exit status: %s", cli_program.exit_status);
	cli_wrap(out, buf, 0, 0, 80);
	fputc('\n', out);
}
