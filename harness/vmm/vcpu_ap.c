/* vcpu_ap.c - the vCPUs after the first (see vcpu_ap.h). */
#include "harness/vmm/vcpu_ap.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "harness/host/topology.h"
#include "harness/vmm/vm_watchdog.h"

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

int ap_start(struct ap *a, nb_error *err)
{
	if (pthread_create(&a->thread, NULL, ap_thread, a))
		return nb_fail(err, "vm: cannot start the thread of vCPU %u", a->idx);
	a->started = 1;
	return 0;
}

/* immediate_exit first, then the signal: KVM_RUN returns whichever it is in. */
void ap_stop(struct ap *a)
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
