/* vm.c - the KVM VMM (see vm.h). */
#include "harness/vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "guest-payloads/guest_pt.h"
#include "harness/vmm/kvm_stats.h"
#include "harness/host/topology.h"
#include "core/tsc.h"
#include "harness/vmm/vm_watchdog.h"

#define KVM_API 12
#define MSG_LOG 256

/* CR0/CR4/EFER bits the boot state needs. */
#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_PCIDE (1ull << 17)
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

#define CPUID_1_ECX_PCID (1u << 17)
#define CPUID_81_EDX_PDPE1GB (1u << 26)
#define CPUID_81_EDX_NX (1u << 20)

/* A vCPU after the first: created with the in-kernel irqchip, run by its
 * own thread from boot to destroy (it serves no commands). */
struct ap {
	struct vm *vm;
	unsigned idx;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	int started;
	int cpu;
	volatile sig_atomic_t stop;
	char why[MSG_LOG + 64]; /* why it stopped on its own, "" if it did not */
};

/* What the vCPU thread is asked to do. */
struct vcpu_req {
	int pending;
	int quit;
	uint32_t op;
	uint64_t args[6];
	double timeout_s;
};

struct vm {
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_bytes;
	struct buffer sys;
	int have_sys;
	struct nb_mailbox *mbox;
	uint64_t built_page_bytes;
	int has_pcid, has_1g;
	int cpu;
	uint64_t seq;
	uint64_t region_slot_bytes;
	uint32_t tsc_khz;            /* KVM_GET_TSC_KHZ, 0 when KVM cannot say */
	struct kvm_stats vm_stats, vcpu_stats;
	int have_stats;
	char stats_why[sizeof(nb_error)]; /* why not, when !have_stats */

	pthread_t thread;
	int thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct vcpu_req req;
	int replied;
	int rc;
	struct vm_reply reply;
	nb_error err;

	int dead; /* a fault or watchdog stop: no further commands */
	int tid;
	struct ap ap[NB_MAX_VCPUS - 1];
	unsigned naps;
	pthread_mutex_t ap_mu; /* ap[].why */
	vm_turn_fn turn_fn;
	void *turn_ctx;
	char last_msg[MSG_LOG];
};

/* ---- ioctl wrappers that name what failed ---- */

static int xioctl(int fd, unsigned long req, void *arg, const char *name, nb_error *err)
{
	int rc;
	do
		rc = ioctl(fd, req, arg);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return nb_fail(err, "kvm: %s failed: %s", name, strerror(errno));
	return rc;
}
#define KVM_IOCTL(fd, req, arg, err) xioctl((fd), (req), (arg), #req, (err))

const char *vm_exit_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "unknown", [KVM_EXIT_EXCEPTION] = "exception", [KVM_EXIT_IO] = "io",
		[KVM_EXIT_HYPERCALL] = "hypercall", [KVM_EXIT_DEBUG] = "debug", [KVM_EXIT_HLT] = "hlt",
		[KVM_EXIT_MMIO] = "mmio", [KVM_EXIT_IRQ_WINDOW_OPEN] = "irq-window-open",
		[KVM_EXIT_SHUTDOWN] = "shutdown (triple fault)", [KVM_EXIT_FAIL_ENTRY] = "fail-entry",
		[KVM_EXIT_INTR] = "intr", [KVM_EXIT_SET_TPR] = "set-tpr", [KVM_EXIT_TPR_ACCESS] = "tpr-access",
		[KVM_EXIT_NMI] = "nmi", [KVM_EXIT_INTERNAL_ERROR] = "internal-error",
		[KVM_EXIT_SYSTEM_EVENT] = "system-event",
	};
	if (reason < ARRAY_SIZE(names) && names[reason])
		return names[reason];
	return "other";
}

/* ---- messages ---- */

int vm_parse_msg(const void *mem, uint64_t mem_bytes, uint64_t gpa, struct nb_msg *out, nb_error *err)
{
	if (gpa >= mem_bytes || mem_bytes - gpa < sizeof(*out))
		return nb_fail(err, "message at guest address 0x%llx lies outside guest memory (%llu bytes)",
			       (unsigned long long)gpa, (unsigned long long)mem_bytes);
	memcpy(out, (const unsigned char *)mem + gpa, sizeof(*out));
	if (out->magic != NB_MSG_MAGIC)
		return nb_fail(err, "message at 0x%llx has a bad magic 0x%08x", (unsigned long long)gpa, out->magic);
	if (out->type == 0 || out->type > NB_MSG_TYPE_MAX)
		return nb_fail(err, "message at 0x%llx has an unknown type %u", (unsigned long long)gpa, out->type);
	if (out->text_len >= NB_MSG_TEXT_MAX)
		return nb_fail(err, "message at 0x%llx claims %u bytes of text, more than the %u allowed",
			       (unsigned long long)gpa, out->text_len, NB_MSG_TEXT_MAX - 1);
	if (memchr(out->text, 0, NB_MSG_TEXT_MAX) != out->text + out->text_len)
		return nb_fail(err, "message at 0x%llx: text is not NUL-terminated at its stated length",
			       (unsigned long long)gpa);
	if (!memchr(out->file, 0, NB_MSG_FILE_MAX))
		return nb_fail(err, "message at 0x%llx: file name is not NUL-terminated", (unsigned long long)gpa);
	return 0;
}

/* ---- the vCPU thread ---- */

