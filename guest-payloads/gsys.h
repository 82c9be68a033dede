/* gsys.h - what the guest payload's kernel and user halves share: messages
 * to the host, a tiny formatter, port I/O, control registers, system calls.
 * Freestanding: no libc in the guest. */
#ifndef NESTBENCH_GSYS_H
#define NESTBENCH_GSYS_H

#include <stddef.h>
#include <stdint.h>

#include "guest-payloads/guest_pt.h"
#include "guest-payloads/protocol.h"

/* System calls: number in rax, arguments rdi, rsi, rdx, result in rax.
 * They enter the kernel with SYSCALL (and return with SYSRETQ) where SYSCALL
 * reaches CPL0, the entry preserving every register but rax, rcx and r11; where it does not (PVM), through the #UD gate: a UD2 at the
 * fixed address gsys_gate, which the #UD handler recognises by its RIP. */
enum gsys_gate_kind { GSYS_GATE_SYSCALL = 1, GSYS_GATE_UD2 = 2 };
extern const char gsys_gate[];
extern volatile uint64_t syscall_entry_cs; /* CS seen by the SYSCALL entry */

enum gsys_nr {
	SYS_NULL = 0,    /* nothing: the round trip */
	SYS_UNMAP = 1,   /* (va, pages): unmap region pages, INVLPG each */
	SYS_MAP = 2,     /* (va, pages): map region pages again, INVLPG each */
	SYS_PROTECT = 3, /* (va, pages, writable): set or clear W, INVLPG each */
	SYS_DEMAND = 4,  /* (va, pages): map them on first touch from the #PF handler */
	SYS_SWITCH = 5,  /* (space, pcid, flush): load that address space's CR3 */
	SYS_TRIPLE = 6,  /* drop the IDT and fault: a triple fault (tests) */
	SYS_PIO = 7,     /* (n, NB_PIO_*): n OUTs to the bench port, or n NOPs */
	SYS_SHOOT = 8,   /* (va, vcpus, timeout ticks): unmap a region page, flush it on every vCPU, map it again;
			  * SHOOT_TIMEOUT | mask of the vCPUs that did not acknowledge */
	SYS_DEAF = 9,    /* mask interrupts and spin in the kernel (tests; never returns) */
};

/* State both halves see (the whole system slot is mapped for CPL3 too:
 * this is a measuring payload, not an operating system). */
#define GSYS_MAX_SPACES 8
struct gsys_state {
	struct nb_mailbox *mbox;
	struct pt_pool pool;
	struct pt_space space[GSYS_MAX_SPACES];
	unsigned nspaces;
	uint64_t page_bytes; /* the region's guest page size */
	uint64_t demand_va, demand_end;
	uint64_t kernel_ticks; /* TSC ticks spent in system calls and #PF service */
	uint64_t faults;       /* demand faults served */
	uint64_t gate;         /* enum gsys_gate_kind */
	/* Shootdowns (several vCPUs). */
	volatile uint64_t shoot_va, shoot_seq;
	volatile uint64_t deaf; /* test: the other vCPUs mask interrupts */
};
#define SHOOT_TIMEOUT (1ull << 40)
extern struct gsys_state gsys;

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

/* Format into buf: %s, %u (uint64_t), %x (uint64_t), %%.  Always NUL-terminates. */
size_t gfmt(char *buf, size_t len, const char *fmt, ...);

void gsys_send(struct nb_msg *m, uint32_t type);
void gsys_print(const char *fmt, ...);
void gsys_result(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4);
void gsys_sync(void);
_Noreturn void gsys_done(uint64_t status);
_Noreturn void gsys_abort(const char *file, unsigned line, uint64_t rip, const char *fmt, ...);
#define GSYS_ABORT(...) gsys_abort(__FILE__, __LINE__, 0, __VA_ARGS__)

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port) : "memory");
}

static inline uint64_t syscall3(uint64_t nr, uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t ret;
	if (gsys.gate == GSYS_GATE_UD2)
		/* The #UD handler preserves every register but rax. */
		__asm__ volatile("call gsys_gate" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "memory");
	else
		__asm__ volatile("syscall"
				 : "=a"(ret)
				 : "a"(nr), "D"(a), "S"(b), "d"(c)
				 : "rcx", "r11", "memory");
	return ret;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

/* Send an IPI through the x2APIC ICR.  An x2APIC MSR write is not
 * serializing: without the fence the target could take the interrupt
 * before the stores it must see (the shootdown's address and sequence
 * number) are visible.  MFENCE orders the stores, LFENCE keeps the WRMSR
 * from starting before the MFENCE is done; one asm block keeps the three
 * instructions together (a unit test looks for exactly these bytes). */
static inline void x2apic_ipi_fenced(uint32_t icr_msr, uint64_t icr)
{
	__asm__ volatile("mfence\n\tlfence\n\twrmsr" ::"c"(icr_msr), "a"((uint32_t)icr), "d"((uint32_t)(icr >> 32))
			 : "memory");
}

/* Enter the kernel through the #UD gate whatever the gate in use: other
 * vCPUs must not take the SYSCALL path (it runs on the first vCPU's stack). */
static inline uint64_t gate_call(uint64_t nr, uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t ret;
	__asm__ volatile("call gsys_gate" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "memory");
	return ret;
}

static inline unsigned current_cpl(void)
{
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3u;
}

static inline void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" ::"r"(va) : "memory");
}

static inline uint64_t read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static inline void write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory");
}

#endif
