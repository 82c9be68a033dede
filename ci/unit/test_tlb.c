/* The CPUID data-TLB decoders (harness/host/tlb.c) on register values of
 * five CPUs, the host.tlb JSON round trip, and knee level naming
 * (harness/run/knees.c).
 *
 * Where each fixture comes from (no value here is made up; what a document
 * does not state is left out of the assertions and said so):
 *  - Zen 3: the registers a Ryzen 9 5950X (family 19h model 21h) returned,
 *    from a public CPUID dump; they agree with the AMD Software
 *    Optimization Guide for Family 19h (pub. 56665): 64-entry fully
 *    associative L1 DTLB for every page size, 2048-entry L2 DTLB.
 *  - Zen 5: the registers this project's AMD EPYC (family 1Ah model 02h,
 *    under a hypervisor) returned; the L1 DTLB agrees with AMD's
 *    documentation of Zen 5 (Hot Chips 2024 "Zen 5" core: 96-entry DTLB),
 *    the L2 fields decode, per the APM layout, to 128 entries where AMD
 *    documents a 4096-entry L2 DTLB (4096 does not fit the 12-bit field):
 *    the decoder reports what CPUID says and the knees check it.
 *  - Zen 4: encoded here from the Software Optimization Guide for the AMD
 *    Zen4 Microarchitecture (pub. 57647): 72-entry fully associative L1
 *    DTLB (all page sizes), 3072-entry L2 DTLB for 4K and 2M; laid out per
 *    AMD64 APM vol. 3 appendix E.  The L2 associativity code (6h) and the
 *    absent L2 1G field are not from the guide and are not asserted.
 *  - Ice Lake (Sunny Cove) and Sapphire Rapids (Golden Cove): leaf 0x18
 *    subleaves encoded here per SDM vol. 2A (CPUID leaf 18H: EBX page-size
 *    bits and ways, ECX sets, EDX type/level/fully-associative) from the
 *    TLB parameters in the Intel 64 and IA-32 Architectures Optimization
 *    Reference Manual (248966): load DTLB 4K 64 (Ice Lake) / 96 (Golden
 *    Cove) entries, 2M/4M 32, 1G 8; store DTLB 16 entries; STLB 2048
 *    entries for 4K/2M, 1024 for 1G.  Entries and page sizes are asserted;
 *    the way/set split is this encoding's.
 *  - Leaf 2: the SDM's own example (vol. 2A, "Example of Cache and TLB
 *    Interpretation", Pentium 4): EAX 665B5001h, EDX 007A7000h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "harness/host/tlb.h"
#include "harness/run/knees.h"

#define K4 4096ull
#define M2 (2ull << 20)
#define M4 (4ull << 20)
#define G1 (1ull << 30)

static const struct tlb_level *find(const struct tlb_geometry *g, const char *name, uint64_t page)
{
	for (size_t i = 0; i < g->n; i++)
		if (!strcmp(g->lv[i].name, name) && g->lv[i].page_bytes == page)
			return &g->lv[i];
	return NULL;
}

static void expect(const struct tlb_geometry *g, const char *name, uint64_t page, unsigned entries, int ways)
{
	const struct tlb_level *l = find(g, name, page);
	if (!l)
		fail_msg("no %s for %llu-byte pages", name, (unsigned long long)page);
	assert_int_equal(l->entries, entries);
	if (ways >= 0)
		assert_int_equal(l->ways, (unsigned)ways);
}

static void zen3(void **state)
{
	(void)state;
	const uint32_t r5[4] = {0xff40ff40, 0xff40ff40, 0x20080140, 0x20080140};
	const uint32_t r6[4] = {0x48002200, 0x68004200, 0x02006140, 0x02009140};
	const uint32_t r19[4] = {0xf040f040, 0xf0400000, 0, 0};
	struct tlb_geometry g;
	assert_int_equal(tlb_decode_amd(r5, r6, r19, &g), 6);
	assert_string_equal(g.source, "cpuid 0x80000005/0x80000006");
	assert_null(g.unavailable);
	expect(&g, "L1 dTLB", K4, 64, 0);
	expect(&g, "L1 dTLB", M2, 64, 0);
	expect(&g, "L1 dTLB", G1, 64, 0);
	expect(&g, "L2 dTLB", K4, 2048, 8); /* code 6h: 8 to 15 ways */
	expect(&g, "L2 dTLB", M2, 2048, 4); /* code 4h */
	expect(&g, "L2 dTLB", G1, 64, 0);   /* code Fh: fully associative */
	/* Without leaf 0x80000019 there is nothing for 1G pages. */
	assert_int_equal(tlb_decode_amd(r5, r6, NULL, &g), 4);
	assert_null(find(&g, "L1 dTLB", G1));
}