static void describe_stop(struct vm *vm, const char *what, nb_error *err)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	nb_error ign;
	unsigned long long rip = 0, cr2 = 0;
	if (KVM_IOCTL(vm->vcpu_fd, KVM_GET_REGS, &regs, &ign) >= 0)
		rip = regs.rip;
	if (KVM_IOCTL(vm->vcpu_fd, KVM_GET_SREGS, &sregs, &ign) >= 0)
		cr2 = sregs.cr2;
	char cpus[NB_MAX_VCPUS * 200] = "";
	size_t at = 0;
	for (unsigned i = 0; i <= vm->naps && vm->naps && vm->mbox && at < sizeof(cpus); i++) {
		const struct nb_cpu_status *c = &vm->mbox->cpu[i];
		pthread_mutex_lock(&vm->ap_mu);
		const char *why = i ? vm->ap[i - 1].why : "";
		at += (size_t)snprintf(cpus + at, sizeof(cpus) - at, "; vcpu %u: %s, %llu shootdown ipis handled%s%s", i,
				       nb_where_name(c->where), (unsigned long long)c->ipis, why[0] ? ", " : "", why);
		pthread_mutex_unlock(&vm->ap_mu);
	}
	nb_fail(err, "guest stopped: %s at rip 0x%llx (cr2 0x%llx); last message: '%s'%s", what, rip, cr2,
		vm->last_msg, cpus);
	vm->dead = 1;
}

/* Run the vCPU until the guest sends SYNC (ready), DONE, or something goes
 * wrong.  The command, if any, is already in the mailbox. */
static int run_until_sync(struct vm *vm, double timeout_s, struct vm_reply *reply, nb_error *err)
{
	struct vm_watchdog wd = {0};
	memset(reply, 0, sizeof(*reply));
	if (vm_watchdog_arm(&wd, timeout_s, err))
		return -1;
	int rc = 0;
	uint64_t t0 = tsc_begin();
	uint64_t t_out = 0; /* when KVM_RUN returned with a benchmark exit */
	for (;;) {
		uint64_t t_in = tsc_begin();
		if (t_out)
			reply->vmm_ticks += t_in - t_out;
		t_out = 0;
		int r = ioctl(vm->vcpu_fd, KVM_RUN, 0);
		int e = errno;
		uint64_t t_back = tsc_begin();
		reply->run_ticks += t_back - t_in;
		if (vm_watchdog_fired()) {
			char what[96];
			snprintf(what, sizeof(what), "watchdog expired after %.3g s (exit reason %s)", timeout_s,
				 r < 0 ? "intr" : vm_exit_name(vm->run->exit_reason));
			describe_stop(vm, what, err);
			rc = -1;
			break;
		}
		if (r < 0) {
			if (e == EINTR || e == EAGAIN)
				continue;
			rc = nb_fail(err, "kvm: KVM_RUN failed: %s", strerror(e));
			vm->dead = 1;
			break;
		}
		reply->exits++;
		struct kvm_run *run = vm->run;
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == NB_PORT_BENCH) {
			reply->bench_exits++;
			t_out = t_back;
			continue;
		}
		if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr == NB_BENCH_GPA) {
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0, sizeof(run->mmio.data));
			reply->bench_exits++;
			t_out = t_back;
			continue;
		}
		if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr == NB_TURN_GPA && run->mmio.is_write &&
		    run->mmio.len == 4 && vm->turn_fn) {
			uint32_t turn;
			memcpy(&turn, run->mmio.data, sizeof(turn));
			nb_error terr;
			if (vm->turn_fn(vm->turn_ctx, turn, &terr)) {
				describe_stop(vm, terr.msg, err);
				rc = -1;
				break;
			}
			if (turn)
				reply->turns++;
			continue;
		}
		int port_msg = run->exit_reason == KVM_EXIT_IO && run->io.port == NB_PORT_MSG &&
			       run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 4 && run->io.count == 1;
		int mmio_msg = run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr == NB_DOORBELL_GPA &&
			       run->mmio.is_write && run->mmio.len == 4;
		if (port_msg || mmio_msg) {
			uint32_t gpa;
			if (port_msg)
				memcpy(&gpa, (const char *)run + run->io.data_offset, sizeof(gpa));
			else
				memcpy(&gpa, run->mmio.data, sizeof(gpa));
			struct nb_msg m;
			nb_error perr;
			if (vm_parse_msg(vm->sys.base, vm->sys.bytes, gpa, &m, &perr)) {
				describe_stop(vm, perr.msg, err);
				rc = -1;
				break;
			}
			if (m.type == NB_MSG_PRINT) {
				snprintf(vm->last_msg, sizeof(vm->last_msg), "%s", m.text);
				if (getenv("NESTBENCH_GUEST_LOG"))
					fprintf(stderr, "nestbench: guest: %s\n", m.text);
			} else if (m.type == NB_MSG_RESULT) {
				reply->host_ticks = tsc_end() - t0;
				memcpy(reply->arg, m.arg, sizeof(reply->arg));
			} else if (m.type == NB_MSG_SYNC) {
				break;
			} else if (m.type == NB_MSG_DONE) {
				reply->done = 1;
				reply->arg[0] = m.arg[0];
				vm->dead = 1;
				break;
			} else { /* ABORT */
				char what[MSG_LOG + NB_MSG_FILE_MAX + 64];
				snprintf(vm->last_msg, sizeof(vm->last_msg), "%s", m.text);
				snprintf(what, sizeof(what), "payload abort at %s:%u: %s (guest rip 0x%llx)", m.file,
					 m.line, m.text, (unsigned long long)m.arg[0]);
				describe_stop(vm, what, err);
				rc = -1;
				break;
			}
			continue;
		}
		char what[160];
		if (run->exit_reason == KVM_EXIT_IO)
			snprintf(what, sizeof(what), "unexpected port %s 0x%x (size %u)",
				 run->io.direction == KVM_EXIT_IO_OUT ? "write to" : "read from", run->io.port,
				 run->io.size);
		else if (run->exit_reason == KVM_EXIT_MMIO)
			snprintf(what, sizeof(what), "access to unbacked guest-physical 0x%llx (exit reason mmio)",
				 (unsigned long long)run->mmio.phys_addr);
		else if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
			snprintf(what, sizeof(what), "exit reason internal-error, suberror %u", run->internal.suberror);
		else if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
			snprintf(what, sizeof(what), "exit reason fail-entry, hardware reason 0x%llx",
				 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		else
			snprintf(what, sizeof(what), "exit reason %s (%u)", vm_exit_name(run->exit_reason),
				 run->exit_reason);
		describe_stop(vm, what, err);
		rc = -1;
		break;
	}
	vm_watchdog_disarm(&wd);
	return rc;
}

