/* test_hwassist.c - the hardware-assist kernels (vmexit, vmswitch,
 * guest-shootdown) run for real in micro-VMs where /dev/kvm works: every
 * exit the guest claims reached the VMM, the VMs took the turns claimed
 * (counted by each guest and each VMM), every shootdown reached every other
 * vCPU; and the failure paths: a vCPU that masks interrupts (the IPI never
 * arrives) and a vCPU that never starts are named with where they were,
 * with no thread left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>
#include <unistd.h>

#include "core/childguard.h"
#include "bench/hwvm.h"
#include "ci/unit/kernel_run.h"
#include "guest-payloads/protocol.h"
#include "harness/host/topology.h"
#include "core/tsc.h"
#include "harness/vmm/vm.h"

static int kvm_ok(void)
{
	nb_error err;
	if (vm_available(&err)) {
		print_message("# no kvm here: %s\n", err.msg);
		return 0;
	}
	return 1;
}

static int threads_now(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static json_int_t jint(const json_t *o, const char *a, const char *b)
{
	return json_integer_value(json_object_get(json_object_get(o, a), b));
}

static void test_vmexit_counts_every_exit(void **state)
{
	(void)state;
	if (!kvm_ok())
		skip();
	static const char *const exits[] = {"pio", "mmio"};
	for (size_t i = 0; i < 2; i++) {
		struct kernel_options opt = {.variant = exits[i], .in_vm = 1, .guest_page_bytes = 4096};
		struct krun r;
		assert_int_equal(krun("vmexit", BACKING_4K, 0, &opt, 32, 2, &r), 0);
		/* warm-up + 2 samples of 32, plus the pio kernel's NOP baseline (no exits) */
		assert_int_equal(jint(r.params, "host_share", "bench_exits"), 3 * 32);
		assert_int_equal(jint(r.params, "host_share", "ops"), 3 * 32);
		assert_string_equal(json_string_value(json_object_get(r.params, "exit")), exits[i]);
		assert_non_null(json_object_get(json_object_get(r.params, "guest_pmu"), "available"));
		assert_false(krun_flagged(&r, "contradict"));
		krun_free(&r);
	}
	struct kernel_options opt = {.variant = "syscall", .in_vm = 1, .guest_page_bytes = 4096};
	struct krun r;
	assert_int_equal(krun("vmexit", BACKING_4K, 0, &opt, 16, 2, &r), 0);
	/* The guest's own system call reaches the VMM no more than messages do. */
	assert_int_equal(jint(r.params, "host_share", "bench_exits"), 0);
	krun_free(&r);
}

static void test_vmexit_native_side(void **state)
{
	(void)state;
	struct kernel_options opt = {.variant = "syscall"};
	struct krun r;
	assert_int_equal(krun("vmexit", BACKING_4K, 0, &opt, 100, 2, &r), 0);
	krun_free(&r);
	opt.variant = "pio";
	assert_int_equal(krun("vmexit", BACKING_4K, 0, &opt, 100, 2, &r), 1);
	assert_non_null(strstr(r.err.msg, "no native counterpart"));
	krun_free(&r);
}

/* Guest PMU of n VMs: each either unavailable with a reason, or available
 * with some hardware event that counted (never zeros presented as counts). */
static void assert_guest_pmu_honest(const json_t *gp, size_t n)
{
	assert_int_equal(json_array_size(gp), n);
	for (size_t i = 0; i < n; i++) {
		const json_t *s = json_array_get(gp, i);
		if (!json_is_true(json_object_get(s, "available"))) {
			assert_non_null(json_string_value(json_object_get(s, "reason")));
			continue;
		}
		json_int_t total = 0;
		size_t j;
		json_t *ev;
		json_array_foreach(json_object_get(s, "events"), j, ev)
			if (!strcmp(json_string_value(json_object_get(ev, "kind")), "hardware"))
				total += json_integer_value(json_object_get(ev, "count"));
		assert_true(total > 0);
	}
}

