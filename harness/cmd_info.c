/* cmd_info.c - `nestbench info`: what this machine offers for the measurements. */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "machine.h"
#include "topology.h"
#include "util.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: nestbench info [--json]\n\n"
		     "Show the machine facts every results file records: CPU, TSC, hypervisor,\n"
		     "kernel, THP, hugepage pools, KVM and how it virtualizes memory, topology,\n"
		     "perf settings, and how to enable what is missing.\n\n"
		     "  --json    print the facts as JSON (the `host` member of results files)\n"
		     "  --help    show this help\n");
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int json = 0, c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			nb_error_msg("info: unknown option '%s' (see 'nestbench info --help')", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		nb_error_msg("info: unexpected argument '%s' (see 'nestbench info --help')", argv[optind]);
		return EXIT_USAGE;
	}

	json_t *facts = machine_facts_json();
	if (!facts) {
		nb_error_msg("info: out of memory gathering the machine facts");
		return EXIT_RUNTIME;
	}
	int rc = EXIT_OK;
	if (json) {
		if (json_dumpf(facts, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 || fputc('\n', stdout) == EOF)
			rc = EXIT_RUNTIME;
	} else {
		machine_facts_print(stdout, facts);
	}
	json_decref(facts);
	topology_fini();
	if (fflush(stdout) != 0) {
		nb_error_msg("info: cannot write to stdout");
		rc = EXIT_RUNTIME;
	}
	return rc;
}
