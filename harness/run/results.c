/* results.c - results documents (see results.h). */
#include "harness/run/results.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/run/measure.h"
#include "core/stats.h"
#include "core/tsc.h"

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

void record_skipped(struct measurement *m, const char *kernel, const char *family, const char *metric,
		    const char *mode, json_t *backing, size_t working_set_bytes, int cpu, const char *reason)
{
	*m = (struct measurement){.kernel = kernel, .family = family, .metric = metric, .mode = mode,
				  .backing = backing, .working_set_bytes = working_set_bytes, .cpu = cpu,
				  .skipped = reason};
}

static json_t *own_or(json_t *j, json_t *dflt)
{
	if (j) {
		json_decref(dflt);
		return j;
	}
	return dflt;
}

/* Keys in one order for every measurement, measured or not. */
json_t *results_measurement_json(struct measurement *r)
{
	int skipped = r->skipped != NULL;
	json_t *m = json_pack("{s:s, s:s, s:s}", "kernel", r->kernel, "family", r->family, "mode", r->mode);
	/* A skipped cell may have no working set or CPU yet (a whole backing
	 * skipped); a measured one always has both. */
	json_object_set_new(m, "working_set_bytes", skipped && !r->working_set_bytes
								? json_null()
								: json_integer((json_int_t)r->working_set_bytes));
	json_object_set_new(m, "cpu", skipped && r->cpu < 0 ? json_null() : json_integer(r->cpu));
	json_object_set_new(m, "metric", json_string(r->metric));
	json_object_set_new(m, "backing", own_or(r->backing, json_null()));
	json_object_set_new(m, "params", own_or(r->params, json_object()));
	if (skipped) {
		json_object_set_new(m, "samples", json_array());
		json_object_set_new(m, "summary", json_null());
		if (r->failed)
			json_object_set_new(m, "skipped", json_sprintf("failed: %s", r->skipped));
		else
			json_object_set_new(m, "skipped", json_string(r->skipped));
		if (r->failed)
			json_object_set_new(m, "failed", json_true());
	} else {
		const struct summary *s = &r->summary;
		json_object_set_new(m, "iterations_per_sample", json_integer((json_int_t)r->iterations_per_sample));
		json_object_set_new(m, "samples", samples_json(r->samples, r->nsamples));
		json_object_set_new(m, "summary", summary_json(s));
		if (r->alt_metric)
			json_object_set_new(m, "alt_metrics",
					    json_pack("{s:{s:f, s:f, s:f}}", r->alt_metric, "median",
						      s->median * r->alt_per_op, "ci95_low", s->ci95_low * r->alt_per_op,
						      "ci95_high", s->ci95_high * r->alt_per_op));
		json_object_set_new(m, "skipped", json_null());
	}
	if (r->rounds)
		json_object_set_new(m, "rounds", r->rounds);
	if (r->counters)
		json_object_set_new(m, "counters", r->counters);
	if (r->pmu)
		json_object_set_new(m, "pmu", r->pmu);
	json_object_set_new(m, "flags", own_or(r->flags, json_array()));
	if (r->kvm)
		json_object_set_new(m, "kvm", r->kvm);
	if (r->page_check)
		json_object_set_new(m, "page_check", r->page_check);
	if (r->guest_page) {
		json_object_set_new(m, "guest_page",
				    json_pack("{s:s, s:o}", "requested", r->guest_page, "built_page_bytes",
					      r->guest_built_page_bytes ? json_integer((json_int_t)r->guest_built_page_bytes)
									: json_null()));
		json_object_set_new(m, "mmu_virt_mode", json_string(r->mmu_virt_mode ? r->mmu_virt_mode : "?"));
	}
	r->backing = r->params = r->counters = r->pmu = r->flags = r->kvm = r->rounds = r->page_check = NULL;
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

/* What --out names decides how it is written:
 *   - nothing yet, or a regular file: a temporary file beside it, renamed
 *     over it when complete (a reader never sees half a file);
 *   - a symlink to a regular file: the same at the file it points to, so
 *     the link itself stays;
 *   - a character device or a FIFO (/dev/null, /dev/stdout on a pipe, a
 *     named pipe): written in place, since renaming over a device node
 *     would replace the node with a regular file;
 *   - anything else (a directory, a block device, a socket): refused. */
enum out_kind { OUT_REPLACE, OUT_IN_PLACE };

static int out_kind(const char *path, enum out_kind *kind, char **target, nb_error *err)
{
	struct stat st;
	*target = NULL;
	if (!*path)
		return nb_fail(err, "cannot write results to an empty file name");
	if (stat(path, &st) != 0) {
		struct stat lst;
		if (errno == ENOENT && lstat(path, &lst) == 0)
			return nb_fail(err, "cannot write results to '%s': it is a symlink to nothing", path);
		if (errno != ENOENT)
			return nb_fail(err, "cannot write results to '%s': %s", path, strerror(errno));
		*kind = OUT_REPLACE;
		return 0;
	}
	if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
		*kind = OUT_IN_PLACE;
		return 0;
	}
	if (S_ISDIR(st.st_mode))
		return nb_fail(err, "cannot write results to '%s': it is a directory (give a file name)", path);
	if (!S_ISREG(st.st_mode))
		return nb_fail(err, "cannot write results to '%s': it is neither a regular file, a character device "
			       "nor a FIFO, and will not be replaced", path);
	struct stat lst;
	if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
		*target = realpath(path, NULL);
		if (!*target)
			return nb_fail(err, "cannot write results to '%s': cannot resolve the symlink: %s", path,
				       strerror(errno));
	}
	*kind = OUT_REPLACE;
	return 0;
}