static void test_vmswitch_turns_agree(void **state)
{
	(void)state;
	if (!kvm_ok())
		skip();
	int before = threads_now();
	struct kernel_options opt = {.variant = "vm", .in_vm = 1, .guest_page_bytes = 4096};
	struct krun r;
	assert_int_equal(krun("vmswitch", BACKING_4K, 64 << 10, &opt, 8, 2, &r), 0);
	const json_t *t = json_object_get(r.params, "turns");
	const json_t *g = json_object_get(t, "turns_counted_by_guest"), *h = json_object_get(t, "turns_counted_by_vmm");
	assert_int_equal(json_array_size(g), 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(json_integer_value(json_array_get(g, i)), 3 * 8);
		assert_int_equal(json_integer_value(json_array_get(h, i)), 3 * 8);
	}
	assert_non_null(json_object_get(json_object_get(r.params, "tlb_tagging"), "verdict"));
	/* Two host processes: this one and a child, reaped by teardown. */
	const json_t *pids = json_object_get(r.params, "pids");
	assert_int_equal(json_array_size(pids), 2);
	assert_int_equal(json_integer_value(json_array_get(pids, 0)), getpid());
	assert_true(json_integer_value(json_array_get(pids, 1)) > 0);
	assert_int_not_equal(json_integer_value(json_array_get(pids, 0)), json_integer_value(json_array_get(pids, 1)));
	assert_int_equal(childguard_count(), 0);
	assert_int_equal(kill((pid_t)json_integer_value(json_array_get(pids, 1)), 0), -1);
	/* The measured tagging: numbers from both sides and a verdict (never
	 * checked against a threshold: timing). */
	const json_t *m = json_object_get(json_object_get(r.params, "tlb_tagging"), "measured");
	assert_true(json_real_value(json_object_get(m, "after_switch_ns_per_pass")) > 0);
	assert_true(json_real_value(json_object_get(m, "same_vm_ns_per_pass")) > 0);
	assert_true(json_real_value(json_object_get(m, "ratio")) > 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "probe"), "pages")), 16);
	assert_int_equal(json_integer_value(json_object_get(m, "passes_after_switch")), 3 * 8);
	const char *v = json_string_value(json_object_get(m, "verdict"));
	assert_non_null(v);
	assert_true(!strcmp(v, "tagged") || !strcmp(v, "not tagged") || !strcmp(v, "inconclusive"));
	assert_guest_pmu_honest(json_object_get(r.params, "guest_pmu"), 2);
	krun_free(&r);

	/* --no-pmu: no session is opened for either VM, and each says so. */
	opt.no_pmu = 1;
	assert_int_equal(krun("vmswitch", BACKING_4K, 64 << 10, &opt, 4, 1, &r), 0);
	const json_t *gp = json_object_get(r.params, "guest_pmu");
	assert_int_equal(json_array_size(gp), 2);
	for (size_t i = 0; i < 2; i++)
		assert_string_equal(json_string_value(json_object_get(json_array_get(gp, i), "reason")),
				    "not opened: --no-pmu");
	krun_free(&r);
	opt.no_pmu = 0;

	opt.variant = "address-space";
	assert_int_equal(krun("vmswitch", BACKING_4K, 64 << 10, &opt, 8, 2, &r), 0);
	t = json_object_get(r.params, "turns");
	assert_int_equal(json_integer_value(json_array_get(json_object_get(t, "switches_counted_by_guest"), 0)), 3 * 16);
	krun_free(&r);
	assert_int_equal(threads_now(), before);
}

/* The process serving vm 1 dies in the middle of a run: the sample fails at
 * once with what happened to it, and nothing is left behind. */
static void test_vmswitch_child_dies(void **state)
{
	(void)state;
	if (!kvm_ok())
		skip();
	int before = threads_now();
	const struct kernel_desc *k = kernel_find("vmswitch");
	struct kernel_options opt = {.variant = "vm", .in_vm = 1, .guest_page_bytes = 4096};
	struct kernel_ctx ctx = {
		.desc = k, .backing = BACKING_4K, .working_set_bytes = 64 << 10, .cpu = topology_default_measure_pu(),
		.opt = &opt, .params = json_object(), .flags = json_array(),
	};
	nb_error err;
	assert_int_equal(k->setup(&ctx, &err), 0);
	pid_t child = (pid_t)json_integer_value(json_array_get(json_object_get(ctx.params, "pids"), 1));
	assert_true(child > 0);
	assert_int_equal(kill(child, SIGKILL), 0);
	uint64_t ticks;
	double t0 = (double)tsc_begin() / tsc_ticks_per_ns();
	assert_int_equal(k->sample(&ctx, 4, &ticks, &err), -1);
	double took_s = ((double)tsc_end() / tsc_ticks_per_ns() - t0) * 1e-9;
	print_message("# %s (%.2f s)\n", err.msg, took_s);
	assert_non_null(strstr(err.msg, "vm 1 (child process)"));
	assert_non_null(strstr(err.msg, "killed by signal 9"));
	assert_true(took_s < 5); /* not the 10 s turn timeout: vm 0 was told */
	k->teardown(&ctx);
	json_decref(ctx.params);
	json_decref(ctx.flags);
	json_decref(ctx.backing_json);
	assert_int_equal(childguard_count(), 0);
	assert_int_equal(threads_now(), before);
}

