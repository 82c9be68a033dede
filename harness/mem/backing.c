/* backing.c - map, populate and verify buffers on 4K, THP and hugetlb pages. */
#include "harness/mem/backing.h"

#include <errno.h>
#include <string.h>
#include <linux/mempolicy.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/kernel.h"
#include "harness/mem/hugepool.h"
#include "harness/mem/pagecheck.h"

/* Kernel ABI values older C libraries may lack (include/uapi/asm-generic/mman-common.h). */
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB (30 << MAP_HUGE_SHIFT)
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define PAGE_4K ((size_t)4096)
#define PAGE_2M ((size_t)2 << 20)
#define PAGE_1G ((size_t)1 << 30)
#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"

static const char *const names[BACKING_COUNT] = {"4k", "thp", "hugetlb-2m", "hugetlb-1g"};
static const size_t page_bytes[BACKING_COUNT] = {PAGE_4K, PAGE_2M, PAGE_2M, PAGE_1G};

const char *backing_name(enum backing_kind kind)
{
	return (unsigned)kind < BACKING_COUNT ? names[kind] : "unknown";
}

int backing_parse(const char *name, enum backing_kind *out, nb_error *err)
{
	for (unsigned i = 0; i < BACKING_COUNT; i++) {
		if (name && strcmp(name, names[i]) == 0) {
			*out = (enum backing_kind)i;
			return 0;
		}
	}
	return nb_fail(err, "unknown backing '%s' (valid: 4k, thp, hugetlb-2m, hugetlb-1g)", name ? name : "");
}

size_t backing_page_bytes(enum backing_kind kind)
{
	return (unsigned)kind < BACKING_COUNT ? page_bytes[kind] : 0;
}

static int is_hugetlb(enum backing_kind kind)
{
	return kind == BACKING_HUGETLB_2M || kind == BACKING_HUGETLB_1G;
}

static size_t round_up(size_t v, size_t to)
{
	return (v + to - 1) / to * to;
}

static int thp_usable(nb_error *err)
{
	char mode[128];
	if (read_small_file(THP_ENABLED, mode, sizeof(mode)) < 0)
		return nb_skip(err, "transparent huge pages are not available: cannot read " THP_ENABLED " (%s); "
			       "the kernel needs CONFIG_TRANSPARENT_HUGEPAGE", strerror(errno));
	if (strstr(mode, "[never]"))
		return nb_skip(err, "transparent huge pages are disabled (" THP_ENABLED " is 'never'); "
			       "enable them with: echo madvise > " THP_ENABLED);
	return 0;
}

static int hugetlb_usable(enum backing_kind kind, size_t bytes, nb_error *err)
{
	size_t page = backing_page_bytes(kind);
	char label[16], path[256];
	format_size(page, label, sizeof(label));
	hugepool_path(page, "nr_hugepages", path, sizeof(path));
	struct hugepool_state st;
	if (hugepool_read(page, &st) != 0)
		return nb_skip(err, "this kernel has no %s hugetlb pool (%s is missing; %s pages need "
			       "CONFIG_HUGETLBFS%s)", label, path, label,
			       page == PAGE_1G ? " and a CPU with 1G pages (pdpe1gb)" : "");
	size_t need = round_up(bytes, page) / page;
	long avail = st.free - st.resv;
	if (avail < 0)
		avail = 0;
	if ((size_t)avail >= need)
		return 0;
	/* Root can try to grow the pool; whether the kernel finds the memory
	 * is only known when buffer_alloc() asks for it. */
	if (access(path, W_OK) == 0)
		return 0;
	return nb_skip(err, "the %s hugetlb pool has %ld free pages, %zu needed, and only root can grow it; as root run: "
		       "echo %ld > %s", label, avail, need, st.total + (long)need - avail, path);
}

int backing_usable(enum backing_kind kind, size_t bytes, nb_error *err)
{
	switch (kind) {
	case BACKING_4K:
		return 0;
	case BACKING_THP:
		return thp_usable(err);
	case BACKING_HUGETLB_2M:
	case BACKING_HUGETLB_1G:
		return hugetlb_usable(kind, bytes, err);
	default:
		return nb_fail(err, "invalid backing kind %d", (int)kind);
	}
}