/* KVM's own exit counters of the vCPU, in vm_kvm_exit_names order. */
static int vcpu_exit_counts(const struct vm *vm, uint64_t *v)
{
	if (!vm->have_stats)
		return 0;
	for (int i = 0; i < KVM_EXIT_STATS; i++)
		if (kvm_stats_get(&vm->vcpu_stats, vm_kvm_exit_names[i], &v[i]))
			v[i] = 0;
	return 1;
}

static void *vcpu_thread(void *arg)
{
	struct vm *vm = arg;
	vm_watchdog_bind(&vm->run->immediate_exit);
	vm->tid = (int)syscall(SYS_gettid);
	pthread_mutex_lock(&vm->mu);
	for (;;) {
		while (!vm->req.pending)
			pthread_cond_wait(&vm->cv, &vm->mu);
		struct vcpu_req req = vm->req;
		vm->req.pending = 0;
		if (req.quit)
			break;
		pthread_mutex_unlock(&vm->mu);

		struct vm_reply reply;
		nb_error err = {{0}};
		int rc;
		if (vm->dead) {
			rc = nb_fail(&err, "vm: the guest is stopped (after: '%s')", vm->last_msg);
			memset(&reply, 0, sizeof(reply));
		} else {
			if (req.op) {
				struct nb_cmd *c = &vm->mbox->cmd;
				c->op = req.op;
				c->seq = ++vm->seq;
				memcpy(c->arg, req.args, sizeof(c->arg));
				c->magic = NB_CMD_MAGIC;
			}
			uint64_t before[KVM_EXIT_STATS];
			int counted = vcpu_exit_counts(vm, before);
			rc = run_until_sync(vm, req.timeout_s, &reply, &err);
			uint64_t after[KVM_EXIT_STATS];
			if (counted && vcpu_exit_counts(vm, after)) {
				reply.kvm_counted = 1;
				for (int i = 0; i < KVM_EXIT_STATS; i++)
					reply.kvm_exits[i] = after[i] - before[i];
			}
		}

		pthread_mutex_lock(&vm->mu);
		vm->rc = rc;
		vm->reply = reply;
		vm->err = err;
		vm->replied = 1;
		pthread_cond_broadcast(&vm->cv);
	}
	pthread_mutex_unlock(&vm->mu);
	vm_watchdog_bind(NULL);
	return NULL;
}

static void vcpu_call_begin(struct vm *vm, uint32_t op, const uint64_t *args, size_t nargs, double timeout_s)
{
	pthread_mutex_lock(&vm->mu);
	memset(&vm->req, 0, sizeof(vm->req));
	vm->req.op = op;
	for (size_t i = 0; i < nargs && i < ARRAY_SIZE(vm->req.args); i++)
		vm->req.args[i] = args[i];
	vm->req.timeout_s = timeout_s;
	vm->req.pending = 1;
	vm->replied = 0;
	pthread_cond_broadcast(&vm->cv);
	pthread_mutex_unlock(&vm->mu);
}

static int vcpu_call_end(struct vm *vm, struct vm_reply *reply, nb_error *err)
{
	pthread_mutex_lock(&vm->mu);
	while (!vm->replied)
		pthread_cond_wait(&vm->cv, &vm->mu);
	int rc = vm->rc;
	if (reply)
		*reply = vm->reply;
	if (rc && err)
		*err = vm->err;
	pthread_mutex_unlock(&vm->mu);
	return rc;
}

static int vcpu_call(struct vm *vm, uint32_t op, const uint64_t *args, size_t nargs, double timeout_s,
		     struct vm_reply *reply, nb_error *err)
{
	vcpu_call_begin(vm, op, args, nargs, timeout_s);
	return vcpu_call_end(vm, reply, err);
}

struct thread_start {
	struct vm *vm;
	int cpu;
	int rc;
	nb_error err;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ready;
};

/* Pin first, then serve: the vCPU is always run from the same pinned thread. */
static void *vcpu_thread_start(void *arg)
{
	struct thread_start *ts = arg;
	struct vm *vm = ts->vm;
	int rc = 0;
	if (ts->cpu >= 0)
		rc = topology_pin_self(ts->cpu, &ts->err);
	/* Known before vm_create returns, for counters opened right after. */
	vm->tid = (int)syscall(SYS_gettid);
	pthread_mutex_lock(&ts->mu);
	ts->rc = rc;
	ts->ready = 1;
	pthread_cond_signal(&ts->cv);
	pthread_mutex_unlock(&ts->mu);
	if (rc)
		return NULL;
	vcpu_thread(vm);
	topology_restore_affinity(); /* frees this thread's saved affinity */
	return NULL;
}

