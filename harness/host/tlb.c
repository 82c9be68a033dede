/* tlb.c - CPUID data-TLB decoders and the probe (see tlb.h). */
#include "harness/host/tlb.h"

#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)

const char *tlb_page_name(uint64_t page_bytes, char *buf, size_t len)
{
	if (page_bytes >= GIB && page_bytes % GIB == 0)
		snprintf(buf, len, "%lluG", (unsigned long long)(page_bytes / GIB));
	else if (page_bytes >= MIB && page_bytes % MIB == 0)
		snprintf(buf, len, "%lluM", (unsigned long long)(page_bytes / MIB));
	else if (page_bytes >= KIB && page_bytes % KIB == 0)
		snprintf(buf, len, "%lluK", (unsigned long long)(page_bytes / KIB));
	else
		snprintf(buf, len, "%lluB", (unsigned long long)page_bytes);
	return buf;
}

static void add(struct tlb_geometry *g, const char *name, int level, uint64_t page, unsigned entries, unsigned ways,
		int loads)
{
	if (g->n >= TLB_MAX_LEVELS || entries == 0)
		return;
	struct tlb_level *l = &g->lv[g->n++];
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->level = level;
	l->page_bytes = page;
	l->entries = entries;
	l->ways = ways;
	l->loads = loads;
}

/* ---- AMD (APM vol. 3, E.4.4 to E.4.5 and E.4.14) ---- */

/* L1 fields (0x80000005): 8-bit associativity, 0xFF = fully associative,
 * 0 = reserved (treated as absent). */
static int amd_l1_ways(unsigned code, unsigned *ways)
{
	if (code == 0)
		return -1;
	*ways = code == 0xFF ? 0 : code;
	return 0;
}

/* L2 and 1G fields: the 4-bit code of APM table E-4 ("L2/L3 cache and TLB
 * associativity field encoding"); newer revisions give ranges (6h = 8 to
 * 15 ways), the lower bound is kept.  0 = disabled, 9 = "see 0x8000001D"
 * (caches only) and the reserved codes make the field unusable. */
static int amd_l2_ways(unsigned code, unsigned *ways)
{
	static const int map[16] = {-1, 1, 2, 3, 4, 6, 8, -1, 16, -1, 32, 48, 64, 96, 128, 0};
	if (map[code & 0xF] < 0)
		return -1;
	*ways = (unsigned)map[code & 0xF];
	return 0;
}

/* One L1 field pair: [31:24] assoc, [23:16] entries (the data TLB half). */
static void amd_l1(struct tlb_geometry *g, uint32_t reg, uint64_t page)
{
	unsigned ways;
	if (amd_l1_ways((reg >> 24) & 0xFF, &ways) == 0)
		add(g, "L1 dTLB", 1, page, (reg >> 16) & 0xFF, ways, 1);
}

/* One L2-style field: [31:28] assoc, [27:16] entries (the data TLB half). */
static void amd_l2(struct tlb_geometry *g, const char *name, int level, uint32_t reg, uint64_t page)
{
	unsigned ways;
	if (amd_l2_ways((reg >> 28) & 0xF, &ways) == 0)
		add(g, name, level, page, (reg >> 16) & 0xFFF, ways, 1);
}

size_t tlb_decode_amd(const uint32_t r5[4], const uint32_t r6[4], const uint32_t r19[4], struct tlb_geometry *g)
{
	memset(g, 0, sizeof(*g));
	g->source = "cpuid 0x80000005/0x80000006";
	/* 0x80000005: EAX = 2M/4M TLBs, EBX = 4K TLBs (the 2M entry count also
	 * holds 4M pages at two entries each: 2M is what the kernel maps). */
	amd_l1(g, r5[1], 4 * KIB);
	amd_l1(g, r5[0], 2 * MIB);
	if (r19) {
		/* 0x80000019: EAX = L1 1G TLBs, EBX = L2 1G TLBs, same layout as the L2 fields. */
		unsigned ways;
		if (amd_l2_ways((r19[0] >> 28) & 0xF, &ways) == 0)
			add(g, "L1 dTLB", 1, GIB, (r19[0] >> 16) & 0xFFF, ways, 1);
	}
	/* 0x80000006: EAX = L2 2M/4M TLBs, EBX = L2 4K TLBs. */
	amd_l2(g, "L2 dTLB", 2, r6[1], 4 * KIB);
	amd_l2(g, "L2 dTLB", 2, r6[0], 2 * MIB);
	if (r19)
		amd_l2(g, "L2 dTLB", 2, r19[1], GIB);
	if (g->n == 0) {
		g->source = NULL;
		g->unavailable = "CPUID 0x80000005/0x80000006 report no data TLB";
	}
	return g->n;
}

/* ---- Intel leaf 0x18 (SDM vol. 2A, CPUID leaf 18H) ---- */

