/* qemu.c - booting a Linux guest with QEMU (see qemu.h). */
#include "harness/linuxguest/qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/childguard.h"
#include "harness/host/machine.h"
#include "harness/vmm/vm.h"

#define QEMU_DEFAULT "qemu-system-x86_64"
#define TAIL_BYTES 2048

const char *qemu_accel_name(enum qemu_accel a)
{
	return a == QEMU_ACCEL_KVM ? "kvm" : a == QEMU_ACCEL_TCG ? "tcg" : "auto";
}

enum qemu_accel qemu_choose_accel(char *why, size_t len)
{
	nb_error err = {{0}};
	if (vm_available(&err)) {
		snprintf(why, len, "tcg: %s", err.msg);
		return QEMU_ACCEL_TCG;
	}
	char ev[160];
	const char *mode = machine_mmu_virt_mode(ev, sizeof(ev));
	if (!strcmp(mode, "ept") || !strcmp(mode, "npt") || !strcmp(mode, "shadow")) {
		snprintf(why, len, "kvm: the local KVM uses %s (%s)", mode, ev);
		return QEMU_ACCEL_KVM;
	}
	snprintf(why, len, "tcg: the local KVM's memory virtualization is %s (%s), which cannot run a Linux guest's "
			   "kernel at speed; TCG runs it for function only",
		 mode, ev);
	return QEMU_ACCEL_TCG;
}

/* -chardev options are comma-separated: a comma in a path is written twice. */
static char *chardev_file(const char *id, const char *path)
{
	size_t n = strlen(path);
	char *s = malloc(2 * n + strlen(id) + 32);
	if (!s)
		return NULL;
	char *o = s + sprintf(s, "file,id=%s,path=", id);
	for (size_t i = 0; i < n; i++) {
		*o++ = path[i];
		if (path[i] == ',')
			*o++ = ',';
	}
	*o = '\0';
	return s;
}

void qemu_argv_free(char **argv)
{
	if (!argv)
		return;
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

int qemu_build_argv(const struct qemu_config *cfg, char ***out, nb_error *err)
{
	*out = NULL;
	if (cfg->accel != QEMU_ACCEL_KVM && cfg->accel != QEMU_ACCEL_TCG)
		return nb_fail(err, "qemu: no accelerator chosen");
	if (!cfg->kernel || !cfg->initrd || !cfg->console_log || !cfg->channel)
		return nb_fail(err, "qemu: kernel, initramfs, console and channel paths are needed");
	if (cfg->cpus < 1 || cfg->memory_bytes < (256ull << 20))
		return nb_fail(err, "qemu: a guest needs at least 1 CPU and 256 MiB");
	char mem[32], cpus[16], append[1024];
	snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)(cfg->memory_bytes >> 20));
	snprintf(cpus, sizeof(cpus), "%u", cfg->cpus);
	/* panic=-1 with -no-reboot: a guest kernel panic ends QEMU at once. */
	if (snprintf(append, sizeof(append), "console=ttyS0 panic=-1 quiet%s%s", cfg->append ? " " : "",
		     cfg->append ? cfg->append : "") >= (int)sizeof(append))
		return nb_fail(err, "qemu: kernel command line too long");
	const int kvm = cfg->accel == QEMU_ACCEL_KVM;
	char *con = chardev_file("console", cfg->console_log), *chan = chardev_file("channel", cfg->channel);
	const char *args[] = {
		cfg->qemu ? cfg->qemu : QEMU_DEFAULT,
		/* TCG in one thread: with a thread per vCPU (MTTCG), guests that run
		 * their own KVM guests froze here now and then under load (both vCPUs
		 * idle, timers firing, nothing scheduled); one thread has not. */
		"-accel", kvm ? "kvm" : "tcg,thread=single",
		/* -cpu host with KVM: the guest sees the CPU (and its VMX/SVM for nested
		 * KVM); -cpu max with TCG: every feature TCG emulates, SVM and NPT included. */
		"-cpu", kvm ? "host" : "max",
		"-m", mem, "-smp", cpus,
		"-kernel", cfg->kernel, "-initrd", cfg->initrd, "-append", append,
		"-display", "none", "-nodefaults", "-no-reboot", "-monitor", "none",
		"-chardev", con ? con : "", "-serial", "chardev:console",
		"-chardev", chan ? chan : "", "-serial", "chardev:channel",
	};
	/* The guest's RAM from a named backend: the host backing (hostmem.h). */
	const char *mem_args[] = {"-object", cfg->memory_object, "-machine", "memory-backend=ram0"};
	size_t nmem = cfg->memory_object ? ARRAY_SIZE(mem_args) : 0;
	char **argv = calloc(ARRAY_SIZE(args) + nmem + 1, sizeof(char *));
	int oom = !argv || !con || !chan;
	for (size_t i = 0; argv && i < ARRAY_SIZE(args); i++)
		oom |= !(argv[i] = strdup(args[i]));
	for (size_t i = 0; argv && i < nmem; i++)
		oom |= !(argv[ARRAY_SIZE(args) + i] = strdup(mem_args[i]));
	free(con);
	free(chan);
	if (oom) {
		qemu_argv_free(argv);
		return nb_fail(err, "out of memory");
	}
	*out = argv;
	return 0;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Echo new complete console lines; keep the last TAIL_BYTES for errors. */