/* Write to every 4K page so each is really allocated before anything is timed. */
static void touch_pages(void *base, size_t len)
{
	volatile char *p = base;
	for (size_t off = 0; off < len; off += PAGE_4K)
		p[off] = 1;
}

/* Anonymous 4K/THP buffer: over-map so base can be aligned to the page size
 * and so at least one PROT_NONE guard page sits on each side.  The guards
 * keep the kernel from merging the buffer's VMA with a neighbour, so smaps
 * (which reports whole VMAs) describes this buffer alone. */
static int map_anon(struct buffer *buf, size_t len, nb_error *err)
{
	size_t align = backing_page_bytes(buf->kind);
	size_t map_bytes = len + align + PAGE_4K;
	void *m = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return nb_fail(err, "cannot map %zu bytes of anonymous memory: %s", map_bytes, strerror(errno));
	buf->map_base = m;
	buf->map_bytes = map_bytes;
	uintptr_t lo = (uintptr_t)m;
	uintptr_t base = (lo + PAGE_4K + align - 1) / align * align;
	buf->base = (void *)base;
	uintptr_t hi = lo + map_bytes;
	if (mprotect(m, base - lo, PROT_NONE) != 0 || mprotect((void *)(base + len), hi - base - len, PROT_NONE) != 0)
		return nb_fail(err, "cannot set up guard pages around the buffer: %s", strerror(errno));
	struct backing_map_params mp;
	backing_map_params(buf->kind, &mp);
	int advice = mp.advice;
	if (madvise(buf->base, len, advice) != 0)
		return nb_fail(err, "madvise(%s) on the %s buffer failed: %s",
			       advice == MADV_HUGEPAGE ? "MADV_HUGEPAGE" : "MADV_NOHUGEPAGE", backing_name(buf->kind),
			       strerror(errno));
	touch_pages(buf->base, len);
	return 0;
}

/* Would a mapping of len more bytes cross RLIMIT_AS (ulimit -v)?  Then that
 * limit, not the pool, is why mmap() said ENOMEM; its value goes to buf. */
static int address_space_limited(size_t len, char *buf, size_t blen)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 0;
	unsigned long long vm_kb = 0;
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %llu kB", &vm_kb) == 1)
			break;
	if (f)
		fclose(f);
	snprintf(buf, blen, "%llu KiB", (unsigned long long)rl.rlim_cur / 1024);
	return vm_kb * 1024 + len > (unsigned long long)rl.rlim_cur;
}

/* hugetlb buffer: the pool is grown first if needed, then the mapping is
 * made with MAP_POPULATE.  A private hugetlb mapping reserves its pages at
 * mmap() time, so a pool that is too small shows up as ENOMEM here rather
 * than as SIGBUS on first touch. */
static int map_hugetlb(struct buffer *buf, size_t len, nb_error *err)
{
	size_t page = backing_page_bytes(buf->kind);
	size_t npages = len / page;
	char label[16];
	format_size(page, label, sizeof(label));
	struct hugepool_state st;
	if (hugepool_read(page, &st) != 0)
		return nb_skip(err, "this kernel has no %s hugetlb pool", label);
	/* Always ask: free pages may belong to a concurrent run that grew the
	 * pool for itself and has not mapped them yet (hugepool.h). */
	int rc = hugepool_reserve(page, npages, err);
	if (rc != 0)
		return rc;
	struct backing_map_params mp;
	backing_map_params(buf->kind, &mp);
	int flags = mp.mmap_flags | MAP_POPULATE;
	if (buf->shared)
		flags = (flags & ~MAP_PRIVATE) | MAP_SHARED;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (m == MAP_FAILED) {
		int e = errno;
		/* Error path: the pool goes back now, not at exit. */
		hugepool_restore_all();
		hugepool_read(page, &st);
		char limit[64];
		if (e == ENOMEM && address_space_limited(len, limit, sizeof(limit)))
			return nb_skip(err, "cannot map %zu %s hugetlb pages (%zu MiB): the address-space limit "
				       "(ulimit -v, %s) leaves too little room; raise it (ulimit -v unlimited)",
				       npages, label, len >> 20, limit);
		if (e == ENOMEM)
			return nb_skip(err, "cannot map %zu %s hugetlb pages: the pool has %ld free (%ld promised to "
				       "other mappings); another process may have taken them", npages, label, st.free,
				       st.resv);
		return nb_fail(err, "cannot map %zu %s hugetlb pages: %s", npages, label, strerror(e));
	}
	buf->map_base = buf->base = m;
	buf->map_bytes = len;
	if ((uintptr_t)m % page != 0)
		return nb_fail(err, "the kernel returned a %s hugetlb mapping at %p, not %s-aligned", label, m, label);
	touch_pages(buf->base, len);
	return 0;
}

