/* run_opts.c - the options of `nestbench run`, one row each: getopt_long,
 * --help, the man page and completion (harness/cli/), parsing and checks
 * (core/opt_parse.c) and the results file's `config` echo (run_config_json)
 * all read the table run_options() returns: the run's own rows below, then
 * the rows each kernel declares beside itself (kernel_desc.opts, e.g.
 * --stride in bench/chase.c).  What needs more than one option (--ws-min
 * against --ws-max, --cow-pages against --size, memory that fits) stays in
 * cmd_run.c's checks after parsing. */
#include <string.h>

#include "core/opt_json.h"
#include "harness/run/run.h"
#include "harness/run/run_linux.h"
#include "harness/run/run_vm.h"

/* Long-only options: getopt_long's val above any character. */
enum {
	OPT_WS_MIN = 256,
	OPT_WS_MAX,
	OPT_PPO,
	OPT_SAMPLES,
	OPT_WARMUP,
	OPT_SAMPLE_MS,
	OPT_SEED,
	OPT_NO_PMU,
	OPT_SIZE,
	OPT_THREADS,
	OPT_PLACEMENT,
	OPT_GUEST_KERNEL,
	OPT_GUEST_ACCEL,
	OPT_GUEST_CPUS,
	OPT_GUEST_MEMORY,
	OPT_GUEST_MODE,
	OPT_GUEST_BACKING,
	OPT_GUEST_TIMEOUT,
	OPT_ROUNDS,
	OPT_PRECISION,
	OPT_TIME_BUDGET,
};

#define MEMBER(f) (((struct run_config *)0)->f)
/* A scalar field of struct run_config. */
#define FIELD(f) .off = offsetof(struct run_config, f), .width = sizeof(MEMBER(f))
/* A list: the array and its count. */
#define LIST(arr, cnt, fl)                                                                                     \
	.flags = OPT_F_LIST | (fl), .off = offsetof(struct run_config, arr), .width = sizeof(MEMBER(arr)[0]),   \
	.count_off = offsetof(struct run_config, cnt), .count_width = sizeof(MEMBER(cnt)),                     \
	.max_items = sizeof(MEMBER(arr)) / sizeof(MEMBER(arr)[0])
/* Not given: the suite's value, a field of the same type. */
#define SUITE(f) .suite_off = offsetof(struct suite, f)
#define SUITE_SAME(cf, sf) _Static_assert(sizeof(MEMBER(cf)) == sizeof(((struct suite *)0)->sf), #cf " and suite." #sf)

SUITE_SAME(ws_min, ws_min);
SUITE_SAME(ws_max, ws_max);
SUITE_SAME(per_octave, per_octave);
SUITE_SAME(samples, samples);
SUITE_SAME(warmup_samples, warmup_samples);
SUITE_SAME(target_sample_ns, target_sample_ns);
SUITE_SAME(rounds, rounds);
SUITE_SAME(time_budget_s, time_budget_s);

/* Names to values and back; the messages are those the bats tests expect. */
static int suite_parse(const char *s, void *out, nb_error *err)
{
	const struct suite *x = suite_find(s);
	if (!x)
		return nb_fail(err, "unknown suite '%s' (smoke, quick or full)", s);
	memcpy(out, &x, sizeof(x));
	return 0;
}

static const char *suite_name_of(const void *p)
{
	const struct suite *x;
	memcpy(&x, p, sizeof(x));
	return x ? x->name : NULL;
}

static int kernel_parse(const char *s, void *out, nb_error *err)
{
	const struct kernel_desc *k = kernel_find(s);
	if (!k)
		return nb_fail(err, "unknown kernel '%s' (see 'nestbench list kernels')", s);
	memcpy(out, &k, sizeof(k));
	return 0;
}

static const char *kernel_name_of(const void *p)
{
	const struct kernel_desc *k;
	memcpy(&k, p, sizeof(k));
	return k->name;
}

static int backing_item_parse(const char *s, void *out, nb_error *err)
{
	enum backing_kind b;
	if (backing_parse(s, &b, err))
		return -1;
	memcpy(out, &b, sizeof(b));
	return 0;
}

static const char *backing_name_of(const void *p)
{
	enum backing_kind b;
	memcpy(&b, p, sizeof(b));
	return backing_name(b);
}

