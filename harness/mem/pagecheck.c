/* pagecheck.c - smaps parsing and the pagemap/kpageflags walk behind buffer verification. */
#include "harness/mem/pagecheck.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE_4K 4096u

/* pagemap entry layout (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PRESENT (UINT64_C(1) << 63)
#define PM_PFN_MASK ((UINT64_C(1) << 55) - 1)

/* kpageflags bits (include/uapi/linux/kernel-page-flags.h). */
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16
#define KPF_HUGE 17
#define KPF_THP 22

#define PAGES_PER_2M 512u
#define PAGES_PER_1G 262144u

/* ---- smaps ---- */

/* Parse a lowercase-or-uppercase hex number; returns the first character after it. */
static const char *parse_hex(const char *p, uintptr_t *out)
{
	uintptr_t v = 0;
	const char *s = p;
	while (isxdigit((unsigned char)*p)) {
		if (v > (UINTPTR_MAX >> 4))
			return NULL;
		int c = tolower((unsigned char)*p);
		v = (v << 4) | (uintptr_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
		p++;
	}
	if (p == s)
		return NULL;
	*out = v;
	return p;
}

/* "7f12a0000000-7f12a0200000 rw-p 00000000 00:00 0   [path]" */
static int parse_header(const char *line, size_t len, uintptr_t *vstart, uintptr_t *vend)
{
	const char *end = line + len;
	const char *p = parse_hex(line, vstart);
	if (!p || p >= end || *p != '-')
		return -1;
	p = parse_hex(p + 1, vend);
	if (!p || p > end || (p < end && *p != ' '))
		return -1;
	return *vend > *vstart ? 0 : -1;
}

/* The value of a "Name:   123 kB" line, in bytes. */
static int parse_kb(const char *p, const char *end, size_t *out)
{
	while (p < end && *p == ' ')
		p++;
	if (p >= end || !isdigit((unsigned char)*p))
		return -1;
	size_t v = 0;
	while (p < end && isdigit((unsigned char)*p)) {
		size_t d = (size_t)(*p - '0');
		if (v > (SIZE_MAX / 1024 - d) / 10)
			return -1;
		v = v * 10 + d;
		p++;
	}
	while (p < end && *p == ' ')
		p++;
	if (end - p != 2 || p[0] != 'k' || p[1] != 'B')
		return -1;
	*out = v * 1024;
	return 0;
}

static size_t add_sat(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

int smaps_parse(const char *text, uintptr_t start, uintptr_t end, struct smaps_summary *out, nb_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!text)
		return nb_fail(err, "smaps: no input");
	int have_vma = 0, in_range = 0;
	size_t lineno = 0;
	const char *line = text;
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *lend = line + len;
		lineno++;
		if (len == 0)
			goto next;

		uintptr_t vs, ve;
		if (isxdigit((unsigned char)line[0]) && parse_header(line, len, &vs, &ve) == 0) {
			have_vma = 1;
			in_range = vs < end && ve > start;
			if (in_range)
				out->vmas++;
			goto next;
		}

		/* A field line: Name: value */
		const char *colon = line;
		while (colon < lend && (isalnum((unsigned char)*colon) || *colon == '_'))
			colon++;
		if (colon == line || colon >= lend || *colon != ':')
			return nb_fail(err, "smaps line %zu is neither a mapping header nor a 'Name: value' field: '%.*s'",
				       lineno, (int)(len > 80 ? 80 : len), line);
		if (!have_vma)
			return nb_fail(err, "smaps line %zu: field before the first mapping header", lineno);

		static const char *const sized[] = {"KernelPageSize", "MMUPageSize", "Rss", "AnonHugePages",
						    "Private_Hugetlb", "Shared_Hugetlb"};
		size_t nlen = (size_t)(colon - line);
		size_t which = ARRAY_SIZE(sized);
		for (size_t i = 0; i < ARRAY_SIZE(sized); i++)
			if (strlen(sized[i]) == nlen && memcmp(sized[i], line, nlen) == 0)
				which = i;
		if (which == ARRAY_SIZE(sized))
			goto next; /* a field we do not need (Pss, VmFlags, THPeligible, ...) */
		size_t v;
		if (parse_kb(colon + 1, lend, &v) != 0)
			return nb_fail(err, "smaps line %zu: malformed %s value '%.*s' (expected 'N kB')", lineno,
				       sized[which], (int)(lend - colon - 1), colon + 1);
		if (!in_range)
			goto next;
		switch (which) {
		case 0: if (v > out->kernel_page_bytes) out->kernel_page_bytes = v; break;
		case 1: if (v > out->mmu_page_bytes) out->mmu_page_bytes = v; break;
		case 2: out->rss_bytes = add_sat(out->rss_bytes, v); break;
		case 3: out->anon_huge_bytes = add_sat(out->anon_huge_bytes, v); break;
		default: out->hugetlb_bytes = add_sat(out->hugetlb_bytes, v); break;
		}
next:
		if (!nl)
			break;
		line = nl + 1;
	}
	return 0;
}