void backing_map_params(enum backing_kind kind, struct backing_map_params *out)
{
	out->mmap_flags = MAP_PRIVATE | MAP_ANONYMOUS;
	out->advice = kind == BACKING_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE;
	out->align = backing_page_bytes(kind);
	if (is_hugetlb(kind)) {
		out->mmap_flags |= MAP_HUGETLB | (kind == BACKING_HUGETLB_1G ? MAP_HUGE_1GB : MAP_HUGE_2MB);
		out->advice = -1;
	}
}

/* ---- NUMA: prefer the calling thread's node while a buffer is populated ---- */

struct node_pref {
	int node;     /* the node preferred, -1: none (unknown or single node) */
	int set;      /* the thread's policy was changed and must be put back */
	int old_mode;
	unsigned long old_mask[16];
};

static void node_prefer_begin(struct node_pref *p)
{
	memset(p, 0, sizeof(*p));
	p->node = -1;
	unsigned cpu = 0, node = 0;
	if (syscall(SYS_getcpu, &cpu, &node, NULL) != 0 || node >= 64 * 16)
		return;
	p->node = (int)node;
	if (syscall(SYS_get_mempolicy, &p->old_mode, p->old_mask, 64 * 16 + 1, NULL, 0) != 0)
		return;
	unsigned long mask[16] = {0};
	mask[node / 64] = 1ul << (node % 64);
	/* Preferred, not bound: a hugetlb pool without pages on that node still
	 * serves the buffer, and buffer_json says where it landed. */
	p->set = syscall(SYS_set_mempolicy, MPOL_PREFERRED, mask, 64 * 16 + 1) == 0;
}

static void node_prefer_end(struct node_pref *p)
{
	if (p->set)
		(void)syscall(SYS_set_mempolicy, p->old_mode, p->old_mode == MPOL_DEFAULT ? NULL : p->old_mask,
			      p->old_mode == MPOL_DEFAULT ? 0 : 64 * 16 + 1);
	p->set = 0;
}

/* The share of up to 64 pages spread over the buffer that sit on `node`
 * (move_pages with no target only reports where pages are); -1 unknown. */
static double on_node_fraction(const struct buffer *buf, int node)
{
	if (node < 0 || !buf->base)
		return -1;
	enum { N = 64 };
	void *pages[N];
	int status[N];
	size_t step = buf->bytes / N ? buf->bytes / N : 1, n = 0;
	for (size_t off = 0; off < buf->bytes && n < N; off += step)
		pages[n++] = (char *)buf->base + off / PAGE_4K * PAGE_4K;
	if (syscall(SYS_move_pages, 0, (unsigned long)n, pages, NULL, status, 0) != 0)
		return -1;
	size_t on = 0, known = 0;
	for (size_t i = 0; i < n; i++) {
		if (status[i] < 0)
			continue;
		known++;
		on += status[i] == node;
	}
	return known ? (double)on / (double)known : -1;
}

