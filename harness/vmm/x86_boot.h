/* x86_boot.h - the x86 side of the VMM: what a vCPU needs to start in the payload.
 *
 * As KVM selftests keep lib/x86/processor.c apart from kvm_util.c, the VM
 * library (vm.c, vcpu.c) knows descriptors, memory slots and the exit loop;
 * this module knows x86: the guest's CPUID (what KVM supports, so PCID and
 * 1G pages show), 64-bit long mode (CR0/CR4/EFER, flat segments, the entry
 * registers of vCPU idx, INIT/SIPI skipped for the vCPUs after the first)
 * and the boot page tables (built with guest-payloads/guest_pt.c).
 */
#ifndef NESTBENCH_X86_BOOT_H
#define NESTBENCH_X86_BOOT_H

#include <stdint.h>

#include "core/util.h"

struct kvm_cpuid2;

/* KVM's supported CPUID (caller frees), or NULL with err set. */
struct kvm_cpuid2 *x86_supported_cpuid(int kvm_fd, nb_error *err);
/* Does it offer 1G pages (CPUID 0x80000001 EDX pdpe1gb)? */
int x86_cpuid_has_1g(const struct kvm_cpuid2 *c);

/* Give the vCPU the CPUID KVM supports (it has none by default, and 1G
 * pages and PCID need their CPUID bits); *has_pcid (when KVM lists leaf 1)
 * and *has_1g say what the guest is offered.  0, or -1 with err. */
int x86_setup_cpuid(int kvm_fd, int vcpu_fd, int *has_pcid, int *has_1g, nb_error *err);

/* 64-bit long mode at the payload's entry: CR3 = cr3, CR4.PCIDE when pcid,
 * vCPU idx's kernel stack, RDI = idx; vCPUs after the first made runnable.
 * 0, or -1 with err. */
int x86_setup_vcpu_state(int vcpu_fd, unsigned idx, uint64_t cr3, int pcid, nb_error *err);

/* The boot address space in the system slot (host view sys_mem, sys_bytes
 * long): identity-mapped, page 0 left out so that a NULL dereference in the
 * payload faults, tables from the pool at NB_PT_POOL_GPA.  Sets the root
 * (CR3) and the pool's next free guest-physical address.  0, or -1 with err. */
int x86_build_boot_tables(void *sys_mem, uint64_t sys_bytes, uint64_t *root, uint64_t *pool_next, nb_error *err);

/* Page-table pool for the region: one PTE per 4K page, a PDE per 2M page,
 * per address space, plus room for the services' tables. */
uint64_t x86_pt_pool_bytes(uint64_t region_bytes, uint64_t page_bytes, unsigned spaces);

#endif
