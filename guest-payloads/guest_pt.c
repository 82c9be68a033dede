/* guest_pt.c - the page-table builder (see guest_pt.h).  Freestanding: no libc. */
#include "guest-payloads/guest_pt.h"

#define PT_ENTRIES 512u
#define PT_TABLE_FLAGS (PT_P | PT_W | PT_U)
#define PT_VA_LIMIT (1ull << 47) /* lower canonical half only */

static int level_of(uint64_t page_bytes)
{
	switch (page_bytes) {
	case PT_4K: return 1;
	case PT_2M: return 2;
	case PT_1G: return 3;
	default: return 0;
	}
}

static unsigned index_at(uint64_t va, int level)
{
	return (unsigned)(va >> (12 + 9 * (level - 1))) & (PT_ENTRIES - 1);
}

static uint64_t *table_at(const struct pt_pool *pool, uint64_t pa)
{
	if (pa < pool->pa || pa - pool->pa >= pool->bytes || (pa & 0xfff))
		return 0;
	return (uint64_t *)(void *)(pool->ptr + (pa - pool->pa));
}

int pt_pool_init(struct pt_pool *pool, void *ptr, uint64_t pa, uint64_t bytes, uint64_t used)
{
	if (!ptr || ((uint64_t)(uintptr_t)ptr & 0xfff) || (pa & 0xfff) || (bytes & 0xfff) || (used & 0xfff) ||
	    used > bytes)
		return PT_E_ARG;
	pool->ptr = ptr;
	pool->pa = pa;
	pool->bytes = bytes;
	pool->next = used;
	return PT_OK;
}

int pt_pool_page(struct pt_pool *pool, uint64_t *pa)
{
	if (pool->next + PT_4K > pool->bytes)
		return PT_E_NOMEM;
	uint64_t *t = (uint64_t *)(void *)(pool->ptr + pool->next);
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		t[i] = 0;
	*pa = pool->pa + pool->next;
	pool->next += PT_4K;
	return PT_OK;
}

int pt_space_init(struct pt_space *s, struct pt_pool *pool)
{
	s->pool = pool;
	return pt_pool_page(pool, &s->root);
}

void pt_space_adopt(struct pt_space *s, struct pt_pool *pool, uint64_t root)
{
	s->pool = pool;
	s->root = root;
}

/* The table holding the entries of `level` for va, creating missing tables
 * on the way down when `create` is set. */
static int table_for(const struct pt_space *s, uint64_t va, int level, int create, uint64_t **out)
{
	uint64_t *t = table_at(s->pool, s->root);
	if (!t)
		return PT_E_RANGE;
	for (int l = 4; l > level; l--) {
		uint64_t *e = &t[index_at(va, l)];
		if (!(*e & PT_P)) {
			if (!create)
				return PT_E_ABSENT;
			uint64_t pa;
			int rc = pt_pool_page(s->pool, &pa);
			if (rc)
				return rc;
			*e = pa | PT_TABLE_FLAGS;
		} else if (*e & PT_PS) {
			return PT_E_CONFLICT;
		}
		t = table_at(s->pool, *e & PT_ADDR_MASK);
		if (!t)
			return PT_E_RANGE;
	}
	*out = t;
	return PT_OK;
}

static int check_range(uint64_t va, uint64_t bytes, uint64_t page_bytes)
{
	if (!level_of(page_bytes) || bytes == 0 || (va & (page_bytes - 1)) || (bytes & (page_bytes - 1)) ||
	    va >= PT_VA_LIMIT || bytes > PT_VA_LIMIT - va)
		return PT_E_ARG;
	return PT_OK;
}

/* Visit the leaf slots of the range one table at a time (a walk from the
 * root per table, not per page: inside the guest this may run at CPL0,
 * where every instruction is expensive). */
enum leaf_op { LEAF_MAP, LEAF_UNMAP, LEAF_PROTECT };