/* ---- vCPUs after the first ---- */

static void ap_record(struct ap *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ap_record(struct ap *a, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&a->vm->ap_mu);
	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&a->vm->ap_mu);
}

/* Run until told to stop; messages (PRINT, ABORT) are logged; anything
 * else stops this vCPU with the reason kept for the error messages. */
static void *ap_thread(void *arg)
{
	struct ap *a = arg;
	struct vm *vm = a->vm;
	nb_error perr;
	vm_watchdog_bind(&a->run->immediate_exit);
	if (a->cpu >= 0 && topology_pin_self(a->cpu, &perr)) {
		ap_record(a, "not started: %s", perr.msg);
		return NULL;
	}
	while (!a->stop) {
		int r = ioctl(a->fd, KVM_RUN, 0);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				a->run->immediate_exit = 0;
				continue;
			}
			ap_record(a, "KVM_RUN failed: %s", strerror(errno));
			break;
		}
		struct kvm_run *run = a->run;
		int port_msg = run->exit_reason == KVM_EXIT_IO && run->io.port == NB_PORT_MSG &&
			       run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 4;
		int mmio_msg = run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr == NB_DOORBELL_GPA &&
			       run->mmio.is_write && run->mmio.len == 4;
		if (port_msg || mmio_msg) {
			uint32_t gpa;
			struct nb_msg m;
			if (port_msg)
				memcpy(&gpa, (const char *)run + run->io.data_offset, sizeof(gpa));
			else
				memcpy(&gpa, run->mmio.data, sizeof(gpa));
			if (vm_parse_msg(vm->sys.base, vm->sys.bytes, gpa, &m, &perr)) {
				ap_record(a, "bad message: %s", perr.msg);
				break;
			}
			if (m.type == NB_MSG_PRINT) {
				if (getenv("NESTBENCH_GUEST_LOG"))
					fprintf(stderr, "nestbench: guest vcpu %u: %s\n", a->idx, m.text);
				continue;
			}
			ap_record(a, "stopped after message type %u at %s:%u: %s", m.type, m.file, m.line, m.text);
			break;
		}
		ap_record(a, "stopped: exit reason %s (%u)", vm_exit_name(run->exit_reason), run->exit_reason);
		break;
	}
	vm_watchdog_bind(NULL);
	if (a->cpu >= 0)
		topology_restore_affinity(); /* frees this thread's saved affinity */
	return NULL;
}

static int ap_start(struct ap *a, nb_error *err)
{
	if (pthread_create(&a->thread, NULL, ap_thread, a))
		return nb_fail(err, "vm: cannot start the thread of vCPU %u", a->idx);
	a->started = 1;
	return 0;
}

/* immediate_exit first, then the signal: KVM_RUN returns whichever it is in. */
static void ap_stop(struct ap *a)
{
	if (!a->started)
		return;
	a->stop = 1;
	if (a->run)
		a->run->immediate_exit = 1;
	pthread_kill(a->thread, vm_watchdog_signal());
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	while (pthread_timedjoin_np(a->thread, NULL, &until) == ETIMEDOUT) {
		pthread_kill(a->thread, vm_watchdog_signal());
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 5;
	}
	a->started = 0;
}

/* ---- set-up ---- */

int vm_available(nb_error *err)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return nb_skip(err, "no /dev/kvm: this machine offers no KVM (load kvm_intel/kvm_amd, or enable "
					    "nested virtualization on the host)");
		if (errno == EACCES || errno == EPERM)
			return nb_skip(err, "no permission to open /dev/kvm (run as root or join the kvm group)");
		return nb_skip(err, "cannot open /dev/kvm: %s", strerror(errno));
	}
	int api = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API) {
		close(fd);
		return nb_skip(err, "kvm: KVM_GET_API_VERSION returned %d, need %d", api, KVM_API);
	}
	int vmfd = ioctl(fd, KVM_CREATE_VM, 0);
	if (vmfd < 0) {
		int e = errno;
		close(fd);
		return nb_skip(err, "kvm: KVM_CREATE_VM failed: %s", strerror(e));
	}
	close(vmfd);
	close(fd);
	return 0;
}

/* What KVM must offer for what nestbench does with it; a KVM without one
 * is skipped with its name rather than failing at the first ioctl. */
static int check_caps(int kvm_fd, unsigned vcpus, nb_error *err)
{
	static const struct {
		long cap;
		const char *name, *why;
		int smp; /* needed only with several vCPUs */
	} caps[] = {
		{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest memory from user space", 0},
		{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "the guest's CPUID (KVM_SET_CPUID2)", 0},
		{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "the watchdog that bounds every KVM_RUN", 0},
		{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "the in-kernel local APICs of a multi-vCPU guest", 1},
		{KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE", "starting vCPUs after the first", 1},
	};
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
		if ((!caps[i].smp || vcpus > 1) && ioctl(kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0)
			return nb_skip(err, "kvm lacks %s, needed for %s", caps[i].name, caps[i].why);
	int max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && (unsigned)max < vcpus)
		return nb_skip(err, "kvm allows %d vCPUs per VM, %u asked for", max, vcpus);
	return 0;
}

static int set_slot(struct vm *vm, uint32_t slot, uint64_t gpa, void *host, uint64_t bytes, nb_error *err)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = bytes,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};
	return KVM_IOCTL(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r, err) < 0 ? -1 : 0;
}

