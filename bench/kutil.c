/* kutil.c - helpers of the page-table-update and context-switch kernels (see kutil.h). */
#include "bench/kutil.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/tsc.h"
#include "harness/mem/hugepool.h"

volatile uint64_t ku_sink;

int ku_map(struct ku_region *r, enum backing_kind kind, size_t bytes)
{
	struct backing_map_params mp;
	backing_map_params(kind, &mp);
	int hugetlb = (mp.mmap_flags & MAP_HUGETLB) != 0;
	/* hugetlb mappings come aligned; anonymous ones are over-mapped so the
	 * start can be aligned for a huge page to be possible. */
	size_t len = hugetlb ? bytes : bytes + mp.align;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, mp.mmap_flags, -1, 0);
	if (m == MAP_FAILED)
		return errno;
	r->map = m;
	r->map_bytes = len;
	r->base = hugetlb ? m : (void *)(((uintptr_t)m + mp.align - 1) / mp.align * mp.align);
	r->bytes = bytes;
	if (mp.advice >= 0 && madvise(r->base, bytes, mp.advice) != 0) {
		int e = errno;
		ku_unmap(r);
		return e;
	}
	return 0;
}

void ku_unmap(struct ku_region *r)
{
	if (r->map)
		munmap(r->map, r->map_bytes);
	r->map = NULL;
}

int ku_size_fits(const struct kernel_ctx *ctx, size_t bytes, nb_error *err)
{
	size_t page = backing_page_bytes(ctx->backing);
	char p[32], b[32];
	format_size(page, p, sizeof(p));
	format_size(bytes, b, sizeof(b));
	if (bytes == 0)
		return nb_skip(err, "%s needs a region of at least one %s page, not 0", ctx->desc->name, p);
	if (bytes % page)
		return nb_skip(err, "size %s is not a whole number of %s pages (backing %s)", b, p,
			       backing_name(ctx->backing));
	return 0;
}

int ku_reserve(enum backing_kind kind, size_t pages, nb_error *err)
{
	if (kind != BACKING_HUGETLB_2M && kind != BACKING_HUGETLB_1G)
		return 0;
	size_t page = backing_page_bytes(kind);
	struct hugepool_state st;
	if (hugepool_read(page, &st) == 0 && st.free - st.resv >= (long)pages)
		return 0;
	return hugepool_reserve(page, pages, err);
}

json_t *ku_region_json(enum backing_kind kind, void *base, size_t bytes)
{
	struct buffer b;
	memset(&b, 0, sizeof(b));
	b.kind = kind;
	b.base = base;
	b.bytes = bytes;
	nb_error err;
	if (buffer_verify(&b, &err) != 0)
		b.verified_page_bytes = 0;
	return buffer_json(&b);
}

size_t ku_page_bytes(const json_t *backing, enum backing_kind kind)
{
	json_int_t v = json_integer_value(json_object_get(backing, "verified_page_bytes"));
	return v > 0 ? (size_t)v : backing_page_bytes(kind);
}

static void proof_entry(struct kernel_ctx *ctx, const char *claim, enum swc_event ev, json_t *per_op, double lo,
			double hi, int kernel_included, const char *verdict, const char *why)
{
	json_t *arr = json_object_get(ctx->params, "counter_proof");
	if (!json_is_array(arr)) {
		arr = json_array();
		json_object_set_new(ctx->params, "counter_proof", arr);
	}
	int par = swcount_paranoid();
	json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:[f,f], s:b, s:o, s:s, s:s}", "claim", claim, "event",
					     swcount_name(ev), "per_op", per_op, "expected", lo, hi, "kernel_included",
					     kernel_included, "perf_event_paranoid",
					     par == INT_MIN ? json_null() : json_integer(par), "verdict", verdict, "why",
					     why));
}

void ku_claim_mode(struct kernel_ctx *ctx, const uint64_t *counts, enum swc_event ev, uint64_t ops, double lo,
		   double hi, const char *claim, int kernel_included)
{
	char key[64];
	snprintf(key, sizeof(key), "%s_per_op", swcount_name(ev));
	if (counts[ev] == UINT64_MAX || ops == 0) {
		json_object_set_new(ctx->params, key, json_null());
		if (!kernel_included && swcount_blind_user_only(ev))
			proof_entry(ctx, claim, ev, json_null(), lo, hi, 0, "cannot prove",
				    "kernel included: false, cannot prove: counted in user mode only, where this event "
				    "(raised inside the kernel) is never seen");
		else
			proof_entry(ctx, claim, ev, json_null(), lo, hi, kernel_included, "not counted",
				    ops ? "the event could not be opened" : "no operations were counted");
		return;
	}
	double c = (double)counts[ev], per = c / (double)ops;
	json_object_set_new(ctx->params, key, json_real(per));
	/* The lower bound is strict (each op must have done it); above, a few
	 * events of slack for what a sample does around its timed region
	 * (mapping, waking a partner) that is not the claim's. */
	const double slack = 16;
	int bad = c < lo * (double)ops || c > hi * (double)ops + slack;
	if (bad)
		json_array_append_new(ctx->flags, json_sprintf("counters contradict the claim '%s': %.3g %s per op "
							       "(expected %.3g..%.3g)", claim, per, swcount_name(ev),
							       lo, hi));
	proof_entry(ctx, claim, ev, json_real(per), lo, hi, kernel_included, bad ? "contradicted" : "holds",
		    kernel_included ? "kernel included"
				    : "kernel excluded: only faults taken in user mode are counted, as these are");
}

