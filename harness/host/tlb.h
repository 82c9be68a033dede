/* tlb.h - the CPU's data-TLB geometry from CPUID (host.tlb).
 *
 * Pure decoders (register values in, levels out) so unit tests can feed
 * recorded or documented register values, and one probe that runs CPUID on
 * this machine.  Sources, in the order tried:
 *   AMD:   CPUID 0x80000005 (L1 TLBs, 4K and 2M/4M), 0x80000006 (L2 TLBs,
 *          4K and 2M/4M) and 0x80000019 (L1 and L2 TLBs for 1G pages),
 *          field layouts of the AMD64 APM vol. 3, appendix E.4;
 *   Intel: CPUID 0x18 (deterministic address translation parameters,
 *          SDM vol. 2A, CPUID leaf 18H), else the one-byte descriptors of
 *          CPUID 2 (SDM vol. 2A, table "Encoding of CPUID Leaf 2
 *          Descriptors").
 * Only data (or unified) TLBs are kept: the chase measures loads.  Under a
 * hypervisor these leaves are whatever the hypervisor chose to report:
 * host.tlb says what CPUID says, the knees say whether the hardware agrees.
 */
#ifndef NESTBENCH_TLB_H
#define NESTBENCH_TLB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define TLB_MAX_LEVELS 24

struct tlb_level {
	char name[32];       /* "L1 dTLB", "L2 dTLB", "L2 STLB" (Intel unified), "L1 dTLB (loads)" */
	int level;           /* 1, 2, ... */
	uint64_t page_bytes; /* 4096, 2097152, 4194304, 1073741824 */
	unsigned entries;
	unsigned ways;       /* 0 = fully associative */
	int loads;           /* 1: translates loads (data, load-only or unified); 0: store-only */
};

struct tlb_geometry {
	const char *source;      /* "cpuid 0x80000005/0x80000006", "cpuid 0x18", "cpuid 0x2"; NULL if none */
	const char *unavailable; /* NULL, or why there is no geometry */
	size_t n;
	struct tlb_level lv[TLB_MAX_LEVELS];
};

/* AMD.  r5, r6: EAX..EDX of 0x80000005 and 0x80000006; r19: of 0x80000019,
 * NULL when that leaf is beyond the maximum extended leaf.  Fields whose
 * size or associativity is 0 are not reported (the TLB is absent or
 * disabled).  Returns the number of levels decoded. */
size_t tlb_decode_amd(const uint32_t r5[4], const uint32_t r6[4], const uint32_t r19[4], struct tlb_geometry *g);

/* Intel leaf 0x18: sub[i] = EAX..EDX of subleaf i, nsub of them (subleaf 0
 * EAX gives the last valid subleaf; the caller reads that many).  Subleaves
 * whose type field is 0 (null) are skipped; one level per page size the
 * subleaf supports, entries = ways x sets. */
size_t tlb_decode_intel_leaf18(const uint32_t (*sub)[4], size_t nsub, struct tlb_geometry *g);

/* Intel leaf 2: EAX..EDX of one CPUID 2 call (AL is ignored, registers with
 * bit 31 set carry no descriptors).  Only the data and shared TLB
 * descriptors are decoded; 0xFF ("see leaf 4 / 0x18") yields nothing. */
size_t tlb_decode_intel_leaf2(const uint32_t regs[4], struct tlb_geometry *g);

/* Probe this CPU (vendor from leaf 0; AMD or Hygon: the extended leaves;
 * Intel: 0x18, else 2). */
void tlb_probe(struct tlb_geometry *g);

/* host.tlb: {"source", "unavailable", "levels": [{name, level, page_bytes,
 * entries, ways, reach_bytes}, ...]}. */
json_t *tlb_geometry_json(const struct tlb_geometry *g);

/* Read a host.tlb object back (derive names knee levels from it); levels
 * without entries or page size are skipped.  Returns the number read. */
size_t tlb_geometry_from_json(const json_t *tlb, struct tlb_geometry *g);

/* "4K", "2M", "1G", "16K"... for a page size (buf >= 16). */
const char *tlb_page_name(uint64_t page_bytes, char *buf, size_t len);

#endif
