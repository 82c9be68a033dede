/* kernel.c - the payload's kernel half (CPL0): descriptor tables, system
 * calls and the page-fault handler.
 *
 * Nothing measured runs here.  Under PVM every guest-kernel instruction is
 * emulated, so each path is as short as it can be and its cost is
 * accumulated in gsys.kernel_ticks, reported as a separate figure.
 */
#include "gsys.h"

/* Flat 64-bit segments: kernel code/data, user data/code (the order
 * SYSCALL/SYSRET's STAR layout expects), then the TSS. */
static uint64_t gdt[7] = {
	0,
	0x00af9b000000ffffull, /* 0x08 kernel code, L=1 */
	0x00cf93000000ffffull, /* 0x10 kernel data */
	0x00cff3000000ffffull, /* 0x18 user data, DPL 3 */
	0x00affb000000ffffull, /* 0x20 user code, DPL 3, L=1 */
	0, 0,                  /* 0x28 TSS (filled at boot) */
};

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

static struct tss tss;

struct idt_gate {
	uint64_t lo, hi;
};
static struct idt_gate idt[32];

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

struct trap_frame {
	uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

extern const uint64_t trap_stubs[32];
extern char syscall_entry[];

void kinit(void);
uint64_t ksyscall(uint64_t a, uint64_t b, uint64_t c, uint64_t nr);
void ktrap(struct trap_frame *f);

#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_FMASK 0xc0000084u
#define RFLAGS_TF 0x100u
#define RFLAGS_IF 0x200u
#define RFLAGS_DF 0x400u
#define RFLAGS_AC 0x40000u

/* Plain RDTSC: KVM's instruction emulator (which runs every guest-kernel
 * instruction under PVM) does not know RDTSCP; kernel figures are
 * approximate by nature anyway. */
static inline uint64_t krdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

void kinit(void)
{
	gsys.mbox = (struct nb_mailbox *)(uintptr_t)NB_MAILBOX_GPA;
	const struct nb_boot *b = &gsys.mbox->boot;
	if (b->magic != NB_BOOT_MAGIC || b->version != NB_PROTOCOL_VERSION)
		GSYS_ABORT("bad boot block (magic %x, version %u)", (uint64_t)b->magic, (uint64_t)b->version);

	uint64_t t = (uint64_t)(uintptr_t)&tss;
	tss.rsp[0] = NB_KSTACK_TOP;
	tss.iomap_base = sizeof(tss); /* no I/O bitmap: CPL3 rings the MMIO doorbell */
	gdt[5] = (sizeof(tss) - 1) | ((t & 0xffffff) << 16) | (0x89ull << 40) | (((t >> 24) & 0xff) << 56);
	gdt[6] = t >> 32;
	for (unsigned v = 0; v < 32; v++) {
		uint64_t h = trap_stubs[v];
		idt[v].lo = (h & 0xffff) | ((uint64_t)NB_SEL_KCODE << 16) | (0x8eull << 40) | (((h >> 16) & 0xffff) << 48);
		idt[v].hi = h >> 32;
	}
	struct desc_ptr g = {sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt};
	struct desc_ptr i = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
	__asm__ volatile("lgdt %0\n\t"
			 "lidt %1\n\t"
			 "pushq %2\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movw %w3, %%ax\n\t"
			 "movw %%ax, %%ds\n\t"
			 "movw %%ax, %%es\n\t"
			 "movw %%ax, %%ss\n\t"
			 "ltr %w4"
			 :
			 : "m"(g), "m"(i), "i"(NB_SEL_KCODE), "r"(NB_SEL_KDATA), "r"(NB_SEL_TSS)
			 : "rax", "memory");
	wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)syscall_entry);
	wrmsr(MSR_STAR, ((uint64_t)(NB_SEL_KDATA | 3) << 48) | ((uint64_t)NB_SEL_KCODE << 32));
	wrmsr(MSR_FMASK, RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_AC);

	if (pt_pool_init(&gsys.pool, (void *)(uintptr_t)NB_PT_POOL_GPA, NB_PT_POOL_GPA,
			 b->pt_pool_end - NB_PT_POOL_GPA, b->pt_pool_next - NB_PT_POOL_GPA))
		GSYS_ABORT("bad page-table pool in the boot block");
	pt_space_adopt(&gsys.space[0], &gsys.pool, b->boot_cr3);
	gsys.nspaces = 1;
	gsys.page_bytes = b->region_page_bytes;
}

static uint64_t region_pa(uint64_t va)
{
	return gsys.mbox->boot.region_gpa + (va - gsys.mbox->boot.region_va);
}

static int in_region(uint64_t va, uint64_t pages)
{
	const struct nb_boot *b = &gsys.mbox->boot;
	return va >= b->region_va && pages <= b->region_bytes / gsys.page_bytes &&
	       va - b->region_va <= b->region_bytes - pages * gsys.page_bytes;
}

static unsigned current_space;

