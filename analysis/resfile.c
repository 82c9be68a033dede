/* resfile.c - strict reader of nestbench results files. */
#include "analysis/resfile.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/identity.h"

/* Validation context: the file name for messages and the first error. */
struct vctx {
	const char *name;
	nb_error *err;
};

static int bad(struct vctx *v, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(struct vctx *v, const char *path, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return nb_fail(v->err, "%s: %s: %s", v->name, path, what);
}

enum vtype { V_OBJ, V_ARR, V_STR, V_INT, V_NUM, V_BOOL };

static const char *vtype_name(enum vtype t)
{
	static const char *const names[] = {"an object", "an array", "a string", "an integer", "a number",
					    "true or false"};
	return names[t];
}

/* Characters (code points) of a string, as JSON Schema's maxLength counts
 * them: jansson's strings are valid UTF-8, so every byte that is not a
 * continuation byte starts one. */
static size_t str_chars(const json_t *j)
{
	const char *s = json_string_value(j);
	size_t n = 0, len = json_string_length(j);
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

static int type_ok(const json_t *j, enum vtype t)
{
	switch (t) {
	case V_OBJ: return json_is_object(j);
	case V_ARR: return json_is_array(j);
	case V_STR: return json_is_string(j) && str_chars(j) <= RES_MAX_STRING;
	case V_INT: return json_is_integer(j);
	case V_NUM: return json_is_number(j) && isfinite(json_number_value(j));
	case V_BOOL: return json_is_boolean(j);
	}
	return 0;
}

/* Fetch obj[key] of type t into *out.  Missing: error when required, else
 * *out = NULL.  null: allowed only when nullable (*out = NULL). */
static int get(struct vctx *v, const json_t *obj, const char *path, const char *key, enum vtype t, int required,
	       int nullable, json_t **out)
{
	char full[200];
	snprintf(full, sizeof(full), "%s%s%s", path, *path ? "." : "", key);
	json_t *j = json_object_get(obj, key);
	*out = NULL;
	if (!j)
		return required ? bad(v, full, "missing (required by schema v1)") : 0;
	if (json_is_null(j)) {
		if (nullable)
			return 0;
		return bad(v, full, "is null, expected %s", vtype_name(t));
	}
	if (!type_ok(j, t)) {
		if (t == V_STR && json_is_string(j))
			return bad(v, full, "string longer than %u characters", RES_MAX_STRING);
		return bad(v, full, "expected %s%s", vtype_name(t), nullable ? " or null" : "");
	}
	*out = j;
	return 0;
}

static int get_str(struct vctx *v, const json_t *obj, const char *path, const char *key, int required,
		   int nullable, const char **out)
{
	json_t *j;
	if (get(v, obj, path, key, V_STR, required, nullable, &j))
		return -1;
	*out = j ? json_string_value(j) : NULL;
	return 0;
}

static int get_enum(struct vctx *v, const json_t *obj, const char *path, const char *key,
		    const char *const *allowed, const char **out)
{
	if (get_str(v, obj, path, key, 1, 0, out))
		return -1;
	for (size_t i = 0; allowed[i]; i++)
		if (!strcmp(*out, allowed[i]))
			return 0;
	char full[200];
	snprintf(full, sizeof(full), "%s.%s", path, key);
	return bad(v, full, "unknown value (schema v1 allows %s%s%s...)", allowed[0], allowed[1] ? ", " : "",
		   allowed[1] ? allowed[1] : "");
}

/* An enum that may be absent (*out = NULL), never null. */
static int get_enum_opt(struct vctx *v, const json_t *obj, const char *path, const char *key,
			const char *const *allowed, const char **out)
{
	*out = NULL;
	if (!json_object_get(obj, key))
		return 0;
	return get_enum(v, obj, path, key, allowed, out);
}

/* Integer field with minimum; *out = -1 when absent or null and allowed. */
static int get_int(struct vctx *v, const json_t *obj, const char *path, const char *key, int required,
		   int nullable, long long min, long long *out)
{
	json_t *j;
	if (get(v, obj, path, key, V_INT, required, nullable, &j))
		return -1;
	*out = -1;
	if (!j)
		return 0;
	long long x = (long long)json_integer_value(j);
	if (x < min) {
		char full[200];
		snprintf(full, sizeof(full), "%s.%s", path, key);
		return bad(v, full, "%lld is below the minimum %lld", x, min);
	}
	*out = x;
	return 0;
}

static int get_num(struct vctx *v, const json_t *obj, const char *path, const char *key, int required,
		   int nullable, double min, double *out)
{
	json_t *j;
	if (get(v, obj, path, key, V_NUM, required, nullable, &j))
		return -1;
	*out = -1;
	if (!j)
		return 0;
	double x = json_number_value(j);
	if (x < min) {
		char full[200];
		snprintf(full, sizeof(full), "%s.%s", path, key);
		return bad(v, full, "%g is below the minimum %g", x, min);
	}
	*out = x;
	return 0;
}

static int check_string_array(struct vctx *v, const json_t *arr, const char *path, size_t max)
{
	if (json_array_size(arr) > max)
		return bad(v, path, "array of %zu entries exceeds the limit of %zu", json_array_size(arr), max);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *s = json_array_get(arr, i);
		if (!type_ok(s, V_STR)) {
			char full[200];
			snprintf(full, sizeof(full), "%s[%zu]", path, i);
			return bad(v, full, "expected a string of at most %u characters", RES_MAX_STRING);
		}
	}
	return 0;
}

static const char *const mode_names[] = {"native", "vm", "qemu-tcg", "linux", NULL};
static const char *const backing_names[] = {"4k", "thp", "hugetlb-2m", "hugetlb-1g", "none", NULL};
static const char *const guest_page_names[] = {"4k", "2m", "1g", NULL};
static const char *const inner_mode_names[] = {"native", "vm", NULL};
static const char *const host_backing_names[] = {"4k", "thp", "hugetlb-2m", "hugetlb-1g", NULL};

/* Mode linux: the guest's own mode and the host side of its memory
 * (harness/linuxguest/hostmem.c), as results/schema.json has them. */
static int parse_linux_fields(struct vctx *v, const json_t *m, const char *path, struct res_meas *rm)
{
	json_t *im, *hb;
	if (get(v, m, path, "inner_mode", V_STR, 0, 0, &im) || get(v, m, path, "host_backing", V_OBJ, 0, 0, &hb))
		return -1;
	if (im) {
		int known = 0;
		for (size_t i = 0; inner_mode_names[i]; i++)
			known |= !strcmp(json_string_value(im), inner_mode_names[i]);
		if (!known)
			return bad(v, path, "inner_mode: unknown value (schema v1 allows native, vm)");
		rm->inner_mode = json_string_value(im);
	}
	if (!hb)
		return 0;
	char p[200];
	snprintf(p, sizeof(p), "%s.host_backing", path);
	const char *s;
	long long x;
	double cov;
	if (get_enum(v, hb, p, "requested", host_backing_names, &rm->host_backing) ||
	    get_str(v, hb, p, "memory_backend", 1, 0, &s) ||
	    get_int(v, hb, p, "verified_page_bytes", 1, 1, 4096, &x) ||
	    get_int(v, hb, p, "requested_page_bytes", 0, 0, 4096, &x) || get_num(v, hb, p, "coverage", 0, 0, 0, &cov) ||
	    get_int(v, hb, p, "rss_bytes", 0, 0, 0, &x) || get_int(v, hb, p, "thp_bytes", 0, 0, 0, &x) ||
	    get_int(v, hb, p, "hugetlb_bytes", 0, 0, 0, &x) || get_int(v, hb, p, "kernel_page_bytes", 0, 0, 0, &x) ||
	    get_int(v, hb, p, "vma_bytes", 0, 0, 0, &x) || get_str(v, hb, p, "source", 0, 0, &s) ||
	    get_str(v, hb, p, "unavailable", 0, 0, &s))
		return -1;
	if (cov > 1)
		return bad(v, p, "coverage %g is above 1", cov);
	return 0;
}

static const char *const mmu_names[] = {"ept", "npt", "shadow", "pvm-shadow", "unknown", "none", NULL};

static int parse_host(struct vctx *v, struct res_file *rf)
{
	json_t *host, *cpu, *tsc, *hyp, *kern, *kvm, *topo, *j;
	if (get(v, rf->root, "", "host", V_OBJ, 1, 0, &host) || get(v, host, "host", "cpu", V_OBJ, 1, 0, &cpu) ||
	    get(v, host, "host", "tsc", V_OBJ, 1, 0, &tsc) ||
	    get(v, host, "host", "hypervisor", V_OBJ, 1, 0, &hyp) ||
	    get(v, host, "host", "kernel", V_OBJ, 1, 0, &kern) || get(v, host, "host", "kvm", V_OBJ, 1, 0, &kvm) ||
	    get(v, host, "host", "topology", V_OBJ, 1, 0, &topo))
		return -1;
	if (get_str(v, cpu, "host.cpu", "vendor", 1, 0, &rf->cpu_vendor) ||
	    get_str(v, cpu, "host.cpu", "name", 1, 0, &rf->cpu_name) ||
	    get_int(v, cpu, "host.cpu", "family", 1, 0, 0, &rf->cpu_family) ||
	    get_int(v, cpu, "host.cpu", "model", 1, 0, 0, &rf->cpu_model))
		return -1;
	if (get(v, hyp, "host.hypervisor", "present", V_BOOL, 1, 0, &j))
		return -1;
	rf->hypervisor_present = json_is_true(j);
	if (get_str(v, hyp, "host.hypervisor", "signature", 0, 1, &rf->hypervisor_signature) ||
	    get_str(v, kern, "host.kernel", "release", 1, 0, &rf->kernel_release) ||
	    get_enum(v, kvm, "host.kvm", "mmu_virt_mode", mmu_names, &rf->mmu_virt_mode) ||
	    get_str(v, host, "host", "hostname", 0, 1, &rf->hostname) ||
	    get(v, kvm, "host.kvm", "nested", V_BOOL, 0, 0, &j) || get(v, kvm, "host.kvm", "params", V_OBJ, 0, 0, &j))
		return -1;
	/* KVM module parameters: each the file's contents (at most 64 characters) or null. */
	const char *name;
	json_t *pv;
	json_object_foreach(j, name, pv) {
		if (json_is_null(pv) || (json_is_string(pv) && str_chars(pv) <= 64))
			continue;
		char full[200];
		snprintf(full, sizeof(full), "host.kvm.params.%.150s", name);
		return bad(v, full, "expected a string of at most 64 characters or null");
	}
	return 0;
}

static int parse_config(struct vctx *v, struct res_file *rf)
{
	json_t *cfg, *j;
	long long x;
	double d;
	const char *s;
	if (get(v, rf->root, "", "config", V_OBJ, 1, 0, &cfg) || get_str(v, cfg, "config", "suite", 1, 1, &s) ||
	    get(v, cfg, "config", "kernels", V_ARR, 1, 0, &j) ||
	    check_string_array(v, j, "config.kernels", RES_MAX_MEASUREMENTS) ||
	    get(v, cfg, "config", "backings", V_ARR, 1, 0, &j) ||
	    check_string_array(v, j, "config.backings", RES_MAX_MEASUREMENTS) ||
	    get_int(v, cfg, "config", "cpu", 0, 1, 0, &x) || get_int(v, cfg, "config", "samples", 1, 0, 1, &x) ||
	    get_int(v, cfg, "config", "warmup_samples", 1, 0, 0, &x) ||
	    get_num(v, cfg, "config", "target_sample_ns", 1, 0, 0, &d) ||
	    get(v, cfg, "config", "command_line", V_ARR, 1, 0, &j) ||
	    check_string_array(v, j, "config.command_line", 10000))
		return -1;
	if (d <= 0)
		return bad(v, "config.target_sample_ns", "must be greater than 0");
	rf->config = cfg;
	return 0;
}

static int parse_timing(struct vctx *v, struct res_file *rf)
{
	json_t *t;
	const char *clock;
	double d, d2;
	long long x;
	static const char *const clocks[] = {"tsc", NULL};
	if (get(v, rf->root, "", "timing", V_OBJ, 1, 0, &t) || get_enum(v, t, "timing", "clock", clocks, &clock) ||
	    get_num(v, t, "timing", "tsc_ticks_per_ns", 1, 0, 0, &d) ||
	    get_int(v, t, "timing", "timer_overhead_ticks", 1, 0, 0, &x) ||
	    get_num(v, t, "timing", "loop_overhead_ns_per_access", 1, 0, 0, &d2))
		return -1;
	if (d <= 0)
		return bad(v, "timing.tsc_ticks_per_ns", "must be greater than 0");
	return 0;
}

/* 0, or within [RES_MIN_VALUE, RES_MAX_VALUE]. */
static int value_in_range(double x)
{
	return x == 0 || (x >= RES_MIN_VALUE && x <= RES_MAX_VALUE);
}

static int range_bad(struct vctx *v, const char *path, double x)
{
	return bad(v, path, "%g is not a value a measurement can have (0, or %g to %g)", x, RES_MIN_VALUE,
		   RES_MAX_VALUE);
}

static int parse_summary(struct vctx *v, const json_t *s, const char *path, struct res_summary *out)
{
	struct {
		const char *key;
		double *dst;
	} f[] = {{"median", &out->median}, {"min", &out->min},     {"mean", &out->mean},
		 {"stddev", &out->stddev}, {"cv", &out->cv},       {"ci95_low", &out->ci95_low},
		 {"ci95_high", &out->ci95_high}};
	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		if (get_num(v, s, path, f[i].key, 1, 0, 0, f[i].dst))
			return -1;
		/* stddev and cv may be rounding-small; only their size is bounded. */
		int spread = f[i].dst == &out->stddev || f[i].dst == &out->cv;
		if (spread ? *f[i].dst > RES_MAX_VALUE : !value_in_range(*f[i].dst)) {
			char full[200];
			snprintf(full, sizeof(full), "%s.%s", path, f[i].key);
			return range_bad(v, full, *f[i].dst);
		}
	}
	/* Optional, as the schema says: the interval's real coverage, 0..1, and
	 * what it is made of. */
	double cov;
	json_t *method;
	if (get_num(v, s, path, "ci_coverage", 0, 0, 0, &cov) ||
	    get(v, s, path, "ci_method", V_STR, 0, 0, &method))
		return -1;
	if (cov > 1) {
		char full[200];
		snprintf(full, sizeof(full), "%s.ci_coverage", path);
		return bad(v, full, "%g is above 1", cov);
	}
	if (method && str_chars(method) > 200) {
		char full[200];
		snprintf(full, sizeof(full), "%s.ci_method", path);
		return bad(v, full, "longer than 200 characters");
	}
	return 0;
}

