/* main.c - the nestbench binary: dispatch to a subcommand, perf/git style. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "util.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"info", cmd_info, "machine, hypervisor, MMU virtualization mode, page pools, topology"},
	{"list", cmd_list, "kernels, memory backings (usable now or why not), suites"},
	{"run", cmd_run, "run a suite or single kernels and write a results file"},
	{"compare", cmd_compare, "ratios with confidence intervals across results files; regression gate"},
	{"report", cmd_report, "plots (gnuplot), report.md and a self-contained report.html"},
	{"cleanup", cmd_cleanup, "give back hugepages left by runs that did not finish"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: nestbench [--version] [--help] <command> [<args>]\n\n"
		     "Measure what nested paging (EPT/NPT) costs against native and shadow paging.\n\n"
		     "commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nRun 'nestbench <command> --help' for the options of one command.\n"
		     "Exit status: 0 ok, 1 run-time error, 2 usage error, 3 regression found by compare.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(name, "--version")) {
		printf("nestbench %s\n", NESTBENCH_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	nb_error_msg("unknown command '%s' (see 'nestbench --help')", name);
	return EXIT_USAGE;
}
