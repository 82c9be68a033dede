/* vm_msg.c - what the guest and KVM say: payload messages and exit reasons (see vm.h). */
#include "harness/vmm/vm.h"

#include <linux/kvm.h>
#include <string.h>

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