static int guest_page_parse(const char *s, void *out, nb_error *err)
{
	uint64_t bytes = run_vm_guest_page_parse(s);
	if (!bytes)
		return nb_fail(err, "unknown guest page size '%s' (4k, 2m or 1g)", s);
	memcpy(out, &bytes, sizeof(bytes));
	return 0;
}

static const char *guest_page_name_of(const void *p)
{
	uint64_t bytes;
	memcpy(&bytes, p, sizeof(bytes));
	return run_vm_guest_page_name(bytes);
}

static int placement_parse(const char *s, void *out, nb_error *err)
{
	enum kernel_placement pl;
	nb_error e;
	if (kernel_placement_parse(s, &pl, &e))
		return nb_fail(err, "--placement: %s", e.msg);
	memcpy(out, &pl, sizeof(pl));
	return 0;
}

static const char *placement_name_of(const void *p)
{
	enum kernel_placement pl;
	memcpy(&pl, p, sizeof(pl));
	return kernel_placement_name(pl);
}

/* Guest page sizes mean something only where kernels run in VMs. */
static int runs_vm(const void *cfg)
{
	return (((const struct run_config *)cfg)->modes & RUN_MODE_VM) != 0;
}

/* --mode and --guest-mode: comma lists of modes (run_linux.c parses them). */
static int modes_parse(const char *s, void *out, nb_error *err)
{
	unsigned m;
	if (run_mode_parse(s, 1, &m, err))
		return -1;
	memcpy(out, &m, sizeof(m));
	return 0;
}

static int guest_modes_parse(const char *s, void *out, nb_error *err)
{
	unsigned m;
	if (run_mode_parse(s, 0, &m, err))
		return -1;
	memcpy(out, &m, sizeof(m));
	return 0;
}

static const char *modes_name_of(const void *p)
{
	unsigned m;
	memcpy(&m, p, sizeof(m));
	return run_mode_name(m ? m : RUN_MODE_NATIVE);
}

/* The --guest-* rows mean something only with --mode linux. */
static int runs_linux(const void *cfg)
{
	return (((const struct run_config *)cfg)->modes & RUN_MODE_LINUX) != 0;
}

static const unsigned long accel_values[] = {RUN_GUEST_ACCEL_AUTO, RUN_GUEST_ACCEL_KVM, RUN_GUEST_ACCEL_TCG, 0};