/* Write in place to a character device or FIFO.  Opened before the signals
 * are held off: a FIFO without a reader blocks in open(), and Ctrl-C must
 * still end that wait. */
static int write_in_place(const char *path, const char *text, size_t len, const sigset_t *block, nb_error *err)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return nb_fail(err, "cannot open '%s' to write the results: %s", path, strerror(errno));
	sigset_t old;
	sigprocmask(SIG_BLOCK, block, &old);
	/* A FIFO whose reader went away: EPIPE and a message, not death by SIGPIPE. */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
	sigaction(SIGPIPE, &ign, &old_pipe);
	size_t done = 0;
	int e = 0;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : EIO;
			break;
		}
		done += (size_t)n;
	}
	if (close(fd) != 0 && !e)
		e = errno;
	sigaction(SIGPIPE, &old_pipe, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (e)
		return nb_fail(err, "cannot write the results to '%s': %s (%zu of %zu bytes written)", path,
			       strerror(e), done, len);
	return 0;
}

int results_write(const json_t *doc, const char *path, nb_error *err)
{
	enum out_kind kind;
	char *target;
	if (out_kind(path, &kind, &target, err))
		return -1;
	char *text = json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(9));
	if (!text) {
		free(target);
		return nb_fail(err, "cannot serialize the results (out of memory?)");
	}
	size_t len = strlen(text);
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	int rc;
	if (kind == OUT_IN_PLACE) {
		rc = write_in_place(path, text, len, &block, err);
	} else {
		sigprocmask(SIG_BLOCK, &block, &old);
		rc = write_file_atomic(target ? target : path, text, len, err);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	free(text);
	free(target);
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
	enum out_kind kind;
	char *target;
	if (out_kind(path, &kind, &target, err))
		return -1;
	if (kind == OUT_IN_PLACE) {
		/* Not opened here: a FIFO would block until its reader comes. */
		if (access(path, W_OK) != 0)
			return nb_fail(err, "cannot write results to '%s': %s (choose another --out)", path,
				       strerror(errno));
		return 0;
	}
	char *copy = strdup(target ? target : path);
	free(target);
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
