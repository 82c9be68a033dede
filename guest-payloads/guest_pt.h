/* guest_pt.h - x86-64 4-level page-table builder, used on both sides.
 *
 * The VMM uses it to build the payload's boot tables, the payload uses it to
 * map its benchmark region with 4K, 2M or 1G pages (and to serve map, unmap
 * and protect requests), and the unit tests run it on the host and walk what
 * it built.  It is freestanding C: table pages come from a pool of
 * physical pages that the caller makes reachable at `ptr` (a host mapping of
 * guest memory on the host, the identity map inside the guest).
 *
 * TLB maintenance is not done here: callers INVLPG or reload CR3.
 */
#ifndef NESTBENCH_GUEST_PT_H
#define NESTBENCH_GUEST_PT_H

#include <stdint.h>

#define PT_P (1ull << 0)
#define PT_W (1ull << 1)
#define PT_U (1ull << 2)
#define PT_A (1ull << 5)
#define PT_D (1ull << 6)
#define PT_PS (1ull << 7)
#define PT_G (1ull << 8)
#define PT_NX (1ull << 63)
#define PT_ADDR_MASK 0x000ffffffffff000ull
/* Flags a leaf may carry that the walker compares. */
#define PT_LEAF_FLAGS (PT_P | PT_W | PT_U | PT_G | PT_NX)

#define PT_4K 0x1000ull
#define PT_2M 0x200000ull
#define PT_1G 0x40000000ull

enum pt_status {
	PT_OK = 0,
	PT_E_ARG = -1,      /* bad page size, misaligned or non-canonical address, empty range */
	PT_E_NOMEM = -2,    /* the pool is exhausted */
	PT_E_CONFLICT = -3, /* a larger page already maps part of the range */
	PT_E_ABSENT = -4,   /* unmap/protect of something not mapped at that size */
	PT_E_RANGE = -5     /* pool memory or a table pointer outside the pool */
};

/* Physical pages [pa, pa + bytes) handed out one at a time, reachable at ptr. */
struct pt_pool {
	unsigned char *ptr;
	uint64_t pa, bytes, next;
};

/* One address space: a PML4 and the pool its tables come from. */
struct pt_space {
	struct pt_pool *pool;
	uint64_t root; /* physical address of the PML4 */
};

/* Result of a software walk. */
struct pt_walk_result {
	uint64_t pa;         /* physical address va translates to */
	uint64_t page_bytes; /* size of the leaf that maps it */
	uint64_t flags;      /* the leaf's PT_LEAF_FLAGS */
	int level;           /* 1 = PTE, 2 = PDE, 3 = PDPTE */
};

/* The pool: ptr/pa/bytes page-aligned; `used` bytes at the start already taken. */
int pt_pool_init(struct pt_pool *pool, void *ptr, uint64_t pa, uint64_t bytes, uint64_t used);
/* A zeroed page from the pool; its physical address in *pa. */
int pt_pool_page(struct pt_pool *pool, uint64_t *pa);

/* A new, empty address space. */
int pt_space_init(struct pt_space *s, struct pt_pool *pool);
/* Adopt an existing PML4 (e.g. the boot tables). */
void pt_space_adopt(struct pt_space *s, struct pt_pool *pool, uint64_t root);

/* Map [va, va + bytes) to [pa, ...) with pages of page_bytes (4K, 2M, 1G):
 * all three aligned to page_bytes.  Existing leaves of the same size are
 * replaced; flags are the leaf flags (PT_P is implied; PT_PS is added for
 * large pages).  Intermediate entries get P|W|U so leaf flags decide. */
int pt_map(struct pt_space *s, uint64_t va, uint64_t pa, uint64_t bytes, uint64_t page_bytes, uint64_t flags);
/* Clear the leaves of size page_bytes covering [va, va + bytes). */
int pt_unmap(struct pt_space *s, uint64_t va, uint64_t bytes, uint64_t page_bytes);
/* Set and clear leaf flags of the pages of size page_bytes in the range. */
int pt_protect(struct pt_space *s, uint64_t va, uint64_t bytes, uint64_t page_bytes, uint64_t set,
	       uint64_t clear);

/* Translate va like the MMU does (no permission checks).  0 or PT_E_ABSENT. */
int pt_walk(const struct pt_space *s, uint64_t va, struct pt_walk_result *out);

/* Walk every page of a mapping made with pt_map and check address, page size
 * and flags.  Returns 0, or the 1-based index of the first bad page (its VA in
 * *bad_va when not NULL).  A negative value is a bad argument. */
int64_t pt_verify(const struct pt_space *s, uint64_t va, uint64_t pa, uint64_t bytes, uint64_t page_bytes,
		  uint64_t flags, uint64_t *bad_va);

/* Copy PML4 entry `index` of `from` into `to` (shares that subtree). */
int pt_share_top(struct pt_space *to, const struct pt_space *from, unsigned index);

/* Human name of a status, for messages. */
const char *pt_strerror(int status);

#endif
