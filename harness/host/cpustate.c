/* cpustate.c - the measuring PU's CPU state (see cpustate.h). */
#include "harness/host/cpustate.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

#define MSR_MPERF 0xE7
#define MSR_APERF 0xE8

int cpustate_parse_cpulist(const char *text, int *out, int cap)
{
	int n = 0;
	const char *p = text;
	while (*p && *p != '\n') {
		char *end;
		long a = strtol(p, &end, 10);
		if (end == p || a < 0)
			return -1;
		long b = a;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1 || b < a)
				return -1;
			p = end;
		}
		for (long i = a; i <= b && n < cap; i++)
			out[n++] = (int)i;
		if (*p == ',')
			p++;
		else if (*p && *p != '\n')
			return -1;
	}
	return n;
}

int cpustate_stat_times(const char *stat_text, int pu, uint64_t *busy, uint64_t *total)
{
	char tag[24];
	snprintf(tag, sizeof(tag), "cpu%d ", pu);
	size_t tl = strlen(tag);
	for (const char *line = stat_text; line && *line;) {
		if (!strncmp(line, tag, tl)) {
			unsigned long long v[8] = {0};
			/* user nice system idle iowait irq softirq steal */
			int got = sscanf(line + tl, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
					 &v[4], &v[5], &v[6], &v[7]);
			if (got < 4)
				return -1;
			*busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
			*total = *busy + v[3] + v[4];
			return 0;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

double cpustate_busy_fraction(uint64_t busy0, uint64_t total0, uint64_t busy1, uint64_t total1)
{
	if (total1 <= total0 || busy1 < busy0)
		return -1;
	double f = (double)(busy1 - busy0) / (double)(total1 - total0);
	return f > 1 ? 1 : f;
}

double cpustate_aperf_ratio(uint64_t aperf0, uint64_t mperf0, uint64_t aperf1, uint64_t mperf1)
{
	if (mperf1 <= mperf0 || aperf1 < aperf0)
		return -1;
	return (double)(aperf1 - aperf0) / (double)(mperf1 - mperf0);
}

/* ---- readers ---- */

static int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	buf[n] = 0;
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = 0;
	return 0;
}

static json_t *text_or_null(const char *path)
{
	char buf[128];
	return read_text(path, buf, sizeof(buf)) == 0 ? json_string(buf) : json_null();
}

static json_t *int_or_null(const char *path)
{
	char buf[64];
	char *end;
	if (read_text(path, buf, sizeof(buf)) != 0)
		return json_null();
	long long v = strtoll(buf, &end, 10);
	return end != buf ? json_integer(v) : json_null();
}

static json_t *cpufreq_json(const struct cpustate_roots *r, int pu)
{
	char dir[256], path[320];
	snprintf(dir, sizeof(dir), "%s/devices/system/cpu/cpu%d/cpufreq", r->sys, pu);
	json_t *o = json_object();
	static const char *const keys[][2] = {{"driver", "scaling_driver"}, {"governor", "scaling_governor"}};
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, keys[i][1]);
		json_object_set_new(o, keys[i][0], text_or_null(path));
	}
	static const char *const nums[][2] = {
		{"cur_khz", "scaling_cur_freq"}, {"min_khz", "scaling_min_freq"}, {"max_khz", "scaling_max_freq"}};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, nums[i][1]);
		json_object_set_new(o, nums[i][0], int_or_null(path));
	}
	if (access(dir, F_OK) != 0)
		json_object_set_new(o, "reason", json_sprintf("%s is missing: no frequency-scaling driver for cpu%d "
							      "(common in virtual machines; the clock is the host's)",
							      dir, pu));
	else
		json_object_set_new(o, "reason", json_null());
	return o;
}

/* Boost: acpi-cpufreq and amd-pstate's global switch, else intel_pstate's
 * no_turbo (inverted). */
