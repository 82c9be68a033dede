/* image.c - building the Linux guest's initramfs (see image.h). */
#include "harness/linuxguest/image.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/linuxguest/channel.h"
#include "harness/linuxguest/cpio.h"

#define MAX_LIBS 64
#define MAX_MODULES 16
/* Changes when what goes into the base image changes: old caches die. */
#define IMAGE_FORMAT "nestbench-initramfs-2"

/* /init hands everything to nestbench: no string of the user's is in it. */
static const char init_script[] = "#!/bin/busybox sh\n"
				  "# nestbench's Linux guest: `nestbench guest-init` mounts, loads the KVM\n"
				  "# modules, runs the benchmark and sends its results to the host.\n"
				  "exec /bin/nestbench guest-init " IMAGE_CONFIG_PATH "\n"
				  "echo 'nestbench: /init: cannot start nestbench' >&2\n"
				  "/bin/busybox poweroff -f\n";

int image_kernel_version(const char *kernel, char *out, size_t len, nb_error *err)
{
	int fd = open(kernel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nb_fail(err, "cannot read the guest kernel %s: %s%s", kernel, strerror(errno),
			       errno == EACCES ? " (distribution kernels are readable by root only)" : "");
	unsigned char hdr[0x240];
	char ver[128];
	ssize_t n = pread(fd, hdr, sizeof(hdr), 0);
	int rc = -1;
	/* The boot protocol's setup header: "HdrS" at 0x202, and at 0x20e the
	 * offset (from 0x200) of the NUL-terminated version string. */
	if (n == (ssize_t)sizeof(hdr) && !memcmp(hdr + 0x202, "HdrS", 4)) {
		unsigned off = (unsigned)hdr[0x20e] | (unsigned)hdr[0x20f] << 8;
		ssize_t m = pread(fd, ver, sizeof(ver) - 1, (off_t)off + 0x200);
		if (off && m > 0) {
			ver[m] = '\0';
			size_t w = strcspn(ver, " ");
			if (w > 0 && w < len && w < (size_t)m) {
				memcpy(out, ver, w);
				out[w] = '\0';
				rc = 0;
			}
		}
	}
	close(fd);
	if (rc)
		return nb_fail(err, "%s is not an x86 bzImage with a version string (give a distribution kernel, e.g. "
				    "/boot/vmlinuz-*)",
			       kernel);
	return 0;
}

static int newest_first(const void *a, const void *b)
{
	return strverscmp(*(char *const *)b, *(char *const *)a);
}

int image_default_kernel(char *out, size_t len, nb_error *err)
{
	glob_t g;
	if (glob("/boot/vmlinuz-*", 0, NULL, &g) || g.gl_pathc == 0) {
		globfree(&g);
		return nb_fail(err, "no guest kernel: no /boot/vmlinuz-* (install one with `apt-get install -y "
				    "linux-image-amd64`, or give --guest-kernel PATH)");
	}
	qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), newest_first);
	int rc = nb_fail(err, "no readable /boot/vmlinuz-* (they are root's: run as root or give --guest-kernel PATH)");
	for (size_t i = 0; i < g.gl_pathc; i++)
		if (access(g.gl_pathv[i], R_OK) == 0) {
			rc = snprintf(out, len, "%s", g.gl_pathv[i]) < (int)len ? 0 : nb_fail(err, "path too long");
			break;
		}
	globfree(&g);
	return rc;
}

/* PT_INTERP of an ELF file: its dynamic loader ("" for a static binary). */
static int elf_interp(const char *path, char *out, size_t len, nb_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nb_fail(err, "cannot read %s: %s", path, strerror(errno));
	Elf64_Ehdr eh;
	int rc = nb_fail(err, "%s is not a 64-bit ELF file", path);
	out[0] = '\0';
	if (pread(fd, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh) && !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	    eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr)) {
		rc = 0;
		for (unsigned i = 0; i < eh.e_phnum; i++) {
			Elf64_Phdr ph;
			if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != (ssize_t)sizeof(ph)) {
				rc = nb_fail(err, "%s: truncated program headers", path);
				break;
			}
			if (ph.p_type != PT_INTERP)
				continue;
			if (ph.p_filesz == 0 || ph.p_filesz >= len ||
			    pread(fd, out, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz) {
				rc = nb_fail(err, "%s: bad PT_INTERP", path);
				break;
			}
			out[ph.p_filesz - 1] = '\0';
		}
	}
	close(fd);
	return rc;
}

