/* cmd_run.c - `nestbench run`: parse the command line into a run_config. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/pmu/pmu.h"
#include "harness/run/run.h"
#include "harness/run/run_vm.h"

enum {
	OPT_WS_MIN = 256,
	OPT_WS_MAX,
	OPT_PPO,
	OPT_SAMPLES,
	OPT_WARMUP,
	OPT_SAMPLE_MS,
	OPT_STRIDE,
	OPT_TLB_LOCALITY,
	OPT_SEED,
	OPT_NO_PMU,
	OPT_SIZE,
	OPT_THREADS,
	OPT_PLACEMENT,
	OPT_COW_PAGES,
};

/* The options of `run`: parser, --help, man page and completion all come from here. */
static const struct cli_opt run_opts[] = {
	{"suite", 's', "NAME", "smoke, quick (default) or full; see 'nestbench list suites'", CLI_V_SUITES, NULL},
	{"kernel", 'k', "K[,K...]", "kernels to run instead of the suite's (see 'nestbench list kernels')",
	 CLI_V_KERNELS, NULL},
	{"backing", 'b', "B[,B...]",
	 "4k, thp, hugetlb-2m, hugetlb-1g (default: all; those that cannot be had are skipped with the reason; "
	 "named ones must be had)",
	 CLI_V_BACKINGS, NULL},
	{"cpu", 'c', "N",
	 "PU to pin the measuring thread to (default: one without an SMT sibling, preferring the last core)",
	 CLI_V_WORD, NULL},
	{"out", 'o', "FILE", "results file (default results/<host>-<UTC time>.json); a device or FIFO (/dev/stdout, a "
			     "named pipe) is written in place",
	 CLI_V_FILE, NULL},
	{"quiet", 'q', NULL, "no progress, no summary table; only the results path", CLI_V_NONE, NULL},
	{"ws-min", OPT_WS_MIN, "SIZE", "smallest working set (default from the suite, e.g. 16k)", CLI_V_WORD, NULL},
	{"ws-max", OPT_WS_MAX, "SIZE", "largest working set (default from the suite, capped to fit memory)",
	 CLI_V_WORD, NULL},
	{"points-per-octave", OPT_PPO, "N", "sweep density (default from the suite)", CLI_V_WORD, NULL},
	{"samples", OPT_SAMPLES, "N", "timed samples per measurement (default from the suite)", CLI_V_WORD, NULL},
	{"warmup", OPT_WARMUP, "N", "warm-up samples per measurement", CLI_V_WORD, NULL},
	{"sample-ms", OPT_SAMPLE_MS, "MS", "target duration of one sample in milliseconds", CLI_V_WORD, NULL},
	{"stride", OPT_STRIDE, "SIZE", "chase: distance between elements (default 4k: one per page)", CLI_V_WORD,
	 NULL},
	{"tlb-locality", OPT_TLB_LOCALITY, "SIZE", "chase: visit pages in random order within groups of SIZE",
	 CLI_V_WORD, NULL},
	{"seed", OPT_SEED, "N", "permutation seed (default 1)", CLI_V_WORD, NULL},
	{"events", 'e', "LIST",
	 "PMU events (libpfm4 strings, comma-separated) instead of this CPU's page-walk set (see 'nestbench list "
	 "events')",
	 CLI_V_EVENTS, NULL},
	{"no-pmu", OPT_NO_PMU, NULL, "do not open hardware counters", CLI_V_NONE, NULL},
	{"mode", 'm', "MODE",
	 "native (default), vm (the kernels inside a KVM guest of nestbench's own) or both (native and VM "
	 "measurements interleaved per point); vmexit, vmswitch, guest-shootdown run their guests in vm mode and "
	 "their native counterparts in native mode",
	 CLI_V_CHOICE, "native vm both"},
	{"guest-page", 'g', "P[,P...]",
	 "vm: guest page sizes 4k, 2m, 1g (default: all; those that cannot be had are skipped with the reason)",
	 CLI_V_CHOICE, "4k 2m 1g"},
	{"size", OPT_SIZE, "SIZE[,SIZE...]",
	 "page-table and context-switch kernels: the region mapped, protected, discarded or forked (a whole "
	 "number of the backing's pages), or the working set each side touches after every switch (0 = none); "
	 "default from the suite",
	 CLI_V_WORD, NULL},
	{"threads", OPT_THREADS, "N[,N...]",
	 "shootdown: PUs taking part, the measuring one included; guest-shootdown: vCPUs, one PU each (default "
	 "1, 2, 4, ... and all PUs this process may use)",
	 CLI_V_WORD, NULL},
	{"placement", OPT_PLACEMENT, "P[,P...]", "pipe-proc, pipe-thread: same-pu and/or cross-pu (default both)",
	 CLI_V_CHOICE, "same-pu cross-pu"},
	{"cow-pages", OPT_COW_PAGES, "N", "fork-cow: pages the child writes per fork (default: all in the region)",
	 CLI_V_WORD, NULL},
	{"help", 'h', NULL, "this help", CLI_V_NONE, NULL},
	{NULL, 0, NULL, NULL, CLI_V_NONE, NULL},
};