/* Read a whole procfs file (whose size stat() does not tell) into a malloc'd string. */
static char *slurp(const char *path, nb_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		nb_fail(err, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (cap - len < 4096) {
			char *nbuf = realloc(buf, cap * 2);
			if (!nbuf)
				break;
			buf = nbuf;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			nb_fail(err, "cannot read %s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (n == 0) {
			buf[len] = '\0';
			close(fd);
			return buf;
		}
		len += (size_t)n;
	}
	free(buf);
	close(fd);
	nb_fail(err, "out of memory reading %s", path);
	return NULL;
}

int smaps_self(uintptr_t start, uintptr_t end, struct smaps_summary *out, nb_error *err)
{
	char *text = slurp("/proc/self/smaps", err);
	if (!text) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	int rc = smaps_parse(text, start, end, out, err);
	free(text);
	return rc;
}

/* ---- pagemap / kpageflags ---- */

int pagemap_entry_present(uint64_t entry)
{
	return (entry & PM_PRESENT) != 0;
}

uint64_t pagemap_entry_pfn(uint64_t entry)
{
	return entry & PM_PFN_MASK;
}

int kpageflags_is_thp(uint64_t flags)
{
	return (flags >> KPF_THP) & 1;
}

int kpageflags_is_huge(uint64_t flags)
{
	return (flags >> KPF_HUGE) & 1;
}

int kpageflags_is_head(uint64_t flags)
{
	return (flags >> KPF_COMPOUND_HEAD) & 1;
}

int kpageflags_is_tail(uint64_t flags)
{
	return (flags >> KPF_COMPOUND_TAIL) & 1;
}

static int pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/* A run of pages in one compound page, followed in virtual order. */
struct run {
	size_t len;
	uint64_t last_pfn;
};

static void run_end(struct run *r, struct pagemap_summary *out)
{
	if (r->len >= PAGES_PER_2M)
		out->in_2m_compound += r->len;
	if (r->len >= PAGES_PER_1G)
		out->in_1g_compound += r->len;
	r->len = 0;
}

static void run_add(struct run *r, uint64_t pfn, uint64_t flags, struct pagemap_summary *out)
{
	/* A tail continues the run only if it is physically next to the page
	 * before it; a head (or a tail at the very start of the range) opens one. */
	if (kpageflags_is_tail(flags) && r->len && pfn == r->last_pfn + 1) {
		r->len++;
	} else {
		run_end(r, out);
		if (kpageflags_is_head(flags) || kpageflags_is_tail(flags))
			r->len = 1;
	}
	r->last_pfn = pfn;
}

enum { CHUNK = 512 };

int pagemap_self(uintptr_t start, uintptr_t end, struct pagemap_summary *out, nb_error *err)
{
	memset(out, 0, sizeof(*out));
	start &= ~(uintptr_t)(PAGE_4K - 1);
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		return nb_skip(err, "cannot open /proc/self/pagemap: %s", strerror(errno));
	int kpf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	int kpf_errno = kpf < 0 ? errno : 0;

	uint64_t ent[CHUNK], flags[CHUNK];
	struct run run = {0, 0};
	int rc = 0;
	for (uintptr_t va = start; va < end && rc == 0;) {
		size_t n = (size_t)((end - va + PAGE_4K - 1) / PAGE_4K);
		if (n > CHUNK)
			n = CHUNK;
		if (pread_full(pm, ent, n * sizeof(ent[0]), (off_t)(va / PAGE_4K * sizeof(uint64_t))) != 0) {
			rc = nb_skip(err, "cannot read /proc/self/pagemap: %s", strerror(errno));
			break;
		}
		/* Flags of each run of physically consecutive present pages, one pread per run. */
		for (size_t i = 0; i < n;) {
			uint64_t pfn = pagemap_entry_pfn(ent[i]);
			if (kpf < 0 || !pagemap_entry_present(ent[i]) || pfn == 0) {
				i++;
				continue;
			}
			size_t j = i + 1;
			while (j < n && pagemap_entry_present(ent[j]) && pagemap_entry_pfn(ent[j]) == pfn + (j - i))
				j++;
			if (pread_full(kpf, flags + i, (j - i) * sizeof(flags[0]), (off_t)(pfn * sizeof(uint64_t))) != 0) {
				rc = nb_skip(err, "cannot read /proc/kpageflags: %s", strerror(errno));
				break;
			}
			i = j;
		}
		for (size_t i = 0; i < n && rc == 0; i++) {
			out->pages++;
			if (!pagemap_entry_present(ent[i])) {
				run_end(&run, out);
				continue;
			}
			out->present++;
			uint64_t pfn = pagemap_entry_pfn(ent[i]);
			if (kpf < 0 || pfn == 0) {
				run_end(&run, out);
				continue;
			}
			out->pfn_known++;
			/* Which frame backs which page: a migration or a remap changes it. */
			out->pfn_digest = (out->pfn_digest ^ (((uint64_t)(va / PAGE_4K) + i) * 0x9E3779B97F4A7C15ull ^ pfn)) *
					  0x100000001B3ull;
			if (kpageflags_is_thp(flags[i]))
				out->thp++;
			if (kpageflags_is_huge(flags[i]))
				out->hugetlb++;
			run_add(&run, pfn, flags[i], out);
		}
		va += n * PAGE_4K;
	}
	run_end(&run, out);
	close(pm);
	if (kpf >= 0)
		close(kpf);
	if (rc == 0 && out->present && kpf < 0)
		rc = nb_skip(err, "cannot open /proc/kpageflags: %s (page flags need root)", strerror(kpf_errno));
	else if (rc == 0 && out->pfn_known < out->present)
		rc = nb_skip(err, "page frame numbers are hidden in /proc/self/pagemap (they need CAP_SYS_ADMIN)");
	return rc;
}

/* ---- the range a measurement touches ---- */

#define PAGE_2M_BYTES (2u << 20)
#define PAGE_1G_BYTES (1u << 30)

static const size_t range_page[3] = {PAGE_4K, PAGE_2M_BYTES, PAGE_1G_BYTES};

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

void range_snapshot_classify(const struct pagemap_summary *pm, const struct smaps_summary *sm, int hugetlb,
			     size_t walked_bytes, struct range_snapshot *out)
{
	memset(out, 0, sizeof(*out));
	out->walked_bytes = walked_bytes;
	out->vma_anon_huge_bytes = sm ? sm->anon_huge_bytes : 0;
	if (pm) {
		out->method = "pagemap+kpageflags";
		out->present_bytes = min_sz(pm->present * PAGE_4K, walked_bytes);
		size_t g1 = pm->in_1g_compound * PAGE_4K;
		size_t m2 = (pm->in_2m_compound - pm->in_1g_compound) * PAGE_4K;
		if (!hugetlb) {
			/* Anonymous memory has no 1G THP; a 2M compound page is a 2M
			 * TLB entry only while PMD-mapped, which smaps counts. */
			m2 = min_sz(m2 + g1, out->vma_anon_huge_bytes);
			g1 = 0;
		}
		out->on_bytes[2] = g1;
		out->on_bytes[1] = m2;
		out->on_bytes[0] = out->present_bytes > g1 + m2 ? out->present_bytes - g1 - m2 : 0;
		out->pfn_digest = pm->pfn_digest;
	} else if (sm) {
		/* The mapping as a whole: what smaps says of the VMA the range is in. */
		out->method = "smaps (whole mapping)";
		if (hugetlb || sm->hugetlb_bytes) {
			out->present_bytes = min_sz(sm->hugetlb_bytes, walked_bytes);
			out->on_bytes[sm->kernel_page_bytes >= PAGE_1G_BYTES ? 2 : 1] = out->present_bytes;
		} else {
			out->present_bytes = min_sz(sm->rss_bytes, walked_bytes);
			out->on_bytes[1] = min_sz(sm->anon_huge_bytes, out->present_bytes);
			out->on_bytes[0] = out->present_bytes - out->on_bytes[1];
		}
	} else {
		out->method = "none";
		return;
	}
	int best = -1;
	for (int i = 0; i < 3; i++) {
		out->verified_pages += (out->on_bytes[i] + range_page[i] - 1) / range_page[i];
		if (out->on_bytes[i] && (best < 0 || out->on_bytes[i] >= out->on_bytes[best]))
			best = i;
	}
	if (best >= 0) {
		out->verified_page_bytes = range_page[best];
		out->coverage = walked_bytes ? (double)out->on_bytes[best] / (double)walked_bytes : 0;
		if (out->coverage > 1)
			out->coverage = 1;
	}
}

void range_snapshot_take(uintptr_t base, size_t bytes, size_t page_bytes, int hugetlb, struct range_snapshot *out)
{
	if (page_bytes < PAGE_4K)
		page_bytes = PAGE_4K;
	uintptr_t start = base / page_bytes * page_bytes;
	uintptr_t end = (base + bytes + page_bytes - 1) / page_bytes * page_bytes;
	struct pagemap_summary pm;
	int have_pm = pagemap_self(start, end, &pm, NULL) == 0;
	/* smaps only where the frames cannot say it all: without pagemap, or
	 * when compound pages of anonymous memory may or may not be PMD-mapped
	 * (AnonHugePages).  Reading /proc/self/smaps walks the page tables of
	 * every mapping of the process (all backings' buffers, the VMs'
	 * memory), a tenth of a second and more, before and after each
	 * measurement: most of a run's system time when read every time. */
	struct smaps_summary sm;
	int have_sm = 0;
	if (!have_pm || (!hugetlb && pm.in_2m_compound))
		have_sm = smaps_self(start, end, &sm, NULL) == 0;
	range_snapshot_classify(have_pm ? &pm : NULL, have_sm ? &sm : NULL, hugetlb, (size_t)(end - start), out);
}

static void event(json_t *events, const char *what)
{
	if (events)
		json_array_append_new(events, json_string(what));
}

int range_snapshot_compare(const struct range_snapshot *b, const struct range_snapshot *a,
			   size_t requested_page_bytes, json_t *events)
{
	int changed = 0;
	if ((b->verified_page_bytes && b->verified_page_bytes != requested_page_bytes) ||
	    (a->verified_page_bytes && a->verified_page_bytes != requested_page_bytes) || b->coverage < 1.0 ||
	    a->coverage < 1.0)
		event(events, "fallback");
	/* 2M bytes lost or gained on anonymous memory: khugepaged, a split. */
	if (a->on_bytes[1] < b->on_bytes[1] || a->vma_anon_huge_bytes < b->vma_anon_huge_bytes) {
		event(events, "thp_split");
		changed = 1;
	} else if (a->on_bytes[1] > b->on_bytes[1] || a->vma_anon_huge_bytes > b->vma_anon_huge_bytes) {
		event(events, "thp_collapse");
		changed = 1;
	}
	if (a->present_bytes < b->present_bytes) {
		event(events, "reclaim");
		changed = 1;
	}
	/* Frames changed under the same page sizes: pages moved. */
	if (!strcmp(b->method, "pagemap+kpageflags") && !strcmp(a->method, b->method) && a->pfn_digest != b->pfn_digest) {
		if (!changed)
			event(events, "migration");
		changed = 1;
	}
	if (a->verified_pages != b->verified_pages || a->verified_page_bytes != b->verified_page_bytes ||
	    strcmp(a->method, b->method))
		changed = 1;
	return changed;
}

static json_t *snapshot_json(const struct range_snapshot *s)
{
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "method", s->method, "walked_bytes",
			 (json_int_t)s->walked_bytes, "present_bytes", (json_int_t)s->present_bytes, "on_4k_bytes",
			 (json_int_t)s->on_bytes[0], "on_2m_bytes", (json_int_t)s->on_bytes[1], "on_1g_bytes",
			 (json_int_t)s->on_bytes[2], "verified_pages", (json_int_t)s->verified_pages,
			 "verified_page_bytes",
			 s->verified_page_bytes ? json_integer((json_int_t)s->verified_page_bytes) : json_null(),
			 "coverage", s->verified_page_bytes ? json_real(s->coverage) : json_null());
}

json_t *range_check_json(const struct range_snapshot *before, const struct range_snapshot *after, size_t bytes,
			 size_t requested_page_bytes)
{
	json_t *events = json_array();
	int changed = range_snapshot_compare(before, after, requested_page_bytes, events);
	return json_pack("{s:I, s:I, s:o, s:o, s:I, s:o, s:b, s:o}", "bytes", (json_int_t)bytes,
			 "requested_page_bytes", (json_int_t)requested_page_bytes, "before", snapshot_json(before),
			 "after", snapshot_json(after), "verified_pages", (json_int_t)after->verified_pages,
			 "verified_page_bytes",
			 after->verified_page_bytes ? json_integer((json_int_t)after->verified_page_bytes) : json_null(),
			 "changed", changed, "events", events);
}