/* A derived metric as harness/pmu/pmu.c writes it: {value, inputs, formula}, the
 * value a finite number, an object of finite numbers (page_size_mix), or null.
 * A bare number or null is accepted too. */
static int derived_value_ok(json_t *val)
{
	if (json_is_null(val) || type_ok(val, V_NUM))
		return 1;
	if (!json_is_object(val))
		return 0;
	json_t *x = json_object_get(val, "value");
	if (!x || json_is_null(x) || type_ok(x, V_NUM))
		return 1;
	if (!json_is_object(x) || json_object_size(x) > 16)
		return 0;
	const char *k;
	json_t *part;
	json_object_foreach(x, k, part)
		if (!type_ok(part, V_NUM))
			return 0;
	return 1;
}

/* pmu: {available: bool, reason: string|null, events: [...], derived: {name: metric}} */
static int parse_pmu(struct vctx *v, const json_t *m, const char *path, struct res_meas *rm)
{
	json_t *pmu, *j, *derived;
	const char *s;
	char p[160];
	if (get(v, m, path, "pmu", V_OBJ, 0, 0, &pmu))
		return -1;
	if (!pmu)
		return 0;
	snprintf(p, sizeof(p), "%s.pmu", path);
	if (get(v, pmu, p, "available", V_BOOL, 1, 0, &j) || get_str(v, pmu, p, "reason", 0, 1, &s) ||
	    get(v, pmu, p, "events", V_ARR, 0, 0, &j))
		return -1;
	if (j) {
		char pe[180];
		snprintf(pe, sizeof(pe), "%s.events", p);
		if (json_array_size(j) > 1000)
			return bad(v, pe, "array of %zu entries exceeds the limit of 1000", json_array_size(j));
	}
	if (get(v, pmu, p, "derived", V_OBJ, 0, 0, &derived))
		return -1;
	if (derived) {
		const char *k;
		json_t *val;
		if (json_object_size(derived) > 1000)
			return bad(v, p, "derived has %zu entries, more than the limit of 1000", json_object_size(derived));
		json_object_foreach(derived, k, val) {
			if (!derived_value_ok(val)) {
				char pd[200];
				snprintf(pd, sizeof(pd), "%s.derived", p);
				return bad(v, pd, "every metric must be {value: finite number(s) or null, ...}");
			}
		}
	}
	rm->pmu = pmu;
	return 0;
}

