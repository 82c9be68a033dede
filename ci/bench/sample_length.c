/* sample_length.c - a BENCHMARK, not a test: does a chase median depend on
 * the length of its samples?  (issue 12, item 1.)
 *
 * For each working set and stride it allocates one 4k buffer, pinned, and
 * builds the chase on it once; then, repetition after repetition, it
 * measures that chase with every sample length in an order drawn afresh
 * each repetition (each measurement as nestbench's run makes it: its own
 * calibration and warm-up, the software counters across its samples).
 * The sample lengths thus share the buffer, its physical pages and the
 * minutes they ran in, and what differs between them is only the length.
 * A length's median is the median of its repetitions' medians, with the
 * order-statistic interval over them.  Each shorter length is set against
 * the longest paired, repetition by repetition (the two measured seconds
 * apart on the same pages, so the drift of a shared machine cancels out of
 * their ratio): the median ratio with its interval, whether it lies within
 * --tolerance of 1 ("agree") and whether its interval holds 1 ("inside":
 * the sample length moves the median no more than the repetitions do).
 *
 * Nothing is asserted: on a shared machine the numbers move from run to
 * run, and the table is for the reader (ci/bench/sample-length.sh).
 *
 * usage: sample-length [--reps N] [--samples N] [--cpu N] [--tolerance PCT]
 *                      [--sizes LIST] [--strides LIST] [--lengths-ms LIST]
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/commalist.h"
#include "core/kernel.h"
#include "core/rng.h"
#include "core/stats.h"
#include "core/util.h"
#include "harness/host/topology.h"
#include "harness/mem/backing.h"
#include "harness/run/counting.h"
#include "harness/run/measure.h"

#define MAX_LIST 16
#define MAX_REPS 64

struct config {
	unsigned reps, samples;
	int cpu;
	double tolerance_pct;
	size_t sizes[MAX_LIST], nsizes;
	size_t strides[MAX_LIST], nstrides;
	size_t lengths_ms[MAX_LIST], nlengths;
};

static void usage(FILE *out)
{
	fputs("usage: sample-length [--reps N] [--samples N] [--cpu N] [--tolerance PCT]\n"
	      "                     [--sizes LIST] [--strides LIST] [--lengths-ms LIST]\n"
	      "\n"
	      "Measures the 4k chase at each working set and stride with samples of each\n"
	      "length, interleaved on one buffer, and prints each length's median against\n"
	      "the longest one's.  A benchmark: nothing is asserted.\n"
	      "\n"
	      "  --reps N           repetitions (measurements per length; default 31)\n"
	      "  --samples N        timed samples per measurement (default 3)\n"
	      "  --cpu N            PU to pin to (default: nestbench run's measuring PU)\n"
	      "  --tolerance PCT    agreement asked of each length with the longest (default 3)\n"
	      "  --sizes LIST       working sets (default 16k,1m,16m,256m)\n"
	      "  --strides LIST     chase strides (default 64,4k)\n"
	      "  --lengths-ms LIST  sample lengths in ms, the longest last (default 10,50,200)\n",
	      out);
}

/* A list of sizes being parsed (comma_list_each's callback). */
struct size_list {
	size_t *v, n;
	nb_error err;
};

static int add_size(const char *item, void *arg)
{
	struct size_list *l = arg;
	if (l->n == MAX_LIST)
		return nb_fail(&l->err, "at most %d values", MAX_LIST);
	if (parse_size(item, &l->v[l->n], &l->err))
		return -1;
	if (l->v[l->n] == 0)
		return nb_fail(&l->err, "0 is not a size here");
	l->n++;
	return 0;
}

/* A comma-separated list of sizes ("16k,1m") into v; -1 with a message. */
static int parse_sizes(const char *s, size_t *v, size_t *n, const char *what)
{
	struct size_list l = {v, 0, {{0}}};
	nb_error err = {{0}};
	if (comma_list_each(s, add_size, &l, &err)) {
		fprintf(stderr, "sample-length: %s: %s\n", what, l.err.msg[0] ? l.err.msg : err.msg);
		return -1;
	}
	*n = l.n;
	return 0;
}

/* A whole number in [min, max] for option `name`; -1 with a message. */
static int parse_count(const char *name, const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	nb_error err = {{0}};
	if (parse_uint(s, max, out, &err) == 0 && *out >= min)
		return 0;
	fprintf(stderr, "sample-length: %s: %s\n", name, err.msg[0] ? err.msg : "must be at least 1");
	return -1;
}