/* KVM's supported CPUID (caller frees), or NULL with err set. */
static struct kvm_cpuid2 *supported_cpuid(int kvm_fd, nb_error *err)
{
	for (int n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (size_t)n * sizeof(c->entries[0]));
		if (!c) {
			nb_fail(err, "out of memory");
			return NULL;
		}
		c->nent = (uint32_t)n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		int e = errno;
		free(c);
		if (e != E2BIG) {
			nb_fail(err, "kvm: KVM_GET_SUPPORTED_CPUID failed: %s", strerror(e));
			return NULL;
		}
	}
	nb_fail(err, "kvm: KVM_GET_SUPPORTED_CPUID: too many entries");
	return NULL;
}

static int cpuid_has_1g(const struct kvm_cpuid2 *c)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0x80000001)
			return !!(c->entries[i].edx & CPUID_81_EDX_PDPE1GB);
	return 0;
}

int vm_guest_page_usable(uint64_t page_bytes, nb_error *err)
{
	if (page_bytes == PT_4K || page_bytes == PT_2M)
		return 0;
	if (page_bytes != PT_1G)
		return nb_fail(err, "guest page size %llu is not 4K, 2M or 1G", (unsigned long long)page_bytes);
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return nb_skip(err, "cannot open /dev/kvm: %s", strerror(errno));
	struct kvm_cpuid2 *c = supported_cpuid(fd, err);
	close(fd);
	if (!c)
		return 1;
	int ok = cpuid_has_1g(c);
	free(c);
	return ok ? 0 : nb_skip(err, "1G guest pages: KVM does not offer the pdpe1gb CPUID bit to guests here");
}

/* Give the guest the CPUID KVM supports (it has none by default, and 1G
 * pages and PCID need their CPUID bits). */
static int setup_cpuid(struct vm *vm, int fd, nb_error *err)
{
	struct kvm_cpuid2 *c = supported_cpuid(vm->kvm_fd, err);
	if (!c)
		return -1;
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			vm->has_pcid = !!(c->entries[i].ecx & CPUID_1_ECX_PCID);
	vm->has_1g = cpuid_has_1g(c);
	int rc = KVM_IOCTL(fd, KVM_SET_CPUID2, c, err) < 0 ? -1 : 0;
	free(c);
	return rc;
}

static void segment(struct kvm_segment *s, uint16_t sel, uint8_t type, int code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->dpl = (uint8_t)(sel & 3);
	s->s = 1;
	s->g = 1;
	s->l = code ? 1 : 0;
	s->db = code ? 0 : 1;
}

static int setup_vcpu_state(struct vm *vm, int fd, unsigned idx, uint64_t cr3, nb_error *err)
{
	struct kvm_sregs s;
	if (KVM_IOCTL(fd, KVM_GET_SREGS, &s, err) < 0)
		return -1;
	s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (vm->has_pcid ? CR4_PCIDE : 0);
	s.cr3 = cr3;
	s.efer = EFER_SCE | EFER_LME | EFER_LMA;
	segment(&s.cs, NB_SEL_KCODE, 11, 1);
	segment(&s.ds, NB_SEL_KDATA, 3, 0);
	s.es = s.fs = s.gs = s.ss = s.ds;
	if (KVM_IOCTL(fd, KVM_SET_SREGS, &s, err) < 0)
		return -1;
	struct kvm_regs r;
	memset(&r, 0, sizeof(r));
	r.rip = NB_IMAGE_GPA;
	r.rsp = NB_KSTACK_TOP - idx * NB_KSTACK_PER_CPU;
	r.rdi = idx; /* the entry tells the vCPUs apart by it */
	r.rflags = 2;
	if (KVM_IOCTL(fd, KVM_SET_REGS, &r, err) < 0)
		return -1;
	if (idx == 0)
		return 0;
	/* With the in-kernel irqchip, vCPUs after the first wait for INIT/SIPI:
	 * their state is set here instead. */
	struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};
	return KVM_IOCTL(fd, KVM_SET_MP_STATE, &mp, err) < 0 ? -1 : 0;
}

/* The boot address space: the system slot identity-mapped, page 0 left out
 * so that a NULL dereference in the payload faults. */
static int build_boot_tables(struct vm *vm, uint64_t *root, uint64_t *pool_next, nb_error *err)
{
	struct pt_pool pool;
	struct pt_space sp;
	unsigned char *mem = vm->sys.base;
	uint64_t sys = vm->sys.bytes;
	int rc = pt_pool_init(&pool, mem + NB_PT_POOL_GPA, NB_PT_POOL_GPA, sys - NB_PT_POOL_GPA, 0);
	if (!rc)
		rc = pt_space_init(&sp, &pool);
	if (!rc)
		rc = pt_map(&sp, PT_4K, PT_4K, PT_2M - PT_4K, PT_4K, PT_W | PT_U);
	if (!rc)
		rc = pt_map(&sp, PT_2M, PT_2M, sys - PT_2M, PT_2M, PT_W | PT_U);
	if (!rc) /* the CPL3 message doorbell, bench and turn pages: no memory slot behind them */
		rc = pt_map(&sp, NB_DOORBELL_GPA, NB_DOORBELL_GPA, NB_MMIO_PAGES * PT_4K, PT_4K, PT_W | PT_U);
	if (!rc && pt_verify(&sp, PT_2M, PT_2M, sys - PT_2M, PT_2M, PT_W | PT_U, NULL))
		rc = PT_E_RANGE;
	if (rc)
		return nb_fail(err, "vm: cannot build the boot page tables: %s", pt_strerror(rc));
	*root = sp.root;
	*pool_next = pool.pa + pool.next;
	return 0;
}