/* counters: {name: integer >= 0 | number >= 0 | null | boolean (flags such as
 * includes_children, counted_apart)} */
static int parse_counters(struct vctx *v, const json_t *m, const char *path, struct res_meas *rm)
{
	json_t *c, *val;
	const char *k;
	char p[160];
	if (get(v, m, path, "counters", V_OBJ, 0, 0, &c))
		return -1;
	if (!c)
		return 0;
	snprintf(p, sizeof(p), "%s.counters", path);
	if (json_object_size(c) > 1000)
		return bad(v, p, "%zu entries, more than the limit of 1000", json_object_size(c));
	json_object_foreach(c, k, val) {
		if (json_is_null(val) || json_is_boolean(val))
			continue;
		if (!type_ok(val, V_NUM) || json_number_value(val) < 0)
			return bad(v, p, "every value must be a finite number >= 0, a boolean or null");
	}
	rm->counters = c;
	return 0;
}

/* alt_metrics: {unit: {median, ci95_low, ci95_high}}, values as a summary's. */
static int parse_alt_metrics(struct vctx *v, const json_t *m, const char *path)
{
	json_t *alt, *val;
	const char *unit;
	char p[160];
	if (get(v, m, path, "alt_metrics", V_OBJ, 0, 0, &alt))
		return -1;
	if (!alt)
		return 0;
	if (json_object_size(alt) > 100)
		return bad(v, path, "alt_metrics has more than 100 entries");
	json_object_foreach(alt, unit, val) {
		static const char *const keys[] = {"median", "ci95_low", "ci95_high"};
		snprintf(p, sizeof(p), "%s.alt_metrics.%.40s", path, unit);
		if (!json_is_object(val))
			return bad(v, p, "expected {median, ci95_low, ci95_high}");
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			double d;
			if (get_num(v, val, p, keys[i], 1, 0, 0, &d))
				return -1;
			if (!value_in_range(d)) {
				char full[200];
				snprintf(full, sizeof(full), "%s.%s", p, keys[i]);
				return range_bad(v, full, d);
			}
		}
	}
	return 0;
}

