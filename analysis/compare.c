/* compare.c - `nestbench compare`: ratios with confidence intervals and a CI gate. */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "analysis/compare_out.h"
#include "analysis/match.h"
#include "analysis/resfile.h"

/* The help names the bootstrap defaults literally; these keep it true. */
_Static_assert(BOOT_DEFAULT_ITERS == 2000, "compare's help text names 2000 resamples");
_Static_assert(BOOT_DEFAULT_SEED == 0x6e65737462656e63ull, "compare's help text names the default seed");
_Static_assert(BOOT_MIN_SAMPLES == 5, "compare's help text names 5 samples");

static const struct cli_opt compare_opts[] = {
	{"threshold", 't', "PCT",
	 "gate: exit 3 when a significant slowdown's interval lies wholly above PCT percent (rows with fewer than 5 "
	 "replicates a side are not gated; refused, exit 2, when no row has enough)",
	 CLI_V_WORD, NULL, OPT_DOC_ONLY},
	{"format", 'f', "FMT", "text (default), markdown, json or csv", CLI_V_CHOICE, "text markdown json csv", OPT_DOC_ONLY},
	{"resamples", 'r', "N", "bootstrap resamples (default 2000, at least 100)", CLI_V_WORD, NULL, OPT_DOC_ONLY},
	{"seed", 's', "N",
	 "bootstrap seed (default 0x6e65737462656e63, \"nestbenc\"); the same seed gives the same output",
	 CLI_V_WORD, NULL, OPT_DOC_ONLY},
	{"help", 'h', NULL, "this help", CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{NULL, 0, NULL, NULL, CLI_V_NONE, NULL, OPT_DOC_ONLY},
};

const struct cli_cmd cli_cmd_compare = {
	.name = "compare",
	.fn = cmd_compare,
	.summary = "ratios with confidence intervals across results files; regression gate",
	.synopsis = "A.json B.json [C.json ...] [--threshold PCT]\n[--format text|markdown|json|csv] [--resamples N] "
		    "[--seed N]",
	.description = "Match measurements across results files by identity (kernel, mode, backing, guest page, "
		       "working set, defining parameters) and print, for each file against the baseline A, the "
		       "medians, the ratio X/A with a 95% confidence interval and whether the difference is "
		       "significant.  Measurements without a partner are listed, with the reason.",
	.opts = compare_opts,
	.operand = CLI_V_FILE,
	.notes = "Replicates: a measurement's round medians (rounds.medians; a run's rounds are its independent "
		 "replicates), or, for files from before rounds, its samples (said in the row's note).  Ratio: "
		 "median(X)/median(A) of the replicates; interval: the replicates of A and X resampled independently "
		 "with replacement, the 2.5th..97.5th percentile of median(X*)/median(A*).  Significant: at least 5 "
		 "replicates a side, the two-sided Mann-Whitney U test of the replicates significant after the "
		 "Benjamini-Hochberg correction over all rows tested (false discovery rate 5%), and the interval "
		 "excluding 1.  Gate: a significant slowdown whose interval's lower bound lies above 1 + PCT/100.",
	.exit_status = "0 no regression (or no --threshold), 1 a file is unreadable or invalid, 2 usage error or a "
		       "gate refused (too few replicates), 3 a significant slowdown beyond --threshold.",
	.examples = (const struct cli_item[]){{"compare base.json new.json", "ratios of new to base, per measurement"},
					      {"compare --threshold 5 --format markdown base.json new.json",
					       "a CI gate: exit 3 on a significant slowdown above 5%"},
					      {NULL, NULL}},
};

static int parse_format(const char *s, enum cmp_format *out)
{
	static const struct {
		const char *name;
		enum cmp_format fmt;
	} f[] = {{"text", FMT_TEXT}, {"markdown", FMT_MARKDOWN}, {"md", FMT_MARKDOWN}, {"json", FMT_JSON},
		 {"csv", FMT_CSV}};
	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		if (!strcmp(s, f[i].name)) {
			*out = f[i].fmt;
			return 0;
		}
	return -1;
}

static int parse_pct(const char *s, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(d) || d < 0 || d > 1e6)
		return -1;
	*out = d;
	return 0;
}

int cmd_compare(int argc, char **argv)
{
	struct cli_parser p;
	cli_parser_init(&p, &cli_cmd_compare);
	struct cmp_settings set = {.threshold_pct = -1, .iters = BOOT_DEFAULT_ITERS, .seed = BOOT_DEFAULT_SEED};
	enum cmp_format fmt = FMT_TEXT;
	nb_error err;
	unsigned long ul;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, p.shortopts, p.longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_pct(optarg, &set.threshold_pct)) {
				nb_error_msg("compare: invalid --threshold '%s': expected a percentage >= 0, e.g. 5", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'f':
			if (parse_format(optarg, &fmt)) {
				nb_error_msg("compare: invalid --format '%s': use text, markdown, json or csv", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			if (parse_uint(optarg, 1000000, &ul, &err) || ul < 100) {
				nb_error_msg("compare: invalid --resamples '%s': expected 100..1000000", optarg);
				return EXIT_USAGE;
			}
			set.iters = (unsigned)ul;
			break;
		case 's':
			if (parse_uint(optarg, ULONG_MAX, &ul, &err)) {
				nb_error_msg("compare: invalid --seed '%s': %s", optarg, err.msg);
				return EXIT_USAGE;
			}
			set.seed = ul;
			break;
		case 'h':
			cli_help(stdout, &cli_cmd_compare);
			return EXIT_OK;
		default:
			nb_error_msg("compare: unknown or incomplete option '%s' (see 'nestbench compare --help')",
				     argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	/* Options may also follow the files. */
	int nfiles = argc - optind;
	if (nfiles < 2) {
		nb_error_msg("compare: needs at least two results files (see 'nestbench compare --help')");
		return EXIT_USAGE;
	}
	struct res_file *files = calloc((size_t)nfiles, sizeof(*files));
	if (!files) {
		nb_error_msg("compare: out of memory");
		return EXIT_RUNTIME;
	}
	int rc = EXIT_RUNTIME, loaded = 0;
	struct comparison cmp = {0};
	for (; loaded < nfiles; loaded++) {
		if (res_load(&files[loaded], argv[optind + loaded], &err)) {
			res_free(&files[loaded]);
			nb_error_msg("%s", err.msg);
			goto out;
		}
	}
	int crc = compare_files(files, (size_t)nfiles, set.threshold_pct, set.iters, set.seed, &cmp, &err);
	if (crc) {
		nb_error_msg("compare: %s", err.msg);
		if (crc == -2)
			rc = EXIT_USAGE;
		goto out;
	}
	if (compare_print(stdout, fmt, files, (size_t)nfiles, &cmp, &set) || fflush(stdout)) {
		nb_error_msg("compare: cannot write the output: %s", strerror(errno));
		goto out;
	}
	rc = cmp.regressions ? EXIT_REGRESSION : EXIT_OK;
out:
	comparison_free(&cmp);
	for (int i = 0; i < loaded; i++)
		res_free(&files[i]);
	free(files);
	return rc;
}