static void test_tlb_tagging_verdict(void **state)
{
	(void)state;
	json_t *j = hwvm_tlb_tagging_json();
	const char *v = json_string_value(json_object_get(j, "verdict"));
	assert_non_null(v);
	assert_true(!strcmp(v, "tagged") || !strcmp(v, "not tagged") || !strcmp(v, "unknown"));
	assert_non_null(json_string_value(json_object_get(j, "why")));
	json_decref(j);
}

static int two_pus(void)
{
	nb_error err;
	if (topology_init(&err))
		return 0;
	if (topology_pu_count() < 2) {
		print_message("# one PU: no second vCPU\n");
		return 0;
	}
	return 1;
}

static void test_guest_shootdown_reaches_every_vcpu(void **state)
{
	(void)state;
	if (!kvm_ok() || !two_pus())
		skip();
	struct kernel_options opt = {.threads = 2, .in_vm = 1, .guest_page_bytes = 4096};
	struct krun r;
	assert_int_equal(krun("guest-shootdown", BACKING_4K, 1 << 20, &opt, 4, 2, &r), 0);
	const json_t *sd = json_object_get(r.params, "shootdowns");
	assert_int_equal(json_integer_value(json_object_get(sd, "sent")), 3 * 4);
	assert_int_equal(json_integer_value(json_object_get(sd, "acknowledged")), 3 * 4);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(sd, "ipis_handled_per_vcpu"), 1)), 3 * 4);
	krun_free(&r);
	/* More vCPUs than the payload serves: a skip with the reason. */
	opt.threads = NB_MAX_VCPUS + 1;
	assert_int_equal(krun("guest-shootdown", BACKING_4K, 1 << 20, &opt, 4, 2, &r), 1);
	assert_non_null(strstr(r.err.msg, "vCPUs"));
	krun_free(&r);
}

/* Two vCPUs, the second pinned where asked (-1: anywhere). */
static int boot2(struct vm **vm, struct buffer *buf, const int *ap_cpus, nb_error *err)
{
	if (buffer_alloc(buf, BACKING_4K, 1 << 20, err))
		return -1;
	struct vm_config vc = {.region = buf, .region_bytes = 1 << 20, .region_page_bytes = 4096, .vcpus = 2,
			       .ap_cpus = ap_cpus, .cpu = -1};
	return vm_create(vm, &vc, err);
}

static void test_ipi_never_arrives(void **state)
{
	(void)state;
	if (!kvm_ok() || !two_pus())
		skip();
	int before = threads_now();
	struct buffer buf;
	struct vm *vm;
	nb_error err;
	int cpus[] = {1};
	assert_int_equal(boot2(&vm, &buf, cpus, &err), 0);
	/* The other vCPU masks interrupts in its kernel: no acknowledgement. */
	uint64_t args[] = {1, 1, (uint64_t)(0.3e9 * tsc_ticks_per_ns())};
	struct vm_reply rep;
	assert_int_equal(vm_command(vm, NB_CMD_SHOOT, args, 3, 30, &rep, &err), -1);
	print_message("# %s\n", err.msg);
	assert_non_null(strstr(err.msg, "vcpu 1 never acknowledged shootdown 1"));
	assert_non_null(strstr(err.msg, "interrupts masked"));
	vm_destroy(vm);
	buffer_free(&buf);
	assert_int_equal(threads_now(), before);
}

static void test_vcpu_never_reaches_barrier(void **state)
{
	(void)state;
	if (!kvm_ok())
		skip();
	int before = threads_now();
	struct buffer buf;
	struct vm *vm;
	nb_error err;
	int cpus[] = {100000}; /* no such PU: the vCPU's thread cannot start it */
	assert_int_equal(boot2(&vm, &buf, cpus, &err), 0);
	uint64_t args[] = {1, 0, (uint64_t)(0.3e9 * tsc_ticks_per_ns())};
	struct vm_reply rep;
	assert_int_equal(vm_command(vm, NB_CMD_SHOOT, args, 3, 30, &rep, &err), -1);
	print_message("# %s\n", err.msg);
	assert_non_null(strstr(err.msg, "vcpu 1 never reached the barrier: it is not started"));
	assert_non_null(strstr(err.msg, "vcpu 1: not started"));
	vm_destroy(vm);
	buffer_free(&buf);
	assert_int_equal(threads_now(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vmexit_counts_every_exit),
		cmocka_unit_test(test_vmexit_native_side),
		cmocka_unit_test(test_vmswitch_turns_agree),
		cmocka_unit_test(test_vmswitch_child_dies),
		cmocka_unit_test(test_tlb_tagging_verdict),
		cmocka_unit_test(test_guest_shootdown_reaches_every_vcpu),
		cmocka_unit_test(test_ipi_never_arrives),
		cmocka_unit_test(test_vcpu_never_reaches_barrier),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