/* "rounds": {"medians": [...]}: each round's median, the replicates
 * compare tests with (absent in files from before rounds). */
static int parse_rounds(struct vctx *v, const json_t *m, const char *path, struct res_meas *rm)
{
	const json_t *r = json_object_get(m, "rounds");
	char p[160];
	if (!r || json_is_null(r))
		return 0;
	snprintf(p, sizeof(p), "%s.rounds", path);
	if (!json_is_object(r))
		return bad(v, p, "expected an object");
	const json_t *med = json_object_get(r, "medians");
	snprintf(p, sizeof(p), "%s.rounds.medians", path);
	size_t n = json_array_size(med);
	if (!json_is_array(med) || n == 0 || n > RES_MAX_SAMPLES)
		return bad(v, p, "expected an array of 1..%u numbers", RES_MAX_SAMPLES);
	rm->rounds = malloc(n * sizeof(*rm->rounds));
	if (!rm->rounds)
		return nb_fail(v->err, "%s: out of memory reading %s", v->name, p);
	for (size_t i = 0; i < n; i++) {
		const json_t *x = json_array_get(med, i);
		double d = json_number_value(x);
		if (!json_is_number(x) || !isfinite(d) || d < 0 || !value_in_range(d)) {
			char ps[192];
			snprintf(ps, sizeof(ps), "%s[%zu]", p, i);
			return bad(v, ps, "expected a finite number >= 0 within the value range");
		}
		rm->rounds[i] = d;
	}
	rm->nrounds = n;
	return 0;
}