static int alloc_buffer(struct buffer *buf, enum backing_kind kind, size_t bytes, int shared, nb_error *err)
{
	memset(buf, 0, sizeof(*buf));
	buf->shared = shared && is_hugetlb(kind);
	if ((unsigned)kind >= BACKING_COUNT)
		return nb_fail(err, "invalid backing kind %d", (int)kind);
	buf->kind = kind;
	size_t page = backing_page_bytes(kind);
	if (bytes == 0)
		return nb_fail(err, "cannot allocate an empty %s buffer", backing_name(kind));
	if (bytes > SIZE_MAX / 2 - 2 * page)
		return nb_fail(err, "a %zu-byte buffer is too large", bytes);
	int rc = backing_usable(kind, bytes, err);
	if (rc != 0)
		return rc;
	size_t len = round_up(bytes, page);
	/* The memory on the measuring PU's node (the caller is pinned): the
	 * thread's policy prefers that node while the buffer is populated. */
	struct node_pref pref;
	node_prefer_begin(&pref);
	rc = is_hugetlb(kind) ? map_hugetlb(buf, len, err) : map_anon(buf, len, err);
	node_prefer_end(&pref);
	buf->node_plus1 = pref.node + 1;
	if (rc != 0) {
		buffer_free(buf);
		return rc;
	}
	buf->bytes = bytes;
	rc = buffer_verify(buf, err);
	/* A THP that did not fault in (no free 2M block at that moment) may
	 * still be had: MADV_COLLAPSE (Linux 6.1+) compacts and collapses
	 * synchronously.  Failure is fine: the verification then tells. */
	if (rc == 0 && kind == BACKING_THP && (buf->verified_page_bytes != PAGE_2M || buf->coverage < 1.0)) {
		(void)madvise(buf->base, len, MADV_COLLAPSE);
		rc = buffer_verify(buf, err);
	}
	if (rc != 0) {
		buffer_free(buf);
		return rc;
	}
	return 0;
}

int buffer_alloc(struct buffer *buf, enum backing_kind kind, size_t bytes, nb_error *err)
{
	return alloc_buffer(buf, kind, bytes, 0, err);
}

int buffer_alloc_shared(struct buffer *buf, enum backing_kind kind, size_t bytes, nb_error *err)
{
	return alloc_buffer(buf, kind, bytes, 1, err);
}

enum { SZ_4K, SZ_2M, SZ_1G, SZ_COUNT };
static const size_t bucket_bytes[SZ_COUNT] = {PAGE_4K, PAGE_2M, PAGE_1G};

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

int buffer_verify(struct buffer *buf, nb_error *err)
{
	if (!buf->base)
		return nb_fail(err, "cannot verify a buffer that is not mapped");
	size_t len = round_up(buf->bytes, backing_page_bytes(buf->kind));
	uintptr_t start = (uintptr_t)buf->base, end = start + len;

	struct smaps_summary s;
	if (smaps_self(start, end, &s, err) != 0)
		return -1;
	/* Bytes on each page size, as smaps sees them.  hugetlb memory is not
	 * in Rss but in {Private,Shared}_Hugetlb, at KernelPageSize. */
	size_t on[SZ_COUNT] = {0, 0, 0};
	size_t resident;
	if (s.hugetlb_bytes || s.kernel_page_bytes > PAGE_4K) {
		resident = min_size(s.hugetlb_bytes, len);
		on[s.kernel_page_bytes >= PAGE_1G ? SZ_1G : SZ_2M] = resident;
	} else {
		resident = min_size(s.rss_bytes, len);
		on[SZ_2M] = min_size(s.anon_huge_bytes, resident);
		on[SZ_4K] = resident - on[SZ_2M];
	}
	snprintf(buf->verify_method, sizeof(buf->verify_method), "smaps");

	/* Second opinion from the physical side (root): the compound pages the
	 * buffer sits on.  Where the two disagree, the smaller huge share wins:
	 * never claim more than both can confirm (a PTE-mapped THP is a 2M
	 * compound page, but the TLB sees 4K pages; smaps counts only PMD maps). */
	struct pagemap_summary pm;
	if (pagemap_self(start, end, &pm, NULL) == 0) {
		size_t k1g = pm.in_1g_compound * PAGE_4K;
		size_t k2m = (pm.in_2m_compound - pm.in_1g_compound) * PAGE_4K;
		on[SZ_1G] = min_size(on[SZ_1G], k1g);
		on[SZ_2M] = min_size(on[SZ_2M], k2m);
		resident = min_size(pm.present * PAGE_4K, len);
		size_t huge = on[SZ_1G] + on[SZ_2M];
		on[SZ_4K] = resident > huge ? resident - huge : 0;
		snprintf(buf->verify_method, sizeof(buf->verify_method), "smaps+kpageflags");
	}

	int best = -1;
	for (int i = 0; i < SZ_COUNT; i++)
		if (on[i] && (best < 0 || on[i] >= on[best]))
			best = i;
	if (best < 0) {
		/* Nothing resident: the buffer was populated, so something odd
		 * (reclaim, a bug) happened; record it rather than guess. */
		buf->verified_page_bytes = 0;
		buf->coverage = 0.0;
		return 0;
	}
	buf->verified_page_bytes = bucket_bytes[best];
	buf->coverage = (double)on[best] / (double)len;
	if (buf->coverage > 1.0)
		buf->coverage = 1.0;
	return 0;
}

