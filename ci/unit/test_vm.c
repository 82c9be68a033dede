/* test_vm.c - the VMM and the guest payload: message parsing (including
 * misuse), a real boot per guest page size, the chase run in the guest and
 * checked against the host's own walk of the chain, the guest-kernel
 * services, and the failure paths: a spinning payload stopped by the
 * watchdog, a faulting one and a triple fault reported with their RIP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "harness/mem/backing.h"
#include "core/chase.h"
#include "guest-payloads/protocol.h"
#include "harness/vmm/vm.h"

#define MB (1024ull * 1024)

/* ---- message parsing ---- */

static unsigned char mem[64 * 1024];

static struct nb_msg *put_msg(uint64_t gpa, uint32_t type, const char *text)
{
	struct nb_msg m;
	memset(&m, 0, sizeof(m));
	m.magic = NB_MSG_MAGIC;
	m.type = type;
	m.text_len = (uint32_t)strlen(text);
	memcpy(m.text, text, m.text_len + 1);
	memcpy(mem + gpa, &m, sizeof(m));
	return (struct nb_msg *)(void *)(mem + gpa);
}

static void test_parse_good(void **state)
{
	(void)state;
	struct nb_msg out;
	nb_error err;
	put_msg(0x100, NB_MSG_PRINT, "hello");
	assert_int_equal(vm_parse_msg(mem, sizeof(mem), 0x100, &out, &err), 0);
	assert_int_equal(out.type, NB_MSG_PRINT);
	assert_string_equal(out.text, "hello");
}

static void test_parse_misuse(void **state)
{
	(void)state;
	struct nb_msg out;
	nb_error err;
	struct nb_msg *m = put_msg(0x200, NB_MSG_PRINT, "x");
	m->magic = 0x12345678;
	assert_int_equal(vm_parse_msg(mem, sizeof(mem), 0x200, &out, &err), -1);
	assert_non_null(strstr(err.msg, "bad magic"));

	m = put_msg(0x200, 99, "x");
	assert_int_equal(vm_parse_msg(mem, sizeof(mem), 0x200, &out, &err), -1);
	assert_non_null(strstr(err.msg, "unknown type"));

	/* Oversized: a length beyond the text buffer is rejected, not read. */
	m = put_msg(0x200, NB_MSG_PRINT, "x");
	m->text_len = 100000;
	assert_int_equal(vm_parse_msg(mem, sizeof(mem), 0x200, &out, &err), -1);
	assert_non_null(strstr(err.msg, "more than"));

	/* Length that does not match the NUL. */
	m = put_msg(0x200, NB_MSG_PRINT, "abc");
	m->text_len = 1;
	assert_int_equal(vm_parse_msg(mem, sizeof(mem), 0x200, &out, &err), -1);
	assert_non_null(strstr(err.msg, "NUL"));

	m = put_msg(0x200, NB_MSG_ABORT, "x");
	memset(m->file, 'a', sizeof(m->file));
	assert_int_equal(vm_parse_msg(mem, sizeof(mem), 0x200, &out, &err), -1);

	/* A message straddling or beyond the end of guest memory. */
	assert_int_equal(vm_parse_msg(mem, sizeof(mem), sizeof(mem) - 8, &out, &err), -1);
	assert_non_null(strstr(err.msg, "outside guest memory"));
	assert_int_equal(vm_parse_msg(mem, sizeof(mem), 0xffffffffu, &out, &err), -1);
}

static void test_exit_names(void **state)
{
	(void)state;
	assert_string_equal(vm_exit_name(2), "io");
	assert_non_null(strstr(vm_exit_name(8), "shutdown"));
	assert_string_equal(vm_exit_name(100000), "other");
}

/* ---- real VMs ---- */

struct fixture {
	struct buffer buf;
	struct vm *vm;
};

static int kvm_or_skip(void)
{
	nb_error err;
	if (vm_available(&err)) {
		print_message("skipped: %s\n", err.msg);
		return 0;
	}
	return 1;
}

