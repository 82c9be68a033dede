/* suite.c - the suite table (see suite.h). */
#include "harness/run/suite.h"

#include <string.h>

#include "core/util.h"

#define K ((size_t)1 << 10)
#define M ((size_t)1 << 20)
#define G ((size_t)1 << 30)

static const char *const all_kernels[] = {"chase", "chase-ctl", "fault", "mmap-munmap", "mprotect",
					  "madvise-dontneed", "fork", "fork-cow", "shootdown", "pipe-proc",
					  "pipe-thread", "yield", "vmexit", "vmswitch", "guest-shootdown",
					  "guest-syscall", "guest-fault", "guest-protect", "guest-unmap", "guest-ctxsw",
					  "guest-ctxsw-pcid", "vm-lifecycle", NULL};

/* The guest-kernel kernels and vm-lifecycle: the size is the VM's region.
 * Smoke and full give them their chase sweep's largest working set, the
 * region the VMs they used to borrow from the chase had (run_vm.c), so a
 * figure touches the same number of guest pages per command as it did then;
 * quick 64M (a VM booted and its region populated per cell and round,
 * under shadow paging at that, is most of what a bigger one costs), to keep
 * `make run` within minutes. */
#define GUEST_REGION(bytes)                                                                                            \
	{"guest-syscall", {1, {bytes}}}, {"guest-fault", {1, {bytes}}}, {"guest-protect", {1, {bytes}}},               \
		{"guest-unmap", {1, {bytes}}}, {"guest-ctxsw", {1, {bytes}}}, {"guest-ctxsw-pcid", {1, {bytes}}},      \
		{"vm-lifecycle", {1, {bytes}}}

/* Page-table kernels: regions that are whole pages of every backing they can
 * run on (a size that is not is skipped with the reason); context-switch
 * kernels: the working set each side touches after every switch, 0 first. */
static const struct suite_sizes smoke_sizes[] = {
	{"fault", {1, {2 * M}}},
	{"mmap-munmap", {1, {2 * M}}},
	{"mprotect", {1, {2 * M}}},
	{"madvise-dontneed", {1, {2 * M}}},
	{"fork", {1, {2 * M}}},
	{"fork-cow", {1, {2 * M}}},
	{"shootdown", {1, {4 * M}}},
	{"pipe-proc", {2, {0, 64 * K}}},
	{"pipe-thread", {2, {0, 64 * K}}},
	{"yield", {2, {0, 64 * K}}},
	{"vmswitch", {2, {0, 64 * K}}},
	{"guest-shootdown", {1, {4 * M}}},
	GUEST_REGION(16 * M),
	{NULL, {0, {0}}},
};

/* Quick is what `make run` runs, native and micro-VM, within minutes: in
 * rounds every cell's setup is paid once a round, and a 1G region mapped,
 * populated and torn down in each of them on every backing cost most of the
 * run, so its regions stop at 64M (full has the 1G and 4G ones). */
static const struct suite_sizes quick_sizes[] = {
	{"fault", {2, {2 * M, 64 * M}}},
	{"mmap-munmap", {2, {2 * M, 16 * M}}},
	{"mprotect", {2, {2 * M, 64 * M}}},
	{"madvise-dontneed", {2, {2 * M, 64 * M}}},
	{"fork", {2, {2 * M, 64 * M}}},
	{"fork-cow", {2, {2 * M, 64 * M}}},
	{"shootdown", {1, {4 * M}}},
	{"pipe-proc", {3, {0, 256 * K, 4 * M}}},
	{"pipe-thread", {3, {0, 256 * K, 4 * M}}},
	{"yield", {3, {0, 256 * K, 4 * M}}},
	/* From a few pages to beyond the reach of the last-level TLB. */
	{"vmswitch", {3, {0, 256 * K, 32 * M}}},
	{"guest-shootdown", {1, {4 * M}}},
	GUEST_REGION(64 * M),
	{NULL, {0, {0}}},
};

static const struct suite_sizes full_sizes[] = {
	{"fault", {5, {2 * M, 16 * M, 128 * M, 1 * G, 4 * G}}},
	{"mmap-munmap", {4, {2 * M, 16 * M, 128 * M, 1 * G}}},
	{"mprotect", {4, {2 * M, 16 * M, 128 * M, 1 * G}}},
	{"madvise-dontneed", {4, {2 * M, 16 * M, 128 * M, 1 * G}}},
	{"fork", {4, {2 * M, 16 * M, 128 * M, 1 * G}}},
	{"fork-cow", {3, {2 * M, 16 * M, 1 * G}}},
	{"shootdown", {2, {4 * M, 2 * G}}},
	{"pipe-proc", {9, {0, 4 * K, 16 * K, 64 * K, 256 * K, 1 * M, 2 * M, 4 * M, 8 * M}}},
	{"pipe-thread", {9, {0, 4 * K, 16 * K, 64 * K, 256 * K, 1 * M, 2 * M, 4 * M, 8 * M}}},
	{"yield", {9, {0, 4 * K, 16 * K, 64 * K, 256 * K, 1 * M, 2 * M, 4 * M, 8 * M}}},
	{"vmswitch", {8, {0, 4 * K, 64 * K, 256 * K, 1 * M, 4 * M, 16 * M, 64 * M}}},
	{"guest-shootdown", {2, {4 * M, 64 * M}}},
	/* (The chase sweep reaches 8G; 1G regions keep every figure's page count.) */
	GUEST_REGION(1 * G),
	{NULL, {0, {0}}},
};

const struct suite suites[] = {
	{
		.name = "smoke",
		.summary = "every kernel at a few sizes, 5 rounds of 1 sample (seconds; what the tests run)",
		.kernels = all_kernels,
		.ws_min = 16u << 10,
		.ws_max = 16u << 20,
		.per_octave = 1,
		.samples = 5,
		.warmup_samples = 1,
		.target_sample_ns = 1e6,
		.rounds = 5,
		.time_budget_s = 0,
		.sizes = smoke_sizes,
	},
	{
		.name = "quick",
		.summary = "chase 16K..512M, a point per octave; other kernels at 2-3 sizes; 5 rounds of 1 sample (a few "
			   "minutes; make run)",
		.kernels = all_kernels,
		.ws_min = 16u << 10,
		.ws_max = 512u << 20,
		.per_octave = 1,
		.samples = 5,
		.warmup_samples = 1,
		.target_sample_ns = 5e6,
		.rounds = 5,
		.time_budget_s = 5,
		.sizes = quick_sizes,
	},
	{
		.name = "full",
		.summary = "chase 16K..8G (what fits), 4 points per octave; other kernels at 4-9 sizes; 9 rounds of 4 samples",
		.kernels = all_kernels,
		.ws_min = 16u << 10,
		.ws_max = (size_t)8 << 30,
		.per_octave = 4,
		.samples = 36,
		.warmup_samples = 3,
		.target_sample_ns = 20e6,
		.rounds = 9,
		.time_budget_s = 600,
		.sizes = full_sizes,
	},
};
const size_t suites_len = ARRAY_SIZE(suites);

const struct suite *suite_find(const char *name)
{
	for (size_t i = 0; i < suites_len; i++)
		if (!strcmp(suites[i].name, name))
			return &suites[i];
	return NULL;
}

const struct kernel_sizes *suite_kernel_sizes(const struct suite *s, const char *kernel)
{
	for (const struct suite_sizes *z = s ? s->sizes : NULL; z && z->kernel; z++)
		if (!strcmp(z->kernel, kernel))
			return &z->sizes;
	return NULL;
}