static const struct cli_opt run_base_opts[] = {
	{"suite", 's', "NAME", "smoke, quick (default) or full; see 'nestbench list suites'", CLI_V_SUITES, NULL,
	 .type = OPT_T_NAME, FIELD(suite), .name_parse = suite_parse, .name_of = suite_name_of,
	 .config_key = "suite"},
	{"kernel", 'k', "K[,K...]", "kernels to run instead of the suite's (see 'nestbench list kernels')",
	 CLI_V_KERNELS, NULL, .type = OPT_T_NAME, LIST(kernels, nkernels, 0), .name_parse = kernel_parse,
	 .name_of = kernel_name_of, .config_key = "kernels"},
	{"backing", 'b', "B[,B...]",
	 "4k, thp, hugetlb-2m, hugetlb-1g (default: all; those that cannot be had are skipped with the reason; "
	 "named ones must be had)",
	 CLI_V_BACKINGS, NULL, .type = OPT_T_NAME, LIST(backings, nbackings, OPT_F_UNIQUE),
	 .name_parse = backing_item_parse, .name_of = backing_name_of, .config_key = "backings"},
	{"cpu", 'c', "N",
	 "PU to pin the measuring thread to (default: one without an SMT sibling, preferring the last core)",
	 CLI_V_WORD, NULL, .type = OPT_T_UINT, FIELD(cpu), .flags = OPT_F_SIGNED, .max = 65535, .def = -1,
	 .config_key = "cpu"},
	{"out", 'o', "FILE", "results file (default results/<host>-<UTC time>.json); a device or FIFO (/dev/stdout, a "
			     "named pipe) is written in place",
	 CLI_V_FILE, NULL, .type = OPT_T_STRING, FIELD(out), .min = 1},
	{"quiet", 'q', NULL, "no progress, no summary table; only the results path", CLI_V_NONE, NULL,
	 .type = OPT_T_FLAG, FIELD(quiet)},
	{"ws-min", OPT_WS_MIN, "SIZE", "smallest working set (default from the suite, e.g. 16k)", CLI_V_WORD, NULL,
	 .type = OPT_T_SIZE, FIELD(ws_min), .flags = OPT_F_SUITE, SUITE(ws_min), .min = 1,
	 .config_key = "ws_min_bytes"},
	{"ws-max", OPT_WS_MAX, "SIZE", "largest working set (default from the suite, capped to fit memory)",
	 CLI_V_WORD, NULL, .type = OPT_T_SIZE, FIELD(ws_max), .flags = OPT_F_SUITE, SUITE(ws_max), .min = 1,
	 .config_key = "ws_max_bytes"},
	{"points-per-octave", OPT_PPO, "N", "sweep density (default from the suite)", CLI_V_WORD, NULL,
	 .type = OPT_T_UINT, FIELD(per_octave), .flags = OPT_F_SUITE, SUITE(per_octave), .min = 1, .max = 16,
	 .config_key = "points_per_octave"},
	{"samples", OPT_SAMPLES, "N", "timed samples per measurement (default from the suite)", CLI_V_WORD, NULL,
	 .type = OPT_T_UINT, FIELD(samples), .flags = OPT_F_SUITE, SUITE(samples), .min = 1, .max = 10000,
	 .config_key = "samples"},
	{"warmup", OPT_WARMUP, "N", "warm-up samples per measurement", CLI_V_WORD, NULL, .type = OPT_T_UINT,
	 FIELD(warmup_samples), .flags = OPT_F_SUITE, SUITE(warmup_samples), .max = 1000,
	 .config_key = "warmup_samples"},
	{"sample-ms", OPT_SAMPLE_MS, "MS", "target duration of one sample in milliseconds", CLI_V_WORD, NULL,
	 .type = OPT_T_UINT, FIELD(target_sample_ns), .flags = OPT_F_SUITE | OPT_F_DOUBLE, SUITE(target_sample_ns),
	 .scale = 1e6, .min = 1, .max = 60000, .config_key = "target_sample_ns"},
	{"rounds", OPT_ROUNDS, "N",
	 "measure every point once per round, N rounds, each in its own seeded random order with a fresh chain "
	 "seed; the samples are split across the rounds and a point's median and interval come from its round "
	 "medians (default from the suite)",
	 CLI_V_WORD, NULL, .type = OPT_T_UINT, FIELD(rounds), .flags = OPT_F_SUITE, SUITE(rounds), .min = 1,
	 .max = 32, .config_key = "rounds"},
	{"precision", OPT_PRECISION, "PCT",
	 "adaptive rounds: after the base rounds, measure again the points whose interval half-width exceeds PCT "
	 "percent of the median, until --time-budget runs out (default 2)",
	 CLI_V_WORD, NULL, .type = OPT_T_UINT, FIELD(precision_pct), .flags = OPT_F_DOUBLE, .scale = 1, .min = 1,
	 .max = 100, .def = 2, .config_key = "precision_pct"},
	{"time-budget", OPT_TIME_BUDGET, "SECONDS",
	 "adaptive rounds: at most this long after the base rounds; 0: none (default from the suite)", CLI_V_WORD,
	 NULL, .type = OPT_T_UINT, FIELD(time_budget_s), .flags = OPT_F_SUITE, SUITE(time_budget_s), .max = 86400,
	 .config_key = "time_budget_s"},
	{"seed", OPT_SEED, "N", "permutation seed (default 1)", CLI_V_WORD, NULL, .type = OPT_T_UINT,
	 FIELD(kopt.seed), .def = 1, .config_key = "seed"},
	{"events", 'e', "LIST",
	 "PMU events (libpfm4 strings, comma-separated) instead of this CPU's page-walk set (see 'nestbench list "
	 "events')",
	 CLI_V_EVENTS, NULL, .type = OPT_T_STRING, FIELD(events), .flags = OPT_F_LIST, .config_key = "events"},
	{"no-pmu", OPT_NO_PMU, NULL, "do not open hardware counters", CLI_V_NONE, NULL, .type = OPT_T_FLAG,
	 FIELD(no_pmu), .flags = OPT_F_INVERT, .config_key = "pmu"},
	{"mode", 'm', "M[,M...]",
	 "native, vm (the kernels inside a KVM guest of nestbench's own), linux (the kernels inside a "
	 "Linux guest booted with QEMU, see --guest-*; its results are merged as mode \"linux\"), or a list of "
	 "them; both = native,vm (native and VM measurements interleaved per point); the kernels with a guest side "
	 "(vmexit, vmswitch, guest-shootdown, the guest-* kernels, vm-lifecycle) run their guests in vm mode and "
	 "their native counterparts, where they have one, in native mode; default: both where /dev/kvm opens, "
	 "else native (saying why)",
	 CLI_V_CHOICE, "native vm linux both", .type = OPT_T_NAME, FIELD(modes), .name_parse = modes_parse,
	 .name_of = modes_name_of, .config_key = "mode"},
	{"guest-page", 'g', "P[,P...]",
	 "vm: guest page sizes 4k, 2m, 1g (default: all; those that cannot be had are skipped with the reason)",
	 CLI_V_CHOICE, "4k 2m 1g", .type = OPT_T_NAME, LIST(guest_pages, nguest_pages, OPT_F_UNIQUE),
	 .name_parse = guest_page_parse, .name_of = guest_page_name_of, .config_key = "guest_pages",
	 .echo_if = runs_vm},
	/* The lists the run loop measures the non-sweeping kernels at (each
	 * --size, --threads, --placement is a point of its own): fields of
	 * run_config, so here rather than beside the kernels. */
	{"size", OPT_SIZE, "SIZE[,SIZE...]",
	 "page-table and context-switch kernels: the region mapped, protected, discarded or forked (a whole "
	 "number of the backing's pages), or the working set each side touches after every switch (0 = none); "
	 "default from the suite",
	 CLI_V_WORD, NULL, .type = OPT_T_SIZE, LIST(sizes.bytes, sizes.n, OPT_F_NULL_EMPTY), .align = 4096,
	 .align_what = "4k pages (the smallest backing page)", .config_key = "sizes_bytes"},
	{"threads", OPT_THREADS, "N[,N...]",
	 "shootdown: PUs taking part, the measuring one included; guest-shootdown: vCPUs, one PU each (default "
	 "1, 2, 4, ... and all PUs this process may use)",
	 CLI_V_WORD, NULL, .type = OPT_T_UINT, LIST(threads, nthreads, OPT_F_NULL_EMPTY), .min = 1, .max = 4096,
	 .config_key = "threads"},
	{"placement", OPT_PLACEMENT, "P[,P...]", "pipe-proc, pipe-thread: same-pu and/or cross-pu (default both)",
	 CLI_V_CHOICE, "same-pu cross-pu", .type = OPT_T_NAME,
	 LIST(placements, nplacements, OPT_F_UNIQUE | OPT_F_NULL_EMPTY), .name_parse = placement_parse,
	 .name_of = placement_name_of, .config_key = "placements"},
	/* --mode linux: the guest (run_linux.c). */
	{"guest-kernel", OPT_GUEST_KERNEL, "PATH",
	 "linux: the guest's kernel, a bzImage (default: the newest readable /boot/vmlinuz-*; its modules under "
	 "/lib/modules go into the image)",
	 CLI_V_FILE, NULL, .type = OPT_T_STRING, FIELD(guest_kernel), .min = 1, .config_key = "guest_kernel",
	 .echo_if = runs_linux},
	{"guest-accel", OPT_GUEST_ACCEL, "A",
	 "linux: auto (default: KVM with -cpu host where /dev/kvm works and the local KVM uses ept, npt or shadow "
	 "paging; TCG with -cpu max otherwise), kvm or tcg; under TCG every linux measurement is function only "
	 "(\"timing_valid\": false)",
	 CLI_V_CHOICE, "auto kvm tcg", .type = OPT_T_CHOICE, FIELD(guest_accel), .choice_values = accel_values,
	 .def = RUN_GUEST_ACCEL_AUTO, .config_key = "guest_accel", .echo_if = runs_linux},
	{"guest-cpus", OPT_GUEST_CPUS, "N", "linux: vCPUs of the guest (default 2)", CLI_V_WORD, NULL,
	 .type = OPT_T_UINT, FIELD(guest_cpus), .min = 1, .max = 64, .def = 2, .config_key = "guest_cpus",
	 .echo_if = runs_linux},
	{"guest-memory", OPT_GUEST_MEMORY, "SIZE",
	 "linux: memory of the guest (default 5g; a whole number of the host backing's pages; what is above 2g "
	 "can go to 1G hugetlb pages: the control's, and with hugetlb-1g inside the sweep buffer's and a kernel's)",
	 CLI_V_WORD, NULL,
	 .type = OPT_T_SIZE, FIELD(guest_memory), .min = 256u << 20, .align = 2u << 20,
	 .align_what = "2m (the guest's memory is hugetlb-backable)", .def = 5ll << 30,
	 .config_key = "guest_memory_bytes", .echo_if = runs_linux},
	{"guest-mode", OPT_GUEST_MODE, "M[,M...]",
	 "linux: the --mode of the nestbench inside the guest: native (default), vm (micro-VMs on the guest's own "
	 "KVM: NPT under TCG's emulated SVM) or both",
	 CLI_V_CHOICE, "native vm both", .type = OPT_T_NAME, FIELD(guest_modes), .name_parse = guest_modes_parse,
	 .name_of = modes_name_of, .config_key = "guest_mode", .echo_if = runs_linux},
	{"guest-backing", OPT_GUEST_BACKING, "B[,B...]",
	 "linux: the backings inside the guest (default: all; its hugepage pools and THP mode are set on its "
	 "kernel command line); --backing names the host backings of the guest's memory, one guest boot each",
	 CLI_V_BACKINGS, NULL, .type = OPT_T_NAME, LIST(guest_backings, nguest_backings, OPT_F_UNIQUE),
	 .name_parse = backing_item_parse, .name_of = backing_name_of, .config_key = "guest_backings",
	 .echo_if = runs_linux},
	{"guest-timeout", OPT_GUEST_TIMEOUT, "SEC", "linux: stop a guest after this many seconds (default 1800)",
	 CLI_V_WORD, NULL, .type = OPT_T_UINT, FIELD(guest_timeout_s), .min = 1, .max = 7 * 86400, .def = 1800,
	 .config_key = "guest_timeout_s", .echo_if = runs_linux},
	{"help", 'h', NULL, "this help", CLI_V_NONE, NULL, OPT_DOC_ONLY},
	{NULL, 0, NULL, NULL, CLI_V_NONE, NULL, OPT_DOC_ONLY},
};

