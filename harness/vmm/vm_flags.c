/* vm_flags.c - the caveats KVM's facts about a VM call for (see vm.h). */
#include "harness/vmm/vm.h"

#include "core/tsc.h"

/* A region KVM mapped with smaller pages than its backing has (its slot or
 * the host's own mapping splintered them), a guest TSC that runs at another
 * rate than the host's (guest ticks are converted with the host's rate). */
void vm_kvm_flags(const struct vm *vm, size_t backing, json_t *flags)
{
	uint64_t pages[3];
	if (!flags)
		return;
	if (vm_kvm_pages(vm, pages) == 0 &&
	    ((backing >= (1u << 30) && pages[2] == 0) || (backing >= (2u << 20) && pages[1] + pages[2] == 0)))
		json_array_append_new(flags, json_sprintf("kvm mapped guest memory with smaller pages than the backing's "
							  "%zu-byte pages (pages_4k %llu, pages_2m %llu, pages_1g %llu)",
							  backing, (unsigned long long)pages[0],
							  (unsigned long long)pages[1], (unsigned long long)pages[2]));
	uint32_t khz = vm_guest_tsc_khz(vm);
	double host = tsc_ticks_per_ns() * 1e6;
	if (khz && (khz > host * 1.01 || khz < host * 0.99))
		json_array_append_new(flags, json_sprintf("the guest's TSC runs at %u kHz, the host's at %.0f kHz: guest "
							  "timings are converted with the host's rate",
							  khz, host));
}