static int parse_args(int argc, char **argv, struct config *c)
{
	static const struct option opts[] = {
		{"reps", required_argument, NULL, 'r'},    {"samples", required_argument, NULL, 's'},
		{"cpu", required_argument, NULL, 'c'},     {"tolerance", required_argument, NULL, 't'},
		{"sizes", required_argument, NULL, 'S'},   {"strides", required_argument, NULL, 'T'},
		{"lengths-ms", required_argument, NULL, 'L'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	*c = (struct config){.reps = 31, .samples = 3, .cpu = -1, .tolerance_pct = 3};
	if (parse_sizes("16k,1m,16m,256m", c->sizes, &c->nsizes, "--sizes") ||
	    parse_sizes("64,4k", c->strides, &c->nstrides, "--strides"))
		return -1;
	c->lengths_ms[0] = 10, c->lengths_ms[1] = 50, c->lengths_ms[2] = 200, c->nlengths = 3;
	int o;
	unsigned long v;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'r':
			if (parse_count("--reps", optarg, 1, MAX_REPS, &v))
				return -1;
			c->reps = (unsigned)v;
			break;
		case 's':
			if (parse_count("--samples", optarg, 1, MAX_REPS, &v))
				return -1;
			c->samples = (unsigned)v;
			break;
		case 'c':
			if (parse_count("--cpu", optarg, 0, 4096, &v))
				return -1;
			c->cpu = (int)v;
			break;
		case 't': {
			char *end;
			c->tolerance_pct = strtod(optarg, &end);
			if (*end || !(c->tolerance_pct > 0)) {
				fprintf(stderr, "sample-length: --tolerance: '%s' is not a positive percentage\n", optarg);
				return -1;
			}
			break;
		}
		case 'S':
			if (parse_sizes(optarg, c->sizes, &c->nsizes, "--sizes"))
				return -1;
			break;
		case 'T':
			if (parse_sizes(optarg, c->strides, &c->nstrides, "--strides"))
				return -1;
			for (size_t i = 0; i < c->nstrides; i++)
				if (c->strides[i] % 64) {
					fprintf(stderr, "sample-length: --strides: %zu is not a multiple of 64\n", c->strides[i]);
					return -1;
				}
			break;
		case 'L':
			if (parse_sizes(optarg, c->lengths_ms, &c->nlengths, "--lengths-ms"))
				return -1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sample-length: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* One (working set, stride) cell: the chase set up once on its own buffer. */
struct cell {
	size_t ws, stride;
	struct kernel_options opt;
	struct kernel_ctx ctx;
	struct buffer buf;
	double medians[MAX_LIST][MAX_REPS];
};

static int cell_open(struct cell *x, const struct kernel_desc *k, int cpu, nb_error *err)
{
	x->opt = (struct kernel_options){.stride_bytes = x->stride, .seed = 0x5eed};
	size_t need = k->buffer_bytes(x->ws, &x->opt);
	if (buffer_alloc(&x->buf, BACKING_4K, need, err))
		return -1;
	x->ctx = (struct kernel_ctx){.desc = k, .backing = BACKING_4K, .buf = &x->buf, .working_set_bytes = x->ws,
				     .cpu = cpu, .opt = &x->opt, .params = json_object(), .flags = json_array()};
	if (k->setup(&x->ctx, err)) {
		json_decref(x->ctx.params);
		json_decref(x->ctx.flags);
		buffer_free(&x->buf);
		return -1;
	}
	return 0;
}

static void cell_close(struct cell *x)
{
	if (x->ctx.desc->teardown)
		x->ctx.desc->teardown(&x->ctx);
	json_decref(x->ctx.params);
	json_decref(x->ctx.flags);
	buffer_free(&x->buf);
}

/* One measurement of the cell's chase with samples of `ms`, as point.c
 * makes it: software counters across the timed samples, preempted samples
 * taken again.  Its median, or NAN. */
static double measure_once(struct cell *x, size_t ms, unsigned samples, int have_sw)
{
	struct swcount own, *sw = counting_open(have_sw, x->ctx.desc, &own);
	struct counting cnt = {sw, NULL};
	struct measure_observer obs = {&cnt, counting_start, counting_stop};
	struct measure_config mc = {.samples = samples, .warmup_samples = 1, .target_sample_ns = (double)ms * 1e6,
				    .retake_preempted = 1};
	struct measure_result res = {0};
	nb_error err = {{0}};
	if (sw)
		swcount_reset(sw);
	int rc = measure_kernel(&x->ctx, &mc, sw ? &obs : NULL, &res, &err);
	if (sw)
		swcount_close(sw);
	if (rc) {
		fprintf(stderr, "sample-length: %s\n", err.msg);
		return NAN;
	}
	double m = median_of(res.samples, res.n);
	free(res.samples);
	return m;
}

static void print_row(const struct config *c, const struct cell *x)
{
	char w[32], st[32];
	format_size(x->ws, w, sizeof(w));
	format_size(x->stride, st, sizeof(st));
	struct summary s;
	printf("%-6s %-6s", w, st);
	for (size_t l = 0; l < c->nlengths; l++) {
		if (summarize_rounds(x->medians[l], c->reps, x->medians[l], c->reps, &s))
			return;
		printf(" %9.3f [%7.3f, %7.3f]", s.median, s.ci95_low, s.ci95_high);
	}
	/* Paired: each repetition's ratio, its lengths measured seconds apart on
	 * the same buffer, so the machine's slower drift cancels out of it. */
	const size_t ref = c->nlengths - 1;
	int agree = 1, inside = 1;
	for (size_t l = 0; l < ref; l++) {
		double ratio[MAX_REPS];
		for (unsigned r = 0; r < c->reps; r++)
			ratio[r] = x->medians[l][r] / x->medians[ref][r];
		if (summarize_rounds(ratio, c->reps, ratio, c->reps, &s))
			return;
		agree &= fabs(s.median - 1) * 100 <= c->tolerance_pct;
		inside &= s.ci95_low <= 1 && s.ci95_high >= 1;
		printf("  %.3f [%.3f, %.3f]", s.median, s.ci95_low, s.ci95_high);
	}
	printf("  %-5s %s\n", agree ? "yes" : "NO", inside ? "yes" : "NO");
}

int main(int argc, char **argv)
{
	struct config c;
	if (parse_args(argc, argv, &c))
		return 2;
	nb_error err = {{0}};
	if (topology_init(&err)) {
		fprintf(stderr, "sample-length: %s\n", err.msg);
		return 1;
	}
	int cpu = c.cpu >= 0 ? c.cpu : topology_default_measure_pu();
	if (topology_pin_self(cpu, &err)) {
		fprintf(stderr, "sample-length: %s\n", err.msg);
		topology_fini();
		return 1;
	}
	const struct kernel_desc *k = kernel_find("chase");
	struct swcount probe;
	int have_sw = swcount_open(&probe, 0, 0, &err) == 0;
	if (have_sw)
		swcount_close(&probe);
	printf("# chase on 4k, pinned to PU %d; %u repetitions of %u samples; ns: the median over the\n"
	       "# repetitions [order-statistic interval]; ratios: the median of each repetition's ratio to its\n"
	       "# %zu ms measurement [interval]; agree: every ratio within %g%% of 1; inside: every ratio's\n"
	       "# interval holds 1\n",
	       cpu, c.reps, c.samples, c.lengths_ms[c.nlengths - 1], c.tolerance_pct);
	printf("%-6s %-6s", "size", "stride");
	for (size_t l = 0; l < c.nlengths; l++)
		printf(" %9zums %-20s", c.lengths_ms[l], "ns [interval]");
	for (size_t l = 0; l + 1 < c.nlengths; l++)
		printf("  %zu/%zu %-14s", c.lengths_ms[l], c.lengths_ms[c.nlengths - 1], "[interval]");
	printf("  agree inside\n");
	fflush(stdout);
	struct rng r;
	rng_seed(&r, 0x73616d706c65ull);
	int rc = 0;
	for (size_t si = 0; si < c.nsizes && rc == 0; si++)
		for (size_t ti = 0; ti < c.nstrides && rc == 0; ti++) {
			struct cell *x = calloc(1, sizeof(*x));
			if (!x) {
				rc = 1;
				break;
			}
			x->ws = c.sizes[si];
			x->stride = c.strides[ti];
			if (cell_open(x, k, cpu, &err)) {
				fprintf(stderr, "sample-length: %zu bytes at stride %zu: %s\n", x->ws, x->stride, err.msg);
				free(x);
				rc = 1;
				break;
			}
			for (unsigned rep = 0; rep < c.reps && rc == 0; rep++) {
				size_t order[MAX_LIST];
				for (size_t l = 0; l < c.nlengths; l++)
					order[l] = l;
				for (size_t l = c.nlengths; l > 1; l--) {
					size_t j = (size_t)rng_below(&r, l), t = order[l - 1];
					order[l - 1] = order[j];
					order[j] = t;
				}
				for (size_t l = 0; l < c.nlengths && rc == 0; l++) {
					double m = measure_once(x, c.lengths_ms[order[l]], c.samples, have_sw);
					x->medians[order[l]][rep] = m;
					rc = isfinite(m) ? 0 : 1;
				}
			}
			if (rc == 0)
				print_row(&c, x);
			fflush(stdout);
			cell_close(x);
			free(x);
		}
	topology_fini();
	return rc;
}