static json_t *boost_json(const struct cpustate_roots *r)
{
	char path[256], buf[32];
	snprintf(path, sizeof(path), "%s/devices/system/cpu/cpufreq/boost", r->sys);
	if (read_text(path, buf, sizeof(buf)) == 0)
		return json_pack("{s:b, s:s, s:n}", "enabled", atoi(buf) != 0, "source", "cpufreq/boost", "reason");
	snprintf(path, sizeof(path), "%s/devices/system/cpu/intel_pstate/no_turbo", r->sys);
	if (read_text(path, buf, sizeof(buf)) == 0)
		return json_pack("{s:b, s:s, s:n}", "enabled", atoi(buf) == 0, "source", "intel_pstate/no_turbo",
				 "reason");
	return json_pack("{s:n, s:n, s:s}", "enabled", "source", "reason",
			 "neither cpufreq/boost nor intel_pstate/no_turbo exists: the kernel does not control boost here");
}

static int read_msr(int fd, uint32_t msr, uint64_t *v)
{
	return pread(fd, v, sizeof(*v), msr) == (ssize_t)sizeof(*v) ? 0 : -1;
}

struct spin_args {
	int fd, pu;
	unsigned ms;
	uint64_t a0, m0, a1, m1;
	int rc, err;
};

static void *spin_on_pu(void *p)
{
	struct spin_args *s = p;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(s->pu, &set);
	s->rc = -1;
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
		s->err = EINVAL;
		return NULL;
	}
	if (read_msr(s->fd, MSR_APERF, &s->a0) || read_msr(s->fd, MSR_MPERF, &s->m0)) {
		s->err = errno;
		return NULL;
	}
	/* Busy for the interval: APERF/MPERF only advance while the PU runs. */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t x = 0;
	do {
		for (int i = 0; i < 10000; i++)
			x += (uint64_t)i;
		__asm__ volatile("" : "+r"(x)); /* keep the loop */
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((uint64_t)(t.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)(t.tv_nsec - t0.tv_nsec) <
		 (uint64_t)s->ms * 1000000ull);
	if (read_msr(s->fd, MSR_APERF, &s->a1) || read_msr(s->fd, MSR_MPERF, &s->m1)) {
		s->err = errno;
		return NULL;
	}
	s->rc = 0;
	return NULL;
}

static json_t *aperf_json(const struct cpustate_roots *r, int pu)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/cpu/%d/msr", r->dev, pu);
	json_t *o = json_pack("{s:n, s:i}", "ratio", "interval_ms", (int)r->spin_ms);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		json_object_set_new(o, "reason",
				    e == ENOENT ? json_sprintf("%s does not exist (the msr module is not loaded: modprobe msr)", path)
						: json_sprintf("cannot open %s: %s (reading MSRs needs root)", path, strerror(e)));
		return o;
	}
	struct spin_args s = {.fd = fd, .pu = pu, .ms = r->spin_ms};
	pthread_t t;
	if (pthread_create(&t, NULL, spin_on_pu, &s) == 0)
		pthread_join(t, NULL);
	else
		s.err = errno;
	close(fd);
	double ratio = s.rc == 0 ? cpustate_aperf_ratio(s.a0, s.m0, s.a1, s.m1) : -1;
	if (ratio >= 0) {
		json_object_set_new(o, "ratio", json_real(ratio));
		json_object_set_new(o, "reason", json_null());
	} else {
		json_object_set_new(o, "reason", s.rc ? json_sprintf("cannot read APERF/MPERF through %s: %s (a hypervisor "
								     "may not pass them through)", path, strerror(s.err))
						    : json_string("MPERF did not advance over the busy interval"));
	}
	return o;
}

static int slurp_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	ssize_t n;
	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = 0;
	return 0;
}