const struct cli_cmd cli_cmd_run = {
	.name = "run",
	.fn = cmd_run,
	.summary = "run a suite or single kernels and write a results file",
	.synopsis = "[--suite smoke|quick|full] [--kernel K,...] [--backing B,...]\n"
		    "[--cpu N] [--out FILE] [--quiet] [--mode native|vm|both]\n"
		    "[--guest-page 4k,2m,1g] [OPTIONS]",
	.description = "Run a suite (or single kernels) natively, in micro-VMs of nestbench's own or both, and "
		       "write a results file.",
	.opts = run_opts,
	.notes = "Sizes take k, m, g suffixes (binary): 4k, 2m, 1g, 64M.\n"
		 "Progress goes to stderr when it is a terminal; the summary table to stdout.",
	.exit_status = "0 ok; 1 run-time error (nothing written); 2 usage error; 4 the results file is written but some "
		       "cells failed (\"failed\": true in the file, with the reason).",
	.examples = (const struct cli_item[]){{"run --suite smoke --out smoke.json", "every kernel at a few sizes"},
					      {"run --kernel chase,chase-ctl --backing 4k,thp --ws-max 256M",
					       "the TLB-miss sweep on two backings"},
					      {"run --mode both --kernel chase --guest-page 4k,2m",
					       "native and micro-VM chase, interleaved per point"},
					      {NULL, NULL}},
};

static int usage_error(const char *msg)
{
	nb_error_msg("%s (see 'nestbench run --help')", msg);
	return EXIT_USAGE;
}

/* strtok_r() skips empty items: "4k,,", ",4k" or "" would pass unseen. */
static int list_arg_ok(const char *opt, const char *list)
{
	size_t n = strlen(list);
	if (!n || list[0] == ',' || list[n - 1] == ',' || strstr(list, ",,")) {
		nb_error_msg("--%s '%s': empty item in the comma-separated list (see 'nestbench run --help')", opt,
			     list);
		return EXIT_USAGE;
	}
	return 0;
}

/* --mode vm or both: /dev/kvm must open, or every VM measurement would be
 * skipped and the run would end "successfully" with nothing asked for. */
static int check_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	int e = errno;
	nb_error_msg("--mode vm: cannot open /dev/kvm: %s (%s)", strerror(e),
		     e == ENOENT ? "this kernel has no KVM: load kvm_intel or kvm_amd, or enable virtualization"
		     : e == EACCES || e == EPERM ? "join the kvm group (usermod -aG kvm USER, then log in again) or run as root"
						 : "see 'nestbench info'");
	return EXIT_RUNTIME;
}

static int parse_kernels(struct run_config *cfg, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return EXIT_RUNTIME;
	cfg->nkernels = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const struct kernel_desc *k = kernel_find(t);
		if (!k) {
			nb_error_msg("unknown kernel '%s' (see 'nestbench list kernels')", t);
			free(copy);
			return EXIT_USAGE;
		}
		if (cfg->nkernels == RUN_MAX_KERNELS) {
			free(copy);
			return usage_error("too many kernels");
		}
		cfg->kernels[cfg->nkernels++] = k;
	}
	free(copy);
	return cfg->nkernels ? 0 : usage_error("--kernel needs at least one kernel name");
}

static int parse_backings(struct run_config *cfg, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return EXIT_RUNTIME;
	cfg->nbackings = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		nb_error err;
		enum backing_kind b;
		if (backing_parse(t, &b, &err)) {
			nb_error_msg("%s", err.msg);
			free(copy);
			return EXIT_USAGE;
		}
		for (size_t i = 0; i < cfg->nbackings; i++)
			if (cfg->backings[i] == b)
				goto next;
		cfg->backings[cfg->nbackings++] = b;
next:;
	}
	free(copy);
	cfg->backings_explicit = 1;
	return cfg->nbackings ? 0 : usage_error("--backing needs at least one backing name");
}