static int parse_measurement(struct vctx *v, const json_t *m, size_t idx, struct res_meas *rm)
{
	char path[64], p[96];
	json_t *backing, *gp, *samples, *summary, *j;
	const char *vm;
	long long x;
	snprintf(path, sizeof(path), "measurements[%zu]", idx);
	rm->index = idx;
	if (!json_is_object(m))
		return bad(v, path, "expected an object");
	if (get_str(v, m, path, "kernel", 1, 0, &rm->kernel) || get_str(v, m, path, "family", 1, 0, &rm->family) ||
	    get_enum(v, m, path, "mode", mode_names, &rm->mode) ||
	    get(v, m, path, "backing", V_OBJ, 1, 0, &backing))
		return -1;
	snprintf(p, sizeof(p), "%s.backing", path);
	if (get_enum(v, backing, p, "requested", backing_names, &rm->backing) ||
	    get_int(v, backing, p, "requested_page_bytes", 0, 0, 4096, &rm->requested_page_bytes) ||
	    get_int(v, backing, p, "verified_page_bytes", 0, 1, 4096, &rm->verified_page_bytes) ||
	    get_num(v, backing, p, "coverage", 0, 1, 0, &rm->coverage) ||
	    get_str(v, backing, p, "verify_method", 0, 0, &vm))
		return -1;
	if (rm->coverage > 1)
		return bad(v, p, "coverage %g is above 1", rm->coverage);
	/* 0 is a real size (a context-switch kernel touching nothing); null is none. */
	if (get_int(v, m, path, "working_set_bytes", 1, 1, 0, &x))
		return -1;
	rm->has_ws = x >= 0;
	rm->working_set_bytes = x > 0 ? (uint64_t)x : 0;
	rm->guest_built_page_bytes = -1;
	if (get(v, m, path, "guest_page", V_OBJ, 0, 0, &gp))
		return -1;
	if (gp) {
		snprintf(p, sizeof(p), "%s.guest_page", path);
		if (get_enum(v, gp, p, "requested", guest_page_names, &rm->guest_page) ||
		    get_int(v, gp, p, "built_page_bytes", 1, 1, 4096, &rm->guest_built_page_bytes))
			return -1;
	}
	if (get_int(v, m, path, "cpu", 1, 1, 0, &x) || get_str(v, m, path, "metric", 1, 0, &rm->metric))
		return -1;
	for (const char *c = rm->metric; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
			return bad(v, path, "metric must match ^[a-z0-9_]+$");
	if (!*rm->metric)
		return bad(v, path, "metric is empty");
	if (get(v, m, path, "params", V_OBJ, 1, 0, &rm->params) ||
	    get_int(v, m, path, "iterations_per_sample", 0, 0, 1, &x) ||
	    get(v, m, path, "samples", V_ARR, 1, 0, &samples) || get(v, m, path, "summary", V_OBJ, 1, 1, &summary) ||
	    get_str(v, m, path, "skipped", 1, 1, &rm->skipped) || get(v, m, path, "flags", V_ARR, 0, 0, &j))
		return -1;
	json_t *tv;
	if (get(v, m, path, "failed", V_BOOL, 0, 0, &tv) || get(v, m, path, "timing_valid", V_BOOL, 0, 0, &tv))
		return -1;
	rm->timing_invalid = json_is_false(tv); /* mode linux under TCG: function only */
	if (parse_linux_fields(v, m, path, rm))
		return -1;
	if (json_object_size(rm->params) > 1000)
		return bad(v, path, "params has more than 1000 entries");
	if (j) {
		snprintf(p, sizeof(p), "%s.flags", path);
		if (check_string_array(v, j, p, 1000))
			return -1;
		rm->flags = j;
	}
	snprintf(p, sizeof(p), "%s.samples", path);
	size_t n = json_array_size(samples);
	if (n > RES_MAX_SAMPLES)
		return bad(v, p, "%zu samples exceed the limit of %u", n, RES_MAX_SAMPLES);
	if (rm->skipped) {
		if (n)
			return bad(v, p, "a skipped measurement must have no samples");
		if (summary)
			return bad(v, path, "a skipped measurement must have summary null");
	} else {
		if (!n)
			return bad(v, p, "empty, but the measurement is not skipped");
		if (!summary)
			return bad(v, path, "summary is null, but the measurement is not skipped");
		if (!rm->has_ws)
			return bad(v, path, "working_set_bytes is null, but the measurement is not skipped");
		rm->samples = malloc(n * sizeof(*rm->samples));
		if (!rm->samples)
			return nb_fail(v->err, "%s: out of memory reading %s", v->name, p);
		for (size_t i = 0; i < n; i++) {
			const json_t *s = json_array_get(samples, i);
			double d = json_number_value(s);
			if (!json_is_number(s) || !isfinite(d) || d < 0 || !value_in_range(d)) {
				char ps[128];
				snprintf(ps, sizeof(ps), "%s[%zu]", p, i);
				if (json_is_number(s) && isfinite(d) && d > 0)
					return range_bad(v, ps, d);
				return bad(v, ps, "expected a finite number >= 0");
			}
			rm->samples[i] = d;
		}
		rm->n = n;
		if (parse_rounds(v, m, path, rm))
			return -1;
		snprintf(p, sizeof(p), "%s.summary", path);
		if (parse_summary(v, summary, p, &rm->summary))
			return -1;
		rm->has_summary = 1;
	}
	if (parse_pmu(v, m, path, rm) || parse_counters(v, m, path, rm) || parse_alt_metrics(v, m, path))
		return -1;
	/* VM measurements: what KVM said about the VM, and its MMU mode. */
	const char *mmu;
	if (get(v, m, path, "kvm", V_OBJ, 0, 0, &j) || get_enum_opt(v, m, path, "mmu_virt_mode", mmu_names, &mmu))
		return -1;
	if (j && json_object_size(j) > 64)
		return bad(v, path, "kvm has more than 64 members");
	if (identity_make(rm, &rm->key, &rm->label))
		return nb_fail(v->err, "%s: out of memory", v->name);
	return 0;
}

static int parse_points(struct vctx *v, const json_t *derived, const char *key, int knees,
			struct res_derived_point **out, size_t *nout)
{
	json_t *arr;
	char path[64];
	snprintf(path, sizeof(path), "derived");
	if (get(v, derived, path, key, V_ARR, 1, 0, &arr))
		return -1;
	size_t n = json_array_size(arr);
	snprintf(path, sizeof(path), "derived.%s", key);
	if (n > RES_MAX_DERIVED)
		return bad(v, path, "%zu entries exceed the limit of %u", n, RES_MAX_DERIVED);
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return nb_fail(v->err, "%s: out of memory", v->name);
	*nout = n;
	for (size_t i = 0; i < n; i++) {
		struct res_derived_point *d = &(*out)[i];
		const json_t *e = json_array_get(arr, i);
		char p[96];
		long long ws;
		snprintf(p, sizeof(p), "derived.%s[%zu]", key, i);
		if (!json_is_object(e))
			return bad(v, p, "expected an object");
		if (get_str(v, e, p, "mode", 1, 0, &d->mode) || get_str(v, e, p, "backing", 1, 0, &d->backing) ||
		    get_enum_opt(v, e, p, "guest_page", guest_page_names, &d->guest_page) ||
		    get_int(v, e, p, "working_set_bytes", 1, 0, 1, &ws))
			return -1;
		d->working_set_bytes = (uint64_t)ws;
		d->pages = -1;
		if (knees) {
			if (get_str(v, e, p, "kernel", 1, 0, &d->kernel) ||
			    get_int(v, e, p, "pages", 1, 0, 1, &d->pages) ||
			    get_num(v, e, p, "ns_after", 1, 0, -INFINITY, &d->y) ||
			    get_num(v, e, p, "ns_before", 1, 0, -INFINITY, &d->lo))
				return -1;
			d->hi = d->lo;
			if (fabs(d->y) > RES_MAX_VALUE || fabs(d->lo) > RES_MAX_VALUE)
				return bad(v, p, "ns_after or ns_before beyond %g in size", RES_MAX_VALUE);
		} else {
			/* translation may be slightly negative (noise): no minimum */
			if (get_num(v, e, p, "ns_per_access", 1, 0, -INFINITY, &d->y) ||
			    get_num(v, e, p, "ci95_low", 1, 0, -INFINITY, &d->lo) ||
			    get_num(v, e, p, "ci95_high", 1, 0, -INFINITY, &d->hi))
				return -1;
			if (fabs(d->y) > RES_MAX_VALUE || fabs(d->lo) > RES_MAX_VALUE || fabs(d->hi) > RES_MAX_VALUE)
				return bad(v, p, "ns_per_access or its interval beyond %g in size", RES_MAX_VALUE);
		}
	}
	return 0;
}

/* YYYY-MM-DDTHH:MM:SSZ, as the schema's pattern says. */
static int check_timestamp(struct vctx *v, const char *t)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	for (size_t i = 0; i < sizeof(shape) - 1; i++)
		if (shape[i] == 'd' ? !(t[i] >= '0' && t[i] <= '9') : t[i] != shape[i])
			return bad(v, "timestamp", "expected YYYY-MM-DDTHH:MM:SSZ (UTC)");
	if (t[sizeof(shape) - 1])
		return bad(v, "timestamp", "expected YYYY-MM-DDTHH:MM:SSZ (UTC)");
	return 0;
}

