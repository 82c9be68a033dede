/* x86_boot.c - the x86 boot state of a vCPU (see x86_boot.h). */
#include "harness/vmm/x86_boot.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "guest-payloads/guest_pt.h"
#include "guest-payloads/protocol.h"
#include "harness/vmm/kvm_ioctl.h"

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

struct kvm_cpuid2 *x86_supported_cpuid(int kvm_fd, nb_error *err)
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

int x86_cpuid_has_1g(const struct kvm_cpuid2 *c)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0x80000001)
			return !!(c->entries[i].edx & CPUID_81_EDX_PDPE1GB);
	return 0;
}

int x86_setup_cpuid(int kvm_fd, int vcpu_fd, int *has_pcid, int *has_1g, nb_error *err)
{
	struct kvm_cpuid2 *c = x86_supported_cpuid(kvm_fd, err);
	if (!c)
		return -1;
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			*has_pcid = !!(c->entries[i].ecx & CPUID_1_ECX_PCID);
	*has_1g = x86_cpuid_has_1g(c);
	int rc = KVM_IOCTL(vcpu_fd, KVM_SET_CPUID2, c, err) < 0 ? -1 : 0;
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

int x86_setup_vcpu_state(int fd, unsigned idx, uint64_t cr3, int pcid, nb_error *err)
{
	struct kvm_sregs s;
	if (KVM_IOCTL(fd, KVM_GET_SREGS, &s, err) < 0)
		return -1;
	s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (pcid ? CR4_PCIDE : 0);
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

int x86_build_boot_tables(void *sys_mem, uint64_t sys, uint64_t *root, uint64_t *pool_next, nb_error *err)
{
	struct pt_pool pool;
	struct pt_space sp;
	unsigned char *mem = sys_mem;
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

uint64_t x86_pt_pool_bytes(uint64_t region_bytes, uint64_t page_bytes, unsigned spaces)
{
	uint64_t pages = region_bytes / page_bytes;
	uint64_t per_space = (pages / 512 + 4) * PT_4K + (page_bytes == PT_4K ? region_bytes / PT_2M * PT_4K : 0);
	return (uint64_t)spaces * per_space + (256u << 10);
}