static int size_arg(const char *opt, const char *val, size_t *out)
{
	nb_error err;
	if (parse_size(val, out, &err)) {
		nb_error_msg("--%s: %s", opt, err.msg);
		return EXIT_USAGE;
	}
	return 0;
}

/* An explicit 0 is not "the default": say so rather than fall back to it. */
static int nonzero_size_arg(const char *opt, const char *val, size_t *out)
{
	int rc = size_arg(opt, val, out);
	if (!rc && *out == 0) {
		nb_error_msg("--%s: must be larger than 0", opt);
		return EXIT_USAGE;
	}
	return rc;
}

static int uint_arg(const char *opt, const char *val, unsigned long min, unsigned long max, unsigned long *out)
{
	nb_error err;
	if (parse_uint(val, max, out, &err)) {
		nb_error_msg("--%s: %s", opt, err.msg);
		return EXIT_USAGE;
	}
	if (*out < min) {
		nb_error_msg("--%s: must be at least %lu", opt, min);
		return EXIT_USAGE;
	}
	return 0;
}

static int parse_mode(struct run_config *cfg, const char *v)
{
	if (!strcmp(v, "native"))
		cfg->modes = RUN_MODE_NATIVE;
	else if (!strcmp(v, "vm"))
		cfg->modes = RUN_MODE_VM;
	else if (!strcmp(v, "both"))
		cfg->modes = RUN_MODE_NATIVE | RUN_MODE_VM;
	else
		return usage_error("--mode must be native, vm or both");
	return 0;
}

static int parse_guest_pages(struct run_config *cfg, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return EXIT_RUNTIME;
	cfg->nguest_pages = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint64_t p = run_vm_guest_page_parse(t);
		if (!p) {
			nb_error_msg("unknown guest page size '%s' (4k, 2m or 1g)", t);
			free(copy);
			return EXIT_USAGE;
		}
		for (size_t i = 0; i < cfg->nguest_pages; i++)
			if (cfg->guest_pages[i] == p)
				goto next;
		cfg->guest_pages[cfg->nguest_pages++] = p;
next:;
	}
	free(copy);
	return cfg->nguest_pages ? 0 : usage_error("--guest-page needs at least one size");
}

/* Comma-separated lists for the non-sweeping kernels. */
static int parse_sizes(struct run_config *cfg, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return EXIT_RUNTIME;
	cfg->sizes.n = 0;
	int rc = 0;
	for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
		if (cfg->sizes.n == KERNEL_SIZES_MAX)
			rc = usage_error("--size takes at most 12 sizes");
		else if (!(rc = size_arg("size", t, &cfg->sizes.bytes[cfg->sizes.n])) &&
			 cfg->sizes.bytes[cfg->sizes.n++] % 4096) {
			nb_error_msg("--size %s is not a whole number of 4k pages (the smallest backing page)", t);
			rc = EXIT_USAGE;
		}
	}
	free(copy);
	if (!rc && !cfg->sizes.n)
		rc = usage_error("--size needs at least one size");
	return rc;
}

static int parse_threads(struct run_config *cfg, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return EXIT_RUNTIME;
	cfg->nthreads = 0;
	int rc = 0;
	for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
		unsigned long v;
		if (cfg->nthreads == KERNEL_SIZES_MAX)
			rc = usage_error("--threads takes at most 12 counts");
		else if (!(rc = uint_arg("threads", t, 1, 4096, &v)))
			cfg->threads[cfg->nthreads++] = (int)v;
	}
	free(copy);
	if (!rc && !cfg->nthreads)
		rc = usage_error("--threads needs at least one count");
	return rc;
}

static int parse_placements(struct run_config *cfg, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return EXIT_RUNTIME;
	cfg->nplacements = 0;
	int rc = 0;
	for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
		nb_error err;
		enum kernel_placement p;
		if (kernel_placement_parse(t, &p, &err)) {
			nb_error_msg("--placement: %s", err.msg);
			rc = EXIT_USAGE;
		} else if (cfg->nplacements < KERNEL_PLACEMENT_COUNT) {
			cfg->placements[cfg->nplacements++] = p;
		}
	}
	free(copy);
	if (!rc && !cfg->nplacements)
		rc = usage_error("--placement needs same-pu and/or cross-pu");
	return rc;
}

