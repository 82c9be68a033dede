/* user.c - the payload's user half (CPL3): maps and verifies the benchmark
 * region, then serves the host's commands.  Every timed loop runs here, at
 * CPL3, where a PVM guest runs at native speed.
 *
 * The region's page tables are built here too, not in the kernel half: the
 * page-table pool is mapped for CPL3, and building (and walking) a 4K
 * mapping of a large region at CPL0 would take seconds where CPL0 is
 * emulated.  The kernel half only loads CR3 and flushes.
 */
#define NESTBENCH_FREESTANDING 1
#include "chase.h"
#include "gsys.h"
#include "tsc.h"

void user_main(void);

/* The last chase position is kept observable so the loads stay. */
static void *volatile chase_sink;

static void map_region(struct pt_space *s)
{
	const struct nb_boot *b = &gsys.mbox->boot;
	int rc = pt_map(s, b->region_va, b->region_gpa, b->region_bytes, b->region_page_bytes, PT_W | PT_U);
	if (rc)
		GSYS_ABORT("cannot map the region with %u-byte pages: %s", b->region_page_bytes, pt_strerror(rc));
	uint64_t bad = 0;
	int64_t r = pt_verify(s, b->region_va, b->region_gpa, b->region_bytes, b->region_page_bytes, PT_W | PT_U, &bad);
	if (r)
		GSYS_ABORT("page-table walk disagrees at va 0x%x (page %u)", bad, (uint64_t)r);
}

/* Address spaces 1.. for the switch kernel: their own tables for the region,
 * the system mapping (PML4 entry 0) shared. */
static void build_spaces(uint64_t want)
{
	if (want > GSYS_MAX_SPACES || want > gsys.mbox->boot.spaces)
		GSYS_ABORT("%u address spaces asked for, %u prepared", want, gsys.mbox->boot.spaces);
	while (gsys.nspaces < want) {
		struct pt_space *s = &gsys.space[gsys.nspaces];
		int rc = pt_space_init(s, &gsys.pool);
		if (!rc)
			rc = pt_share_top(s, &gsys.space[0], 0);
		if (rc)
			GSYS_ABORT("cannot create address space %u: %s", (uint64_t)gsys.nspaces, pt_strerror(rc));
		map_region(s);
		gsys.nspaces++;
	}
}

static void check(uint64_t rc, const char *what)
{
	if (rc)
		GSYS_ABORT("%s failed: %s", what, pt_strerror((int)(int64_t)rc));
}

/* One load per 4K page (a different line in each, as the chase does). */
static uint64_t touch(uint64_t va, uint64_t pages, uint64_t stride)
{
	uint64_t sum = 0;
	for (uint64_t i = 0; i < pages; i++)
		sum += *(volatile uint64_t *)(uintptr_t)(va + i * stride + (i % 64) * 64);
	return sum;
}

static void cmd_chase(const struct nb_cmd *c)
{
	void *p = (void *)(uintptr_t)c->arg[0];
	uint64_t t0 = tsc_begin();
	p = chase_walk(p, c->arg[1]);
	uint64_t t1 = tsc_end();
	chase_sink = p;
	gsys_result(t1 - t0, (uint64_t)(uintptr_t)p, 0, 0);
}

static void cmd_syscall(const struct nb_cmd *c)
{
	uint64_t k0 = gsys.kernel_ticks;
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < c->arg[0]; i++)
		syscall3(SYS_NULL, 0, 0, 0);
	uint64_t t1 = tsc_end();
	gsys_result(t1 - t0, gsys.kernel_ticks - k0, gsys.gate, 0);
}

static void cmd_touch(const struct nb_cmd *c)
{
	uint64_t va = c->arg[0], pages = c->arg[1], pb = gsys.page_bytes;
	check(syscall3(SYS_DEMAND, va, pages, 0), "unmapping for first touch");
	uint64_t k0 = gsys.kernel_ticks, f0 = gsys.faults;
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < pages; i++)
		(void)*(volatile uint64_t *)(uintptr_t)(va + i * pb);
	uint64_t t1 = tsc_end();
	uint64_t faults = gsys.faults - f0;
	gsys.demand_va = gsys.demand_end = 0;
	gsys_result(t1 - t0, gsys.kernel_ticks - k0, faults, 0);
}