static int for_leaves(struct pt_space *s, enum leaf_op op, uint64_t va, uint64_t pa, uint64_t bytes,
		      uint64_t page_bytes, uint64_t set, uint64_t clear)
{
	int rc = check_range(va, bytes, page_bytes);
	if (rc)
		return rc;
	int level = level_of(page_bytes);
	uint64_t leaf = level > 1 ? PT_PS : 0;
	uint64_t pages = bytes / page_bytes;
	while (pages) {
		uint64_t *t;
		rc = table_for(s, va, level, op == LEAF_MAP, &t);
		if (rc)
			return rc;
		unsigned i = index_at(va, level);
		uint64_t n = PT_ENTRIES - i;
		if (n > pages)
			n = pages;
		for (uint64_t k = 0; k < n; k++, i++) {
			uint64_t e = t[i];
			if (op == LEAF_MAP) {
				/* A table here means smaller pages already map part of it. */
				if ((e & PT_P) && level > 1 && !(e & PT_PS))
					return PT_E_CONFLICT;
				t[i] = pa | set | PT_P | leaf;
				pa += page_bytes;
			} else {
				if (!(e & PT_P) || (level > 1 && !(e & PT_PS)))
					return PT_E_ABSENT;
				t[i] = op == LEAF_UNMAP ? 0 : (e & ~clear) | set;
			}
		}
		va += n * page_bytes;
		pages -= n;
	}
	return PT_OK;
}

int pt_map(struct pt_space *s, uint64_t va, uint64_t pa, uint64_t bytes, uint64_t page_bytes, uint64_t flags)
{
	if (pa & (page_bytes - 1) || (pa & ~PT_ADDR_MASK) || (flags & (PT_ADDR_MASK | PT_PS)))
		return PT_E_ARG;
	return for_leaves(s, LEAF_MAP, va, pa, bytes, page_bytes, flags, 0);
}

int pt_unmap(struct pt_space *s, uint64_t va, uint64_t bytes, uint64_t page_bytes)
{
	return for_leaves(s, LEAF_UNMAP, va, 0, bytes, page_bytes, 0, 0);
}

int pt_protect(struct pt_space *s, uint64_t va, uint64_t bytes, uint64_t page_bytes, uint64_t set, uint64_t clear)
{
	if ((set | clear) & (PT_ADDR_MASK | PT_PS | PT_P))
		return PT_E_ARG;
	return for_leaves(s, LEAF_PROTECT, va, 0, bytes, page_bytes, set, clear);
}

int pt_walk(const struct pt_space *s, uint64_t va, struct pt_walk_result *out)
{
	if (va >= PT_VA_LIMIT)
		return PT_E_ARG;
	const uint64_t *t = table_at(s->pool, s->root);
	if (!t)
		return PT_E_RANGE;
	for (int l = 4; l >= 1; l--) {
		uint64_t e = t[index_at(va, l)];
		if (!(e & PT_P))
			return PT_E_ABSENT;
		if (l == 1 || ((e & PT_PS) && l <= 3)) {
			uint64_t size = 1ull << (12 + 9 * (l - 1));
			uint64_t base = e & PT_ADDR_MASK & ~(size - 1);
			out->pa = base | (va & (size - 1));
			out->page_bytes = size;
			out->flags = e & PT_LEAF_FLAGS;
			out->level = l;
			return PT_OK;
		}
		t = table_at(s->pool, e & PT_ADDR_MASK);
		if (!t)
			return PT_E_RANGE;
	}
	return PT_E_ABSENT;
}

int64_t pt_verify(const struct pt_space *s, uint64_t va, uint64_t pa, uint64_t bytes, uint64_t page_bytes,
		  uint64_t flags, uint64_t *bad_va)
{
	if (check_range(va, bytes, page_bytes) || (pa & (page_bytes - 1)))
		return PT_E_ARG;
	uint64_t want = (flags | PT_P) & PT_LEAF_FLAGS;
	uint64_t pages = bytes / page_bytes;
	for (uint64_t i = 0; i < pages; i++) {
		struct pt_walk_result w;
		uint64_t v = va + i * page_bytes;
		if (pt_walk(s, v, &w) || w.pa != pa + i * page_bytes || w.page_bytes != page_bytes ||
		    w.flags != want) {
			if (bad_va)
				*bad_va = v;
			return (int64_t)(i + 1);
		}
	}
	return 0;
}

int pt_share_top(struct pt_space *to, const struct pt_space *from, unsigned index)
{
	uint64_t *dst = table_at(to->pool, to->root);
	const uint64_t *src = table_at(from->pool, from->root);
	if (!dst || !src)
		return PT_E_RANGE;
	if (index >= PT_ENTRIES)
		return PT_E_ARG;
	dst[index] = src[index];
	return PT_OK;
}

const char *pt_strerror(int status)
{
	switch (status) {
	case PT_OK: return "ok";
	case PT_E_ARG: return "bad page size, alignment or address";
	case PT_E_NOMEM: return "page-table pool exhausted";
	case PT_E_CONFLICT: return "a page of another size already maps part of the range";
	case PT_E_ABSENT: return "not mapped at that page size";
	case PT_E_RANGE: return "table outside the page-table pool";
	default: return "unknown page-table error";
	}
}
