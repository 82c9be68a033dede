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
#include "core/chase.h"
#include "guest-payloads/gsys.h"
#include "core/tsc.h"

void user_main(void);
void ap_main(uint64_t idx);

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

/* One load per 64-byte line, as the native context-switch kernels read. */
static uint64_t touch_lines(uint64_t va, uint64_t bytes)
{
	uint64_t sum = 0;
	for (uint64_t off = 0; off < bytes; off += 64)
		sum += *(volatile uint64_t *)(uintptr_t)(va + off);
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
	uint64_t line_bytes = c->arg[4], space_off = c->arg[5];
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
		if (line_bytes)
			sum += touch_lines(va + cur * space_off, line_bytes);
		else
			sum += touch(va, pages, 4096);
	}
	uint64_t t1 = tsc_end();
	uint64_t k = gsys.kernel_ticks - k0;
	check(syscall3(SYS_SWITCH, 0, 0, 1), "address-space switch");
	gsys_result(t1 - t0, k, sum, 0);
}

/* Port I/O exits come from the guest kernel (CPL3 has no port I/O here):
 * timed at CPL3 around the system call, the empty call's cost measured
 * right after so the host can take it off. */
static void cmd_pio(const struct nb_cmd *c)
{
	uint64_t n = c->arg[0], op = c->arg[1];
	uint64_t k0 = gsys.kernel_ticks;
	uint64_t t0 = tsc_begin();
	check(syscall3(SYS_PIO, n, op, 0), "port i/o");
	uint64_t t1 = tsc_end();
	uint64_t k = gsys.kernel_ticks - k0;
	uint64_t e0 = tsc_begin();
	check(syscall3(SYS_PIO, 0, op, 0), "empty port i/o call");
	uint64_t e1 = tsc_end();
	gsys_result(t1 - t0, k, e1 - e0, 0);
}

/* MMIO exits straight from CPL3. */
static void cmd_mmio(const struct nb_cmd *c)
{
	volatile uint32_t *bell = (volatile uint32_t *)(uintptr_t)NB_BENCH_GPA;
	uint64_t n = c->arg[0];
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < n; i++)
		*bell = (uint32_t)i;
	uint64_t t1 = tsc_end();
	gsys_result(t1 - t0, 0, 0, 0);
}

/* Take turns with other VMs: the VMM holds this vCPU at every ring until
 * the token comes back.  The guest counts its own turns; the VMM counts
 * the rings it served, and the two must agree. */
/* A chain of dependent loads, one per 4K page of `pages`: each address
 * waits for the previous load, so a TLB miss on every page (a flushed TLB
 * after a VM switch) costs its whole walk instead of overlapping.  The AND
 * keeps the data dependency (it is no zeroing idiom) and adds nothing. */
static uint64_t probe_pages(uint64_t va, uint64_t pages)
{
	uint64_t dep = 0;
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t v = *(volatile uint64_t *)(uintptr_t)(va + i * 4096 + (i % 64) * 64 + dep);
		__asm__ volatile("and $0, %0" : "+r"(v));
		dep = v;
	}
	return dep;
}

static void cmd_turns(const struct nb_cmd *c)
{
	volatile uint32_t *bell = (volatile uint32_t *)(uintptr_t)NB_TURN_GPA;
	uint64_t turns = c->arg[0], bytes = c->arg[1], probe = c->arg[3], control = c->arg[4];
	uint64_t va = gsys.mbox->boot.region_va + c->arg[2];
	if (c->arg[2] > gsys.mbox->boot.region_bytes || bytes > gsys.mbox->boot.region_bytes - c->arg[2])
		GSYS_ABORT("turns: %u bytes at offset %u do not fit the region", bytes, c->arg[2]);
	if (probe * 4096 > bytes)
		GSYS_ABORT("turns: a probe of %u pages is more than the %u bytes read", probe, bytes);
	uint64_t sum = 0, done = 0, probe_ticks = 0;
	if (turns == 0) {
		sum = touch_lines(va, bytes);
		gsys_result(0, 0, sum, 0);
		return;
	}
	if (!control)
		*bell = 0;
	uint64_t t0 = tsc_begin();
	while (done < turns) {
		if (probe) {
			uint64_t p0 = tsc_begin();
			sum += probe_pages(va, probe);
			uint64_t p1 = tsc_end();
			if (!control || done > 0)
				probe_ticks += p1 - p0;
		}
		sum += touch_lines(va, bytes);
		done++;
		if (!control)
			*bell = (uint32_t)done;
	}
	uint64_t t1 = tsc_end();
	gsys_result(t1 - t0, done, sum, probe_ticks);
}

/* vCPU idx > 0: read every region page but the first, forever, so that
 * its TLB holds them; the first vCPU's shootdowns interrupt it. */
