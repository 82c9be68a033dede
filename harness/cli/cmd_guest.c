/* cmd_guest.c - `nestbench guest`: run the benchmark inside a Linux guest.
 *
 * Builds an initramfs (this binary, its libraries, busybox, the guest
 * kernel's KVM modules), boots it with QEMU under KVM or TCG, runs
 * `nestbench run ARGS` inside and writes the guest's results file here.
 * With a CPU that offers SVM or VMX to the guest (QEMU's TCG `-cpu max`
 * emulates AMD SVM with nested paging), the guest's own KVM runs the
 * micro-VMs: the way to exercise the EPT/NPT paths on a machine without them.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/linuxguest/channel.h"
#include "harness/linuxguest/guest_init.h"
#include "harness/linuxguest/image.h"
#include "harness/linuxguest/qemu.h"
#include "harness/run/results.h"
#include "core/util.h"

#define OPT_KERNEL 256
#define OPT_ACCEL 257
#define OPT_CPUS 258
#define OPT_MEMORY 259
#define OPT_TIMEOUT 260
#define OPT_CONSOLE 261
#define OPT_KEEP 262
#define MAX_CHANNEL_BYTES (256u << 20)

static const struct cli_opt guest_opts[] = {
	{"guest-kernel", OPT_KERNEL, "PATH", "the guest's kernel (a bzImage; default: the newest /boot/vmlinuz-*, "
					     "whose modules under /lib/modules go into the image)",
	 CLI_V_FILE, NULL, OPT_DOC_ONLY},
	{"guest-accel", OPT_ACCEL, "A", "auto (default: KVM where /dev/kvm works and the local KVM uses ept, npt or "
					"shadow paging; TCG otherwise), kvm or tcg; TCG times nothing meaningfully",
	 CLI_V_CHOICE, "auto kvm tcg", OPT_DOC_ONLY},
	{"guest-cpus", OPT_CPUS, "N", "vCPUs of the guest (default 2)", CLI_V_WORD, NULL, OPT_DOC_ONLY},
	{"guest-memory", OPT_MEMORY, "SIZE", "memory of the guest (default 3g)", CLI_V_WORD, NULL, OPT_DOC_ONLY},
	{"timeout", OPT_TIMEOUT, "SEC", "stop the guest after this many seconds (default 1800)", CLI_V_WORD, NULL, OPT_DOC_ONLY},
	{"out", 'o', "FILE", "where the guest's results file goes (default results/HOST-TIME.json)", CLI_V_FILE, NULL, OPT_DOC_ONLY},
	{"console", OPT_CONSOLE, "FILE", "keep the guest's console log here (default: removed when the guest ends "
					 "well, kept and named when it does not)",
	 CLI_V_FILE, NULL, OPT_DOC_ONLY},
	{"keep-image", OPT_KEEP, NULL, "keep the work directory with the initramfs (its path is printed)", CLI_V_NONE,
	 NULL, OPT_DOC_ONLY},
	{"quiet", 'q', NULL, "do not echo the guest's console", CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{"help", 'h', NULL, "show this help", CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{NULL, 0, NULL, NULL, CLI_V_NONE, NULL, OPT_DOC_ONLY},
};

const struct cli_cmd cli_cmd_guest = {
	.name = "guest",
	.fn = cmd_guest,
	.summary = "run the benchmark inside a Linux guest booted with QEMU (KVM or TCG)",
	.synopsis = "[--guest-kernel PATH] [--guest-accel auto|kvm|tcg] [--guest-cpus N] [--guest-memory SIZE]\n"
		    "[--timeout SEC] [--out FILE] [--console FILE] [--keep-image] [--quiet] [-- RUN-ARGS...]",
	.description =
		"Boot a Linux guest with QEMU and run `nestbench run RUN-ARGS` inside it; the guest's results file "
		"comes back to --out.  The image is an initramfs nestbench builds itself: this binary, its shared "
		"libraries, busybox, and the KVM modules of the guest kernel, which the guest loads so that it has a "
		"/dev/kvm of its own where its CPU offers SVM or VMX.\n\n"
		"Under TCG (`-cpu max`) QEMU emulates AMD SVM with nested paging: the guest's micro-VMs then run on "
		"KVM with NPT (`mmu_virt_mode` npt), which is how nestbench tests that path on machines without it.  "
		"Timing under TCG means nothing; function does.  With KVM (`-cpu host`) the guest's micro-VMs run "
		"nested on this host's KVM.\n\n"
		"The results come back over the guest's second serial port, framed with a length and a checksum: "
		"the 8250 UART is built into distribution kernels, so no driver has to be found for it.",
	.opts = guest_opts,
	.operand = CLI_V_WORD,
	.notes = "Needs qemu-system-x86, busybox-static and a guest kernel (linux-image-amd64): `make deps` "
		 "installs them.  Distribution kernels in /boot are readable by root only.",
	.exit_status = "the exit status of the run inside the guest (0 ok, 4 results written with failed cells); 1 the "
		       "guest could not be built, booted or did not bring results back; 2 usage error.",
	.examples = (const struct cli_item[]){{"guest --guest-accel tcg -- --suite smoke --mode both",
					       "the micro-VM on KVM with emulated AMD NPT, function only"},
					      {"guest -- --suite quick --kernel fault,fork", "page-table updates in a Linux guest"},
					      {NULL, NULL}},
};

struct guest_opts {
	const char *kernel, *out, *console;
	enum qemu_accel accel;
	unsigned cpus;
	uint64_t memory;
	double timeout_s;
	int keep, quiet;
};

static int parse_args(int argc, char **argv, struct guest_opts *o, int *rest)
{
	struct cli_parser p;
	cli_parser_init(&p, &cli_cmd_guest);
	nb_error err;
	unsigned long v;
	size_t sz;
	int c;
	opterr = 0;
	optind = 1;
	/* "+": stop at the first operand, everything after it is the run's. */
	char shortopts[sizeof(p.shortopts) + 1] = "+";
	strcat(shortopts, p.shortopts);
	while ((c = getopt_long(argc, argv, shortopts, p.longopts, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL: o->kernel = optarg; break;
		case OPT_ACCEL:
			if (!strcmp(optarg, "auto"))
				o->accel = QEMU_ACCEL_AUTO;
			else if (!strcmp(optarg, "kvm"))
				o->accel = QEMU_ACCEL_KVM;
			else if (!strcmp(optarg, "tcg"))
				o->accel = QEMU_ACCEL_TCG;
			else {
				nb_error_msg("guest: --guest-accel takes auto, kvm or tcg, not '%s'", optarg);
				return -1;
			}
			break;
		case OPT_CPUS:
			if (parse_uint(optarg, 64, &v, &err) || v == 0) {
				nb_error_msg("guest: --guest-cpus takes 1 to 64, not '%s'", optarg);
				return -1;
			}
			o->cpus = (unsigned)v;
			break;
		case OPT_MEMORY:
			if (parse_size(optarg, &sz, &err) || sz < (256u << 20)) {
				nb_error_msg("guest: --guest-memory takes a size of at least 256m, not '%s'", optarg);
				return -1;
			}
			o->memory = sz;
			break;
		case OPT_TIMEOUT:
			if (parse_uint(optarg, 7 * 86400, &v, &err) || v == 0) {
				nb_error_msg("guest: --timeout takes 1 to 604800 seconds, not '%s'", optarg);
				return -1;
			}
			o->timeout_s = (double)v;
			break;
		case 'o':
			if (!optarg[0]) {
				nb_error_msg("guest: --out needs a file name");
				return -1;
			}
			o->out = optarg;
			break;
		case OPT_CONSOLE: o->console = optarg; break;
		case OPT_KEEP: o->keep = 1; break;
		case 'q': o->quiet = 1; break;
		case 'h': cli_help(stdout, &cli_cmd_guest); return 1;
		default:
			nb_error_msg("guest: unknown option '%s' (see 'nestbench guest --help')", argv[optind - 1]);
			return -1;
		}
	}
	*rest = optind;
	for (int i = optind; i < argc; i++)
		if (!strcmp(argv[i], "--out") || !strcmp(argv[i], "-o") || !strncmp(argv[i], "--out=", 6)) {
			nb_error_msg("guest: give --out before `--`: the guest's file comes back there");
			return -1;
		}
	return 0;
}

