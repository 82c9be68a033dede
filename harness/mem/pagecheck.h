/* pagecheck.h - what page sizes really back a range: smaps and pagemap parsing.
 *
 * Parsers take text or file descriptors so unit tests can feed them known
 * input; the *_self() helpers read this process's own /proc files.
 */
#ifndef NESTBENCH_PAGECHECK_H
#define NESTBENCH_PAGECHECK_H

#include <stddef.h>
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

#endif