/* Largest working set that fits comfortably: a quarter of MemAvailable. */
static size_t comfortable_ws(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kb = 0;
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (size_t)(kb * 1024 / 4);
}

int cmd_run(int argc, char **argv)
{
	struct run_config cfg = {.cpu = -1, .argc = argc, .argv = argv};
	cfg.suite = suite_find("quick");
	const char *kernels = NULL, *backings = NULL, *guest_pages = NULL;
	size_t ws_min = 0, ws_max = 0, stride = 0, locality = 0;
	unsigned long ppo = 0, samples = 0, warmup = ~0ul, sample_ms = 0, seed = 1, cpu, cow_pages = 0;
	int rc, c;

	struct cli_parser p;
	cli_parser_init(&p, &cli_cmd_run);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, p.shortopts, p.longopts, NULL)) != -1) {
		rc = 0;
		switch (c) {
		case 's':
			cfg.suite = suite_find(optarg);
			if (!cfg.suite) {
				nb_error_msg("unknown suite '%s' (smoke, quick or full)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'k': kernels = optarg; rc = list_arg_ok("kernel", optarg); break;
		case 'b': backings = optarg; rc = list_arg_ok("backing", optarg); break;
		case 'c':
			rc = uint_arg("cpu", optarg, 0, 65535, &cpu);
			cfg.cpu = (int)cpu;
			break;
		case 'o':
			cfg.out = optarg;
			if (!*optarg)
				rc = usage_error("--out needs a file name");
			break;
		case 'q': cfg.quiet = 1; break;
		case 'm': rc = parse_mode(&cfg, optarg); break;
		case 'g': guest_pages = optarg; rc = list_arg_ok("guest-page", optarg); break;
		case OPT_WS_MIN: rc = nonzero_size_arg("ws-min", optarg, &ws_min); break;
		case OPT_WS_MAX: rc = nonzero_size_arg("ws-max", optarg, &ws_max); break;
		case OPT_PPO: rc = uint_arg("points-per-octave", optarg, 1, 16, &ppo); break;
		case OPT_SAMPLES: rc = uint_arg("samples", optarg, 1, 10000, &samples); break;
		case OPT_WARMUP: rc = uint_arg("warmup", optarg, 0, 1000, &warmup); break;
		case OPT_SAMPLE_MS: rc = uint_arg("sample-ms", optarg, 1, 60000, &sample_ms); break;
		case OPT_STRIDE: rc = nonzero_size_arg("stride", optarg, &stride); break;
		case OPT_TLB_LOCALITY: rc = nonzero_size_arg("tlb-locality", optarg, &locality); break;
		case OPT_SEED: rc = uint_arg("seed", optarg, 0, ~0ul, &seed); break;
		case 'e': cfg.events = optarg; rc = list_arg_ok("events", optarg); break;
		case OPT_NO_PMU: cfg.no_pmu = 1; break;
		case OPT_SIZE: rc = list_arg_ok("size", optarg) ? EXIT_USAGE : parse_sizes(&cfg, optarg); break;
		case OPT_THREADS: rc = list_arg_ok("threads", optarg) ? EXIT_USAGE : parse_threads(&cfg, optarg); break;
		case OPT_PLACEMENT: rc = list_arg_ok("placement", optarg) ? EXIT_USAGE : parse_placements(&cfg, optarg); break;
		case OPT_COW_PAGES: rc = uint_arg("cow-pages", optarg, 1, 1ul << 30, &cow_pages); break;
		case 'h': cli_help(stdout, &cli_cmd_run); return EXIT_OK;
		default:
			if (optopt && optopt < 256)
				nb_error_msg("run: unknown option or missing value for '-%c' (see 'nestbench run --help')", optopt);
			else
				nb_error_msg("run: unknown option or missing value in '%s' (see 'nestbench run --help')",
					     argv[optind - 1]);
			return EXIT_USAGE;
		}
		if (rc)
			return rc;
	}
	if (optind < argc) {
		nb_error_msg("run: unexpected argument '%s' (see 'nestbench run --help')", argv[optind]);
		return EXIT_USAGE;
	}

	if (cfg.events && !cfg.no_pmu) {
		/* A bad event string is a usage error, found before anything runs. */
		nb_error err;
		struct pmu_request rq = {.events = cfg.events, .no_software = 1};
		struct pmu_session *probe = pmu_session_open(&rq, &err);
		if (!probe) {
			nb_error_msg("--events: %s", err.msg);
			return EXIT_USAGE;
		}
		pmu_session_close(probe);
	}

	const struct suite *s = cfg.suite;
	if (kernels) {
		if ((rc = parse_kernels(&cfg, kernels)))
			return rc;
	} else {
		for (const char *const *k = s->kernels; *k; k++)
			cfg.kernels[cfg.nkernels++] = kernel_find(*k);
	}
	if (backings) {
		if ((rc = parse_backings(&cfg, backings)))
			return rc;
	} else {
		for (int b = 0; b < BACKING_COUNT; b++)
			cfg.backings[cfg.nbackings++] = (enum backing_kind)b;
	}
	if (!cfg.modes)
		cfg.modes = RUN_MODE_NATIVE;
	if (guest_pages) {
		if (!(cfg.modes & RUN_MODE_VM))
			return usage_error("--guest-page needs --mode vm or both");
		if ((rc = parse_guest_pages(&cfg, guest_pages)))
			return rc;
	} else {
		cfg.guest_pages[0] = 4096;
		cfg.guest_pages[1] = 2u << 20;
		cfg.guest_pages[2] = 1u << 30;
		cfg.nguest_pages = 3;
	}
	if (cow_pages && cfg.sizes.n) {
		/* Even on 4k pages the largest --size has fewer pages than asked. */
		size_t most = 0;
		for (unsigned i = 0; i < cfg.sizes.n; i++)
			if (cfg.sizes.bytes[i] / 4096 > most)
				most = cfg.sizes.bytes[i] / 4096;
		if (cow_pages > most) {
			nb_error_msg("--cow-pages %lu is more than the %zu pages of the largest --size region; give at "
				     "most %zu or a larger --size", cow_pages, most, most);
			return EXIT_USAGE;
		}
	}
	if ((cfg.modes & RUN_MODE_VM) && (rc = check_kvm()))
		return rc;
	if (stride && (stride < 64 || stride % 64))
		return usage_error("--stride must be a multiple of 64 bytes (one cache line)");
	if (locality && locality < (stride ? stride : 4096))
		return usage_error("--tlb-locality must be at least one stride");

	cfg.ws_min = ws_min ? ws_min : s->ws_min;
	size_t fit = comfortable_ws();
	if (ws_max) {
		cfg.ws_max = ws_max;
		cfg.ws_max_explicit = 1;
		if (fit && ws_max > fit * 3) {
			char w[32], f[32];
			format_size(ws_max, w, sizeof(w));
			format_size(fit * 3, f, sizeof(f));
			nb_error_msg("--ws-max %s does not fit in available memory (at most about %s here)", w, f);
			return EXIT_RUNTIME;
		}
	} else {
		cfg.ws_max = s->ws_max;
		if (fit && cfg.ws_max > fit)
			cfg.ws_max = fit;
	}
	if (cfg.ws_min < 4096)
		return usage_error("--ws-min must be at least 4k");
	if (cfg.ws_min > cfg.ws_max)
		return usage_error("--ws-min is larger than --ws-max");
	cfg.per_octave = ppo ? (unsigned)ppo : s->per_octave;
	cfg.samples = samples ? (unsigned)samples : s->samples;
	cfg.warmup_samples = warmup != ~0ul ? (unsigned)warmup : s->warmup_samples;
	cfg.target_sample_ns = sample_ms ? (double)sample_ms * 1e6 : s->target_sample_ns;
	cfg.kopt.stride_bytes = stride;
	cfg.kopt.tlb_locality_bytes = locality;
	cfg.kopt.seed = seed;
	cfg.kopt.threads = 1;
	cfg.kopt.cow_pages = (unsigned)cow_pages;
	/* Kernels that open guest PMU sessions themselves (hwvm) obey them too. */
	cfg.kopt.no_pmu = cfg.no_pmu;
	cfg.kopt.pmu_events = cfg.events;
	size_t fit_fixed = fit ? fit * 3 : 0;
	for (unsigned i = 0; i < cfg.sizes.n; i++)
		if (fit_fixed && cfg.sizes.bytes[i] > fit_fixed) {
			char w[32], f[32];
			format_size(cfg.sizes.bytes[i], w, sizeof(w));
			format_size(fit_fixed, f, sizeof(f));
			nb_error_msg("--size %s does not fit in available memory (at most about %s here)", w, f);
			return EXIT_RUNTIME;
		}
	return run_execute(&cfg);
}