size_t tlb_decode_intel_leaf18(const uint32_t (*sub)[4], size_t nsub, struct tlb_geometry *g)
{
	memset(g, 0, sizeof(*g));
	g->source = "cpuid 0x18";
	for (size_t i = 0; i < nsub; i++) {
		uint32_t ebx = sub[i][1], ecx = sub[i][2], edx = sub[i][3];
		unsigned type = edx & 0x1F;    /* 1 data, 2 instruction, 3 unified, 4 load-only, 5 store-only */
		int level = (int)((edx >> 5) & 0x7);
		int full = (edx >> 8) & 1;
		unsigned ways = (ebx >> 16) & 0xFFFF;
		unsigned sets = ecx;
		if (type == 0 || type == 2 || level == 0)
			continue;
		const char *kind = type == 3 ? "STLB" : "dTLB";
		const char *suffix = type == 4 ? " (loads)" : type == 5 ? " (stores)" : "";
		char name[32];
		snprintf(name, sizeof(name), "L%d %s%s", level, kind, suffix);
		static const uint64_t pages[4] = {4 * KIB, 2 * MIB, 4 * MIB, GIB};
		for (int b = 0; b < 4; b++)
			if (ebx & (1u << b))
				add(g, name, level, pages[b], ways * sets, full ? 0 : ways, type != 5);
	}
	if (g->n == 0) {
		g->source = NULL;
		g->unavailable = "CPUID 0x18 reports no data TLB";
	}
	return g->n;
}

/* ---- Intel leaf 2 descriptors (SDM vol. 2A, table of CPUID leaf 2
 * descriptors): the data and shared TLB ones.  tier: 0 = a first-level
 * structure by its name (uTLB, "TLB0"), 2 = second level by its name
 * ("TLB1", "Shared 2nd-Level TLB"), 1 = plain "DTLB"/"Data TLB": first
 * level unless the same CPU also reports a tier-0 one.  The SDM gives no
 * associativity for 5Bh..5Dh; they are recorded as 0 (fully associative)
 * for want of it, and the tests do not assert it. ---- */
struct leaf2_desc {
	uint8_t code, tier;
	uint64_t page, page2; /* page2: a second page size the same entries hold (0: none) */
	unsigned entries, ways;
};

static const struct leaf2_desc leaf2_table[] = {
	{0x03, 1, 4 * KIB, 0, 64, 4},
	{0x04, 1, 4 * MIB, 0, 8, 4},
	{0x05, 2, 4 * MIB, 0, 32, 4},
	{0x56, 0, 4 * MIB, 0, 16, 4},
	{0x57, 0, 4 * KIB, 0, 16, 4},
	{0x59, 0, 4 * KIB, 0, 16, 0},
	{0x5A, 0, 2 * MIB, 4 * MIB, 32, 4},
	{0x5B, 1, 4 * KIB, 4 * MIB, 64, 0},
	{0x5C, 1, 4 * KIB, 4 * MIB, 128, 0},
	{0x5D, 1, 4 * KIB, 4 * MIB, 256, 0},
	{0x63, 1, 2 * MIB, 4 * MIB, 32, 4}, /* and a separate 1G array: below */
	{0x64, 1, 4 * KIB, 0, 512, 4},
	{0x6A, 0, 4 * KIB, 0, 64, 8},
	{0x6B, 1, 4 * KIB, 0, 256, 8},
	{0x6C, 1, 2 * MIB, 4 * MIB, 128, 8},
	{0x6D, 1, GIB, 0, 16, 0},
	{0xA0, 1, 4 * KIB, 0, 32, 0},
	{0xB3, 1, 4 * KIB, 0, 128, 4},
	{0xB4, 2, 4 * KIB, 0, 256, 4},
	{0xBA, 2, 4 * KIB, 0, 64, 4},
	{0xC0, 1, 4 * KIB, 4 * MIB, 8, 4},
	{0xC1, 2, 4 * KIB, 2 * MIB, 1024, 8},
	{0xC2, 1, 4 * KIB, 2 * MIB, 16, 4},
	{0xC3, 2, 4 * KIB, 2 * MIB, 1536, 6}, /* and 1G, 4-way, 16 entries: below */
	{0xC4, 1, 2 * MIB, 4 * MIB, 32, 4},
	{0xCA, 2, 4 * KIB, 0, 512, 4},
};

static const struct leaf2_desc *leaf2_find(uint8_t code)
{
	for (size_t i = 0; i < sizeof(leaf2_table) / sizeof(leaf2_table[0]); i++)
		if (leaf2_table[i].code == code)
			return &leaf2_table[i];
	return NULL;
}

