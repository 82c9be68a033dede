/* protocol.h - what the nestbench VMM and its guest payload agree on.
 *
 * Shared by harness/ (host) and guest-payloads/ (freestanding guest), so it
 * uses nothing but <stdint.h>.
 *
 * Guest -> host: the guest fills a struct nb_msg in its own memory and writes
 * the message's guest-physical address to port NB_PORT_MSG with a 32-bit OUT.
 * The VMM copies the message out of guest memory and validates it (magic,
 * type, bounds, text length, NUL termination) before acting on it, so a
 * broken payload cannot make the host read past guest memory.
 *
 * Host -> guest: the mailbox page at NB_MAILBOX_GPA.  The host writes the
 * boot block before the first run, and a command into `cmd` whenever the
 * guest has sent NB_MSG_SYNC ("ready for the next command"); the guest reads
 * it after its OUT returns.  Only one vCPU talks at a time (one per VM today).
 *
 * Guest memory (guest-physical == guest-virtual below NB_SYS_MIN_BYTES,
 * identity-mapped with 2M pages by the host's boot tables):
 *   0x001000  mailbox (boot block + command)
 *   0x100000  the payload image (linked here)
 *   0x200000  kernel stack, then user stack
 *   0x400000  page-table pool (boot tables first, then the guest's own)
 *   NB_REGION_GPA  the benchmark region: a separate memory slot backed by
 *                  a verified host backing, mapped by the guest at
 *                  NB_REGION_VA with 4K, 2M or 1G guest pages.
 */
#ifndef NESTBENCH_GUEST_PROTOCOL_H
#define NESTBENCH_GUEST_PROTOCOL_H

/* Constants are also used from assembly (entry.S). */
#ifdef __ASSEMBLER__
#define NB_U64(x) x
#else
#include <stdint.h>
#define NB_U64(x) x##ull
#endif

#define NB_PORT_MSG 0x4e42
/* The same message doorbell as a 32-bit store to unbacked guest-physical
 * memory (an MMIO exit), for CPL3: port I/O needs IOPL or an I/O bitmap,
 * which PVM ignores, and going through the guest kernel instead makes PVM
 * drop its shadow page tables, so a sample would start with a cold TLB. */
#define NB_DOORBELL_GPA NB_U64(0xf0000000)
/* Benchmark exits (the `vmexit` and `vmswitch` kernels): the VMM answers
 * them at once and counts them, so their round trip is the exit's cost.
 *   NB_PORT_BENCH  a 32-bit OUT (guest kernel only: CPL3 has no port I/O)
 *   NB_BENCH_GPA   a 32-bit store to unbacked memory: an MMIO exit (CPL3)
 *   NB_TURN_GPA    a 32-bit store of the turn number: the VMM passes the
 *                  token to the next VM and resumes this one when it is
 *                  back (0 = ready, waiting for the first turn; the last
 *                  turn's number ends the hand-offs without waiting)
 * The doorbell, bench and turn pages are mapped for CPL3 by the boot tables. */
#define NB_PORT_BENCH 0x4e43
#define NB_BENCH_GPA NB_U64(0xf0001000)
#define NB_TURN_GPA NB_U64(0xf0002000)
#define NB_MMIO_PAGES 3

#define NB_MSG_MAGIC 0x4e424d53u  /* "NBMS" */
#define NB_CMD_MAGIC 0x4e42434du  /* "NBCM" */
#define NB_BOOT_MAGIC 0x4e42424fu /* "NBBO" */
#define NB_PROTOCOL_VERSION 1u

/* Guest memory layout (see above). */
#define NB_MAILBOX_GPA NB_U64(0x1000)
#define NB_IMAGE_GPA NB_U64(0x100000)
#define NB_IMAGE_MAX NB_U64(0x100000)
#define NB_KSTACK_TOP NB_U64(0x210000)
#define NB_USTACK_TOP NB_U64(0x300000)
#define NB_PT_POOL_GPA NB_U64(0x400000)
#define NB_SYS_MIN_BYTES NB_U64(0x800000) /* the system slot is at least this big */
#define NB_REGION_GPA NB_U64(0x100000000) /* 4 GiB: 1G-aligned, above the system slot */
#define NB_REGION_VA NB_U64(0x8000000000) /* 512 GiB: its own PML4 entry */
#define NB_FAULT_VA NB_U64(0x10000000000) /* 1 TiB: never mapped, for fault tests */

