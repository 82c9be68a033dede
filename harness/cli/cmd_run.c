/* cmd_run.c - `nestbench run`: the command line into a run_config.
 *
 * The options are the rows of run_options() (harness/run/run_opts.c: run's
 * own, then the kernels'), parsed and checked by cli_parse(); what is left
 * here is the defaults that depend on the suite or the machine and the
 * checks that involve several options. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/pmu/pmu.h"
#include "harness/run/run.h"

const struct cli_cmd cli_cmd_run = {
	.name = "run",
	.fn = cmd_run,
	.summary = "run a suite or single kernels and write a results file",
	.synopsis = "[--suite smoke|quick|full] [--kernel K,...] [--backing B,...]\n"
		    "[--cpu N] [--out FILE] [--quiet] [--mode native,vm,linux|both]\n"
		    "[--guest-page 4k,2m,1g] [--guest-kernel PATH] [--guest-accel auto|kvm|tcg]\n"
		    "[--guest-mode native,vm] [--guest-backing B,...] [OPTIONS]",
	.description = "Run a suite (or single kernels) natively, in micro-VMs of nestbench's own, inside a Linux "
		       "guest booted with QEMU, or any list of these, and write one results file.\n\n"
		       "--mode linux boots one guest per host backing of --backing (QEMU's memory backend: memfd for "
		       "4k, anonymous memory with prealloc for thp, hugetlb memfd for hugetlb-2m and hugetlb-1g), with "
		       "an initramfs nestbench builds from this binary and caches, and runs `nestbench run` inside "
		       "with these options (--mode from --guest-mode, --backing from --guest-backing).  The guest's "
		       "measurements are merged as mode \"linux\" with the host backing QEMU's smaps showed; "
		       "\"guest_host\" and \"qemu\" hold the guest's and QEMU's facts.  KVM (-cpu host) where "
		       "/dev/kvm works and the local KVM uses ept, npt or shadow paging; TCG (-cpu max) elsewhere, "
		       "function only: every linux measurement then says \"timing_valid\": false.",
	.opts_fn = run_options, /* harness/run/run_opts.c: parse, check, help and config echo */
	.notes = "Sizes take k, m, g suffixes (binary): 4k, 2m, 1g, 64M.\n"
		 "--mode linux needs qemu-system-x86, busybox-static and a readable guest kernel (`make deps`); as "
		 "a non-root user: read access to the kernel image (distribution kernels in /boot are root's: "
		 "give --guest-kernel a copy), the kvm group for KVM, root for host hugetlb pools.  The initramfs "
		 "cache is $NESTBENCH_CACHE_DIR, else $XDG_CACHE_HOME/nestbench, else ~/.cache/nestbench.\n"
		 "Progress goes to stderr when it is a terminal; the summary table to stdout.",
	.exit_status = "0 ok; 1 run-time error (nothing written); 2 usage error; 4 the results file is written but some "
		       "cells failed (\"failed\": true in the file, with the reason).",
	.examples = (const struct cli_item[]){{"run --suite smoke --out smoke.json", "every kernel at a few sizes"},
					      {"run --kernel chase,chase-ctl --backing 4k,thp --ws-max 256M",
					       "the TLB-miss sweep on two backings"},
					      {"run --mode both --kernel chase --guest-page 4k,2m",
					       "native and micro-VM chase, interleaved per point"},
					      {"run --mode native,linux --suite smoke --backing 4k",
					       "the smoke suite natively and inside a Linux guest on 4K host pages"},
					      {"run --mode linux --guest-mode vm --guest-accel tcg --kernel chase",
					       "micro-VMs on the guest's KVM (emulated AMD NPT under TCG): function only"},
					      {NULL, NULL}},
};

static int usage_error(const char *msg)
{
	nb_error_msg("%s (see 'nestbench run --help')", msg);
	return EXIT_USAGE;
}

/* Can this process open /dev/kvm?  0 if so; else why not and what to do,
 * in why. */
static int kvm_unusable(char *why, size_t len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	int e = errno;
	snprintf(why, len, "cannot open /dev/kvm: %s (%s)", strerror(e),
		 e == ENOENT ? "this kernel has no KVM: load kvm_intel or kvm_amd, or enable virtualization"
		 : e == EACCES || e == EPERM ? "join the kvm group (usermod -aG kvm USER, then log in again) or run as root"
					     : "see 'nestbench info'");
	return -1;
}

/* --mode vm or both: /dev/kvm must open, or every VM measurement would be
 * skipped and the run would end "successfully" with nothing asked for. */
static int check_kvm(void)
{
	char why[256];
	if (!kvm_unusable(why, sizeof(why)))
		return 0;
	nb_error_msg("--mode vm: %s", why);
	return EXIT_RUNTIME;
}

/* No --mode: the comparison, native and micro-VM side by side, wherever
 * /dev/kvm opens; natively elsewhere, saying why (the answer a user came
 * for needs both; a run that silently measured less would hide it). */