static void zen4(void **state)
{
	(void)state;
	/* EAX/EBX of 0x80000005: dTLB FFh (fully) x 48h (72), iTLB FFh x 40h. */
	const uint32_t r5[4] = {0xff48ff40, 0xff48ff40, 0, 0};
	/* 0x80000006: dTLB 6h x C00h (3072); iTLB fields zero (not decoded). */
	const uint32_t r6[4] = {0x6c000000, 0x6c000000, 0, 0};
	const uint32_t r19[4] = {0xf048f040, 0, 0, 0}; /* L1 1G: 72 fully */
	struct tlb_geometry g;
	assert_int_equal(tlb_decode_amd(r5, r6, r19, &g), 5);
	expect(&g, "L1 dTLB", K4, 72, 0);
	expect(&g, "L1 dTLB", M2, 72, 0);
	expect(&g, "L1 dTLB", G1, 72, 0);
	expect(&g, "L2 dTLB", K4, 3072, -1);
	expect(&g, "L2 dTLB", M2, 3072, -1);
	assert_null(find(&g, "L2 dTLB", G1)); /* a zero field is no TLB */
}

static void zen5(void **state)
{
	(void)state;
	const uint32_t r5[4] = {0xff60ff40, 0xff60ff40, 0x300c0140, 0x20080140};
	const uint32_t r6[4] = {0x40802040, 0x60804040, 0x04008140, 0x0c009140};
	const uint32_t r19[4] = {0, 0, 0, 0}; /* this hypervisor reports no 1G TLBs */
	struct tlb_geometry g;
	assert_int_equal(tlb_decode_amd(r5, r6, r19, &g), 4);
	expect(&g, "L1 dTLB", K4, 96, 0);
	expect(&g, "L1 dTLB", M2, 96, 0);
	expect(&g, "L2 dTLB", K4, 128, 8);
	expect(&g, "L2 dTLB", M2, 128, 4);
}

/* One leaf-0x18 subleaf: type 1 data, 2 instruction, 3 unified, 4 load, 5 store. */
static void sub18(uint32_t out[4], unsigned pages, unsigned ways, unsigned sets, unsigned type, unsigned level,
		  int full)
{
	out[0] = 0;
	out[1] = (ways << 16) | pages;
	out[2] = sets;
	out[3] = type | (level << 5) | (full ? 1u << 8 : 0);
}

static void intel(unsigned load4k_entries, unsigned load4k_ways, struct tlb_geometry *g)
{
	uint32_t s[7][4];
	sub18(s[0], 0x1, load4k_ways, load4k_entries / load4k_ways, 4, 1, 0); /* load DTLB 4K */
	s[0][0] = 6;                                                          /* last subleaf */
	sub18(s[1], 0x6, 4, 8, 4, 1, 0);                                      /* load DTLB 2M/4M: 32 */
	sub18(s[2], 0x8, 8, 1, 4, 1, 1);                                      /* load DTLB 1G: 8 */
	sub18(s[3], 0xF, 16, 1, 5, 1, 1);                                     /* store DTLB: 16 */
	sub18(s[4], 0x7, 16, 128, 3, 2, 0);                                   /* STLB 4K/2M/4M: 2048 */
	sub18(s[5], 0x8, 8, 128, 3, 2, 0);                                    /* STLB 1G: 1024 */
	sub18(s[6], 0x1, 8, 32, 2, 1, 0);                                     /* ITLB: skipped */
	assert_int_equal(tlb_decode_intel_leaf18((const uint32_t(*)[4])s, 7, g), 3 + 4 + 4 + 1);
	assert_string_equal(g->source, "cpuid 0x18");
}