/* Page-table pool for the region: one PTE per 4K page, a PDE per 2M page,
 * per address space, plus room for the services' tables. */
static uint64_t pool_bytes(uint64_t region_bytes, uint64_t page_bytes, unsigned spaces)
{
	uint64_t pages = region_bytes / page_bytes;
	uint64_t per_space = (pages / 512 + 4) * PT_4K + (page_bytes == PT_4K ? region_bytes / PT_2M * PT_4K : 0);
	return (uint64_t)spaces * per_space + (256u << 10);
}

int vm_create(struct vm **out, const struct vm_config *cfg, nb_error *err)
{
	*out = NULL;
	uint64_t page = cfg->region_page_bytes;
	if (page != PT_4K && page != PT_2M && page != PT_1G)
		return nb_fail(err, "vm: guest page size %llu is not 4K, 2M or 1G", (unsigned long long)page);
	if (!cfg->region || cfg->region_bytes == 0 || cfg->region_bytes % page ||
	    cfg->region_bytes > cfg->region->bytes)
		return nb_fail(err, "vm: the region (%zu bytes) must be a non-empty multiple of the guest page and fit "
				    "its buffer",
			       cfg->region_bytes);
	size_t image_bytes = cfg->image_bytes;
	const void *image = cfg->image ? cfg->image : vm_payload_image(&image_bytes);
	if (image_bytes == 0 || image_bytes > NB_IMAGE_MAX)
		return nb_fail(err, "vm: payload image of %zu bytes does not fit its %llu-byte slot", image_bytes,
			       (unsigned long long)NB_IMAGE_MAX);
	unsigned vcpus = cfg->vcpus ? cfg->vcpus : 1;
	if (vcpus > NB_MAX_VCPUS)
		return nb_fail(err, "vm: %u vCPUs asked for, the payload serves at most %u", vcpus, NB_MAX_VCPUS);
	if (vm_watchdog_install(err))
		return -1;

	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return nb_fail(err, "out of memory");
	vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
	vm->cpu = cfg->cpu;
	vm->naps = vcpus - 1;
	pthread_mutex_init(&vm->ap_mu, NULL);
	for (unsigned i = 0; i < vm->naps; i++) {
		vm->ap[i].vm = vm;
		vm->ap[i].idx = i + 1;
		vm->ap[i].fd = -1;
		vm->ap[i].cpu = cfg->ap_cpus ? cfg->ap_cpus[i] : -1;
	}
	pthread_mutex_init(&vm->mu, NULL);
	pthread_cond_init(&vm->cv, NULL);
	unsigned spaces = cfg->spaces ? cfg->spaces : 1;
	int rc = -1;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		rc = nb_skip(err, "cannot open /dev/kvm: %s", strerror(errno));
		goto fail;
	}
	if ((rc = check_caps(vm->kvm_fd, vcpus, err)) != 0)
		goto fail;
	rc = -1;
	if ((vm->vm_fd = KVM_IOCTL(vm->kvm_fd, KVM_CREATE_VM, NULL, err)) < 0)
		goto fail;
	int run_bytes = KVM_IOCTL(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL, err);
	if (run_bytes < 0)
		goto fail;
	vm->run_bytes = (size_t)run_bytes;

	/* System memory: 4K backing, 2M multiple (it is mapped with 2M pages). */
	uint64_t sys = NB_PT_POOL_GPA + pool_bytes(cfg->region_bytes, page, spaces);
	if (sys < NB_SYS_MIN_BYTES)
		sys = NB_SYS_MIN_BYTES;
	sys = (sys + PT_2M - 1) & ~(PT_2M - 1);
	if (sys > NB_REGION_GPA) {
		rc = nb_fail(err, "vm: the page tables for a %zu-byte region do not fit below 4 GiB", cfg->region_bytes);
		goto fail;
	}
	if ((rc = buffer_alloc(&vm->sys, BACKING_4K, sys, err)) != 0)
		goto fail;
	vm->have_sys = 1;
	rc = -1;
	memset(vm->sys.base, 0, vm->sys.bytes);
	/* The region's slot in whole pages of its backing: KVM maps a guest
	 * range huge only where the slot covers the whole host page. */
	uint64_t hp = backing_page_bytes(cfg->region->kind);
	vm->region_slot_bytes = (cfg->region_bytes + hp - 1) / hp * hp;
	if (vm->region_slot_bytes > cfg->region->bytes)
		vm->region_slot_bytes = cfg->region_bytes;
	if (set_slot(vm, 0, 0, vm->sys.base, vm->sys.bytes, err) ||
	    set_slot(vm, 1, NB_REGION_GPA, cfg->region->base, vm->region_slot_bytes, err))
		goto fail;
	memcpy((unsigned char *)vm->sys.base + NB_IMAGE_GPA, image, image_bytes);

	if (vm->naps && KVM_IOCTL(vm->vm_fd, KVM_CREATE_IRQCHIP, NULL, err) < 0)
		goto fail;
	if ((vm->vcpu_fd = KVM_IOCTL(vm->vm_fd, KVM_CREATE_VCPU, (void *)0, err)) < 0)
		goto fail;
	vm->run = mmap(NULL, vm->run_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED) {
		vm->run = NULL;
		nb_fail(err, "vm: cannot map the vCPU's kvm_run area: %s", strerror(errno));
		goto fail;
	}
	if (setup_cpuid(vm, vm->vcpu_fd, err))
		goto fail;
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GET_TSC_KHZ) > 0) {
		int khz = ioctl(vm->vcpu_fd, KVM_GET_TSC_KHZ, 0);
		vm->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	}
	{
		nb_error serr = {{0}};
		int s1 = kvm_stats_open(&vm->vm_stats, vm->kvm_fd, vm->vm_fd, &serr);
		int s2 = s1 ? s1 : kvm_stats_open(&vm->vcpu_stats, vm->kvm_fd, vm->vcpu_fd, &serr);
		vm->have_stats = s1 == 0 && s2 == 0;
		if (!vm->have_stats) {
			if (s1 == 0)
				kvm_stats_close(&vm->vm_stats);
			snprintf(vm->stats_why, sizeof(vm->stats_why), "%s", serr.msg);
		}
	}
	if (page == PT_1G && !vm->has_1g) {
		rc = nb_skip(err, "1G guest pages: KVM does not offer the pdpe1gb CPUID bit to guests here");
		goto fail;
	}

	uint64_t root = 0, pool_next = 0;
	if (build_boot_tables(vm, &root, &pool_next, err) || setup_vcpu_state(vm, vm->vcpu_fd, 0, root, err))
		goto fail;
	for (unsigned i = 0; i < vm->naps; i++) {
		struct ap *a = &vm->ap[i];
		if ((a->fd = KVM_IOCTL(vm->vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)(i + 1), err)) < 0)
			goto fail;
		a->run = mmap(NULL, vm->run_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, 0);
		if (a->run == MAP_FAILED) {
			a->run = NULL;
			nb_fail(err, "vm: cannot map vCPU %u's kvm_run area: %s", i + 1, strerror(errno));
			goto fail;
		}
		if (setup_cpuid(vm, a->fd, err) || setup_vcpu_state(vm, a->fd, i + 1, root, err))
			goto fail;
	}
	vm->mbox = (struct nb_mailbox *)(void *)((unsigned char *)vm->sys.base + NB_MAILBOX_GPA);
	struct nb_boot *b = &vm->mbox->boot;
	b->version = NB_PROTOCOL_VERSION;
	b->sys_bytes = vm->sys.bytes;
	b->pt_pool_next = pool_next;
	b->pt_pool_end = vm->sys.bytes;
	b->boot_cr3 = root;
	b->region_gpa = NB_REGION_GPA;
	b->region_va = NB_REGION_VA;
	b->region_bytes = cfg->region_bytes;
	b->region_page_bytes = page;
	b->cpu_has_pcid = (uint64_t)vm->has_pcid;
	b->spaces = spaces;
	b->vcpus = 1 + vm->naps;
	b->magic = NB_BOOT_MAGIC;

	struct thread_start ts = {.vm = vm, .cpu = cfg->cpu};
	pthread_mutex_init(&ts.mu, NULL);
	pthread_cond_init(&ts.cv, NULL);
	if (pthread_create(&vm->thread, NULL, vcpu_thread_start, &ts)) {
		nb_fail(err, "vm: cannot start the vCPU thread");
		goto fail;
	}
	pthread_mutex_lock(&ts.mu);
	while (!ts.ready)
		pthread_cond_wait(&ts.cv, &ts.mu);
	pthread_mutex_unlock(&ts.mu);
	pthread_mutex_destroy(&ts.mu);
	pthread_cond_destroy(&ts.cv);
	if (ts.rc) {
		pthread_join(vm->thread, NULL);
		nb_fail(err, "vm: vCPU thread: %s", ts.err.msg);
		goto fail;
	}
	vm->thread_started = 1;

	/* Boot: the payload maps and verifies its region, reports, and syncs. */
	struct vm_reply reply;
	nb_error berr;
	double boot_timeout = cfg->boot_timeout_s > 0 ? cfg->boot_timeout_s : 10;
	if (vcpu_call(vm, 0, NULL, 0, boot_timeout, &reply, &berr)) {
		nb_fail(err, "vm: payload did not boot: %s", berr.msg);
		goto fail;
	}
	if (reply.done) {
		nb_fail(err, "vm: payload stopped during boot (status %llu): '%s'", (unsigned long long)reply.arg[0],
			vm->last_msg);
		goto fail;
	}
	vm->built_page_bytes = reply.arg[1];
	for (unsigned i = 0; i < vm->naps; i++)
		if (ap_start(&vm->ap[i], err))
			goto fail;
	*out = vm;
	return 0;

