/* results.c - results documents (see results.h). */
#include "results.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "measure.h"
#include "tsc.h"

void results_timestamp(time_t t, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *results_new(json_t *host, json_t *config, const char *timestamp)
{
	json_t *timing = json_pack("{s:s, s:f, s:I, s:f}", "clock", "tsc", "tsc_ticks_per_ns", tsc_ticks_per_ns(),
				   "timer_overhead_ticks", (json_int_t)tsc_overhead_ticks(), "loop_overhead_ns_per_access",
				   measure_loop_overhead_ns());
	return json_pack("{s:i, s:{s:s, s:s}, s:s, s:o, s:o, s:o, s:[], s:{s:[], s:[]}}", "schema_version",
			 RESULTS_SCHEMA_VERSION, "tool", "name", "nestbench", "version", NESTBENCH_VERSION, "timestamp",
			 timestamp, "host", host, "config", config, "timing", timing, "measurements", "derived",
			 "translation", "knees");
}

json_t *results_skipped_measurement(const char *kernel, const char *family, const char *metric, const char *mode,
				    json_t *backing, size_t working_set_bytes, int cpu, const char *reason)
{
	json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:o, s:{}, s:[], s:n, s:s, s:[]}", "kernel", kernel, "family",
			      family, "mode", mode, "metric", metric, "backing", backing, "params", "samples",
			      "summary", "skipped", reason, "flags");
	json_object_set_new(m, "working_set_bytes",
			    working_set_bytes ? json_integer((json_int_t)working_set_bytes) : json_null());
	json_object_set_new(m, "cpu", cpu >= 0 ? json_integer(cpu) : json_null());
	return m;
}

json_t *results_failed_measurement(const char *kernel, const char *family, const char *metric, const char *mode,
				   json_t *backing, size_t working_set_bytes, int cpu, const char *reason)
{
	char why[700];
	snprintf(why, sizeof(why), "failed: %s", reason);
	json_t *m = results_skipped_measurement(kernel, family, metric, mode, backing, working_set_bytes, cpu, why);
	json_object_set_new(m, "failed", json_true());
	return m;
}

size_t results_count_failed(const json_t *doc)
{
	size_t n = 0, i;
	const json_t *m;
	json_array_foreach(json_object_get(doc, "measurements"), i, m)
		n += json_is_true(json_object_get(m, "failed"));
	return n;
}

int results_write(const json_t *doc, const char *path, nb_error *err)
{
	char *text = json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(9));
	if (!text)
		return nb_fail(err, "cannot serialize the results (out of memory?)");
	size_t len = strlen(text);
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	int rc = write_file_atomic(path, text, len, err);
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(text);
	return rc;
}

void results_default_path(time_t t, char *buf, size_t len)
{
	char host[256] = "host";
	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "host");
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
			*p = '_';
	struct tm tm;
	char stamp[32];
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(buf, len, "results/%s-%s.json", host, stamp);
}

int results_check_writable(const char *path, nb_error *err)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return nb_fail(err, "cannot write results to '%s': it is a directory (give a file name)", path);
	char *copy = strdup(path);
	if (!copy)
		return nb_fail(err, "out of memory");
	const char *dir = dirname(copy);
	size_t n = strlen(dir) + 32;
	char *probe = malloc(n);
	if (!probe) {
		free(copy);
		return nb_fail(err, "out of memory");
	}
	snprintf(probe, n, "%s/.nestbench-probeXXXXXX", dir);
	int fd = mkstemp(probe);
	if (fd < 0) {
		nb_fail(err, "cannot write results to '%s': %s (choose another --out)", path, strerror(errno));
		free(probe);
		free(copy);
		return -1;
	}
	close(fd);
	unlink(probe);
	free(probe);
	free(copy);
	return 0;
}