size_t tlb_decode_intel_leaf2(const uint32_t regs[4], struct tlb_geometry *g)
{
	memset(g, 0, sizeof(*g));
	g->source = "cpuid 0x2";
	uint8_t codes[16];
	size_t nc = 0;
	for (int r = 0; r < 4; r++) {
		if (regs[r] & 0x80000000u)
			continue;
		for (int b = r == 0 ? 1 : 0; b < 4; b++) /* AL is not a descriptor */
			codes[nc++] = (uint8_t)(regs[r] >> (8 * b));
	}
	int has_tier0 = 0;
	for (size_t i = 0; i < nc; i++) {
		const struct leaf2_desc *d = leaf2_find(codes[i]);
		if (d && d->tier == 0)
			has_tier0 = 1;
	}
	for (size_t i = 0; i < nc; i++) {
		const struct leaf2_desc *d = leaf2_find(codes[i]);
		if (!d)
			continue;
		int level = d->tier == 0 ? 1 : d->tier == 2 ? 2 : has_tier0 ? 2 : 1;
		const char *name = d->tier == 2 && (d->code == 0xC1 || d->code == 0xC3 || d->code == 0xCA)
					   ? "L2 STLB"
					   : level == 1 ? "L1 dTLB" : "L2 dTLB";
		add(g, name, level, d->page, d->entries, d->ways, 1);
		if (d->page2)
			add(g, name, level, d->page2, d->entries, d->ways, 1);
		if (d->code == 0x63)
			add(g, name, level, GIB, 4, 4, 1);
		if (d->code == 0xC3)
			add(g, name, level, GIB, 16, 4, 1);
	}
	if (g->n == 0) {
		g->source = NULL;
		g->unavailable = "CPUID 2 has no data TLB descriptor this build decodes (0xFF: see leaf 0x18)";
	}
	return g->n;
}

/* ---- the probe ---- */

static void cpuid_regs(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	unsigned a, b, c, d;
	__cpuid_count(leaf, sub, a, b, c, d);
	r[0] = a;
	r[1] = b;
	r[2] = c;
	r[3] = d;
}

void tlb_probe(struct tlb_geometry *g)
{
	memset(g, 0, sizeof(*g));
	unsigned maxb, b, c, d;
	if (!__get_cpuid(0, &maxb, &b, &c, &d)) {
		g->unavailable = "cpuid is not available";
		return;
	}
	char vendor[13];
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	vendor[12] = 0;
	uint32_t r[4];
	cpuid_regs(0x80000000u, 0, r);
	uint32_t maxext = r[0];
	if (!strcmp(vendor, "AuthenticAMD") || !strcmp(vendor, "HygonGenuine")) {
		if (maxext < 0x80000006u) {
			g->unavailable = "CPUID 0x80000006 is beyond the maximum extended leaf";
			return;
		}
		uint32_t r5[4], r6[4], r19[4];
		cpuid_regs(0x80000005u, 0, r5);
		cpuid_regs(0x80000006u, 0, r6);
		int have19 = maxext >= 0x80000019u;
		if (have19)
			cpuid_regs(0x80000019u, 0, r19);
		tlb_decode_amd(r5, r6, have19 ? r19 : NULL, g);
		return;
	}
	if (!strcmp(vendor, "GenuineIntel")) {
		if (maxb >= 0x18) {
			uint32_t sub[16][4];
			cpuid_regs(0x18, 0, sub[0]);
			size_t n = (size_t)sub[0][0] + 1;
			if (n > 16)
				n = 16;
			for (size_t i = 1; i < n; i++)
				cpuid_regs(0x18, (uint32_t)i, sub[i]);
			if (tlb_decode_intel_leaf18((const uint32_t(*)[4])sub, n, g))
				return;
		}
		if (maxb >= 2) {
			cpuid_regs(2, 0, r);
			tlb_decode_intel_leaf2(r, g);
			return;
		}
		g->unavailable = "neither CPUID 0x18 nor CPUID 2 is available";
		return;
	}
	g->unavailable = "CPU vendor without a TLB decoder in this build";
}

json_t *tlb_geometry_json(const struct tlb_geometry *g)
{
	json_t *levels = json_array();
	for (size_t i = 0; i < g->n; i++) {
		const struct tlb_level *l = &g->lv[i];
		json_t *e = json_pack("{s:s, s:i, s:I, s:i, s:i, s:I}", "name", l->name, "level", l->level, "page_bytes",
				      (json_int_t)l->page_bytes, "entries", (int)l->entries, "ways", (int)l->ways,
				      "reach_bytes", (json_int_t)(l->page_bytes * l->entries));
		if (!l->loads)
			json_object_set_new(e, "loads", json_false());
		json_array_append_new(levels, e);
	}
	return json_pack("{s:o, s:o, s:o}", "source", g->source ? json_string(g->source) : json_null(), "unavailable",
			 g->unavailable ? json_string(g->unavailable) : json_null(), "levels", levels);
}

size_t tlb_geometry_from_json(const json_t *tlb, struct tlb_geometry *g)
{
	memset(g, 0, sizeof(*g));
	const json_t *levels = json_object_get(tlb, "levels");
	size_t i;
	const json_t *e;
	json_array_foreach(levels, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		json_int_t page = json_integer_value(json_object_get(e, "page_bytes"));
		json_int_t entries = json_integer_value(json_object_get(e, "entries"));
		if (!name || page <= 0 || entries <= 0)
			continue;
		const json_t *loads = json_object_get(e, "loads");
		add(g, name, (int)json_integer_value(json_object_get(e, "level")), (uint64_t)page, (unsigned)entries,
		    (unsigned)json_integer_value(json_object_get(e, "ways")), !json_is_false(loads));
	}
	return g->n;
}
