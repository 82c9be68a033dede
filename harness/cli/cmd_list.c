/* cmd_list.c - `nestbench list`: kernels, backings (usable now or why not), suites. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "harness/mem/backing.h"
#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "core/kernel.h"
#include "harness/pmu/pmu.h"
#include "harness/pmu/pmu_events.h"
#include "harness/run/suite.h"

static const struct cli_opt list_opts[] = {
	{"events", 'e', "LIST", "resolve these libpfm4 event strings instead of the CPU's set", CLI_V_EVENTS, NULL, OPT_DOC_ONLY},
	{"names", 'n', NULL,
	 "print only the names, one a line, without headers: what --kernel, --backing, --suite and --events "
	 "accept (events: the libpfm4 strings of this CPU's set); the shell completion uses this",
	 CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{"help", 'h', NULL, "this help", CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{NULL, 0, NULL, NULL, CLI_V_NONE, NULL, OPT_DOC_ONLY},
};

const struct cli_cmd cli_cmd_list = {
	.name = "list",
	.fn = cmd_list,
	.summary = "kernels, memory backings (usable now or why not), suites, PMU events",
	.synopsis = "[--events LIST] [--names] [kernels|backings|suites|events]...",
	.description = "Show what can be run: the kernels with their metric and parameters, the memory backings "
		       "and whether each can be had now (and why not, and how to enable it), the suites, and the "
		       "PMU events resolved for this CPU with their encodings and whether each can be opened "
		       "here.  With no topic, all of them.",
	.opts = list_opts,
	.operand = CLI_V_CHOICE,
	.operand_choices = "kernels backings suites events",
	.exit_status = "0 ok, 2 usage error (an unknown topic or option).",
	.examples = (const struct cli_item[]){{"list backings", "which memory backings can be had now, and why not"},
					      {"list kernels --names", "the kernel names, one a line"},
					      {NULL, NULL}},
};

static void list_kernels(FILE *out)
{
	fprintf(out, "kernels:\n");
	for (size_t i = 0; i < kernel_table_len; i++) {
		const struct kernel_desc *k = kernel_table[i];
		fprintf(out, "  %-18s %-12s %-16s %s\n", k->name, k->family, k->metric, k->summary);
		if (k->params_help)
			fprintf(out, "  %-18s %-12s %-16s parameters: %s\n", "", "", "", k->params_help);
	}
}

static void list_backings(FILE *out)
{
	fprintf(out, "backings:\n");
	for (int b = 0; b < BACKING_COUNT; b++) {
		nb_error why = {{0}};
		size_t page = backing_page_bytes((enum backing_kind)b);
		int rc = backing_usable((enum backing_kind)b, page, &why);
		fprintf(out, "  %-12s %-6s %s\n", backing_name((enum backing_kind)b), rc == 0 ? "usable" : "no",
			rc == 0 ? "" : why.msg);
	}
}

static const char *events_override;

static void names_kernels(FILE *out)
{
	for (size_t i = 0; i < kernel_table_len; i++)
		fprintf(out, "%s\n", kernel_table[i]->name);
}

static void names_backings(FILE *out)
{
	for (int b = 0; b < BACKING_COUNT; b++)
		fprintf(out, "%s\n", backing_name((enum backing_kind)b));
}

static void names_suites(FILE *out)
{
	for (size_t i = 0; i < suites_len; i++)
		fprintf(out, "%s\n", suites[i].name);
}

/* What --events accepts: libpfm4 strings.  A raw-encoded set (a CPU libpfm4
 * does not know) has none of its own; libpfm4's generic perf:: events are
 * accepted everywhere, so those are listed too. */
static void names_events(FILE *out)
{
	static const char *const generic[] = {"perf::PERF_COUNT_HW_CPU_CYCLES", "perf::PERF_COUNT_HW_INSTRUCTIONS"};
	struct pmu_eventset *set = calloc(1, sizeof(*set));
	nb_error err;
	if (set && !pmu_eventset_resolve(events_override, set, &err))
		for (size_t i = 0; i < set->n; i++)
			if (set->ev[i].pfm[0])
				fprintf(out, "%s\n", set->ev[i].pfm);
	for (size_t g = 0; g < ARRAY_SIZE(generic); g++) {
		int seen = 0;
		for (size_t i = 0; set && i < set->n; i++)
			seen |= !strcmp(set->ev[i].pfm, generic[g]);
		if (!seen)
			fprintf(out, "%s\n", generic[g]);
	}
	free(set);
}

static void list_events(FILE *out)
{
	nb_error err;
	fprintf(out, "events:\n");
	if (pmu_list_events(out, 0, events_override, &err))
		fprintf(out, "  cannot resolve the event set: %s\n", err.msg);
}

static void list_suites(FILE *out)
{
	fprintf(out, "suites:\n");
	for (size_t i = 0; i < suites_len; i++)
		fprintf(out, "  %-8s %s\n", suites[i].name, suites[i].summary);
}

int cmd_list(int argc, char **argv)
{
	struct cli_parser p;
	cli_parser_init(&p, &cli_cmd_list);
	int c, names = 0;
	optind = 1;
	opterr = 0;
	events_override = NULL;
	while ((c = getopt_long(argc, argv, p.shortopts, p.longopts, NULL)) != -1) {
		if (c == 'h') {
			cli_help(stdout, &cli_cmd_list);
			return EXIT_OK;
		}
		if (c == 'n') {
			names = 1;
			continue;
		}
		if (c == 'e') {
			events_override = optarg;
			continue;
		}
		nb_error_msg("list: unknown option '%s' (see 'nestbench list --help')", argv[optind - 1]);
		return EXIT_USAGE;
	}
	static const struct {
		const char *name;
		void (*fn)(FILE *);
		void (*names)(FILE *);
	} topics[] = {{"kernels", list_kernels, names_kernels},
		      {"backings", list_backings, names_backings},
		      {"suites", list_suites, names_suites},
		      {"events", list_events, names_events}};
	for (int i = optind; i < argc; i++) {
		size_t t = 0;
		while (t < ARRAY_SIZE(topics) && strcmp(argv[i], topics[t].name))
			t++;
		if (t == ARRAY_SIZE(topics)) {
			nb_error_msg("list: unknown topic '%s' (kernels, backings, suites or events)", argv[i]);
			return EXIT_USAGE;
		}
	}
	for (size_t t = 0; t < ARRAY_SIZE(topics); t++) {
		int wanted = optind == argc;
		for (int i = optind; i < argc; i++)
			wanted |= !strcmp(argv[i], topics[t].name);
		if (wanted)
			(names ? topics[t].names : topics[t].fn)(stdout);
	}
	return EXIT_OK;
}