static struct vm *boot(struct fixture *f, uint64_t page, size_t bytes, unsigned spaces)
{
	nb_error err;
	assert_int_equal(buffer_alloc(&f->buf, BACKING_4K, bytes, &err), 0);
	struct vm_config c = {
		.region = &f->buf, .region_bytes = bytes, .region_page_bytes = page, .spaces = spaces, .cpu = -1};
	int rc = vm_create(&f->vm, &c, &err);
	if (rc > 0) { /* cannot be had here (e.g. no 1G guest pages): say why */
		print_message("skipped: %s\n", err.msg);
		buffer_free(&f->buf);
		return NULL;
	}
	if (rc)
		fail_msg("vm_create: %s", err.msg);
	return f->vm;
}

static void finish(struct fixture *f)
{
	vm_destroy(f->vm);
	buffer_free(&f->buf);
}

/* The guest's chase must end where the host's walk of the same chain ends. */
static void chase_in_guest(uint64_t page, size_t bytes)
{
	struct fixture f;
	struct vm *vm = boot(&f, page, bytes, 1);
	if (!vm)
		skip();
	assert_int_equal(vm_built_page_bytes(vm), page);
	uint64_t elements = 256, stride = 4096, iters = 1000;
	assert_int_equal(chase_build(f.buf.base, NB_REGION_VA, elements, stride, 0, 7), 0);
	uint64_t start = NB_REGION_VA + chase_element_offset(0, stride);
	uint64_t p = start;
	for (uint64_t i = 0; i < iters; i++)
		p = *(uint64_t *)(void *)((char *)f.buf.base + (p - NB_REGION_VA));
	struct vm_reply r;
	nb_error err;
	uint64_t args[] = {start, iters};
	if (vm_command(vm, NB_CMD_CHASE, args, 2, 5, &r, &err))
		fail_msg("chase: %s", err.msg);
	assert_int_equal(r.arg[2], p);
	assert_true(r.arg[1] > 0);
	assert_true(r.host_ticks > 0);
	assert_int_equal(vm_command(vm, NB_CMD_EXIT, NULL, 0, 5, &r, &err), 0);
	assert_int_equal(r.done, 1);
	finish(&f);
}

static void test_boot_chase_4k(void **state)
{
	(void)state;
	if (!kvm_or_skip())
		skip();
	chase_in_guest(4096, 4 * MB);
}

static void test_boot_chase_2m(void **state)
{
	(void)state;
	if (!kvm_or_skip())
		skip();
	chase_in_guest(2 * MB, 4 * MB);
}

static void test_boot_chase_1g(void **state)
{
	(void)state;
	if (!kvm_or_skip())
		skip();
	chase_in_guest(1024 * MB, 1024 * MB);
}

static void test_services(void **state)
{
	(void)state;
	if (!kvm_or_skip())
		skip();
	struct fixture f;
	struct vm *vm = boot(&f, 4096, 4 * MB, 3);
	struct vm_reply r;
	nb_error err;
	uint64_t a1[] = {10};
	if (vm_command(vm, NB_CMD_SYSCALL, a1, 1, 5, &r, &err))
		fail_msg("syscall: %s", err.msg);
	assert_true(r.arg[2] > 0 && r.arg[2] <= r.arg[1]); /* kernel part of the total */

	uint64_t a2[] = {NB_REGION_VA + 16 * 4096, 8, 0};
	if (vm_command(vm, NB_CMD_TOUCH, a2, 3, 5, &r, &err))
		fail_msg("touch: %s", err.msg);
	assert_int_equal(r.arg[3], 8); /* one fault per page */

	uint64_t a3[] = {NB_REMAP_PROTECT, NB_REGION_VA, 4};
	if (vm_command(vm, NB_CMD_REMAP, a3, 3, 5, &r, &err))
		fail_msg("protect: %s", err.msg);
	uint64_t a4[] = {NB_REMAP_UNMAP, NB_REGION_VA, 4};
	if (vm_command(vm, NB_CMD_REMAP, a4, 3, 5, &r, &err))
		fail_msg("unmap: %s", err.msg);

	uint64_t a5[] = {6, 0, 4, 3};
	if (vm_command(vm, NB_CMD_CTXSW, a5, 4, 5, &r, &err))
		fail_msg("ctxsw: %s", err.msg);
	if (vm_has_pcid(vm)) {
		uint64_t a6[] = {6, 1, 4, 3};
		if (vm_command(vm, NB_CMD_CTXSW, a6, 4, 5, &r, &err))
			fail_msg("ctxsw pcid: %s", err.msg);
	}
	/* The region still reads through the original tables afterwards. */
	assert_int_equal(chase_build(f.buf.base, NB_REGION_VA, 64, 4096, 0, 1), 0);
	uint64_t a7[] = {NB_REGION_VA, 100};
	assert_int_equal(vm_command(vm, NB_CMD_CHASE, a7, 2, 5, &r, &err), 0);
	finish(&f);
}