/* The shared objects the dynamic loader resolves for path (`ld.so --list`,
 * the loader's own answer, not a guess at its search path). */
static int shared_libs(const char *path, char libs[][512], size_t *nlibs, nb_error *err)
{
	char interp[512];
	*nlibs = 0;
	if (elf_interp(path, interp, sizeof(interp), err))
		return -1;
	if (!interp[0])
		return 0; /* static */
	snprintf(libs[(*nlibs)++], 512, "%s", interp);
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC))
		return nb_fail(err, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return nb_fail(err, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		dup2(pfd[1], 1);
		execl(interp, interp, "--list", path, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	char out[16384];
	size_t got = 0;
	for (;;) {
		ssize_t n = read(pfd[0], out + got, sizeof(out) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(out) - 1)
			break;
	}
	out[got] = '\0';
	close(pfd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return nb_fail(err, "%s --list %s failed (status %d)", interp, path, status);
	/* Lines: "\tlibfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)" */
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		char *arrow = strstr(line, "=> /");
		if (!arrow)
			continue;
		char *p = arrow + 3;
		p[strcspn(p, " (")] = '\0';
		if (*nlibs == MAX_LIBS)
			return nb_fail(err, "%s needs more than %d shared libraries", path, MAX_LIBS);
		snprintf(libs[(*nlibs)++], 512, "%s", p);
	}
	return 0;
}

/* The KVM modules of kernel `ver` in load order (dependencies first), from
 * modules.dep.  None (and 0) where KVM is built in or modules.dep is absent. */
static int kvm_modules(const char *root, const char *ver, char mods[][512], size_t *nmods, nb_error *err)
{
	static const char *const want[] = {"/kvm-amd.ko", "/kvm-intel.ko"};
	char dep[1024];
	*nmods = 0;
	snprintf(dep, sizeof(dep), "%s/%s/modules.dep", root, ver);
	FILE *f = fopen(dep, "re");
	if (!f)
		return errno == ENOENT ? 0 : nb_fail(err, "cannot read %s: %s", dep, strerror(errno));
	char line[4096];
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		int hit = 0;
		for (size_t w = 0; w < ARRAY_SIZE(want); w++) {
			const char *m = strstr(line, want[w]);
			/* kvm-amd.ko, or compressed: kvm-amd.ko.xz / .ko.zst */
			if (m && (m[strlen(want[w])] == '\0' || m[strlen(want[w])] == '.'))
				hit = 1;
		}
		if (!hit)
			continue;
		/* Dependencies are listed nearest first: load them in reverse. */
		char *list[MAX_MODULES];
		size_t n = 0;
		for (char *t = strtok(colon + 1, " \n"); t && n < MAX_MODULES; t = strtok(NULL, " \n"))
			list[n++] = t;
		const char *order[MAX_MODULES + 1];
		size_t no = 0;
		for (size_t i = n; i-- > 0;)
			order[no++] = list[i];
		order[no++] = line;
		for (size_t i = 0; i < no; i++) {
			char full[512];
			snprintf(full, sizeof(full), "%s/%s/%s", root, ver, order[i]);
			int seen = 0;
			for (size_t j = 0; j < *nmods; j++)
				seen |= !strcmp(mods[j], full);
			if (seen)
				continue;
			if (*nmods == MAX_MODULES) {
				fclose(f);
				return nb_fail(err, "kvm needs more than %d modules", MAX_MODULES);
			}
			snprintf(mods[(*nmods)++], 512, "%s", full);
		}
	}
	fclose(f);
	return 0;
}

static int add_modules(struct cpio *c, char mods[][512], size_t nmods, nb_error *err)
{
	json_t *m = json_array();
	for (size_t i = 0; i < nmods; i++)
		json_array_append_new(m, json_string(mods[i]));
	json_t *doc = json_pack("{s:i, s:o}", "version", 1, "modules", m);
	char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	json_decref(doc);
	if (!text)
		return nb_fail(err, "cannot encode the guest's module list");
	int rc = cpio_add_bytes(c, IMAGE_MODULES_PATH, text, strlen(text), 0644, err);
	free(text);
	return rc;
}

int image_write_config(char *const *run_args, const char *out, nb_error *err)
{
	json_t *args = json_array();
	for (size_t i = 0; run_args && run_args[i]; i++)
		json_array_append_new(args, json_string(run_args[i]));
	json_t *doc = json_pack("{s:i, s:o, s:s}", "version", 1, "run_args", args, "results", IMAGE_RESULTS_PATH);
	char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	json_decref(doc);
	if (!text)
		return nb_fail(err, "cannot encode the guest configuration (arguments not UTF-8?)");
	struct cpio c;
	int rc = cpio_open(&c, out, err);
	if (rc == 0 && cpio_add_bytes(&c, IMAGE_CONFIG_PATH, text, strlen(text), 0644, err)) {
		cpio_abort(&c);
		rc = -1;
	} else if (rc == 0) {
		rc = cpio_close(&c, err);
	}
	free(text);
	return rc;
}

/* What the base image is made of: the kernel's version, then path, size,
 * mtime and inode of every file that goes in.  A rebuilt nestbench, an
 * upgraded library or module changes one of them. */
struct image_inputs {
	char ver[128], self[4096];
	char libs[MAX_LIBS][512], mods[MAX_MODULES][512];
	size_t nlibs, nmods;
};

static int image_inputs(const struct image_spec *spec, struct image_inputs *in, nb_error *err)
{
	if (image_kernel_version(spec->kernel, in->ver, sizeof(in->ver), err))
		return -1;
	/* The real path: "/proc/self/exe" would name the loader in its own process. */
	if (!realpath(spec->self, in->self))
		return nb_fail(err, "cannot resolve %s: %s", spec->self, strerror(errno));
	if (shared_libs(in->self, in->libs, &in->nlibs, err) ||
	    kvm_modules(spec->modules_root ? spec->modules_root : "/lib/modules", in->ver, in->mods, &in->nmods, err))
		return -1;
	if (access(spec->busybox, X_OK))
		return nb_fail(err, "no busybox at %s (install it with `apt-get install -y busybox-static`)", spec->busybox);
	return 0;
}

static uint64_t hash_file(uint64_t h, const char *path)
{
	struct stat st;
	char buf[4096 + 128];
	int n = snprintf(buf, sizeof(buf), "%s", path);
	if (stat(path, &st) == 0)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "|%lld|%lld.%09ld|%llu", (long long)st.st_size,
			      (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (unsigned long long)st.st_ino);
	return channel_fnv1a64_more(h, buf, (size_t)n + 1);
}

static uint64_t inputs_key(const struct image_spec *spec, const struct image_inputs *in)
{
	uint64_t h = channel_fnv1a64_more(0xcbf29ce484222325ull, IMAGE_FORMAT, strlen(IMAGE_FORMAT) + 1);
	h = channel_fnv1a64_more(h, in->ver, strlen(in->ver) + 1);
	h = hash_file(h, in->self);
	h = hash_file(h, spec->busybox);
	for (size_t i = 0; i < in->nlibs; i++)
		h = hash_file(h, in->libs[i]);
	for (size_t i = 0; i < in->nmods; i++)
		h = hash_file(h, in->mods[i]);
	return h;
}

static int build_base(const struct image_spec *spec, struct image_inputs *in, const char *out, nb_error *err)
{
	struct cpio c;
	if (cpio_open(&c, out, err))
		return -1;
	static const char *const dirs[] = {"/proc", "/sys", "/dev", "/tmp", "/run", "/results"};
	int rc = 0;
	for (size_t i = 0; i < ARRAY_SIZE(dirs) && !rc; i++)
		rc = cpio_add_dir(&c, dirs[i], err);
	if (!rc)
		rc = cpio_add_bytes(&c, "/init", init_script, strlen(init_script), 0755, err);
	if (!rc)
		rc = cpio_add_file(&c, "/bin/busybox", spec->busybox, 0755, err);
	if (!rc)
		rc = cpio_add_symlink(&c, "/bin/sh", "busybox", err);
	if (!rc)
		rc = cpio_add_file(&c, "/bin/nestbench", in->self, 0755, err);
	for (size_t i = 0; i < in->nlibs && !rc; i++)
		rc = cpio_add_file(&c, in->libs[i], in->libs[i], 0, err);
	for (size_t i = 0; i < in->nmods && !rc; i++)
		rc = cpio_add_file(&c, in->mods[i], in->mods[i], 0644, err);
	if (!rc)
		rc = add_modules(&c, in->mods, in->nmods, err);
	if (rc) {
		cpio_abort(&c);
		return -1;
	}
	return cpio_close(&c, err);
}

int image_cache_dir(char *out, size_t len, nb_error *err)
{
	const char *env = getenv("NESTBENCH_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;
	if (env && env[0])
		n = snprintf(out, len, "%s", env);
	else if (xdg && xdg[0] == '/')
		n = snprintf(out, len, "%s/nestbench", xdg);
	else if (home && home[0] == '/')
		n = snprintf(out, len, "%s/.cache/nestbench", home);
	else
		return nb_fail(err, "no cache directory: set NESTBENCH_CACHE_DIR, XDG_CACHE_HOME or HOME");
	if (n < 0 || (size_t)n >= len)
		return nb_fail(err, "cache directory path too long");
	/* mkdir -p */
	for (char *p = out + 1;; p++) {
		char c = *p;
		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(out, 0755) && errno != EEXIST) {
			int e = errno;
			*p = c;
			return nb_fail(err, "cannot create the cache directory %s: %s", out, strerror(e));
		}
		*p = c;
		if (!c)
			break;
	}
	return 0;
}

/* Other images of the same kernel version are stale: nothing would ask
 * for their key again (their nestbench or libraries changed).  So are
 * temporary files of builds killed outright, once they are an hour old (a
 * younger one may be another run's build in progress). */
static void prune_stale(const char *dir, const char *ver, const char *keep)
{
	char pat[4400];
	snprintf(pat, sizeof(pat), "%s/initramfs-%s-*.cpio", dir, ver);
	glob_t g;
	if (glob(pat, GLOB_NOSORT, NULL, &g) == 0)
		for (size_t i = 0; i < g.gl_pathc; i++)
			if (strcmp(g.gl_pathv[i], keep))
				unlink(g.gl_pathv[i]);
	globfree(&g);
	snprintf(pat, sizeof(pat), "%s/initramfs-*.cpio.tmp-*", dir);
	struct stat st;
	if (glob(pat, GLOB_NOSORT, NULL, &g) == 0)
		for (size_t i = 0; i < g.gl_pathc; i++)
			if (stat(g.gl_pathv[i], &st) == 0 && st.st_mtime < time(NULL) - 3600)
				unlink(g.gl_pathv[i]);
	globfree(&g);
}

int image_cached(const struct image_spec *spec, const char *dir, struct image_cache *out, nb_error *err)
{
	static struct image_inputs in;
	memset(out, 0, sizeof(*out));
	if (image_inputs(spec, &in, err))
		return -1;
	snprintf(out->kernel_version, sizeof(out->kernel_version), "%s", in.ver);
	snprintf(out->key, sizeof(out->key), "%016llx", (unsigned long long)inputs_key(spec, &in));
	if (snprintf(out->path, sizeof(out->path), "%s/initramfs-%s-%s.cpio", dir, in.ver, out->key) >=
	    (int)sizeof(out->path))
		return nb_fail(err, "cache path too long");
	struct stat st;
	if (stat(out->path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		out->cached = 1;
	} else {
		if (build_base(spec, &in, out->path, err))
			return -1;
		prune_stale(dir, in.ver, out->path);
		if (stat(out->path, &st))
			return nb_fail(err, "cannot stat %s: %s", out->path, strerror(errno));
	}
	out->bytes = (uint64_t)st.st_size;
	return 0;
}