static int read_file(const char *path, char **data, size_t *len, nb_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return nb_fail(err, "cannot read %s: %s", path, strerror(errno));
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n == cap) {
			if (cap >= MAX_CHANNEL_BYTES) {
				free(buf);
				fclose(f);
				return nb_fail(err, "%s is larger than %u bytes", path, MAX_CHANNEL_BYTES);
			}
			cap = cap ? 2 * cap : 1 << 16;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return nb_fail(err, "out of memory");
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	*data = buf;
	*len = n;
	return 0;
}

/* The guest's file, checked to be one JSON document, written the way `run`
 * writes its own (a device or FIFO in place, a regular file by rename). */
static int write_results(const unsigned char *body, size_t len, const char *out, nb_error *err)
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return nb_fail(err, "the guest's results are not one JSON document (line %d: %s)", jerr.line, jerr.text);
	int rc = results_write(doc, out, err);
	json_decref(doc);
	return rc;
}

static void remove_work(const char *dir, const char *const *files, size_t n)
{
	char p[4200];
	for (size_t i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
}

int cmd_guest(int argc, char **argv)
{
	struct guest_opts o = {.accel = QEMU_ACCEL_AUTO, .cpus = 2, .memory = 3ull << 30, .timeout_s = 1800};
	int rest;
	int prc = parse_args(argc, argv, &o, &rest);
	if (prc)
		return prc > 0 ? EXIT_OK : EXIT_USAGE;
	nb_error err = {{0}};
	char kernel[4096], default_out[512], why[400];
	if (!o.kernel) {
		if (image_default_kernel(kernel, sizeof(kernel), &err)) {
			nb_error_msg("guest: %s", err.msg);
			return EXIT_RUNTIME;
		}
		o.kernel = kernel;
	}
	if (!o.out) {
		results_default_path(time(NULL), default_out, sizeof(default_out));
		mkdir("results", 0755);
		o.out = default_out;
	}
	if (results_check_writable(o.out, &err)) {
		nb_error_msg("guest: %s", err.msg);
		return EXIT_RUNTIME;
	}
	if (o.accel == QEMU_ACCEL_AUTO)
		o.accel = qemu_choose_accel(why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s: asked for with --guest-accel", qemu_accel_name(o.accel));

	const char *tmp = getenv("TMPDIR");
	char work[4096];
	snprintf(work, sizeof(work), "%s/nestbench-guest-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(work)) {
		nb_error_msg("guest: cannot create a work directory in %s: %s", tmp && tmp[0] ? tmp : "/tmp",
			     strerror(errno));
		return EXIT_RUNTIME;
	}
	static const char *const files[] = {"initramfs.cpio", "console.log", "channel.bin"};
	char initrd[4200], console[4200], channel[4200];
	snprintf(initrd, sizeof(initrd), "%s/%s", work, files[0]);
	snprintf(console, sizeof(console), "%s/%s", work, files[1]);
	snprintf(channel, sizeof(channel), "%s/%s", work, files[2]);
	struct image_spec spec = {
		.kernel = o.kernel,
		.busybox = "/bin/busybox",
		.self = "/proc/self/exe",
		.run_args = argv + rest,
	};
	if (!o.quiet)
		nb_warn("guest: building the image (kernel %s), booting with %s", o.kernel, why);
	if (image_build(&spec, initrd, &err)) {
		nb_error_msg("guest: %s", err.msg);
		remove_work(work, files, ARRAY_SIZE(files));
		return EXIT_RUNTIME;
	}
	struct qemu_config qc = {
		.kernel = o.kernel,
		.initrd = initrd,
		.accel = o.accel,
		.cpus = o.cpus,
		.memory_bytes = o.memory,
		.console_log = o.console ? o.console : console,
		.channel = channel,
		.timeout_s = o.timeout_s,
		.echo = !o.quiet,
	};
	int rc = EXIT_RUNTIME;
	char *data = NULL;
	size_t len = 0;
	const unsigned char *body;
	size_t blen;
	int status;
	if (qemu_run(&qc, &err) || read_file(channel, &data, &len, &err) ||
	    channel_parse(data, len, &body, &blen, &status, &err)) {
		nb_error_msg("guest: %s", err.msg);
		if (!o.console) {
			o.keep = 1; /* the console log says what went wrong */
			nb_warn("guest: its console log is kept: %s", console);
		}
	} else if (blen == 0) {
		nb_error_msg("guest: the run inside the guest ended with status %d and wrote no results file "
			     "(its messages are above)",
			     status);
		rc = status ? status : EXIT_RUNTIME;
	} else if (write_results(body, blen, o.out, &err)) {
		nb_error_msg("guest: %s", err.msg);
	} else {
		printf("results: %s (from the guest, %s)\n", o.out, qemu_accel_name(o.accel));
		rc = status;
	}
	free(data);
	if (o.keep)
		nb_warn("guest: work directory kept: %s", work);
	else
		remove_work(work, files, ARRAY_SIZE(files));
	return rc;
}

int cmd_guest_init(int argc, char **argv)
{
	if (argc != 2) {
		nb_error_msg("guest-init: usage: nestbench guest-init CONFIG (the first process of nestbench's guest)");
		return EXIT_USAGE;
	}
	guest_init_main(argv[1]);
}
