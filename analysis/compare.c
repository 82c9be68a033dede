/* compare.c - `nestbench compare`: ratios with confidence intervals and a CI gate. */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "compare_out.h"
#include "match.h"
#include "resfile.h"

static void compare_usage(FILE *out)
{
	fprintf(out,
		"usage: nestbench compare A.json B.json [C.json ...] [--threshold PCT]\n"
		"                         [--format text|markdown|json|csv] [--resamples N] [--seed N]\n\n"
		"Match measurements across results files by identity (kernel, mode, backing, guest page,\n"
		"working set, defining parameters) and print, for each file against the baseline A, the\n"
		"medians, the ratio X/A with a 95%% confidence interval and whether the difference is\n"
		"significant.  Measurements without a partner are listed, with the reason.\n\n"
		"  --threshold PCT   gate: exit 3 when a significant slowdown exceeds PCT percent\n"
		"  --format FMT      text (default), markdown, json or csv\n"
		"  --resamples N     bootstrap resamples (default %d, at least 100)\n"
		"  --seed N          bootstrap seed (default %llu); the same seed gives the same output\n\n"
		"Method: the samples of A and X are resampled independently with replacement; the interval\n"
		"is the 2.5th..97.5th percentile of median(X*)/median(A*).  Significant: the interval\n"
		"excludes 1 and both sides have at least %d samples.\n\n"
		"Exit status: 0 no regression (or no --threshold), 1 a file is unreadable or invalid,\n"
		"2 usage error, 3 a significant slowdown above --threshold.\n",
		BOOT_DEFAULT_ITERS, (unsigned long long)BOOT_DEFAULT_SEED, BOOT_MIN_SAMPLES);
}

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
	static const struct option opts[] = {
		{"threshold", required_argument, NULL, 't'}, {"format", required_argument, NULL, 'f'},
		{"resamples", required_argument, NULL, 'r'}, {"seed", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0}};
	struct cmp_settings set = {.threshold_pct = -1, .iters = BOOT_DEFAULT_ITERS, .seed = BOOT_DEFAULT_SEED};
	enum cmp_format fmt = FMT_TEXT;
	nb_error err;
	unsigned long ul;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "t:f:r:s:h", opts, NULL)) != -1) {
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
			compare_usage(stdout);
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
	if (compare_files(files, (size_t)nfiles, set.threshold_pct, set.iters, set.seed, &cmp, &err)) {
		nb_error_msg("compare: %s", err.msg);
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