/* Several vCPUs (guest-shootdown): vCPU i > 0 enters at the image's entry
 * with RDI = i, on its own slices of the kernel and user stacks; all share
 * the boot address space.  The guest kernel sends shootdown IPIs through
 * the x2APIC of the in-kernel irqchip. */
#define NB_MAX_VCPUS 4
#define NB_KSTACK_PER_CPU NB_U64(0x4000)
#define NB_USTACK_PER_CPU NB_U64(0x10000)
#define NB_IPI_VECTOR 0xf0
#define NB_SPURIOUS_VECTOR 0xff

/* GDT selectors of the payload (the VMM loads matching descriptor caches). */
#define NB_SEL_KCODE 0x08
#define NB_SEL_KDATA 0x10
#define NB_SEL_UDATA 0x1b
#define NB_SEL_UCODE 0x23
#define NB_SEL_TSS 0x28 /* vCPU i: NB_SEL_TSS + 16 * i */

#ifndef __ASSEMBLER__
enum nb_msg_type {
	NB_MSG_PRINT = 1,  /* text: a line for the log */
	NB_MSG_RESULT = 2, /* arg[0] = command sequence number, arg[1..] per command */
	NB_MSG_SYNC = 3,   /* ready: the host puts the next command in the mailbox */
	NB_MSG_DONE = 4,   /* arg[0] = exit status; the guest stops */
	NB_MSG_ABORT = 5,  /* file, line, text; arg[0] = guest RIP where known */
	NB_MSG_TYPE_MAX = NB_MSG_ABORT
};

#define NB_MSG_ARGS 8
#define NB_MSG_FILE_MAX 48
#define NB_MSG_TEXT_MAX 160

struct nb_msg {
	uint32_t magic;
	uint32_t type;
	uint32_t line;     /* ABORT: source line in the payload */
	uint32_t text_len; /* bytes of text before its NUL, < NB_MSG_TEXT_MAX */
	uint64_t arg[NB_MSG_ARGS];
	char file[NB_MSG_FILE_MAX]; /* ABORT: source file, NUL-terminated */
	char text[NB_MSG_TEXT_MAX]; /* NUL-terminated */
};

/* Commands the host gives at a SYNC. */
enum nb_cmd_op {
	NB_CMD_EXIT = 1,     /* send DONE(0) and stop */
	NB_CMD_CHASE = 2,    /* arg0 start VA, arg1 iterations -> RESULT(seq, ticks, end VA) */
	NB_CMD_SYSCALL = 3,  /* arg0 iterations of a null system call -> RESULT(seq, ticks, kernel ticks) */
	NB_CMD_TOUCH = 4,    /* arg0 VA, arg1 pages, arg2 stride: first-touch faults -> RESULT(seq, ticks, kernel ticks, faults) */
	NB_CMD_REMAP = 5,    /* arg0 op (NB_REMAP_*), arg1 VA, arg2 pages: one service call and a touch per page
			      * -> RESULT(seq, ticks, kernel ticks) */
	NB_CMD_CTXSW = 6,    /* arg0 switches, arg1 pcid (0/1), arg2 pages touched after each, arg3 spaces,
			      * arg4 (non-zero) bytes read one load per 64-byte line instead of arg2's pages,
			      * at arg5 * space bytes into the region -> RESULT(seq, ticks, kernel ticks) */
	NB_CMD_SPIN = 7,     /* test: loop forever at CPL3 (the watchdog must stop it) */
	NB_CMD_FAULT = 8,    /* test: read arg0 (unmapped) at CPL3: the #PF handler aborts */
	NB_CMD_TRIPLE = 9,   /* test: the kernel drops its IDT and faults: a triple fault */
	NB_CMD_PIO = 10,     /* arg0 n, arg1 NB_PIO_*: n OUTs (or n non-exiting instructions) in the guest kernel,
			      * timed at CPL3 around the system call, minus the same call with n = 0
			      * -> RESULT(seq, ticks, kernel ticks, empty-call ticks) */
	NB_CMD_MMIO = 11,    /* arg0 n stores to NB_BENCH_GPA at CPL3 -> RESULT(seq, ticks) */
	NB_CMD_TURNS = 12,   /* arg0 turns, arg1 bytes read (one load per 64-byte line) each turn, arg2 offset:
			      * ring NB_TURN_GPA (0), then per turn read and ring the turn number;
			      * arg0 = 0: only read once (pre-walk) -> RESULT(seq, ticks, turns, sum, probe ticks).
			      * arg3 probe pages (0 = none): each turn starts with a timed chain of dependent
			      * loads, one per 4K page of the first arg3 pages (the TLB refill after a switch);
			      * arg4 1 = control: the same passes back to back, no ring, the first probe not
			      * counted.  probe ticks = guest TSC ticks summed over the probes counted. */
	NB_CMD_SHOOT = 13,   /* arg0 shootdowns, arg1 1 = test: the other vCPUs mask interrupts first, arg2 TSC ticks
			      * to wait for a barrier or an acknowledgement -> RESULT(seq, ticks, kernel ticks, acks) */
	NB_CMD_REGS = 14,    /* test: a null system call through SYSCALL itself (whatever the gate in use) with
			      * sentinels in rdi, rsi, rdx, r8, r9, r10 -> RESULT(seq, mask of those changed, entry CS) */
	NB_CMD_MAX = NB_CMD_REGS
};