static void ice_lake(void **state)
{
	(void)state;
	struct tlb_geometry g;
	intel(64, 4, &g);
	expect(&g, "L1 dTLB (loads)", K4, 64, 4);
	expect(&g, "L1 dTLB (loads)", M2, 32, 4);
	expect(&g, "L1 dTLB (loads)", M4, 32, 4);
	expect(&g, "L1 dTLB (loads)", G1, 8, 0);
	expect(&g, "L2 STLB", K4, 2048, 16);
	expect(&g, "L2 STLB", M2, 2048, 16);
	expect(&g, "L2 STLB", G1, 1024, 8);
	const struct tlb_level *st = find(&g, "L1 dTLB (stores)", K4);
	assert_non_null(st);
	assert_int_equal(st->loads, 0); /* never matched to a load chase */
}

static void sapphire_rapids(void **state)
{
	(void)state;
	struct tlb_geometry g;
	intel(96, 6, &g);
	expect(&g, "L1 dTLB (loads)", K4, 96, 6);
	expect(&g, "L2 STLB", K4, 2048, -1);
	expect(&g, "L2 STLB", G1, 1024, -1);
}

static void leaf2_example(void **state)
{
	(void)state;
	const uint32_t r[4] = {0x665B5001, 0, 0, 0x007A7000};
	struct tlb_geometry g;
	/* 5Bh: data TLB, 4K and 4M pages, 64 entries; 50h (ITLB), 66h, 70h,
	 * 7Ah (caches) are not data TLBs. */
	assert_int_equal(tlb_decode_intel_leaf2(r, &g), 2);
	assert_string_equal(g.source, "cpuid 0x2");
	expect(&g, "L1 dTLB", K4, 64, -1); /* the SDM gives 5Bh no associativity */
	expect(&g, "L1 dTLB", M4, 64, -1);
	/* Bit 31 set: the register holds no descriptors; FFh alone: none. */
	const uint32_t none[4] = {0x80000001, 0x000000FF, 0, 0};
	assert_int_equal(tlb_decode_intel_leaf2(none, &g), 0);
	assert_null(g.source);
	assert_non_null(g.unavailable);
}

static void json_round_trip(void **state)
{
	(void)state;
	const uint32_t r5[4] = {0xff40ff40, 0xff40ff40, 0, 0};
	const uint32_t r6[4] = {0x48002200, 0x68004200, 0, 0};
	struct tlb_geometry g, back;
	tlb_decode_amd(r5, r6, NULL, &g);
	json_t *j = tlb_geometry_json(&g);
	assert_string_equal(json_string_value(json_object_get(j, "source")), "cpuid 0x80000005/0x80000006");
	assert_true(json_is_null(json_object_get(j, "unavailable")));
	json_t *l2 = json_array_get(json_object_get(j, "levels"), 2);
	assert_string_equal(json_string_value(json_object_get(l2, "name")), "L2 dTLB");
	assert_int_equal(json_integer_value(json_object_get(l2, "reach_bytes")), 2048 * 4096);
	assert_int_equal(tlb_geometry_from_json(j, &back), g.n);
	assert_int_equal(back.lv[2].entries, 2048);
	json_decref(j);
	assert_int_equal(tlb_geometry_from_json(NULL, &back), 0);
}

/* The example: a 4K chase stepping between 8 MiB and 11.3 MiB on a
 * CPU with a 2048-entry L2 dTLB. */
