/* vcpu.c - the first vCPU: its thread, the exit loop and the commands it serves (see vcpu.h). */
#include "harness/vmm/vcpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/tsc.h"
#include "harness/host/topology.h"
#include "harness/vmm/kvm_ioctl.h"
#include "harness/vmm/vm_watchdog.h"

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
	return vm->have_stats && kvm_stats_set_read(&vm->vcpu_stats, &vm->exit_set, v) == 0;
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
			long pre = topology_self_preemptions();
			rc = run_until_sync(vm, req.timeout_s, &reply, &err);
			long post = topology_self_preemptions();
			reply.preempted = pre >= 0 && post >= 0 ? post - pre : -1;
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

void vcpu_call_begin(struct vm *vm, uint32_t op, const uint64_t *args, size_t nargs, double timeout_s)
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

int vcpu_call_end(struct vm *vm, struct vm_reply *reply, nb_error *err)
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

int vcpu_call(struct vm *vm, uint32_t op, const uint64_t *args, size_t nargs, double timeout_s,
	      struct vm_reply *reply, nb_error *err)
{
	vcpu_call_begin(vm, op, args, nargs, timeout_s);
	return vcpu_call_end(vm, reply, err);
}

void *vcpu_thread_start(void *arg)
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
