/* vm.c - the KVM VMM: a VM's descriptors, memory slots, boot and teardown, its accessors (see vm.h). */
#include "harness/vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/tsc.h"
#include "guest-payloads/guest_pt.h"
#include "harness/vmm/kvm_ioctl.h"
#include "harness/vmm/kvm_stats.h"
#include "harness/vmm/vcpu.h"
#include "harness/vmm/vcpu_ap.h"
#include "harness/vmm/vm_impl.h"
#include "harness/vmm/vm_watchdog.h"
#include "harness/vmm/x86_boot.h"

#define KVM_API 12

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

/* A memory slot: guest-physical [gpa, gpa + bytes) backed by host memory at host. */
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

int vm_guest_page_usable(uint64_t page_bytes, nb_error *err)
{
	if (page_bytes == PT_4K || page_bytes == PT_2M)
		return 0;
	if (page_bytes != PT_1G)
		return nb_fail(err, "guest page size %llu is not 4K, 2M or 1G", (unsigned long long)page_bytes);
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return nb_skip(err, "cannot open /dev/kvm: %s", strerror(errno));
	struct kvm_cpuid2 *c = x86_supported_cpuid(fd, err);
	close(fd);
	if (!c)
		return 1;
	int ok = x86_cpuid_has_1g(c);
	free(c);
	return ok ? 0 : nb_skip(err, "1G guest pages: KVM does not offer the pdpe1gb CPUID bit to guests here");
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
	uint64_t sys = NB_PT_POOL_GPA + x86_pt_pool_bytes(cfg->region_bytes, page, spaces);
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
	if (x86_setup_cpuid(vm->kvm_fd, vm->vcpu_fd, &vm->has_pcid, &vm->has_1g, err))
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
		if (vm->have_stats)
			kvm_stats_set_resolve(&vm->vcpu_stats, vm_kvm_exit_names, KVM_EXIT_STATS, &vm->exit_set);
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
	if (x86_build_boot_tables(vm->sys.base, vm->sys.bytes, &root, &pool_next, err) ||
	    x86_setup_vcpu_state(vm->vcpu_fd, 0, root, vm->has_pcid, err))
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
		if (x86_setup_cpuid(vm->kvm_fd, a->fd, &vm->has_pcid, &vm->has_1g, err) ||
		    x86_setup_vcpu_state(a->fd, i + 1, root, vm->has_pcid, err))
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