fail:
	vm_destroy(vm);
	return rc;
}

int vm_command_begin(struct vm *vm, uint32_t op, const uint64_t *args, size_t nargs, double timeout_s,
		     nb_error *err)
{
	if (op == 0 || op > NB_CMD_MAX)
		return nb_fail(err, "vm: unknown command %u", op);
	vcpu_call_begin(vm, op, args, nargs, timeout_s);
	return 0;
}

int vm_command(struct vm *vm, uint32_t op, const uint64_t *args, size_t nargs, double timeout_s,
	       struct vm_reply *reply, nb_error *err)
{
	if (vm_command_begin(vm, op, args, nargs, timeout_s, err))
		return -1;
	return vm_command_end(vm, reply, err);
}

int vm_command_end(struct vm *vm, struct vm_reply *reply, nb_error *err)
{
	struct vm_reply r;
	uint32_t op = vm->req.op;
	if (vcpu_call_end(vm, &r, err))
		return -1;
	if (r.done && op != NB_CMD_EXIT)
		return nb_fail(err, "vm: payload stopped (status %llu) instead of answering; last message: '%s'",
			       (unsigned long long)r.arg[0], vm->last_msg);
	if (!r.done && r.arg[0] != vm->seq)
		return nb_fail(err, "vm: payload answered command %llu with result %llu; last message: '%s'",
			       (unsigned long long)vm->seq, (unsigned long long)r.arg[0], vm->last_msg);
	if (reply)
		*reply = r;
	return 0;
}

