/* pagecheck.h - what page sizes really back a range: smaps and pagemap parsing.
 *
 * Parsers take text or file descriptors so unit tests can feed them known
 * input; the *_self() helpers read this process's own /proc files.
 */
#ifndef NESTBENCH_PAGECHECK_H
#define NESTBENCH_PAGECHECK_H

#include <stddef.h>
#include <jansson.h>
#include <stdint.h>

#include "core/util.h"

/* Totals over the smaps entries (VMAs) that overlap [start, end). */
struct smaps_summary {
	size_t vmas;               /* number of VMAs overlapping the range */
	size_t kernel_page_bytes;  /* KernelPageSize (largest seen) */
	size_t mmu_page_bytes;     /* MMUPageSize (largest seen) */
	size_t rss_bytes;
	size_t anon_huge_bytes;    /* AnonHugePages: THP-backed bytes */
	size_t hugetlb_bytes;      /* Private_Hugetlb + Shared_Hugetlb */
};

/* Parse smaps text (the content of /proc/PID/smaps).  VMAs partly in the
 * range are counted in full (a buffer is always mapped as its own VMA).
 * Returns 0, or -1 on malformed input. */
int smaps_parse(const char *text, uintptr_t start, uintptr_t end, struct smaps_summary *out, nb_error *err);
int smaps_self(uintptr_t start, uintptr_t end, struct smaps_summary *out, nb_error *err);

/* Per-page facts from /proc/self/pagemap and /proc/kpageflags (root only for PFNs). */
struct pagemap_summary {
	size_t pages;        /* 4K pages examined */
	size_t present;
	size_t thp;          /* present pages that belong to a transparent huge page */
	size_t hugetlb;      /* ... to a hugetlb page */
	size_t pfn_known;    /* pages whose PFN was readable (0 when not root) */
	/* Present pages inside a physically contiguous compound page (a head
	 * followed by tails on consecutive PFNs) of at least 2M / 1G: the size
	 * of the page, which the THP/HUGE flags alone do not give (KPF_THP is
	 * also set on smaller multi-size THP folios). */
	size_t in_2m_compound;
	size_t in_1g_compound;
	/* A digest of (page, frame) over the pages whose PFN is known: equal
	 * before and after a measurement unless a page moved (migration,
	 * compaction, a THP collapse copying into a new huge page). */
	uint64_t pfn_digest;
};

/* Decode one pagemap entry (bit 63 present, bits 0-54 PFN). */
int pagemap_entry_present(uint64_t entry);
uint64_t pagemap_entry_pfn(uint64_t entry);
/* kpageflags bits that matter here (KPF_THP = 22, KPF_HUGE = 17). */
int kpageflags_is_thp(uint64_t flags);
int kpageflags_is_huge(uint64_t flags);
/* KPF_COMPOUND_HEAD = 15, KPF_COMPOUND_TAIL = 16. */
int kpageflags_is_head(uint64_t flags);
int kpageflags_is_tail(uint64_t flags);

/* Walk [start, end) through /proc/self/pagemap and /proc/kpageflags.
 * Returns 0, or 1 when pagemap/kpageflags cannot be read (reason in err).
 * On 1 the presence counts are still filled when pagemap itself was
 * readable (PFNs are hidden from non-root), so pages/present are usable. */
int pagemap_self(uintptr_t start, uintptr_t end, struct pagemap_summary *out, nb_error *err);

/* ---- Page sizes of the range a measurement touches (results: the
 * measurement's "page_check") ----
 *
 * The range is [base, base + bytes); it is walked rounded out to whole
 * pages of the size asked for, so a 64K working set on a 2M page is seen
 * sitting on that page.  A snapshot before and one after the samples say
 * what backed the range then: bytes on each page size, the number of
 * distinct pages touched (verified_pages: counted, not span / page size),
 * and a digest of the frames, so that a THP split or collapse, a migration
 * or a fallback during the measurement are seen and flagged. */
struct range_snapshot {
	const char *method;        /* "pagemap+kpageflags" (per page), "smaps (whole mapping)", or "none" */
	size_t walked_bytes;       /* the range rounded out to whole requested pages */
	size_t present_bytes;
	size_t on_bytes[3];        /* resident bytes on 4K, 2M and 1G pages */
	size_t verified_pages;     /* distinct pages of those sizes the range touches */
	size_t verified_page_bytes; /* the size most of the range is on (0: nothing resident) */
	double coverage;           /* fraction of the walked bytes on verified_page_bytes */
	uint64_t pfn_digest;       /* per-page method only */
	size_t vma_anon_huge_bytes; /* the mapping's AnonHugePages (smaps): PMD-mapped THP */
};

/* Pure: a snapshot from the walk's counts.  pm NULL: the per-page walk was
 * not possible (no PFNs: not root), classify from the mapping's smaps alone.
 * hugetlb: the range is hugetlb memory (its compound pages are the pages);
 * else anonymous memory whose 2M compound pages count as 2M only as far as
 * smaps sees them PMD-mapped (a PTE-mapped THP is 4K pages to the TLB). */
void range_snapshot_classify(const struct pagemap_summary *pm, const struct smaps_summary *sm, int hugetlb,
			     size_t walked_bytes, struct range_snapshot *out);

/* Take a snapshot of [base, base + bytes) on this process; page_bytes: the
 * page size asked for (the walk's rounding). */
void range_snapshot_take(uintptr_t base, size_t bytes, size_t page_bytes, int hugetlb, struct range_snapshot *out);

/* Pure: compare before and after.  Appends to events (an array; may be
 * NULL) what happened: "fallback" (the range is not wholly on the page size
 * asked for), "thp_split", "thp_collapse", "migration", "reclaim"; returns
 * 1 when anything changed between the two. */
int range_snapshot_compare(const struct range_snapshot *before, const struct range_snapshot *after,
			   size_t requested_page_bytes, json_t *events);

/* {"bytes", "requested_page_bytes", "before": {...}, "after": {...},
 *  "verified_pages", "verified_page_bytes", "changed", "events": [...]}. */
json_t *range_check_json(const struct range_snapshot *before, const struct range_snapshot *after, size_t bytes,
			 size_t requested_page_bytes);

#endif
