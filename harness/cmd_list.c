/* cmd_list.c - `nestbench list`: kernels, backings (usable now or why not), suites. */
#include <getopt.h>
#include <string.h>

#include "backing.h"
#include "commands.h"
#include "kernel.h"
#include "pmu.h"
#include "suite.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: nestbench list [--events LIST] [kernels|backings|suites|events]...\n\n"
		     "Show what can be run: the kernels with their metric and parameters, the memory\n"
		     "backings and whether each can be had now (and why not, and how to enable it),\n"
		     "the suites, and the PMU events resolved for this CPU with their encodings and\n"
		     "whether each can be opened here.  With no topic, all of them.\n\n"
		     "  -e, --events LIST   resolve these libpfm4 event strings instead of the CPU's set\n"
		     "  -h, --help          this help\n");
}

static void list_kernels(FILE *out)
{
	fprintf(out, "kernels:\n");
	for (size_t i = 0; i < kernel_table_len; i++) {
		const struct kernel_desc *k = kernel_table[i];
		fprintf(out, "  %-18s %-9s %-16s %s\n", k->name, k->family, k->metric, k->summary);
		if (k->params_help)
			fprintf(out, "  %-18s %-9s %-16s parameters: %s\n", "", "", "", k->params_help);
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
	static const struct option options[] = {
		{"events", required_argument, NULL, 'e'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int c;
	optind = 1;
	opterr = 0;
	events_override = NULL;
	while ((c = getopt_long(argc, argv, "e:h", options, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return EXIT_OK;
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
	} topics[] = {{"kernels", list_kernels},
		      {"backings", list_backings},
		      {"suites", list_suites},
		      {"events", list_events}};
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
			topics[t].fn(stdout);
	}
	return EXIT_OK;
}