void ku_claim(struct kernel_ctx *ctx, const uint64_t *counts, enum swc_event ev, uint64_t ops, double lo, double hi,
	      const char *claim)
{
	ku_claim_mode(ctx, counts, ev, ops, lo, hi, claim, swcount_kernel_allowed(NULL, 0));
}

unsigned ku_parts_add(struct ku_parts *p, const char *name, const char *what)
{
	unsigned i = p->n < KU_PARTS_MAX ? p->n++ : KU_PARTS_MAX - 1;
	p->name[i] = name;
	p->what[i] = what;
	return i;
}

/* The sample in progress, as ticks per op of each part (NAN: it ran none). */
static void current_values(const struct ku_parts *p, double *out)
{
	for (unsigned i = 0; i < p->n; i++)
		out[i] = p->cur_ops[i] ? (double)p->cur_ticks[i] / (double)p->cur_ops[i] : NAN;
}

void ku_parts_begin(struct ku_parts *p, uint64_t iters)
{
	if (iters != p->iters) {
		p->iters = iters;
		p->samples = 0;
		p->nv = 0;
		memset(p->ops, 0, sizeof(p->ops));
	} else if (p->samples > 0 && p->nv < KU_PARTS_SAMPLES) {
		double cur[KU_PARTS_MAX];
		current_values(p, cur);
		for (unsigned i = 0; i < p->n; i++)
			p->v[i][p->nv] = cur[i];
		p->nv++;
	}
	memset(p->cur_ticks, 0, sizeof(p->cur_ticks));
	memset(p->cur_ops, 0, sizeof(p->cur_ops));
	p->samples++;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median of the finite values of v[0..n) (sorted in place); NAN when none. */
static double median_of(double *v, unsigned n)
{
	unsigned m = 0;
	for (unsigned i = 0; i < n; i++)
		if (!isnan(v[i]))
			v[m++] = v[i];
	if (!m)
		return NAN;
	qsort(v, m, sizeof(*v), cmp_double);
	return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
}

/* Per-sample values of f(gross, baseline) (or of part a alone when b < 0),
 * the sample in progress included, into a malloc'd array; its length in *n. */
static double *sample_values(const struct ku_parts *p, unsigned a, int b, double scale, unsigned *n)
{
	double *v = malloc((KU_PARTS_SAMPLES + 1) * sizeof(*v));
	*n = 0;
	if (!v)
		return NULL;
	for (unsigned s = 0; s < p->nv; s++)
		v[(*n)++] = b < 0 ? p->v[a][s] : (p->v[a][s] - p->v[b][s]) * scale;
	if (p->samples > p->nv) {
		double cur[KU_PARTS_MAX];
		current_values(p, cur);
		v[(*n)++] = b < 0 ? cur[a] : (cur[a] - cur[b]) * scale;
	}
	return v;
}

double ku_parts_ns(const struct ku_parts *p, unsigned i)
{
	if (i >= p->n)
		return 0;
	unsigned n;
	double *v = sample_values(p, i, -1, 1, &n);
	double m = v ? median_of(v, n) : NAN;
	free(v);
	return isnan(m) ? 0 : m / tsc_ticks_per_ns();
}

void ku_components(struct kernel_ctx *ctx, const struct ku_parts *p, unsigned gross, unsigned baseline, double scale,
		   const char *net_name, const char *net_unit, const char *net_what, const char *how)
{
	if (json_object_get(ctx->params, "components") || p->samples == 0 || gross >= p->n || baseline >= p->n)
		return;
	json_t *parts = json_object();
	for (unsigned i = 0; i < p->n; i++)
		json_object_set_new(parts, p->name[i],
				    json_pack("{s:f, s:s, s:b, s:I}", "ns_per_op", ku_parts_ns(p, i), "what", p->what[i],
					      "measured", 1, "ops", (json_int_t)p->ops[i]));
	double net = (ku_parts_ns(p, gross) - ku_parts_ns(p, baseline)) * scale;
	unsigned n;
	double *v = sample_values(p, gross, (int)baseline, scale, &n);
	double paired = v ? median_of(v, n) / tsc_ticks_per_ns() : NAN;
	free(v);
	char formula[160];
	if (scale == 1)
		snprintf(formula, sizeof(formula), "%s - %s", p->name[gross], p->name[baseline]);
	else
		snprintf(formula, sizeof(formula), "(%s - %s) * %g", p->name[gross], p->name[baseline], scale);
	json_t *c = json_pack("{s:o, s:s, s:s, s:f, s:{s:s, s:s, s:f, s:o, s:s, s:s}, s:i, s:I, s:s}", "parts", parts,
			      "gross", p->name[gross], "baseline", p->name[baseline], "scale", scale, "net", "name",
			      net_name, "unit", net_unit, "value", net, "paired_median",
			      isnan(paired) ? json_null() : json_real(paired), "formula", formula, "what", net_what,
			      "samples", (int)p->samples, "iterations_per_sample", (json_int_t)p->iters, "how", how);
	json_object_set_new(ctx->params, "components", c);
}

/* ns per op of a part, or of the net when name is "net"; NAN when absent. */
static double comp_value(json_t *c, const char *name)
{
	json_t *v = !strcmp(name, "net") ? json_object_get(json_object_get(c, "net"), "value")
					 : json_object_get(json_object_get(json_object_get(c, "parts"), name), "ns_per_op");
	return json_is_number(v) ? json_number_value(v) : NAN;
}

void ku_components_derive(struct kernel_ctx *ctx, const char *name, const char *a, const char *b, const char *what)
{
	json_t *c = json_object_get(ctx->params, "components");
	json_t *parts = json_object_get(c, "parts");
	double va = comp_value(c, a), vb = comp_value(c, b);
	if (!parts || isnan(va) || isnan(vb) || json_object_get(parts, name))
		return;
	char formula[160];
	snprintf(formula, sizeof(formula), "%s - %s", a, b);
	json_object_set_new(parts, name, json_pack("{s:f, s:s, s:b, s:s}", "ns_per_op", va - vb, "what", what, "measured",
						   0, "formula", formula));
}

/* "Name:   1234 kB" lines of one smaps entry. */
static void vma_field(const char *line, struct ku_vma_mem *m)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{"Rss:", offsetof(struct ku_vma_mem, rss_bytes)},
		{"Private_Dirty:", offsetof(struct ku_vma_mem, private_dirty_bytes)},
		{"AnonHugePages:", offsetof(struct ku_vma_mem, anon_huge_bytes)},
		{"Private_Hugetlb:", offsetof(struct ku_vma_mem, private_hugetlb_bytes)},
		{"Shared_Hugetlb:", offsetof(struct ku_vma_mem, shared_hugetlb_bytes)},
	};
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		size_t n = strlen(keys[k].key);
		if (strncmp(line, keys[k].key, n) == 0) {
			uint64_t *v = (uint64_t *)((char *)m + keys[k].off);
			*v = strtoull(line + n, NULL, 10) * 1024;
		}
	}
}