/* The guest's SYSCALL entry keeps rdi, rsi, rdx, r8-r10 (they were lost
 * before, and protect and address-space switches failed on KVM with NPT). */
static void test_syscall_entry_preserves_registers(void **state)
{
	(void)state;
	if (!kvm_or_skip())
		skip();
	struct fixture f;
	struct vm *vm = boot(&f, 4096, 2 * MB, 1);
	struct vm_reply r;
	nb_error err;
	if (vm_command(vm, NB_CMD_REGS, NULL, 0, 5, &r, &err))
		fail_msg("regs: %s", err.msg);
	assert_int_equal(r.arg[1], 0); /* no register changed: bit i = rdi, rsi, rdx, r8, r9, r10 */
	print_message("# syscall entry ran with cs 0x%llx\n", (unsigned long long)r.arg[2]);
	finish(&f);
}

/* KVM's binary statistics of a real VM: after a chase over the region KVM
 * has mapped guest memory, and counted the exits the messages caused. */
static void test_kvm_stats_of_a_real_vm(void **state)
{
	(void)state;
	if (!kvm_or_skip())
		skip();
	struct fixture f;
	struct vm *vm = boot(&f, 4096, 2 * MB, 1);
	assert_int_equal(chase_build(f.buf.base, NB_REGION_VA, 256, 4096, 0, 1), 0);
	uint64_t a[] = {NB_REGION_VA, 1000};
	struct vm_reply r;
	nb_error err;
	assert_int_equal(vm_command(vm, NB_CMD_CHASE, a, 2, 5, &r, &err), 0);
	json_t *k = vm_kvm_json(vm);
	json_t *st = json_object_get(k, "stats");
	if (!json_is_true(json_object_get(st, "available"))) {
		print_message("skipped: %s\n", json_string_value(json_object_get(st, "reason")));
		json_decref(k);
		finish(&f);
		skip();
	}
	uint64_t pages[3];
	assert_int_equal(vm_kvm_pages(vm, pages), 0);
	assert_true(pages[0] + pages[1] + pages[2] > 0);
	/* At least the RESULT and SYNC messages of the command exited. */
	assert_true(r.kvm_counted);
	assert_true(r.kvm_exits[0] >= 2);
	assert_true(json_integer_value(json_object_get(json_object_get(st, "vcpu"), "exits")) >= 2);
	assert_int_equal(json_integer_value(json_object_get(k, "region_slot_bytes")), 2 * MB);
	json_decref(k);
	finish(&f);
}

/* The region's memory slot covers whole pages of its backing, so KVM can
 * map it huge: a 64K region on a 2M THP buffer gets a 2M slot. */