void buffer_free(struct buffer *buf)
{
	if (buf->map_base)
		munmap(buf->map_base, buf->map_bytes);
	enum backing_kind kind = buf->kind;
	memset(buf, 0, sizeof(*buf));
	buf->kind = kind;
}

json_t *buffer_json(const struct buffer *buf)
{
	json_t *verified = buf->verified_page_bytes ? json_integer((json_int_t)buf->verified_page_bytes) : json_null();
	json_t *coverage = buf->verified_page_bytes ? json_real(buf->coverage) : json_null();
	json_t *o = json_pack("{s:s, s:I, s:o, s:o, s:s}", "requested", backing_name(buf->kind), "requested_page_bytes",
			      (json_int_t)backing_page_bytes(buf->kind), "verified_page_bytes", verified, "coverage",
			      coverage, "verify_method", buf->verify_method[0] ? buf->verify_method : "none");
	if (buf->base && buf->node_plus1 > 0) {
		double f = on_node_fraction(buf, buf->node_plus1 - 1);
		json_object_set_new(o, "numa", json_pack("{s:i, s:o}", "preferred_node", buf->node_plus1 - 1,
							 "on_node_fraction", f >= 0 ? json_real(f) : json_null()));
	}
	return o;
}

/* ---- the measured range's page check ---- */

static int kind_is_hugetlb(enum backing_kind k)
{
	return k == BACKING_HUGETLB_2M || k == BACKING_HUGETLB_1G;
}

void range_watch_begin(struct range_watch *w, const struct kernel_ctx *ctx)
{
	memset(w, 0, sizeof(*w));
	const struct buffer *b = ctx->touched_buf ? ctx->touched_buf : ctx->buf;
	if (!b || !b->base || ctx->backing_json)
		return;
	size_t bytes = ctx->touched_buf ? ctx->touched_bytes : 0;
	if (!ctx->touched_buf) {
		json_int_t span = json_integer_value(json_object_get(ctx->params, "span_bytes"));
		bytes = span > 0 ? (size_t)span : ctx->working_set_bytes;
	}
	if (bytes == 0)
		return;
	if (bytes > b->bytes)
		bytes = b->bytes;
	w->on = 1;
	w->base = (uintptr_t)b->base;
	w->bytes = bytes;
	w->page_bytes = backing_page_bytes(b->kind);
	w->hugetlb = kind_is_hugetlb(b->kind);
	range_snapshot_take(w->base, w->bytes, w->page_bytes, w->hugetlb, &w->before);
}

json_t *range_watch_end(struct range_watch *w, json_t *flags, json_t *params)
{
	if (!w->on)
		return NULL;
	struct range_snapshot after;
	range_snapshot_take(w->base, w->bytes, w->page_bytes, w->hugetlb, &after);
	json_t *pc = range_check_json(&w->before, &after, w->bytes, w->page_bytes);
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(pc, "events"), i, e)
	{
		const char *what = json_string_value(e);
		/* A fallback is already said of the whole buffer (point.c's
		 * "unverified pages"); here it is about the range measured. */
		json_array_append_new(flags, json_sprintf("page check of the measured range: %s", what));
	}
	if (strcmp(after.method, "none") && json_object_get(params, "verified_pages"))
		json_object_set_new(params, "verified_pages", json_integer((json_int_t)after.verified_pages));
	w->on = 0;
	return pc;
}
