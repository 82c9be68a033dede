/* guest_init.c - the guest side of a Linux-guest run (see guest_init.h). */
#include "harness/linuxguest/guest_init.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "harness/linuxguest/channel.h"
#include "harness/linuxguest/image.h"
#include "core/util.h"

#define MAX_RUN_ARGS 256
#define MODULE_INIT_COMPRESSED_FILE 4 /* <linux/module.h>, Linux 5.17 */
#define MAX_RESULTS_BYTES (256u << 20)

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "nestbench: guest-init: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

_Noreturn static void power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	/* Not PID 1 (a test): just stop. */
	_exit(EXIT_RUNTIME);
}

static void mount_one(const char *src, const char *dir, const char *type)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, 0, NULL) && errno != EBUSY)
		say("cannot mount %s on %s: %s", type, dir, strerror(errno));
}

/* finit_module, decompressing in the kernel for .ko.xz / .ko.zst.  A module
 * for the other vendor (kvm-intel on AMD) fails with ENODEV (EOPNOTSUPP on 6.x): expected. */
static void load_module(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		say("cannot open module %s: %s", path, strerror(errno));
		return;
	}
	size_t n = strlen(path);
	int flags = n > 3 && strcmp(path + n - 3, ".ko") ? MODULE_INIT_COMPRESSED_FILE : 0;
	if (syscall(SYS_finit_module, fd, "", flags) && errno != EEXIST && errno != ENODEV && errno != EOPNOTSUPP)
		say("loading %s failed: %s", path, strerror(errno));
	close(fd);
}

static int run_benchmark(const json_t *args, const char *results)
{
	char *argv[MAX_RUN_ARGS + 4];
	size_t n = 0;
	argv[n++] = "/bin/nestbench";
	argv[n++] = "run";
	size_t i;
	const json_t *a;
	json_array_foreach(args, i, a) {
		if (!json_is_string(a) || n >= MAX_RUN_ARGS)
			return EXIT_USAGE;
		argv[n++] = (char *)(uintptr_t)json_string_value(a);
	}
	argv[n++] = "--out";
	argv[n++] = (char *)(uintptr_t)results;
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid < 0) {
		say("fork: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	int status;
	/* PID 1 also inherits orphans: reap until the run itself ends. */
	for (;;) {
		pid_t r = wait(&status);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return EXIT_RUNTIME;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_RUNTIME;
}

static void send_results(const char *results, int status)
{
	int tty = open(GUEST_CHANNEL_TTY, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (tty < 0) {
		say("cannot open the result channel %s: %s", GUEST_CHANNEL_TTY, strerror(errno));
		return;
	}
	/* Raw: no newline translation on the way out. */
	struct termios tio;
	if (tcgetattr(tty, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(tty, TCSANOW, &tio);
	}
	char *data = NULL;
	size_t len = 0;
	int fd = open(results, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0 && (size_t)st.st_size <= MAX_RESULTS_BYTES &&
	    (data = malloc((size_t)st.st_size))) {
		while (len < (size_t)st.st_size) {
			ssize_t n = read(fd, data + len, (size_t)st.st_size - len);
			if (n <= 0)
				break;
			len += (size_t)n;
		}
	}
	if (fd >= 0)
		close(fd);
	nb_error err;
	if (channel_write(tty, data, len, status, &err))
		say("%s", err.msg);
	tcdrain(tty);
	close(tty);
	free(data);
}

_Noreturn void guest_init_main(const char *config_path)
{
	mount_one("proc", "/proc", "proc");
	mount_one("sysfs", "/sys", "sysfs");
	mount_one("devtmpfs", "/dev", "devtmpfs");
	mount_one("tmpfs", "/tmp", "tmpfs");
	json_error_t jerr;
	json_t *cfg = json_load_file(config_path, 0, &jerr);
	/* The modules come with the cached base image, the arguments with the run. */
	json_t *modcfg = json_load_file(IMAGE_MODULES_PATH, 0, NULL);
	const json_t *args = json_object_get(cfg, "run_args"), *mods = json_object_get(modcfg, "modules");
	const char *results = json_string_value(json_object_get(cfg, "results"));
	if (!json_is_array(args) || !results) {
		say("bad configuration %s: %s", config_path, cfg ? "fields missing" : jerr.text);
		send_results("", EXIT_RUNTIME);
		power_off();
	}
	size_t i;
	const json_t *m;
	json_array_foreach(mods, i, m)
		if (json_is_string(m))
			load_module(json_string_value(m));
	int status = run_benchmark(args, results);
	say("the run ended with status %d; sending its results", status);
	send_results(results, status);
	json_decref(cfg);
	json_decref(modcfg);
	power_off();
}