struct tail {
	int fd;
	char line[512];
	size_t nline;
	char last[TAIL_BYTES];
	size_t nlast;
	int echo;
};

static void tail_byte(struct tail *t, char c)
{
	if (t->nlast == sizeof(t->last)) {
		memmove(t->last, t->last + sizeof(t->last) / 2, sizeof(t->last) / 2);
		t->nlast = sizeof(t->last) / 2;
	}
	t->last[t->nlast++] = c;
	if (c == '\r')
		return;
	if (c != '\n' && t->nline + 1 < sizeof(t->line)) {
		/* Console bytes are the guest's: show control bytes escaped. */
		t->line[t->nline++] = (c >= 0x20 && c < 0x7f) || (unsigned char)c >= 0x80 ? c : '?';
		return;
	}
	t->line[t->nline] = '\0';
	if (t->echo && t->nline)
		fprintf(stderr, "nestbench: guest: %s\n", t->line);
	t->nline = 0;
}

static void tail_poll(struct tail *t, const char *path)
{
	if (t->fd < 0)
		t->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (t->fd < 0)
		return;
	char buf[4096];
	ssize_t n;
	while ((n = read(t->fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			tail_byte(t, buf[i]);
}

/* The console's last lines, for an error message; from the panic's own
 * line when the kernel panicked (its backtrace follows and would crowd it out). */
static void tail_text(const struct tail *t, char *out, size_t len)
{
	size_t n = t->nlast, from = n > 300 ? n - 300 : 0;
	static const char panic[] = "Kernel panic";
	for (size_t i = 0; i + sizeof(panic) - 1 <= n; i++)
		if (!memcmp(t->last + i, panic, sizeof(panic) - 1)) {
			from = i;
			break;
		}
	size_t o = 0;
	for (size_t i = from; i < n && o + 1 < len && i < from + 300; i++) {
		char c = t->last[i];
		out[o++] = c == '\n' ? '|' : (c >= 0x20 && c < 0x7f) ? c : ' ';
	}
	out[o] = '\0';
}

int qemu_run(const struct qemu_config *cfg, nb_error *err)
{
	char **argv;
	if (qemu_build_argv(cfg, &argv, err))
		return -1;
	int epipe[2];
	if (pipe2(epipe, O_CLOEXEC | O_NONBLOCK)) {
		qemu_argv_free(argv);
		return nb_fail(err, "pipe: %s", strerror(errno));
	}
	childguard_install();
	pid_t pid = childguard_fork(err);
	if (pid < 0) {
		close(epipe[0]);
		close(epipe[1]);
		qemu_argv_free(argv);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
		}
		dup2(epipe[1], 2);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s%s", argv[0], strerror(errno),
			errno == ENOENT ? " (install it with `apt-get install -y qemu-system-x86`)" : "");
		_exit(127);
	}
	close(epipe[1]);
	struct tail t = {.fd = -1, .echo = cfg->echo};
	char qerr[1024];
	size_t nqerr = 0;
	double deadline = now_s() + cfg->timeout_s;
	int status = 0, rc = 0, done = 0;
	while (!done) {
		struct timespec nap = {0, 100 * 1000 * 1000};
		nanosleep(&nap, NULL);
		tail_poll(&t, cfg->console_log);
		ssize_t n = read(epipe[0], qerr + nqerr, sizeof(qerr) - 1 - nqerr);
		if (n > 0)
			nqerr += (size_t)n;
		if (cfg->on_poll)
			cfg->on_poll(cfg->poll_arg, pid, t.nlast > 0);
		int r = childguard_reap(pid, &status);
		if (r != 0) {
			done = 1;
			if (r < 0)
				rc = nb_fail(err, "qemu: lost track of process %d", (int)pid);
		} else if (now_s() > deadline) {
			childguard_kill(pid);
			char last[400];
			tail_text(&t, last, sizeof(last));
			rc = nb_fail(err, "the guest did not finish within %.0f s (qemu killed); its console ended: %s",
				     cfg->timeout_s, last);
			done = 1;
			status = 0;
		}
	}
	tail_poll(&t, cfg->console_log);
	ssize_t n = read(epipe[0], qerr + nqerr, sizeof(qerr) - 1 - nqerr);
	if (n > 0)
		nqerr += (size_t)n;
	qerr[nqerr] = '\0';
	for (size_t i = 0; i < nqerr; i++)
		if (qerr[i] == '\n' || (unsigned char)qerr[i] < 0x20)
			qerr[i] = ' ';
	close(epipe[0]);
	if (t.fd >= 0)
		close(t.fd);
	if (cfg->console_tail && cfg->console_tail_len)
		tail_text(&t, cfg->console_tail, cfg->console_tail_len);
	if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		char last[400];
		tail_text(&t, last, sizeof(last));
		if (WIFSIGNALED(status))
			rc = nb_fail(err, "qemu was killed by signal %d; its console ended: %s", WTERMSIG(status), last);
		else
			rc = nb_fail(err, "qemu failed (status %d): %s", WEXITSTATUS(status),
				     nqerr ? qerr : "(no message)");
	}
	qemu_argv_free(argv);
	return rc;
}
