/* hostmem.h - the host side of a Linux guest's memory: which QEMU memory
 * backend gives it each host backing, and what the host kernel actually
 * mapped it with, read from the QEMU process's smaps.
 *
 *   4k          memory-backend-memfd (shmem: 4K pages unless the host's
 *               shmem_enabled forces huge ones, which the check then shows)
 *   thp         memory-backend-ram,prealloc=on (anonymous memory, which QEMU
 *               madvises MADV_HUGEPAGE; prealloc faults it all in at start,
 *               when 2M blocks are easiest to find)
 *   hugetlb-2m  memory-backend-memfd,hugetlb=on,hugetlbsize=2M,prealloc=on
 *   hugetlb-1g  memory-backend-memfd,hugetlb=on,hugetlbsize=1G,prealloc=on
 * All are named "ram0" and given to the machine with -machine memory-backend.
 */
#ifndef NESTBENCH_LINUXGUEST_HOSTMEM_H
#define NESTBENCH_LINUXGUEST_HOSTMEM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/backing_kind.h"
#include "core/util.h"

#define HOSTMEM_ID "ram0"

/* The -object argument for guest memory of mem_bytes on backing kind.  0, or
 * -1 when mem_bytes is not a whole number of the backing's pages. */
int hostmem_object(enum backing_kind kind, uint64_t mem_bytes, char *out, size_t len, nb_error *err);

/* What smaps says of the guest-RAM mapping (the VMA of exactly mem_bytes,
 * else the largest of at least half of it). */
struct hostmem_sample {
	int found;
	uint64_t vma_bytes, rss_bytes, kernel_page_bytes, thp_bytes, hugetlb_bytes;
	char name[128];  /* the mapping's name ("/memfd:ram0 (deleted)", "" anonymous) */
};

/* Parse smaps text (pure: tests feed it fixtures).  0, or -1: no mapping. */
int hostmem_parse_smaps(const char *text, uint64_t mem_bytes, struct hostmem_sample *out);

/* Read /proc/PID/smaps and parse it.  0 or -1. */
int hostmem_sample_pid(pid_t pid, uint64_t mem_bytes, struct hostmem_sample *out);

/* The page size the sample shows the guest's memory on (hugetlb: the
 * kernel page size; THP: 2M when it holds most of the resident memory;
 * else 4K) and the fraction of resident bytes on it. */
uint64_t hostmem_verified_page(const struct hostmem_sample *s, double *coverage);

/* {"requested", "memory_backend", "verified_page_bytes", "coverage",
 *  "rss_bytes", "thp_bytes", "hugetlb_bytes", "kernel_page_bytes", "source"}
 * or, without a sample, verified_page_bytes null and "unavailable": why. */
json_t *hostmem_json(enum backing_kind kind, const char *object, const struct hostmem_sample *s,
		     const char *unavailable);

#endif
