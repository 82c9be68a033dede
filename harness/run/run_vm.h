/* run_vm.h - the VM side of `nestbench run --mode vm|both`.
 *
 * For one host backing, run_vm_open() boots one VM per requested guest page
 * size over that backing's memory (a guest page size or backing that cannot
 * be had is recorded as skipped with the reason).  run_vm_measure() then
 * measures a kernel at one working-set point in every open VM, with the
 * harness's own measuring loop and statistics, so run.c can interleave it
 * with the native measurement of the same point: the kernels whose
 * descriptor has a guest version (kernel_desc.guest_chase_stride, the chase
 * and its control); the others are recorded as skipped.  run_vm_close()
 * tears the VMs down.  A guest that faults or hangs costs its configuration,
 * never the run.
 *
 * Everything else measured in a guest (the guest-kernel figures,
 * vm-lifecycle, the hardware-assist kernels) is a KERNEL_HAS_GUEST table
 * kernel that builds its own VM with bench/hwvm.c.
 */
#ifndef NESTBENCH_RUN_VM_H
#define NESTBENCH_RUN_VM_H

#include <jansson.h>

#include "harness/mem/backing.h"
#include "core/kernel.h"
#include "harness/run/records.h"
#include "harness/run/run.h"

struct run_vm;

/* "4k", "2m", "1g" -> bytes; 0 if unknown. */
uint64_t run_vm_guest_page_parse(const char *name);
const char *run_vm_guest_page_name(uint64_t bytes);

/* Open the VMs for buffer `buf` (need = bytes the sweep needs).  Never
 * fails the run: problems become skipped measurements in `recs`. */
struct run_vm *run_vm_open(const struct run_config *cfg, struct buffer *buf, size_t need, int cpu,
			   struct run_records *recs);
/* Measure kernel k at working set ws in every open VM; writes to recs. */
void run_vm_measure(struct run_vm *rv, const struct kernel_desc *k, size_t ws, struct run_records *recs);
/* Tear the VMs down.  NULL is fine. */
void run_vm_close(struct run_vm *rv);

/* The backing could not be had: record the VM measurements as skipped. */
void run_vm_skip_backing(const struct run_config *cfg, enum backing_kind kind, int cpu, const char *reason,
			 struct run_records *recs);

/* Guest/native ratios of the chase medians, per guest page and backing,
 * from the run's records (each VM chase with the native one of its identity). */
void run_vm_print_summary(FILE *out, const struct run_records *rs);

#endif
