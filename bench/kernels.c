/* kernels.c - the one table of kernels (list, run and suites all read it). */
#include <string.h>

#include "core/kernel.h"

extern const struct kernel_desc kernel_chase, kernel_chase_ctl;
extern const struct kernel_desc kernel_fault, kernel_mmap_munmap, kernel_mprotect, kernel_madvise_dontneed,
	kernel_fork, kernel_fork_cow, kernel_shootdown;
extern const struct kernel_desc kernel_pipe_proc, kernel_pipe_thread, kernel_yield;
extern const struct kernel_desc kernel_vmexit, kernel_vmswitch, kernel_guest_shootdown;
extern const struct kernel_desc kernel_guest_syscall, kernel_guest_fault, kernel_guest_protect, kernel_guest_unmap,
	kernel_guest_ctxsw, kernel_guest_ctxsw_pcid, kernel_vm_lifecycle;

const struct kernel_desc *const kernel_table[] = {
	&kernel_chase,
	&kernel_chase_ctl,
	&kernel_fault,
	&kernel_mmap_munmap,
	&kernel_mprotect,
	&kernel_madvise_dontneed,
	&kernel_fork,
	&kernel_fork_cow,
	&kernel_shootdown,
	&kernel_pipe_proc,
	&kernel_pipe_thread,
	&kernel_yield,
	&kernel_vmexit,
	&kernel_vmswitch,
	&kernel_guest_shootdown,
	&kernel_guest_syscall,
	&kernel_guest_fault,
	&kernel_guest_protect,
	&kernel_guest_unmap,
	&kernel_guest_ctxsw,
	&kernel_guest_ctxsw_pcid,
	&kernel_vm_lifecycle,
};
const size_t kernel_table_len = ARRAY_SIZE(kernel_table);

const struct kernel_desc *kernel_find(const char *name)
{
	for (size_t i = 0; i < kernel_table_len; i++)
		if (!strcmp(kernel_table[i]->name, name))
			return kernel_table[i];
	return NULL;
}

static const char *const placement_names[KERNEL_PLACEMENT_COUNT] = {"same-pu", "cross-pu"};

const char *kernel_placement_name(enum kernel_placement p)
{
	return (unsigned)p < KERNEL_PLACEMENT_COUNT ? placement_names[p] : "unknown";
}

int kernel_placement_parse(const char *name, enum kernel_placement *out, nb_error *err)
{
	for (unsigned i = 0; i < KERNEL_PLACEMENT_COUNT; i++)
		if (!strcmp(name, placement_names[i])) {
			*out = (enum kernel_placement)i;
			return 0;
		}
	return nb_fail(err, "unknown placement '%s' (valid: same-pu, cross-pu)", name);
}
