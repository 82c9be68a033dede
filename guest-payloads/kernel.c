/* kernel.c - the payload's kernel half (CPL0): descriptor tables, system
 * calls and the page-fault handler.
 *
 * Nothing measured runs here.  Under PVM every guest-kernel instruction is
 * emulated, so each path is as short as it can be and its cost is
 * accumulated in gsys.kernel_ticks, reported as a separate figure.
 */
#include "guest-payloads/gsys.h"

/* Flat 64-bit segments: kernel code/data, user data/code (the order
 * SYSCALL/SYSRET's STAR layout expects), then a TSS per vCPU. */
static uint64_t gdt[5 + 2 * NB_MAX_VCPUS] = {
	0,
	0x00af9b000000ffffull, /* 0x08 kernel code, L=1 */
	0x00cf93000000ffffull, /* 0x10 kernel data */
	0x00cff3000000ffffull, /* 0x18 user data, DPL 3 */
	0x00affb000000ffffull, /* 0x20 user code, DPL 3, L=1 */
	/* 0x28 + 16 * i: vCPU i's TSS (filled at boot) */
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

static struct tss tss[NB_MAX_VCPUS];

struct idt_gate {
	uint64_t lo, hi;
};
static struct idt_gate idt[256];

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
extern char syscall_entry[], ipi_stub[], spurious_stub[];

void kinit(void);
void kinit_ap(uint64_t idx);
void kipi(void);
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

#define MSR_APIC_BASE 0x1bu
#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_X2APIC (1ull << 10)
#define X2APIC_ID 0x802u
#define X2APIC_EOI 0x80bu
#define X2APIC_SVR 0x80fu
#define X2APIC_ICR 0x830u
#define ICR_ASSERT (1u << 14)
#define ICR_ALL_BUT_SELF (3u << 18)

static void set_gate(unsigned v, uint64_t h)
{
	idt[v].lo = (h & 0xffff) | ((uint64_t)NB_SEL_KCODE << 16) | (0x8eull << 40) | (((h >> 16) & 0xffff) << 48);
	idt[v].hi = h >> 32;
}

/* Load the shared GDT and IDT and this vCPU's TSS. */
static void load_tables(uint64_t idx)
{
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
			 : "m"(g), "m"(i), "i"(NB_SEL_KCODE), "r"(NB_SEL_KDATA), "r"(NB_SEL_TSS + 16 * idx)
			 : "rax", "memory");
}

/* x2APIC on, software-enabled: the in-kernel irqchip's local APIC. */
static void apic_init(uint64_t idx)
{
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_ENABLE | APIC_BASE_X2APIC);
	wrmsr(X2APIC_SVR, 0x100u | NB_SPURIOUS_VECTOR);
	gsys.mbox->cpu[idx].apic_id = (uint32_t)rdmsr(X2APIC_ID);
}

/* vCPUs after the first: their own TSS and APIC, the first's tables. */
void kinit_ap(uint64_t idx)
{
	gsys.mbox->cpu[idx].where = NB_WHERE_BOOT;
	load_tables(idx);
	apic_init(idx);
}

/* A shootdown IPI: flush the page, acknowledge, end of interrupt. */
void kipi(void)
{
	uint64_t id = rdmsr(X2APIC_ID);
	struct nb_cpu_status *c = &gsys.mbox->cpu[id < NB_MAX_VCPUS ? id : 0];
	uint32_t was = c->where;
	c->where = NB_WHERE_IPI;
	invlpg(gsys.shoot_va);
	c->ipis++;
	c->acked = gsys.shoot_seq;
	c->where = was;
	wrmsr(X2APIC_EOI, 0);
}

void kinit(void)
{
	gsys.mbox = (struct nb_mailbox *)(uintptr_t)NB_MAILBOX_GPA;
	const struct nb_boot *b = &gsys.mbox->boot;
	if (b->magic != NB_BOOT_MAGIC || b->version != NB_PROTOCOL_VERSION)
		GSYS_ABORT("bad boot block (magic %x, version %u)", (uint64_t)b->magic, (uint64_t)b->version);

	for (unsigned c = 0; c < NB_MAX_VCPUS; c++) {
		uint64_t t = (uint64_t)(uintptr_t)&tss[c];
		tss[c].rsp[0] = NB_KSTACK_TOP - c * NB_KSTACK_PER_CPU;
		tss[c].iomap_base = sizeof(tss[c]); /* no I/O bitmap: CPL3 rings the MMIO doorbell */
		gdt[5 + 2 * c] = (sizeof(tss[c]) - 1) | ((t & 0xffffff) << 16) | (0x89ull << 40) |
				 (((t >> 24) & 0xff) << 56);
		gdt[6 + 2 * c] = t >> 32;
	}
	for (unsigned v = 0; v < 32; v++)
		set_gate(v, trap_stubs[v]);
	set_gate(NB_IPI_VECTOR, (uint64_t)(uintptr_t)ipi_stub);
	set_gate(NB_SPURIOUS_VECTOR, (uint64_t)(uintptr_t)spurious_stub);
	load_tables(0);
	if (b->vcpus > 1)
		apic_init(0);
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
	case SYS_SHOOT: {
		/* a: the page, b: vCPUs taking part, c: ticks to wait for the acknowledgements. */
		if (!in_region(a, 1) || b < 1 || b > NB_MAX_VCPUS)
			return (uint64_t)PT_E_ARG;
		rc = pt_unmap(s, a, pb, pb);
		if (rc)
			return (uint64_t)rc;
		invlpg(a);
		uint64_t seq = gsys.shoot_seq + 1;
		gsys.shoot_va = a;
		gsys.shoot_seq = seq;
		uint64_t missing = 0;
		if (b > 1) {
			gsys.mbox->cpu[0].where = NB_WHERE_WAIT_ACKS;
			x2apic_ipi_fenced(X2APIC_ICR, NB_IPI_VECTOR | ICR_ASSERT | ICR_ALL_BUT_SELF);
			uint64_t deadline = krdtsc() + c;
			for (;;) {
				missing = 0;
				for (uint64_t i = 1; i < b; i++)
					if (gsys.mbox->cpu[i].acked < seq)
						missing |= 1ull << i;
				if (!missing || krdtsc() > deadline)
					break;
			}
			gsys.mbox->cpu[0].where = NB_WHERE_USER;
		}
		rc = pt_map(s, a, region_pa(a), pb, pb, PT_W | PT_U);
		if (missing)
			return SHOOT_TIMEOUT | missing;
		return (uint64_t)rc;
	}
	case SYS_DEAF: {
		uint64_t id = rdmsr(X2APIC_ID);
		gsys.mbox->cpu[id < NB_MAX_VCPUS ? id : 0].where = NB_WHERE_DEAF;
		for (;;)
			__asm__ volatile("cli\n\tpause" ::: "memory");
	}
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