static uint64_t flush_pages(uint64_t va, uint64_t pages)
{
	for (uint64_t i = 0; i < pages; i++)
		invlpg(va + i * gsys.page_bytes);
	return 0;
}

/* Unrolled by 16 so that the loop's own (emulated, under PVM) instructions
 * are a small share of each OUT; the NOP block measures that share. */
static void pio_run(uint64_t n, uint64_t op)
{
	for (; n >= 16; n -= 16) {
		if (op == NB_PIO_OUT)
			__asm__ volatile(".rept 16\n\toutl %%eax, %%dx\n\t.endr" ::"a"(0), "d"(NB_PORT_BENCH) : "memory");
		else
			__asm__ volatile(".rept 16\n\tnop\n\t.endr" ::: "memory");
	}
	for (; n; n--) {
		if (op == NB_PIO_OUT)
			__asm__ volatile("outl %%eax, %%dx" ::"a"(0), "d"(NB_PORT_BENCH) : "memory");
		else
			__asm__ volatile("nop" ::: "memory");
	}
}

static uint64_t service(uint64_t nr, uint64_t a, uint64_t b, uint64_t c)
{
	struct pt_space *s = &gsys.space[current_space];
	uint64_t pb = gsys.page_bytes;
	int rc;
	switch (nr) {
	case SYS_NULL:
		return 0;
	case SYS_UNMAP:
		if (!in_region(a, b))
			return (uint64_t)PT_E_ARG;
		rc = pt_unmap(s, a, b * pb, pb);
		return rc ? (uint64_t)rc : flush_pages(a, b);
	case SYS_MAP:
		if (!in_region(a, b))
			return (uint64_t)PT_E_ARG;
		/* Not-present entries are never cached: no INVLPG needed. */
		return (uint64_t)pt_map(s, a, region_pa(a), b * pb, pb, PT_W | PT_U);
	case SYS_PROTECT:
		if (!in_region(a, b))
			return (uint64_t)PT_E_ARG;
		rc = pt_protect(s, a, b * pb, pb, c ? PT_W : 0, c ? 0 : PT_W);
		return rc ? (uint64_t)rc : flush_pages(a, b);
	case SYS_DEMAND:
		if (!in_region(a, b))
			return (uint64_t)PT_E_ARG;
		rc = pt_unmap(s, a, b * pb, pb);
		if (rc)
			return (uint64_t)rc;
		flush_pages(a, b);
		gsys.demand_va = a;
		gsys.demand_end = a + b * pb;
		return 0;
	case SYS_SWITCH: {
		if (a >= gsys.nspaces || (b && !gsys.mbox->boot.cpu_has_pcid))
			return (uint64_t)PT_E_ARG;
		uint64_t cr3 = gsys.space[a].root;
		if (b)
			cr3 |= (a + 1) | (c ? 0 : 1ull << 63); /* PCID a+1; bit 63: keep its TLB entries */
		write_cr3(cr3);
		current_space = (unsigned)a;
		return 0;
	}
	case SYS_PIO:
		if (b != NB_PIO_OUT && b != NB_PIO_NOP)
			return (uint64_t)PT_E_ARG;
		pio_run(a, b);
		return 0;
	case SYS_TRIPLE: {
		struct desc_ptr none = {0, 0};
		__asm__ volatile("lidt %0\n\tud2" ::"m"(none));
		return 0;
	}
	default:
		return (uint64_t)PT_E_ARG;
	}
}

uint64_t ksyscall(uint64_t a, uint64_t b, uint64_t c, uint64_t nr)
{
	uint64_t t0 = krdtsc();
	uint64_t r = service(nr, a, b, c);
	gsys.kernel_ticks += krdtsc() - t0;
	return r;
}

void ktrap(struct trap_frame *f)
{
	if (f->vector == 6 && f->rip == (uint64_t)(uintptr_t)gsys_gate) {
		f->rax = ksyscall(f->rdi, f->rsi, f->rdx, f->rax);
		f->rip += 2;
		return;
	}
	uint64_t t0 = krdtsc();
	if (f->vector == 14) {
		uint64_t cr2 = read_cr2();
		if (cr2 >= gsys.demand_va && cr2 < gsys.demand_end) {
			uint64_t va = cr2 & ~(gsys.page_bytes - 1);
			int rc = pt_map(&gsys.space[current_space], va, region_pa(va), gsys.page_bytes, gsys.page_bytes,
					PT_W | PT_U);
			if (rc)
				gsys_abort(__FILE__, __LINE__, f->rip, "demand fault at %x: %s", cr2, pt_strerror(rc));
			gsys.faults++;
			gsys.kernel_ticks += krdtsc() - t0;
			return;
		}
		gsys_abort(__FILE__, __LINE__, f->rip, "page fault at cr2 0x%x, rip 0x%x, error 0x%x (cpl %u)", cr2,
			   f->rip, f->error, f->cs & 3);
	}
	gsys_abort(__FILE__, __LINE__, f->rip, "exception %u at rip 0x%x, error 0x%x (cpl %u)", f->vector, f->rip,
		   f->error, f->cs & 3);
}