enum nb_pio_op {
	NB_PIO_OUT = 0, /* OUT to NB_PORT_BENCH: one exit to the VMM each */
	NB_PIO_NOP = 1, /* the same unrolled block of NOPs: what the guest-kernel instructions cost alone */
};

enum nb_remap_op {
	NB_REMAP_PROTECT = 1, /* write-protect then re-enable writes, INVLPG each time */
	NB_REMAP_UNMAP = 2,   /* unmap then map again, INVLPG each time */
};

struct nb_cmd {
	uint32_t magic;
	uint32_t op;
	uint64_t seq;
	uint64_t arg[6];
};

/* Written by the host before boot. */
struct nb_boot {
	uint32_t magic;
	uint32_t version;
	uint64_t sys_bytes;         /* system slot size (identity-mapped) */
	uint64_t pt_pool_next;      /* first free page-table page after the boot tables */
	uint64_t pt_pool_end;       /* end of the page-table pool (guest-physical) */
	uint64_t boot_cr3;          /* the boot PML4 */
	uint64_t region_gpa;
	uint64_t region_va;
	uint64_t region_bytes;      /* a multiple of region_page_bytes */
	uint64_t region_page_bytes; /* 4096, 2M or 1G: the guest page size to build */
	uint64_t cpu_has_pcid;      /* CPUID.1:ECX.PCID as given to the guest */
	uint64_t spaces;            /* address spaces to build for NB_CMD_CTXSW (>= 1) */
	uint64_t vcpus;             /* vCPUs (1..NB_MAX_VCPUS) */
};

/* Where a vCPU is, kept up to date by the guest so that the host can say
 * which vCPU was stuck where when a watchdog fires. */
enum nb_where {
	NB_WHERE_OFF = 0,       /* not started */
	NB_WHERE_BOOT = 1,      /* in its kernel's start-up */
	NB_WHERE_TOUCHING = 2,  /* cpl3: reading the region (shootdown target) */
	NB_WHERE_IPI = 3,       /* in the shootdown interrupt handler */
	NB_WHERE_DEAF = 4,      /* in its kernel with interrupts masked (test) */
	NB_WHERE_WAIT_ACKS = 5, /* in its kernel waiting for shootdown acknowledgements */
	NB_WHERE_BARRIER = 6,   /* cpl3: waiting for the other vCPUs to start */
	NB_WHERE_USER = 7,      /* cpl3: serving host commands */
	NB_WHERE_MAX = NB_WHERE_USER
};

struct nb_cpu_status {
	uint32_t where;   /* enum nb_where */
	uint32_t apic_id;
	uint64_t ipis;    /* shootdown interrupts handled */
	uint64_t acked;   /* last shootdown sequence number acknowledged */
	uint64_t touches; /* passes over the region */
};

struct nb_mailbox {
	struct nb_boot boot;
	struct nb_cmd cmd;
	struct nb_cpu_status cpu[NB_MAX_VCPUS];
};

static inline const char *nb_where_name(uint32_t w)
{
	static const char *const names[] = {"not started", "in its kernel's start-up", "reading the region at cpl3",
					    "in the shootdown interrupt handler",
					    "in its kernel with interrupts masked",
					    "in its kernel waiting for shootdown acknowledgements",
					    "at the start barrier", "serving host commands"};
	return w <= NB_WHERE_MAX ? names[w] : "somewhere unknown";
}

#endif /* !__ASSEMBLER__ */

#endif