int ku_vma_mem_parse(const char *text, uintptr_t addr, struct ku_vma_mem *out)
{
	memset(out, 0, sizeof(*out));
	int inside = 0, found = 0;
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		uintptr_t lo, hi;
		char c;
		/* A VMA header: "start-end perms ..."; field lines start with a name. */
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %c", &lo, &hi, &c) == 3) {
			inside = addr >= lo && addr < hi;
			found |= inside;
		} else if (inside) {
			vma_field(line, out);
		}
		line = nl ? nl + 1 : NULL;
	}
	return found ? 0 : -1;
}

int ku_vma_mem(const void *addr, struct ku_vma_mem *out)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	if (!f)
		return -1;
	size_t cap = 1 << 16, len = 0;
	char *text = malloc(cap);
	while (text) {
		size_t got = fread(text + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
		if (cap - len - 1 == 0) {
			char *t = realloc(text, cap * 2);
			if (!t) {
				free(text);
				text = NULL;
				break;
			}
			text = t;
			cap *= 2;
		}
	}
	fclose(f);
	if (!text)
		return -1;
	text[len] = 0;
	int rc = ku_vma_mem_parse(text, (uintptr_t)addr, out);
	free(text);
	return rc;
}

long long ku_vmstat(const char *name)
{
	FILE *f = fopen("/proc/vmstat", "re");
	if (!f)
		return -1;
	char key[128];
	long long v, found = -1;
	while (fscanf(f, "%127s %lld", key, &v) == 2)
		if (!strcmp(key, name)) {
			found = v;
			break;
		}
	fclose(f);
	return found;
}

int ku_faults_open(void)
{
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_PAGE_FAULTS;
	attr.disabled = 1;
	long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM)) {
		/* User-mode faults, which are all these kernels take, still count. */
		attr.exclude_kernel = 1;
		fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	}
	return fd < 0 ? -1 : (int)fd;
}

void ku_fd_enable(int fd)
{
	if (fd >= 0)
		ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
}

void ku_fd_disable(int fd)
{
	if (fd >= 0)
		ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
}

uint64_t ku_fd_read(int fd)
{
	uint64_t v;
	if (fd < 0 || read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return UINT64_MAX;
	return v;
}
