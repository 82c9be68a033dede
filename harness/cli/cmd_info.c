/* cmd_info.c - `nestbench info`: what this machine offers for the measurements. */
#include <getopt.h>
#include <stdio.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/host/machine.h"
#include "harness/host/topology.h"
#include "core/util.h"

static const struct cli_opt info_opts[] = {
	{"json", 'j', NULL, "print the facts as JSON (the `host` member of results files)", CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{"help", 'h', NULL, "show this help", CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{NULL, 0, NULL, NULL, CLI_V_NONE, NULL, OPT_DOC_ONLY},
};

const struct cli_cmd cli_cmd_info = {
	.name = "info",
	.fn = cmd_info,
	.summary = "machine, hypervisor, MMU virtualization mode, page pools, topology",
	.synopsis = "[--json]",
	.description = "Show the machine facts every results file records: CPU, TSC, hypervisor, kernel, THP, "
		       "hugepage pools, KVM and how it virtualizes memory, topology, perf settings, and how to "
		       "enable what is missing.",
	.opts = info_opts,
	.exit_status = "0 ok, 1 the facts could not be gathered or written, 2 usage error.",
	.examples = (const struct cli_item[]){{"info", "what this machine offers, and how to enable the rest"},
						 {"info --json | jq .kvm", "the KVM facts as JSON"},
						 {NULL, NULL}},
};

int cmd_info(int argc, char **argv)
{
	struct cli_parser p;
	cli_parser_init(&p, &cli_cmd_info);
	int json = 0, c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, p.shortopts, p.longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'h':
			cli_help(stdout, &cli_cmd_info);
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
