/* main.c - the nestbench binary: dispatch to a subcommand, perf/git style. */
#include <stdio.h>
#include <string.h>

#include "harness/cli/commands.h"
#include "harness/cli/datadir.h"
#include "core/util.h"

/* The version, and where the data files come from (an installed tool is asked this first). */
static int version(void)
{
	struct datadir d;
	int found = !datadir_find(&d);
	printf("nestbench %s\n", NESTBENCH_VERSION);
	printf("data directory: %s (%s)\n", d.dir, d.origin);
	printf("templates: %s\nschema: %s\n", d.templates, d.schema);
	if (strcmp(d.dir, datadir_compiled()))
		printf("built for: %s\n", datadir_compiled());
	if (!found)
		nb_warn("the data files are missing: `nestbench report` needs the templates (reinstall, or set "
			"NESTBENCH_DATADIR)");
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cli_program_usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || (!strcmp(name, "help") && argc == 2)) {
		cli_program_usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(name, "--version") || !strcmp(name, "-V"))
		return version();
	if (!strcmp(name, "guest-init"))
		return cmd_guest_init(argc - 1, argv + 1);
	const struct cli_cmd *c = cli_command_find(name);
	if (c)
		return c->fn(argc - 1, argv + 1);
	nb_error_msg("unknown command '%s' (see 'nestbench --help')", name);
	return EXIT_USAGE;
}