static void cmd_remap(const struct nb_cmd *c)
{
	uint64_t op = c->arg[0], va = c->arg[1], pages = c->arg[2], pb = gsys.page_bytes;
	if (op != NB_REMAP_PROTECT && op != NB_REMAP_UNMAP)
		GSYS_ABORT("unknown remap operation %u", op);
	uint64_t k0 = gsys.kernel_ticks;
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t v = va + i * pb;
		if (op == NB_REMAP_PROTECT) {
			check(syscall3(SYS_PROTECT, v, 1, 0), "write-protect");
			(void)*(volatile uint64_t *)(uintptr_t)v;
			check(syscall3(SYS_PROTECT, v, 1, 1), "write-enable");
		} else {
			check(syscall3(SYS_UNMAP, v, 1, 0), "unmap");
			check(syscall3(SYS_MAP, v, 1, 0), "map");
		}
		(void)*(volatile uint64_t *)(uintptr_t)v;
	}
	uint64_t t1 = tsc_end();
	gsys_result(t1 - t0, gsys.kernel_ticks - k0, 0, 0);
}

static void cmd_ctxsw(const struct nb_cmd *c)
{
	uint64_t switches = c->arg[0], pcid = c->arg[1], pages = c->arg[2], spaces = c->arg[3];
	if (spaces < 2)
		GSYS_ABORT("a switch needs two address spaces, %u asked for", spaces);
	build_spaces(spaces);
	uint64_t va = gsys.mbox->boot.region_va;
	/* Start every PCID clean: the tables may have changed since last time. */
	for (uint64_t s = 0; s < spaces; s++)
		check(syscall3(SYS_SWITCH, s, pcid, 1), "address-space switch");
	check(syscall3(SYS_SWITCH, 0, pcid, 1), "address-space switch");
	uint64_t k0 = gsys.kernel_ticks, cur = 0, sum = 0;
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < switches; i++) {
		cur = cur + 1 == spaces ? 0 : cur + 1;
		syscall3(SYS_SWITCH, cur, pcid, 0);
		sum += touch(va, pages, 4096);
	}
	uint64_t t1 = tsc_end();
	uint64_t k = gsys.kernel_ticks - k0;
	check(syscall3(SYS_SWITCH, 0, 0, 1), "address-space switch");
	gsys_result(t1 - t0, k, sum, 0);
}

/* Does SYSCALL reach CPL0 here?  Under PVM it lands at LSTAR still at
 * CPL3 (CS 0x33), where the services' privileged instructions would fault;
 * the payload then enters its kernel through the #UD gate instead. */
static void choose_gate(void)
{
	gsys.gate = GSYS_GATE_SYSCALL;
	syscall3(SYS_NULL, 0, 0, 0);
	if (syscall_entry_cs & 3) {
		gsys.gate = GSYS_GATE_UD2;
		gsys_print("syscall lands at cpl 3 (cs 0x%x): system calls use the #UD gate", syscall_entry_cs);
	}
}

void user_main(void)
{
	const struct nb_boot *b = &gsys.mbox->boot;
	choose_gate();
	map_region(&gsys.space[0]);
	/* A real access through the new tables, beyond the software walk. */
	(void)*(volatile uint64_t *)(uintptr_t)b->region_va;
	gsys_print("region: %u bytes at 0x%x mapped with %u-byte pages and verified", b->region_bytes,
		   b->region_va, b->region_page_bytes);
	gsys_result(b->region_page_bytes, b->region_bytes / b->region_page_bytes, gsys.gate, 0);
	for (;;) {
		gsys_sync();
		struct nb_cmd c = gsys.mbox->cmd;
		if (c.magic != NB_CMD_MAGIC)
			GSYS_ABORT("bad command magic %x", (uint64_t)c.magic);
		switch (c.op) {
		case NB_CMD_EXIT: gsys_done(0);
		case NB_CMD_CHASE: cmd_chase(&c); break;
		case NB_CMD_SYSCALL: cmd_syscall(&c); break;
		case NB_CMD_TOUCH: cmd_touch(&c); break;
		case NB_CMD_REMAP: cmd_remap(&c); break;
		case NB_CMD_CTXSW: cmd_ctxsw(&c); break;
		case NB_CMD_SPIN:
			for (volatile uint64_t n = 0;; n++)
				;
		case NB_CMD_FAULT: (void)*(volatile uint64_t *)(uintptr_t)c.arg[0]; GSYS_ABORT("no fault at 0x%x", c.arg[0]);
		case NB_CMD_TRIPLE: syscall3(SYS_TRIPLE, 0, 0, 0); GSYS_ABORT("no triple fault");
		default: GSYS_ABORT("unknown command %u", (uint64_t)c.op);
		}
	}
}