void vm_set_turn_hook(struct vm *vm, vm_turn_fn fn, void *ctx)
{
	pthread_mutex_lock(&vm->mu);
	vm->turn_fn = fn;
	vm->turn_ctx = ctx;
	pthread_mutex_unlock(&vm->mu);
}

int vm_vcpu_status(const struct vm *vm, unsigned idx, struct nb_cpu_status *out)
{
	if (idx > vm->naps || !vm->mbox)
		return -1;
	memcpy(out, (const void *)&vm->mbox->cpu[idx], sizeof(*out));
	return 0;
}

int vm_vcpu_tid(const struct vm *vm)
{
	return vm->tid;
}

uint64_t vm_built_page_bytes(const struct vm *vm)
{
	return vm->built_page_bytes;
}

const char *const vm_kvm_exit_names[KVM_EXIT_STATS] = {"exits", "io_exits", "mmio_exits", "irq_exits",
							 "halt_exits"};

json_t *vm_kvm_json(const struct vm *vm)
{
	uint64_t host_khz = (uint64_t)(tsc_ticks_per_ns() * 1e6 + 0.5);
	json_t *o = json_pack("{s:I, s:s, s:I}", "region_slot_bytes", (json_int_t)vm->region_slot_bytes,
			      "guest_page_tables_on", "the system slot (4K host pages), not the region's backing",
			      "host_tsc_khz", (json_int_t)host_khz);
	json_object_set_new(o, "guest_tsc_khz", vm->tsc_khz ? json_integer(vm->tsc_khz) : json_null());
	if (!vm->have_stats) {
		json_object_set_new(o, "stats", json_pack("{s:b, s:s}", "available", 0, "reason", vm->stats_why));
		return o;
	}
	json_t *st = json_pack("{s:b}", "available", 1);
	json_object_set_new(st, "vm", kvm_stats_json(&vm->vm_stats, kvm_stats_vm_names));
	json_object_set_new(st, "vcpu", kvm_stats_json(&vm->vcpu_stats, kvm_stats_vcpu_names));
	json_object_set_new(o, "stats", st);
	return o;
}

int vm_kvm_pages(const struct vm *vm, uint64_t pages[3])
{
	if (!vm->have_stats)
		return -1;
	for (int i = 0; i < 3; i++)
		if (kvm_stats_get(&vm->vm_stats, kvm_stats_vm_names[i], &pages[i]))
			return -1;
	return 0;
}

uint32_t vm_guest_tsc_khz(const struct vm *vm)
{
	return vm->tsc_khz;
}

int vm_has_pcid(const struct vm *vm)
{
	return vm->has_pcid;
}

const char *vm_last_message(const struct vm *vm)
{
	return vm->last_msg;
}

int vm_inject_fault_if_asked(struct vm *vm, const char *kernel, nb_error *err)
{
	const char *want = getenv("NESTBENCH_INJECT_GUEST_FAULT");
	if (!want || strcmp(want, kernel))
		return 0;
	uint64_t args[] = {NB_FAULT_VA};
	if (vm_command(vm, NB_CMD_FAULT, args, 1, 10, NULL, err) == 0)
		return nb_fail(err, "vm: NESTBENCH_INJECT_GUEST_FAULT: the guest read 0x%llx without faulting",
			       (unsigned long long)NB_FAULT_VA);
	return -1;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	for (unsigned i = 0; i < vm->naps; i++)
		ap_stop(&vm->ap[i]);
	if (vm->thread_started) {
		pthread_mutex_lock(&vm->mu);
		vm->req.quit = 1;
		vm->req.pending = 1;
		pthread_cond_broadcast(&vm->cv);
		pthread_mutex_unlock(&vm->mu);
		pthread_join(vm->thread, NULL);
	}
	for (unsigned i = 0; i < vm->naps; i++) {
		if (vm->ap[i].run)
			munmap(vm->ap[i].run, vm->run_bytes);
		if (vm->ap[i].fd >= 0)
			close(vm->ap[i].fd);
	}
	pthread_mutex_destroy(&vm->ap_mu);
	if (vm->have_stats) {
		kvm_stats_close(&vm->vm_stats);
		kvm_stats_close(&vm->vcpu_stats);
	}
	if (vm->run)
		munmap(vm->run, vm->run_bytes);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->have_sys)
		buffer_free(&vm->sys);
	pthread_mutex_destroy(&vm->mu);
	pthread_cond_destroy(&vm->cv);
	free(vm);
}

/* Linked in from build/guest (see guest-payloads/guest.mk). */
extern const unsigned char nb_payload_start[], nb_payload_end[];

const void *vm_payload_image(size_t *bytes)
{
	*bytes = (size_t)(nb_payload_end - nb_payload_start);
	return nb_payload_start;
}