static void test_memslot_in_whole_backing_pages(void **state)
{
	(void)state;
	if (!kvm_or_skip())
		skip();
	nb_error err;
	if (backing_usable(BACKING_THP, 2 * MB, &err)) {
		print_message("skipped: %s\n", err.msg);
		skip();
	}
	struct fixture f;
	assert_int_equal(buffer_alloc(&f.buf, BACKING_THP, 2 * MB, &err), 0);
	struct vm_config c = {.region = &f.buf, .region_bytes = 64 << 10, .region_page_bytes = 4096, .spaces = 1, .cpu = -1};
	if (vm_create(&f.vm, &c, &err))
		fail_msg("vm_create: %s", err.msg);
	json_t *k = vm_kvm_json(f.vm);
	assert_int_equal(json_integer_value(json_object_get(k, "region_slot_bytes")), 2 * MB);
	json_decref(k);
	finish(&f);
}

/* The shootdown IPI is sent after MFENCE; LFENCE: the three instructions
 * together in the payload (0f ae f0, 0f ae e8, 0f 30). */
static void test_ipi_is_fenced(void **state)
{
	(void)state;
	static const unsigned char seq[] = {0x0f, 0xae, 0xf0, 0x0f, 0xae, 0xe8, 0x0f, 0x30};
	size_t n;
	const unsigned char *img = vm_payload_image(&n);
	int found = 0;
	for (size_t i = 0; i + sizeof(seq) <= n && !found; i++)
		found = !memcmp(img + i, seq, sizeof(seq));
	assert_true(found);
}

static void test_watchdog_stops_spin(void **state)
{
	(void)state;
	if (!kvm_or_skip())
		skip();
	struct fixture f;
	struct vm *vm = boot(&f, 4096, 2 * MB, 1);
	nb_error err;
	assert_int_equal(vm_command(vm, NB_CMD_SPIN, NULL, 0, 0.2, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "watchdog"));
	assert_non_null(strstr(err.msg, "rip 0x1"));
	/* The VM is dead now: the next command fails at once, it does not hang. */
	assert_int_equal(vm_command(vm, NB_CMD_EXIT, NULL, 0, 5, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "stopped"));
	finish(&f);
}

static void test_fault_reported(void **state)
{
	(void)state;
	if (!kvm_or_skip())
		skip();
	struct fixture f;
	struct vm *vm = boot(&f, 2 * MB, 2 * MB, 1);
	nb_error err;
	uint64_t a[] = {NB_FAULT_VA};
	assert_int_equal(vm_command(vm, NB_CMD_FAULT, a, 1, 5, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "page fault at cr2 0x10000000000"));
	assert_non_null(strstr(err.msg, "guest rip 0x1"));
	assert_non_null(strstr(err.msg, "kernel.c:"));
	finish(&f);
}

static void test_triple_fault_reported(void **state)
{
	(void)state;
	if (!kvm_or_skip())
		skip();
	struct fixture f;
	struct vm *vm = boot(&f, 4096, 2 * MB, 1);
	nb_error err;
	assert_int_equal(vm_command(vm, NB_CMD_TRIPLE, NULL, 0, 5, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "rip 0x"));
	print_message("triple fault: %s\n", err.msg);
	finish(&f);
}

static void test_bad_config(void **state)
{
	(void)state;
	struct vm *vm;
	nb_error err;
	struct buffer b = {.base = mem, .bytes = sizeof(mem)};
	struct vm_config c = {.region = &b, .region_bytes = 4096, .region_page_bytes = 8192, .cpu = -1};
	assert_int_equal(vm_create(&vm, &c, &err), -1);
	assert_null(vm);
	c.region_page_bytes = 2 * MB; /* region not a multiple of the page */
	assert_int_equal(vm_create(&vm, &c, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_misuse),
		cmocka_unit_test(test_exit_names),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_boot_chase_4k),
		cmocka_unit_test(test_boot_chase_2m),
		cmocka_unit_test(test_boot_chase_1g),
		cmocka_unit_test(test_services),
		cmocka_unit_test(test_syscall_entry_preserves_registers),
		cmocka_unit_test(test_ipi_is_fenced),
		cmocka_unit_test(test_kvm_stats_of_a_real_vm),
		cmocka_unit_test(test_memslot_in_whole_backing_pages),
		cmocka_unit_test(test_watchdog_stops_spin),
		cmocka_unit_test(test_fault_reported),
		cmocka_unit_test(test_triple_fault_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
