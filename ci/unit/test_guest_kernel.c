/* test_guest_kernel.c - the guest-kernel kernels and vm-lifecycle are table
 * kernels (one VM path): in the table with KERNEL_HAS_GUEST and in every
 * suite; skipped natively with the reason; in a micro-VM where /dev/kvm
 * works they run their guest commands, as many operations as asked, and
 * record KVM's facts.  The chase's guest version is a descriptor hook, with
 * the strides the native kernels use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ci/unit/kernel_run.h"
#include "core/chase.h"
#include "harness/run/suite.h"
#include "harness/vmm/vm.h"

static const char *const guest_only[] = {"guest-syscall", "guest-fault", "guest-protect", "guest-unmap",
					 "guest-ctxsw", "guest-ctxsw-pcid", "vm-lifecycle"};

static int kvm_ok(void)
{
	nb_error err;
	if (vm_available(&err)) {
		print_message("# no kvm here: %s\n", err.msg);
		return 0;
	}
	return 1;
}

static void test_table_and_suites(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(guest_only) / sizeof(guest_only[0]); i++) {
		const struct kernel_desc *k = kernel_find(guest_only[i]);
		assert_non_null(k);
		assert_true(k->flags & KERNEL_HAS_GUEST);
		assert_false(k->flags & KERNEL_SWEEPS_WS);
		assert_null(k->guest_chase_stride); /* their own VMs, not run_vm.c's */
		assert_string_equal(k->family, strcmp(k->name, "vm-lifecycle") ? "guest-kernel" : "vm");
	}
	/* Every suite measures every table kernel, these included. */
	for (size_t s = 0; s < suites_len; s++)
		for (size_t i = 0; i < kernel_table_len; i++) {
			int found = 0;
			for (const char *const *n = suites[s].kernels; *n; n++)
				found |= !strcmp(*n, kernel_table[i]->name);
			if (!found)
				fail_msg("suite %s lacks kernel %s", suites[s].name, kernel_table[i]->name);
		}
	/* The figures' regions in smoke: what the VMs over the chase sweep had. */
	const struct kernel_sizes *z = suite_kernel_sizes(suite_find("smoke"), "guest-fault");
	assert_non_null(z);
	assert_int_equal(z->bytes[0], suite_find("smoke")->ws_max);
}

static void test_chase_guest_hook(void **state)
{
	(void)state;
	struct kernel_options opt = {0};
	const struct kernel_desc *chase = kernel_find("chase"), *ctl = kernel_find("chase-ctl");
	assert_non_null(chase->guest_chase_stride);
	assert_non_null(ctl->guest_chase_stride);
	assert_int_equal(chase->guest_chase_stride(&opt), 4096);
	assert_int_equal(ctl->guest_chase_stride(&opt), CHASE_LINE_BYTES);
	opt.stride_bytes = 8192;
	assert_int_equal(chase->guest_chase_stride(&opt), 8192);
	/* Only the chase kernels have that guest version. */
	for (size_t i = 0; i < kernel_table_len; i++)
		if (kernel_table[i]->guest_chase_stride)
			assert_true(kernel_table[i] == chase || kernel_table[i] == ctl);
}

static void test_native_side_skipped(void **state)
{
	(void)state;
	struct kernel_options opt = {0};
	for (size_t i = 0; i < sizeof(guest_only) / sizeof(guest_only[0]); i++) {
		struct krun r;
		assert_int_equal(krun(guest_only[i], BACKING_4K, 16u << 20, &opt, 1, 1, &r), 1);
		assert_non_null(strstr(r.err.msg, "no native counterpart"));
		krun_free(&r);
	}
}

static void test_guest_fault_in_vm(void **state)
{
	(void)state;
	if (!kvm_ok())
		skip();
	struct kernel_options opt = {.in_vm = 1, .guest_page_bytes = 4096};
	struct krun r;
	/* 100 faults a sample: a command of 64 (the region's cap) and one of 36. */
	assert_int_equal(krun("guest-fault", BACKING_4K, 16u << 20, &opt, 100, 2, &r), 0);
	assert_int_equal(json_integer_value(json_object_get(r.params, "ops_per_sample")), 64);
	assert_true(json_real_value(json_object_get(r.params, "guest_kernel_ns_per_op")) > 0);
	assert_true(json_is_object(r.kvm));
	assert_non_null(json_object_get(r.kvm, "stats"));
	assert_string_equal(json_string_value(json_object_get(r.backing, "requested")), "4k");
	assert_false(krun_flagged(&r, "smaller pages")); /* 4K backing: nothing smaller to map with */
	krun_free(&r);
}

static void test_vm_lifecycle_in_vm(void **state)
{
	(void)state;
	if (!kvm_ok())
		skip();
	struct kernel_options opt = {.in_vm = 1, .guest_page_bytes = 4096};
	struct krun r;
	assert_int_equal(krun("vm-lifecycle", BACKING_4K, 1u << 20, &opt, 1, 2, &r), 0);
	assert_int_equal(json_integer_value(json_object_get(r.params, "region_bytes")), 1u << 20);
	assert_true(json_real_value(json_object_get(r.params, "first_create_boot_ns")) > 0);
	assert_true(json_real_value(json_object_get(r.params, "first_destroy_ns")) > 0);
	krun_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_and_suites),
		cmocka_unit_test(test_chase_guest_hook),
		cmocka_unit_test(test_native_side_skipped),
		cmocka_unit_test(test_guest_fault_in_vm),
		cmocka_unit_test(test_vm_lifecycle_in_vm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
