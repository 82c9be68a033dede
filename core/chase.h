/* chase.h - the pointer-chase kernels: layout, chain builder and the measured loop.
 *
 * Layout.  `elements` elements, element e living in slot e of `stride` bytes.
 * Within its slot an element sits on cache line
 *     line(e) = (e mod L + e div L) mod L,      L = stride / 64
 * so that (a) the first L elements (neighbouring pages) all use different
 * lines, hence different L1 sets, and (b) for each value of e mod L the line
 * still runs through every value as e grows, so the line does not correlate
 * with the low page-number bits that index the L2/L3 sets under large pages.
 * A page-stride chase that always used line 0 would measure conflict misses
 * in one cache set, not the TLB.
 *
 * Order.  A seeded Fisher-Yates shuffle of the element indices, linked in
 * order and closed into one cycle through every element.  With TLB-locality
 * grouping the elements are shuffled within consecutive groups, and the
 * groups themselves are visited in shuffled order.
 *
 * chase-ctl is the same chain (the same stride, seed and grouping, so the
 * same offsets in the same order) built on a mapping of its own on the
 * largest page the machine gives (bench/chase.c): it pays no translation,
 * and chase minus chase-ctl is what translation costs.  (Inside a VM the
 * guest's control is still the same builder at stride 64, packed onto
 * fewer guest pages: no translation-free guest mapping is built.)
 *
 * The loop (chase_walk) is header-only and libc-free: the host binary and the
 * guest payloads compile this same function.
 */
#ifndef NESTBENCH_CHASE_H
#define NESTBENCH_CHASE_H

#include <stddef.h>
#include <stdint.h>

#define CHASE_LINE_BYTES 64u

/* Byte offset of element e from the start of the buffer. */
static inline uint64_t chase_element_offset(uint64_t e, uint64_t stride)
{
	uint64_t lines = stride / CHASE_LINE_BYTES;
	uint64_t line = lines > 1 ? (e % lines + e / lines) % lines : 0;
	return e * stride + line * CHASE_LINE_BYTES;
}

/* Follow the chain for iters dependent loads, starting at p; returns where it
 * stopped so the next call continues the same cycle.  Unrolled by eight: the
 * loop counter and branch run beside the load chain and hide in its latency. */
static inline void *chase_walk(void *p, uint64_t iters)
{
	void **q = (void **)p;
	while (iters >= 8) {
		q = (void **)*q; q = (void **)*q; q = (void **)*q; q = (void **)*q;
		q = (void **)*q; q = (void **)*q; q = (void **)*q; q = (void **)*q;
		iters -= 8;
	}
	while (iters--)
		q = (void **)*q;
	return q;
}

#ifndef NESTBENCH_FREESTANDING
/* Write the chain into buf (host view).  Pointers stored are `vbase` + offset,
 * so a chain built on the host can be walked at another virtual address (a
 * guest's).  stride must be a multiple of 64; group_elems 0 = no grouping.
 * buf must hold chase_span_bytes(elements, stride).  Returns 0, -1 on bad
 * arguments or out of memory. */
int chase_build(void *buf, uint64_t vbase, uint64_t elements, uint64_t stride, uint64_t group_elems,
		uint64_t seed);

/* Bytes from the start of the buffer to the end of the last element's slot. */
static inline uint64_t chase_span_bytes(uint64_t elements, uint64_t stride)
{
	return elements * stride;
}
#endif

#endif