void ap_main(uint64_t idx)
{
	struct nb_cpu_status *me = &gsys.mbox->cpu[idx];
	const struct nb_boot *b = &gsys.mbox->boot;
	uint64_t pb = b->region_page_bytes, pages = b->region_bytes / pb;
	me->where = NB_WHERE_TOUCHING;
	for (;;) {
		if (gsys.deaf)
			gate_call(SYS_DEAF, 0, 0, 0);
		for (uint64_t p = 1; p < pages; p++)
			(void)*(volatile uint64_t *)(uintptr_t)(b->region_va + p * pb);
		me->touches++;
	}
}

/* Shootdowns from the first vCPU: wait (bounded) until every other vCPU
 * reads the region, then n times: unmap the first page, IPI the others to
 * flush it, wait for their acknowledgements, map it again. */
static void cmd_shoot(const struct nb_cmd *c)
{
	uint64_t n = c->arg[0], wait = c->arg[2], vcpus = gsys.mbox->boot.vcpus;
	struct nb_cpu_status *cpu = gsys.mbox->cpu;
	cpu[0].where = NB_WHERE_BARRIER;
	uint64_t deadline = tsc_begin() + wait;
	for (uint64_t i = 1; i < vcpus; i++)
		while (cpu[i].where != NB_WHERE_TOUCHING || cpu[i].touches == 0)
			if (tsc_begin() > deadline)
				GSYS_ABORT("vcpu %u never reached the barrier: it is %s", i, nb_where_name(cpu[i].where));
	if (c->arg[1]) {
		gsys.deaf = 1;
		for (uint64_t i = 1; i < vcpus; i++)
			while (cpu[i].where != NB_WHERE_DEAF)
				if (tsc_begin() > deadline)
					GSYS_ABORT("vcpu %u did not mask interrupts: it is %s", i, nb_where_name(cpu[i].where));
	}
	cpu[0].where = NB_WHERE_USER;
	uint64_t acks0 = 0;
	for (uint64_t i = 1; i < vcpus; i++)
		acks0 += cpu[i].ipis;
	uint64_t va = gsys.mbox->boot.region_va, k0 = gsys.kernel_ticks;
	uint64_t t0 = tsc_begin();
	for (uint64_t i = 0; i < n; i++) {
		uint64_t r = syscall3(SYS_SHOOT, va, vcpus, wait);
		if (r & SHOOT_TIMEOUT) {
			for (uint64_t v = 1; v < vcpus; v++)
				if (r & (1ull << v))
					GSYS_ABORT("vcpu %u never acknowledged shootdown %u (ipi vector %u): it is %s, %u ipis "
						   "handled",
						   v, gsys.shoot_seq, (uint64_t)NB_IPI_VECTOR, nb_where_name(cpu[v].where),
						   cpu[v].ipis);
		}
		check(r, "shootdown");
	}
	uint64_t t1 = tsc_end();
	uint64_t acks = 0;
	for (uint64_t i = 1; i < vcpus; i++)
		acks += cpu[i].ipis;
	gsys_result(t1 - t0, gsys.kernel_ticks - k0, acks - acks0, 0);
}

/* The SYSCALL entry must preserve every register but rax, rcx and r11:
 * the callers of syscall3 keep values in the others across the call.
 * Taken through SYSCALL itself even where the #UD gate serves system
 * calls (PVM: SYSCALL lands at CPL3 but runs the same entry code). */
static void cmd_regs(void)
{
	static const uint64_t want[6] = {0x1111111111111111ull, 0x2222222222222222ull, 0x3333333333333333ull,
					 0x4444444444444444ull, 0x5555555555555555ull, 0x6666666666666666ull};
	uint64_t rax = SYS_NULL, rdi = want[0], rsi = want[1], rdx = want[2];
	register uint64_t r8 __asm__("r8") = want[3];
	register uint64_t r9 __asm__("r9") = want[4];
	register uint64_t r10 __asm__("r10") = want[5];
	__asm__ volatile("syscall"
			 : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r8), "+r"(r9), "+r"(r10)
			 :
			 : "rcx", "r11", "memory");
	const uint64_t got[6] = {rdi, rsi, rdx, r8, r9, r10};
	uint64_t mask = 0;
	for (unsigned i = 0; i < 6; i++)
		if (got[i] != want[i])
			mask |= 1ull << i;
	gsys_result(mask, syscall_entry_cs, 0, 0);
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
	gsys.mbox->cpu[0].where = NB_WHERE_USER;
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
		case NB_CMD_PIO: cmd_pio(&c); break;
		case NB_CMD_MMIO: cmd_mmio(&c); break;
		case NB_CMD_TURNS: cmd_turns(&c); break;
		case NB_CMD_SHOOT: cmd_shoot(&c); break;
		case NB_CMD_REGS: cmd_regs(); break;
		case NB_CMD_SPIN:
			for (volatile uint64_t n = 0;; n++)
				;
		case NB_CMD_FAULT: (void)*(volatile uint64_t *)(uintptr_t)c.arg[0]; GSYS_ABORT("no fault at 0x%x", c.arg[0]);
		case NB_CMD_TRIPLE: syscall3(SYS_TRIPLE, 0, 0, 0); GSYS_ABORT("no triple fault");
		default: GSYS_ABORT("unknown command %u", (uint64_t)c.op);
		}
	}
}