static void default_modes(struct run_config *cfg)
{
	char why[256];
	if (!kvm_unusable(why, sizeof(why))) {
		cfg->modes = RUN_MODE_NATIVE | RUN_MODE_VM;
		return;
	}
	cfg->modes = RUN_MODE_NATIVE;
	if (!cfg->quiet)
		nb_warn("measuring natively only, no micro-VM beside it: %s; --mode native asks for this and "
			"says nothing", why);
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

/* The row of run_options() named name was given on the command line. */
static int given_opt(uint64_t given, const char *name)
{
	int i = opt_index(run_options(), name);
	return i >= 0 && (given >> i & 1);
}

int cmd_run(int argc, char **argv)
{
	struct run_config cfg = {.argc = argc, .argv = argv};
	cfg.suite = suite_find("quick");
	uint64_t given;
	int rc = cli_parse(&cli_cmd_run, argc, argv, &cfg, &given);
	if (rc)
		return rc == CLI_PARSE_HELP ? EXIT_OK : rc;
	const struct suite *s = cfg.suite;
	opt_defaults(run_options(), given, &cfg, s);
	if (!given_opt(given, "mode"))
		default_modes(&cfg);

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

	/* Lists not given: the suite's kernels, every backing, every guest page size. */
	if (!cfg.nkernels)
		for (const char *const *k = s->kernels; *k; k++)
			cfg.kernels[cfg.nkernels++] = kernel_find(*k);
	cfg.backings_explicit = cfg.nbackings > 0;
	if (!cfg.nbackings)
		for (int b = 0; b < BACKING_COUNT; b++)
			cfg.backings[cfg.nbackings++] = (enum backing_kind)b;
	if (cfg.nguest_pages && !(cfg.modes & RUN_MODE_VM) &&
	    !((cfg.modes & RUN_MODE_LINUX) && (cfg.guest_modes & RUN_MODE_VM)))
		return usage_error("--guest-page needs --mode vm or both (or --mode linux with --guest-mode vm)");
	/* The --guest-* rows of a Linux guest (run_linux.c) need one. */
	static const char *const linux_rows[] = {"guest-kernel", "guest-accel", "guest-cpus", "guest-memory",
						 "guest-mode", "guest-backing", "guest-timeout"};
	for (size_t i = 0; i < sizeof(linux_rows) / sizeof(linux_rows[0]); i++)
		if (given_opt(given, linux_rows[i]) && !(cfg.modes & RUN_MODE_LINUX)) {
			nb_error_msg("--%s needs --mode linux (see 'nestbench run --help')", linux_rows[i]);
			return EXIT_USAGE;
		}
	if (!cfg.nguest_pages) {
		cfg.guest_pages[0] = 4096;
		cfg.guest_pages[1] = 2u << 20;
		cfg.guest_pages[2] = 1u << 30;
		cfg.nguest_pages = 3;
	}
	if (cfg.kopt.cow_pages && cfg.sizes.n) {
		/* Even on 4k pages the largest --size has fewer pages than asked. */
		size_t most = 0;
		for (unsigned i = 0; i < cfg.sizes.n; i++)
			if (cfg.sizes.bytes[i] / 4096 > most)
				most = cfg.sizes.bytes[i] / 4096;
		if (cfg.kopt.cow_pages > most) {
			nb_error_msg("--cow-pages %u is more than the %zu pages of the largest --size region; give at "
				     "most %zu or a larger --size", cfg.kopt.cow_pages, most, most);
			return EXIT_USAGE;
		}
	}
	if ((cfg.modes & RUN_MODE_VM) && (rc = check_kvm()))
		return rc;
	/* Each kernel checks its own options, whether or not it runs: a bad
	 * --stride is a mistake in any run. */
	for (size_t k = 0; k < kernel_table_len; k++) {
		nb_error err;
		if (kernel_table[k]->check_opts && kernel_table[k]->check_opts(&cfg.kopt, &err))
			return usage_error(err.msg);
	}

	size_t fit = comfortable_ws();
	if (given_opt(given, "ws-max")) {
		cfg.ws_max_explicit = 1;
		if (fit && cfg.ws_max > fit * 3) {
			char w[32], f[32];
			format_size(cfg.ws_max, w, sizeof(w));
			format_size(fit * 3, f, sizeof(f));
			nb_error_msg("--ws-max %s does not fit in available memory (at most about %s here)", w, f);
			return EXIT_RUNTIME;
		}
	} else if (fit && cfg.ws_max > fit) {
		cfg.ws_max = fit;
	}
	if (cfg.ws_min < 4096)
		return usage_error("--ws-min must be at least 4k");
	if (cfg.ws_min > cfg.ws_max)
		return usage_error("--ws-min is larger than --ws-max");
	cfg.kopt.threads = 1;
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
