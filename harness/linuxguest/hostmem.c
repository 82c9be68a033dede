/* hostmem.c - QEMU memory backends and their host-side check (see hostmem.h). */
#include "harness/linuxguest/hostmem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/mem/backing.h"

int hostmem_object(enum backing_kind kind, uint64_t mem_bytes, char *out, size_t len, nb_error *err)
{
	uint64_t page = backing_page_bytes(kind);
	if (!mem_bytes || mem_bytes % page)
		return nb_fail(err, "--guest-memory %" PRIu64 "m is not a whole number of %s pages for host backing %s",
			       mem_bytes >> 20, page >= (1u << 30) ? "1G" : page >= (2u << 20) ? "2M" : "4K",
			       backing_name(kind));
	unsigned long long mib = (unsigned long long)(mem_bytes >> 20);
	int n;
	switch (kind) {
	case BACKING_4K:
		n = snprintf(out, len, "memory-backend-memfd,id=" HOSTMEM_ID ",size=%lluM,share=on", mib);
		break;
	case BACKING_THP:
		n = snprintf(out, len, "memory-backend-ram,id=" HOSTMEM_ID ",size=%lluM,prealloc=on", mib);
		break;
	case BACKING_HUGETLB_2M:
	case BACKING_HUGETLB_1G:
		n = snprintf(out, len,
			     "memory-backend-memfd,id=" HOSTMEM_ID ",size=%lluM,share=on,hugetlb=on,hugetlbsize=%s,prealloc=on",
			     mib, kind == BACKING_HUGETLB_1G ? "1G" : "2M");
		break;
	default:
		return nb_fail(err, "unknown host backing");
	}
	if (n < 0 || (size_t)n >= len)
		return nb_fail(err, "memory backend string too long");
	return 0;
}

/* One VMA's header: "start-end perms offset dev inode [name]". */
static int vma_header(const char *line, uint64_t *bytes, char *name, size_t nlen)
{
	unsigned long long a, b;
	int off = 0;
	if (sscanf(line, "%llx-%llx %*s %*s %*s %*s%n", &a, &b, &off) != 2 || b < a)
		return 0;
	const char *p = line + off;
	while (*p == ' ' || *p == '\t')
		p++;
	snprintf(name, nlen, "%.*s", (int)strcspn(p, "\n"), p);
	*bytes = b - a;
	return 1;
}

static int field_kb(const char *line, const char *key, uint64_t *v)
{
	size_t n = strlen(key);
	unsigned long long kb;
	if (strncmp(line, key, n) || line[n] != ':' || sscanf(line + n + 1, "%llu kB", &kb) != 1)
		return 0;
	*v = (uint64_t)kb * 1024;
	return 1;
}

int hostmem_parse_smaps(const char *text, uint64_t mem_bytes, struct hostmem_sample *out)
{
	struct hostmem_sample best = {0}, cur = {0};
	int exact = 0;
	const char *line = text;
	while (line && *line) {
		const char *next = strchr(line, '\n');
		uint64_t v, sz;
		char name[128];
		if (vma_header(line, &sz, name, sizeof(name))) {
			cur = (struct hostmem_sample){.found = 1, .vma_bytes = sz};
			snprintf(cur.name, sizeof(cur.name), "%s", name);
		} else if (cur.found) {
			if (field_kb(line, "Rss", &v))
				cur.rss_bytes = v;
			else if (field_kb(line, "KernelPageSize", &v))
				cur.kernel_page_bytes = v;
			else if (field_kb(line, "AnonHugePages", &v) || field_kb(line, "ShmemPmdMapped", &v) ||
				 field_kb(line, "FilePmdMapped", &v))
				cur.thp_bytes += v;
			else if (field_kb(line, "Shared_Hugetlb", &v) || field_kb(line, "Private_Hugetlb", &v))
				cur.hugetlb_bytes += v;
			else if (!strncmp(line, "VmFlags:", 8)) {
				/* The VMA is complete: is it the guest's RAM? */
				int is_exact = cur.vma_bytes == mem_bytes;
				if ((is_exact && !exact) ||
				    (!exact && cur.vma_bytes >= mem_bytes / 2 && cur.vma_bytes > best.vma_bytes))
					best = cur;
				exact |= is_exact;
				cur.found = 0;
			}
		}
		line = next ? next + 1 : NULL;
	}
	*out = best;
	return best.found ? 0 : -1;
}

int hostmem_sample_pid(pid_t pid, uint64_t mem_bytes, struct hostmem_sample *out)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		char *nb = cap < (64u << 20) ? realloc(buf, 2 * cap + 1) : NULL;
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	fclose(f);
	if (!buf)
		return -1;
	buf[n] = '\0';
	int rc = hostmem_parse_smaps(buf, mem_bytes, out);
	free(buf);
	return rc;
}

uint64_t hostmem_verified_page(const struct hostmem_sample *s, double *coverage)
{
	*coverage = 0;
	if (!s->found)
		return 0;
	if (s->kernel_page_bytes > 4096) {
		*coverage = s->rss_bytes ? (double)s->hugetlb_bytes / (double)s->rss_bytes : 0;
		if (*coverage > 1 || !s->rss_bytes)
			*coverage = s->hugetlb_bytes ? 1 : 0;
		return s->kernel_page_bytes;
	}
	if (s->rss_bytes && s->thp_bytes * 2 > s->rss_bytes) {
		*coverage = (double)s->thp_bytes / (double)s->rss_bytes;
		return 2u << 20;
	}
	*coverage = s->rss_bytes ? (double)(s->rss_bytes - (s->thp_bytes < s->rss_bytes ? s->thp_bytes : 0)) /
					   (double)s->rss_bytes
				 : 0;
	return 4096;
}

json_t *hostmem_json(enum backing_kind kind, const char *object, const struct hostmem_sample *s,
		     const char *unavailable)
{
	json_t *j = json_pack("{s:s, s:I, s:s}", "requested", backing_name(kind), "requested_page_bytes",
			      (json_int_t)backing_page_bytes(kind), "memory_backend", object ? object : "");
	if (!s || !s->found) {
		json_object_set_new(j, "verified_page_bytes", json_null());
		json_object_set_new(j, "unavailable",
				    json_string(unavailable ? unavailable : "the guest's RAM mapping was not found in smaps"));
		return j;
	}
	double cov;
	uint64_t page = hostmem_verified_page(s, &cov);
	json_object_set_new(j, "verified_page_bytes", json_integer((json_int_t)page));
	json_object_set_new(j, "coverage", json_real(cov));
	json_object_set_new(j, "rss_bytes", json_integer((json_int_t)s->rss_bytes));
	json_object_set_new(j, "thp_bytes", json_integer((json_int_t)s->thp_bytes));
	json_object_set_new(j, "hugetlb_bytes", json_integer((json_int_t)s->hugetlb_bytes));
	json_object_set_new(j, "kernel_page_bytes", json_integer((json_int_t)s->kernel_page_bytes));
	json_object_set_new(j, "vma_bytes", json_integer((json_int_t)s->vma_bytes));
	json_object_set_new(j, "source", json_string("the QEMU process's /proc/PID/smaps, last sample before the guest ended"));
	return j;
}
