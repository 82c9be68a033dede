/* run_linux.c - the suite inside a Linux guest under QEMU (see run_linux.h). */
#include "harness/run/run_linux.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/linuxguest/channel.h"
#include "harness/linuxguest/hostmem.h"
#include "harness/linuxguest/image.h"
#include "harness/linuxguest/qemu.h"
#include "harness/mem/backing.h"
#include "harness/mem/hugepool.h"

#define MAX_CHANNEL_BYTES (256u << 20)

/* ---- one guest boot ---- */

struct sampler {
	uint64_t mem_bytes;
	struct hostmem_sample last;
	double next;
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The host's view of the guest's memory, once a second while it runs; the
 * last good sample is what the measurements get. */
static void sample(void *arg, pid_t pid, int booted)
{
	struct sampler *s = arg;
	double t = now_s();
	if (!booted || t < s->next)
		return;
	s->next = t + 1.0;
	struct hostmem_sample h;
	if (hostmem_sample_pid(pid, s->mem_bytes, &h) == 0)
		s->last = h;
}

static int copy_fd(int from, int to, nb_error *err)
{
	char buf[1 << 16];
	for (;;) {
		ssize_t n = read(from, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return nb_fail(err, "reading the initramfs: %s", strerror(errno));
		if (n == 0)
			return 0;
		for (ssize_t o = 0; o < n;) {
			ssize_t w = write(to, buf + o, (size_t)(n - o));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return nb_fail(err, "writing the initramfs: %s", w < 0 ? strerror(errno) : "short write");
			o += w;
		}
	}
}

/* The guest's initramfs in a memfd: the cached base, then the run's
 * configuration.  Nothing of it is on disk while the guest runs, so
 * nothing is left behind whatever ends this process. */
static int initrd_memfd(const char *base, char **run_args, nb_error *err)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], cfgpath[4200];
	snprintf(dir, sizeof(dir), "%s/nestbench-guest-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return nb_fail(err, "cannot create a temporary directory: %s", strerror(errno));
	snprintf(cfgpath, sizeof(cfgpath), "%s/config.cpio", dir);
	int fd = -1, rc = image_write_config(run_args, cfgpath, err);
	int cf = rc ? -1 : open(cfgpath, O_RDONLY | O_CLOEXEC);
	unlink(cfgpath);
	rmdir(dir);
	if (rc)
		return -1;
	int bf = open(base, O_RDONLY | O_CLOEXEC);
	/* Not close-on-exec: QEMU opens it as /dev/fd/N. */
	fd = memfd_create("nestbench-initramfs", 0);
	if (cf < 0 || bf < 0 || fd < 0)
		rc = nb_fail(err, "cannot assemble the initramfs: %s", strerror(errno));
	else
		rc = copy_fd(bf, fd, err) || copy_fd(cf, fd, err) ? -1 : 0;
	if (cf >= 0)
		close(cf);
	if (bf >= 0)
		close(bf);
	if (rc && fd >= 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int read_fd_all(int fd, char **data, size_t *len, nb_error *err)
{
	struct stat st;
	if (fstat(fd, &st) || st.st_size < 0 || (uint64_t)st.st_size > MAX_CHANNEL_BYTES)
		return nb_fail(err, "the result channel is unreadable or larger than %u bytes", MAX_CHANNEL_BYTES);
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return nb_fail(err, "out of memory");
	ssize_t n = pread(fd, buf, (size_t)st.st_size, 0);
	if (n < 0) {
		free(buf);
		return nb_fail(err, "reading the result channel: %s", strerror(errno));
	}
	*data = buf;
	*len = (size_t)n;
	return 0;
}

struct linux_setup {
	const char *kernel;
	const char *base; /* the cached base image */
	enum qemu_accel accel;
	char append[512];
	char **args;
};

/* One host backing: reserve its host pages, boot, merge or fail the cells. */
static void boot_one(struct run_config *cfg, json_t *doc, json_t *boots, const struct linux_setup *ls,
		     enum backing_kind kind)
{
	nb_error err = {{0}};
	const int timing_valid = ls->accel == QEMU_ACCEL_KVM;
	char object[256];
	json_t *boot = json_object();
	json_array_append_new(boots, boot);
	if (hostmem_object(kind, cfg->guest_memory, object, sizeof(object), &err)) {
		json_t *hb = hostmem_json(kind, NULL, NULL, err.msg);
		json_object_set(boot, "host_backing", hb);
		json_object_set_new(boot, "error", json_string(err.msg));
		run_linux_unrun_cells(doc, cfg, hb, timing_valid, err.msg, cfg->backings_explicit);
		json_decref(hb);
		return;
	}
	size_t page = backing_page_bytes(kind);
	int usable = 0;
	if (kind == BACKING_HUGETLB_2M || kind == BACKING_HUGETLB_1G)
		usable = hugepool_reserve(page, cfg->guest_memory / page, &err);
	else
		usable = backing_usable(kind, page, &err);
	if (usable) {
		json_t *hb = hostmem_json(kind, object, NULL, err.msg);
		json_object_set(boot, "host_backing", hb);
		json_object_set_new(boot, "error", json_string(err.msg));
		if (!cfg->quiet)
			nb_warn("linux: skipping host backing %s: %s", backing_name(kind), err.msg);
		run_linux_unrun_cells(doc, cfg, hb, timing_valid, err.msg, cfg->backings_explicit);
		json_decref(hb);
		return;
	}
	int ifd = initrd_memfd(ls->base, ls->args, &err);
	int cfd = ifd < 0 ? -1 : memfd_create("nestbench-console", 0);
	int chfd = cfd < 0 ? -1 : memfd_create("nestbench-channel", 0);
	char initrd[32], console[32], channel[32];
	snprintf(initrd, sizeof(initrd), "/dev/fd/%d", ifd);
	snprintf(console, sizeof(console), "/dev/fd/%d", cfd);
	snprintf(channel, sizeof(channel), "/dev/fd/%d", chfd);
	struct sampler smp = {.mem_bytes = cfg->guest_memory};
	char tail[400] = "";
	struct qemu_config qc = {
		.kernel = ls->kernel,
		.initrd = initrd,
		.accel = ls->accel,
		.cpus = cfg->guest_cpus,
		.memory_bytes = cfg->guest_memory,
		.append = ls->append,
		.console_log = console,
		.channel = channel,
		.timeout_s = cfg->guest_timeout_s,
		.echo = !cfg->quiet,
		.memory_object = object,
		.on_poll = sample,
		.poll_arg = &smp,
		.console_tail = tail,
		.console_tail_len = sizeof(tail),
	};
	if (chfd < 0 && ifd >= 0)
		nb_fail(&err, "memfd_create: %s", strerror(errno));
	double t0 = now_s();
	if (!cfg->quiet)
		nb_note("linux: booting the guest on host backing %s (%s)", backing_name(kind), object);
	int rc = chfd < 0 ? -1 : qemu_run(&qc, &err);
	double took = now_s() - t0;
	char *data = NULL;
	size_t len = 0;
	const unsigned char *body = NULL;
	size_t blen = 0;
	int status = -1;
	if (rc == 0)
		rc = read_fd_all(chfd, &data, &len, &err);
	if (rc == 0 && channel_parse(data, len, &body, &blen, &status, &err)) {
		/* QEMU ended by itself but nothing came back: the guest did not boot
		 * or its first process died.  Its console says which. */
		nb_error e2 = err;
		rc = nb_fail(&err, "%s; the guest's console ended: %s", e2.msg, tail[0] ? tail : "(nothing)");
	}
	json_t *hb = hostmem_json(kind, object, &smp.last, "QEMU's smaps showed no mapping of the guest's memory");
	json_object_set(boot, "host_backing", hb);
	json_object_set_new(boot, "boot_to_results_s", json_real(took));
	json_t *guest = NULL;
	if (rc == 0 && blen == 0)
		rc = nb_fail(&err, "the run inside the guest ended with status %d and wrote no results file (its messages "
				   "are in the guest's console above)",
			     status);
	if (rc == 0) {
		json_error_t jerr;
		guest = json_loadb((const char *)body, blen, JSON_REJECT_DUPLICATES, &jerr);
		if (!guest)
			rc = nb_fail(&err, "the guest's results are not one JSON document (line %d: %s)", jerr.line,
				     jerr.text);
	}
	long merged = rc == 0 ? run_linux_merge(doc, guest, hb, timing_valid) : -1;
	if (rc == 0 && merged < 0)
		rc = nb_fail(&err, "the guest's results file has no measurements or host facts");
	if (rc == 0) {
		json_object_set_new(boot, "guest_exit_status", json_integer(status));
		json_object_set_new(boot, "measurements", json_integer(merged));
		/* The guest's own derivations (its translation costs and knees):
		 * kept with its boot, not in the document's derived, whose curves
		 * readers draw as timings. */
		json_t *gd = json_object_get(guest, "derived");
		if (gd)
			json_object_set_new(boot, "guest_derived", json_deep_copy(gd));
		json_object_set_new(boot, "error", json_null());
	} else {
		nb_error_msg("linux guest on host backing %s: %s", backing_name(kind), err.msg);
		json_object_set_new(boot, "error", json_string(err.msg));
		run_linux_unrun_cells(doc, cfg, hb, timing_valid, err.msg, 1);
	}
	json_decref(guest);
	json_decref(hb);
	free(data);
	if (ifd >= 0)
		close(ifd);
	if (cfd >= 0)
		close(cfd);
	if (chfd >= 0)
		close(chfd);
}

/* `qemu-system-x86_64 --version`'s first line, or NULL: no QEMU to run. */
static char *qemu_version(void)
{
	FILE *p = popen("qemu-system-x86_64 --version 2>/dev/null", "r");
	if (!p)
		return NULL;
	char line[256] = "";
	char *got = fgets(line, sizeof(line), p);
	int st = pclose(p);
	if (!got || st != 0 || strncmp(line, "QEMU emulator version ", 22))
		return NULL;
	line[strcspn(line, "\n")] = '\0';
	return strdup(line + 22);
}

/* Why no guest can run at all (then every host backing's cells fail), or 0. */
static int prepare(struct run_config *cfg, struct linux_setup *ls, char *kernel, size_t klen,
		   struct image_cache *ic, json_t *q, nb_error *err)
{
	char *ver = qemu_version();
	json_object_set_new(q, "version", ver ? json_string(ver) : json_null());
	free(ver);
	if (!json_is_string(json_object_get(q, "version")))
		return nb_fail(err, "no qemu-system-x86_64 to run (install it with `apt-get install -y qemu-system-x86`, "
				    "or `make deps`)");
	if (cfg->guest_kernel)
		snprintf(kernel, klen, "%s", cfg->guest_kernel);
	else if (image_default_kernel(kernel, klen, err))
		return -1;
	ls->kernel = kernel;
	json_object_set_new(q, "kernel", json_string(kernel));
	char dir[4096];
	struct image_spec spec = {.kernel = kernel, .busybox = "/bin/busybox", .self = "/proc/self/exe"};
	if (image_cache_dir(dir, sizeof(dir), err) || image_cached(&spec, dir, ic, err))
		return -1;
	ls->base = ic->path;
	json_object_set_new(q, "kernel_version", json_string(ic->kernel_version));
	json_object_set_new(q, "initramfs", json_pack("{s:s, s:s, s:I, s:b}", "cache_path", ic->path, "cache_key",
						      ic->key, "bytes", (json_int_t)ic->bytes, "cached", ic->cached));
	if (!cfg->quiet)
		nb_note("linux: guest kernel %s, initramfs %s (%.1f MiB, %s)", kernel, ic->path,
			(double)ic->bytes / (1 << 20), ic->cached ? "cached" : "built now");
	return run_linux_guest_args(cfg->argc, cfg->argv, run_options(), cfg, &ls->args, err);
}

int run_linux_execute(struct run_config *cfg, json_t *doc)
{
	nb_error err = {{0}};
	struct linux_setup ls = {0};
	static char kernel[4096];
	static struct image_cache ic;
	char why[400];
	json_t *q = json_object();
	json_object_set_new(doc, "qemu", q);
	if (!cfg->guest_cpus)
		cfg->guest_cpus = 2;
	if (!cfg->guest_memory)
		cfg->guest_memory = 5ull << 30;
	if (!cfg->guest_timeout_s)
		cfg->guest_timeout_s = 1800;
	if (cfg->guest_accel == RUN_GUEST_ACCEL_KVM || cfg->guest_accel == RUN_GUEST_ACCEL_TCG) {
		ls.accel = cfg->guest_accel == RUN_GUEST_ACCEL_KVM ? QEMU_ACCEL_KVM : QEMU_ACCEL_TCG;
		snprintf(why, sizeof(why), "%s: asked for with --guest-accel", qemu_accel_name(ls.accel));
	} else {
		ls.accel = qemu_choose_accel(why, sizeof(why));
	}
	run_linux_cmdline(cfg, ls.append, sizeof(ls.append));
	const char *more = getenv("NESTBENCH_GUEST_APPEND");
	if (more && more[0]) {
		size_t n = strlen(ls.append);
		snprintf(ls.append + n, sizeof(ls.append) - n, " %s", more);
	}
	json_object_set_new(q, "binary", json_string("qemu-system-x86_64"));
	json_object_set_new(q, "accel", json_string(qemu_accel_name(ls.accel)));
	json_object_set_new(q, "accel_reason", json_string(why));
	json_object_set_new(q, "cpu_model", json_string(ls.accel == QEMU_ACCEL_KVM ? "host" : "max"));
	json_object_set_new(q, "timing_valid", json_boolean(ls.accel == QEMU_ACCEL_KVM));
	json_object_set_new(q, "guest_cpus", json_integer(cfg->guest_cpus));
	json_object_set_new(q, "guest_memory_bytes", json_integer((json_int_t)cfg->guest_memory));
	json_object_set_new(q, "kernel_cmdline", json_string(ls.append));
	json_object_set_new(q, "channel", json_string("second serial port (ttyS1), framed: length and FNV-1a 64"));
	json_t *boots = json_array();
	json_object_set_new(q, "boots", boots);
	if (!cfg->quiet)
		nb_warn("linux: %s", why);
	int setup = prepare(cfg, &ls, kernel, sizeof(kernel), &ic, q, &err);
	if (setup)
		nb_error_msg("linux: %s", err.msg);
	for (size_t b = 0; b < cfg->nbackings; b++) {
		enum backing_kind kind = cfg->backings[b];
		if (setup) {
			char object[256] = "";
			nb_error e2;
			hostmem_object(kind, cfg->guest_memory, object, sizeof(object), &e2);
			json_t *hb = hostmem_json(kind, object, NULL, err.msg);
			json_array_append_new(boots, json_pack("{s:O, s:s}", "host_backing", hb, "error", err.msg));
			run_linux_unrun_cells(doc, cfg, hb, ls.accel == QEMU_ACCEL_KVM, err.msg, 1);
			json_decref(hb);
			continue;
		}
		boot_one(cfg, doc, boots, &ls, kind);
	}
	run_linux_args_free(ls.args);
	return 0;
}