/* getopt_long's val for the kernels' rows: above the run's own keys. */
#define KERNEL_OPT_KEY 512

const struct cli_opt *run_options(void)
{
	static struct cli_opt all[OPT_TABLE_MAX + 1];
	static int built;
	if (built)
		return all;
	size_t n = 0;
	const struct cli_opt *help = NULL;
	for (const struct cli_opt *o = run_base_opts; o->name; o++) {
		if (!strcmp(o->name, "help"))
			help = o; /* --help stays last */
		else if (n < OPT_TABLE_MAX)
			all[n++] = *o;
	}
	for (size_t k = 0; k < kernel_table_len; k++)
		for (const struct cli_opt *o = kernel_table[k]->opts; o && o->name; o++) {
			/* Kernels sharing an option (chase, chase-ctl) share its row. */
			if (opt_index(all, o->name) >= 0 || n >= OPT_TABLE_MAX)
				continue;
			all[n] = *o;
			all[n].key = KERNEL_OPT_KEY + (int)n;
			all[n].off += offsetof(struct run_config, kopt);
			n++;
		}
	if (help && n < OPT_TABLE_MAX)
		all[n++] = *help;
	/* all[n] stays zero: the end.  A table cut short at OPT_TABLE_MAX is
	 * caught by test_cli.c's tables_are_sound. */
	built = 1;
	return all;
}

json_t *run_config_json(const struct run_config *cfg, const char *out_path)
{
	json_t *c = opt_echo(run_options(), cfg), *argv = json_array();
	for (int i = 0; i < cfg->argc; i++)
		json_array_append_new(argv, json_string(cfg->argv[i]));
	json_object_set_new(c, "command_line", argv);
	json_object_set_new(c, "out", json_string(out_path));
	return c;
}