static json_t *smt_json(const struct cpustate_roots *r, int pu)
{
	char path[256], buf[256];
	int sib[64];
	json_t *o = json_object(), *list = json_array();
	json_object_set_new(o, "siblings", list);
	snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%d/topology/thread_siblings_list", r->sys, pu);
	int n = read_text(path, buf, sizeof(buf)) == 0 ? cpustate_parse_cpulist(buf, sib, 64) : -1;
	if (n < 0) {
		json_object_set_new(o, "sibling_busy_fraction", json_null());
		json_object_set_new(o, "sibling_idle", json_null());
		json_object_set_new(o, "reason", json_sprintf("cannot read %s", path));
		return o;
	}
	int other[64], no = 0;
	for (int i = 0; i < n; i++)
		if (sib[i] != pu) {
			other[no++] = sib[i];
			json_array_append_new(list, json_integer(sib[i]));
		}
	if (no == 0) {
		json_object_set_new(o, "sibling_busy_fraction", json_null());
		json_object_set_new(o, "sibling_idle", json_null());
		json_object_set_new(o, "reason", json_sprintf("cpu%d has no SMT sibling", pu));
		return o;
	}
	/* The siblings' busy share over the interval, from /proc/stat. */
	static char st0[1 << 16], st1[1 << 16];
	snprintf(path, sizeof(path), "%s/stat", r->proc);
	struct timespec d = {r->spin_ms / 1000, (long)(r->spin_ms % 1000) * 1000000L};
	double worst = -1;
	if (slurp_small(path, st0, sizeof(st0)) == 0 && nanosleep(&d, NULL) == 0 &&
	    slurp_small(path, st1, sizeof(st1)) == 0)
		for (int i = 0; i < no; i++) {
			uint64_t b0, t0, b1, t1;
			if (cpustate_stat_times(st0, other[i], &b0, &t0) || cpustate_stat_times(st1, other[i], &b1, &t1))
				continue;
			double f = cpustate_busy_fraction(b0, t0, b1, t1);
			if (f > worst)
				worst = f;
		}
	if (worst < 0) {
		json_object_set_new(o, "sibling_busy_fraction", json_null());
		json_object_set_new(o, "sibling_idle", json_null());
		json_object_set_new(o, "reason", json_sprintf("%s gave no time for the siblings over %u ms", path,
							      r->spin_ms));
		return o;
	}
	/* Idle: busy under 5% of the interval (the odd timer tick or daemon). */
	json_object_set_new(o, "sibling_busy_fraction", json_real(worst));
	json_object_set_new(o, "sibling_idle", json_boolean(worst < 0.05));
	json_object_set_new(o, "reason", json_null());
	return o;
}

/* The PU's node: the nodeN entry in its sysfs directory. */
static json_t *node_json(const struct cpustate_roots *r, int pu)
{
	char path[256];
	for (int n = 0; n < 1024; n++) {
		snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%d/node%d", r->sys, pu, n);
		if (access(path, F_OK) == 0)
			return json_integer(n);
	}
	return json_null();
}

json_t *cpustate_json(const struct cpustate_roots *roots, int pu)
{
	struct cpustate_roots r = roots ? *roots : (struct cpustate_roots){0};
	if (!r.sys)
		r.sys = "/sys";
	if (!r.proc)
		r.proc = "/proc";
	if (!r.dev)
		r.dev = "/dev";
	if (!r.spin_ms)
		r.spin_ms = 20;
	json_t *o = json_object();
	json_object_set_new(o, "pu", json_integer(pu));
	json_object_set_new(o, "cpufreq", cpufreq_json(&r, pu));
	json_object_set_new(o, "boost", boost_json(&r));
	json_object_set_new(o, "aperf_mperf", aperf_json(&r, pu));
	json_object_set_new(o, "smt", smt_json(&r, pu));
	char path[256];
	snprintf(path, sizeof(path), "%s/sys/kernel/numa_balancing", r.proc);
	json_t *nb = int_or_null(path);
	if (json_is_null(nb))
		json_object_set_new(o, "numa_balancing_reason",
				    json_sprintf("cannot read %s (a kernel without CONFIG_NUMA_BALANCING)", path));
	json_object_set_new(o, "numa_balancing", nb);
	json_object_set_new(o, "node", node_json(&r, pu));
	return o;
}