/* The run's PMU event set (optional): {available: bool, events: [{name, available}, ...]}. */
static int check_top_pmu(struct vctx *v, const json_t *root)
{
	json_t *pmu, *j, *events;
	if (get(v, root, "", "pmu", V_OBJ, 0, 0, &pmu))
		return -1;
	if (!pmu)
		return 0;
	if (get(v, pmu, "pmu", "available", V_BOOL, 1, 0, &j) || get(v, pmu, "pmu", "events", V_ARR, 1, 0, &events))
		return -1;
	if (json_array_size(events) > 1000)
		return bad(v, "pmu.events", "more than 1000 events");
	size_t i;
	json_array_foreach(events, i, j) {
		char p[64];
		const char *name;
		json_t *avail;
		snprintf(p, sizeof(p), "pmu.events[%zu]", i);
		if (!json_is_object(j))
			return bad(v, p, "expected an object");
		if (get_str(v, j, p, "name", 1, 0, &name) || get(v, j, p, "available", V_BOOL, 1, 0, &avail))
			return -1;
	}
	return 0;
}

int res_parse(struct res_file *rf, const char *name, const char *text, size_t len, nb_error *err)
{
	struct vctx v = {.name = name, .err = err};
	json_error_t je;
	json_t *j;
	memset(rf, 0, sizeof(*rf));
	rf->path = strdup(name);
	if (!rf->path)
		return nb_fail(err, "%s: out of memory", name);
	/* Duplicate keys are rejected: a reader must not pick one of two
	 * contradicting values silently. */
	rf->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!rf->root)
		return nb_fail(err, "%s: not valid JSON (line %d, column %d: %s)", name, je.line, je.column, je.text);
	if (!json_is_object(rf->root))
		return bad(&v, "(top level)", "expected an object");
	long long ver;
	if (get_int(&v, rf->root, "", "schema_version", 1, 0, 0, &ver))
		return -1;
	if (ver != 1)
		return bad(&v, "schema_version", "is %lld, this nestbench reads schema version 1 only", ver);
	json_t *tool;
	const char *s;
	static const char *const tool_names[] = {"nestbench", NULL};
	if (get(&v, rf->root, "", "tool", V_OBJ, 1, 0, &tool) || get_enum(&v, tool, "tool", "name", tool_names, &s) ||
	    get_str(&v, tool, "tool", "version", 1, 0, &rf->tool_version) ||
	    get_str(&v, rf->root, "", "timestamp", 1, 0, &rf->timestamp) || check_timestamp(&v, rf->timestamp) ||
	    check_top_pmu(&v, rf->root))
		return -1;
	if (parse_host(&v, rf) || parse_config(&v, rf) || parse_timing(&v, rf))
		return -1;
	if (get(&v, rf->root, "", "measurements", V_ARR, 1, 0, &j))
		return -1;
	size_t n = json_array_size(j);
	if (n > RES_MAX_MEASUREMENTS)
		return bad(&v, "measurements", "%zu entries exceed the limit of %u", n, RES_MAX_MEASUREMENTS);
	rf->meas = calloc(n ? n : 1, sizeof(*rf->meas));
	if (!rf->meas)
		return nb_fail(err, "%s: out of memory", name);
	for (size_t i = 0; i < n; i++) {
		rf->nmeas = i + 1; /* so res_free() frees what was filled in */
		if (parse_measurement(&v, json_array_get(j, i), i, &rf->meas[i]))
			return -1;
	}
	json_t *derived;
	if (get(&v, rf->root, "", "derived", V_OBJ, 1, 0, &derived) ||
	    parse_points(&v, derived, "translation", 0, &rf->translation, &rf->ntranslation) ||
	    parse_points(&v, derived, "knees", 1, &rf->knees, &rf->nknees))
		return -1;
	return 0;
}