static void level_naming(void **state)
{
	(void)state;
	const uint32_t r5[4] = {0xff40ff40, 0xff40ff40, 0, 0};
	const uint32_t r6[4] = {0x48002200, 0x68004200, 0, 0};
	struct tlb_geometry g;
	tlb_decode_amd(r5, r6, NULL, &g);
	struct knee_level lv;
	uint64_t above = (uint64_t)(11.3 * (1 << 20));
	assert_int_equal(knee_match_level(&g, K4, 8u << 20, above, &lv), 0);
	assert_string_equal(lv.name, "L2 dTLB");
	assert_int_equal(lv.entries, 2048);
	assert_int_equal(lv.reach_bytes, 8u << 20);
	assert_true(lv.consistent);
	char text[200];
	knee_text(&lv, K4, 8u << 20, above, text, sizeof(text));
	assert_string_equal(text, "L2 dTLB: 2048 entries x 4K = 8 MiB; measured step between 8 MiB and 11.3 MiB: consistent");

	/* 256K..364K: the 64-entry L1 (256 KiB reach). */
	assert_int_equal(knee_match_level(&g, K4, 256u << 10, 364u << 10, &lv), 0);
	assert_string_equal(lv.name, "L1 dTLB");
	assert_true(lv.consistent);

	/* A step at 32..45 MiB is nearest the L2 but not where it fills. */
	assert_int_equal(knee_match_level(&g, K4, 32u << 20, 45u << 20, &lv), 0);
	assert_string_equal(lv.name, "L2 dTLB");
	assert_false(lv.consistent);
	knee_text(&lv, K4, 32u << 20, 45u << 20, text, sizeof(text));
	assert_non_null(strstr(text, ": inconsistent"));

	/* No 1G TLB reported: no level, and the text says so. */
	assert_int_equal(knee_match_level(&g, G1, 1ull << 30, 2ull << 30, &lv), -1);
	knee_text(NULL, G1, 1ull << 30, 2ull << 30, text, sizeof(text));
	assert_string_equal(text, "no data TLB for 1G pages reported by CPUID; measured step between 1 GiB and 2 GiB");
}

/* Knee brackets on a synthetic translation curve: chase minus control sits
 * around zero (even below it) while the TLB holds every page, then rises
 * over two points; each rise is judged against the chase's latency. */
static void translation_bracket(void **state)
{
	(void)state;
	const double tr[] = {-0.2, 0.1, -0.1, 0.0, 3.0, 6.0, 6.1, 6.0};
	const double chase[] = {5, 5, 5, 5, 8, 11, 11, 11};
	struct curve_point c[8];
	for (int i = 0; i < 8; i++)
		c[i] = (struct curve_point){(size_t)(2u << 20) << i, (size_t)512 << i, tr[i], tr[i] - 0.3, tr[i] + 0.3};
	struct knee k[4];
	/* Against its own medians (near or below zero) the step from zero
	 * cannot be judged: only its second half is seen... */
	assert_int_equal(find_knees(c, 8, 1.25, k, 4), 1);
	assert_int_equal(k[0].below_index, 4);
	/* ... against the chase's latency the step is one knee, bracketed by
	 * the last point before the rises and the point they end on. */
	assert_int_equal(find_knees_ref(c, chase, 8, 1.25, k, 4), 1);
	assert_int_equal(k[0].below_index, 3);
	assert_int_equal(k[0].above_index, 5);
	assert_int_equal(c[k[0].below_index].working_set_bytes, 16u << 20);
	assert_int_equal(c[k[0].above_index].pages, 512 << 5);
	/* A rise smaller than 25% of the chase in all is no knee. */
	const double small[] = {0, 0, 0, 0, 0.6, 1.1, 1.1, 1.1};
	for (int i = 0; i < 8; i++) {
		c[i].median = small[i];
		c[i].ci_low = small[i] - 0.1;
		c[i].ci_high = small[i] + 0.1;
	}
	assert_int_equal(find_knees_ref(c, chase, 8, 1.25, k, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(zen3),           cmocka_unit_test(zen4),
		cmocka_unit_test(zen5),           cmocka_unit_test(ice_lake),
		cmocka_unit_test(sapphire_rapids), cmocka_unit_test(leaf2_example),
		cmocka_unit_test(json_round_trip), cmocka_unit_test(level_naming),
		cmocka_unit_test(translation_bracket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