int res_load(struct res_file *rf, const char *path, nb_error *err)
{
	memset(rf, 0, sizeof(*rf));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nb_fail(err, "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return nb_fail(err, "%s: not a regular file", path);
	}
	if ((unsigned long long)st.st_size > RES_MAX_FILE_BYTES) {
		close(fd);
		return nb_fail(err, "%s: %lld bytes, larger than the limit of %u MiB for a results file", path,
			       (long long)st.st_size, RES_MAX_FILE_BYTES >> 20);
	}
	size_t len = (size_t)st.st_size;
	char *buf = malloc(len + 1);
	if (!buf) {
		close(fd);
		return nb_fail(err, "%s: out of memory", path);
	}
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	int rc = res_parse(rf, path, buf, got, err);
	free(buf);
	return rc;
}

void res_free(struct res_file *rf)
{
	for (size_t i = 0; i < rf->nmeas; i++) {
		free(rf->meas[i].samples);
		free(rf->meas[i].rounds);
		free(rf->meas[i].key);
		free(rf->meas[i].label);
	}
	free(rf->meas);
	free(rf->translation);
	free(rf->knees);
	json_decref(rf->root);
	free(rf->path);
	memset(rf, 0, sizeof(*rf));
}

void res_pmu_state(const struct res_file *rf, char *buf, size_t len)
{
	const char *reason = NULL;
	int seen = 0;
	for (size_t i = 0; i < rf->nmeas; i++) {
		const json_t *pmu = rf->meas[i].pmu;
		if (!pmu)
			continue;
		seen = 1;
		if (json_is_true(json_object_get(pmu, "available"))) {
			snprintf(buf, len, "available");
			return;
		}
		if (!reason)
			reason = json_string_value(json_object_get(pmu, "reason"));
	}
	if (!seen)
		snprintf(buf, len, "not recorded");
	else
		snprintf(buf, len, "unavailable: %s", reason ? reason : "no reason given");
}
