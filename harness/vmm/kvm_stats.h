/* kvm_stats.h - KVM's binary statistics of a VM or a vCPU (KVM_GET_STATS_FD).
 *
 * What KVM itself counts, where user space cannot see it: how many 4K, 2M
 * and 1G mappings it made of guest memory (VM: pages_4k, pages_2m,
 * pages_1g), and every exit of a vCPU, also those handled inside KVM
 * (vCPU: exits, io_exits, mmio_exits, irq_exits, halt_exits, ...).
 *
 * The file descriptor's layout (Documentation/virt/kvm/api.rst): a header,
 * descriptors of header.name_size-byte names, and the data, each statistic
 * `size` u64 values at data_offset + desc.offset.  The descriptors are read
 * once; reads of values are one pread each.
 */
#ifndef NESTBENCH_KVM_STATS_H
#define NESTBENCH_KVM_STATS_H

#include <jansson.h>
#include <stdint.h>

#include "core/util.h"

#define KVM_STATS_NAME_MAX 64

struct kvm_stat_desc {
	char name[KVM_STATS_NAME_MAX];
	uint32_t offset; /* from the data section */
};

struct kvm_stats {
	int fd;
	uint32_t data_offset;
	uint32_t n;
	struct kvm_stat_desc *desc;
};

/* Open the statistics of a VM or vCPU file descriptor.  0; 1 (skip, reason
 * in err) when this KVM has no KVM_CAP_BINARY_STATS_FD; -1 on error. */
int kvm_stats_open(struct kvm_stats *s, int kvm_fd, int vm_or_vcpu_fd, nb_error *err);
/* Parse a statistics file's header and descriptors (exposed for tests). */
int kvm_stats_parse_fd(struct kvm_stats *s, int stats_fd, nb_error *err);
/* The first value of statistic `name`.  0, or -1 when there is no such one. */
int kvm_stats_get(const struct kvm_stats *s, const char *name, uint64_t *value);
/* A few statistics read together often (a vCPU's exit counters around every
 * command): their offsets resolved once, and one pread of the span that
 * holds them per read, instead of a name search and a pread each. */
#define KVM_STATS_SET_MAX 8
struct kvm_stats_set {
	unsigned n;
	int found[KVM_STATS_SET_MAX];
	uint32_t offset[KVM_STATS_SET_MAX]; /* from the data section */
	uint32_t lo, hi;                    /* the span [lo, hi) holding the found ones */
};
/* Resolve names[0..n-1] (n <= KVM_STATS_SET_MAX); names not there read as 0. */
void kvm_stats_set_resolve(const struct kvm_stats *s, const char *const *names, unsigned n, struct kvm_stats_set *set);
/* Their values into out[0..n-1].  0, or -1 when the read fails. */
int kvm_stats_set_read(const struct kvm_stats *s, const struct kvm_stats_set *set, uint64_t *out);

/* {name: value} for every name in names (NULL-terminated) that exists. */
json_t *kvm_stats_json(const struct kvm_stats *s, const char *const *names);
void kvm_stats_close(struct kvm_stats *s);

/* The names nestbench records. */
extern const char *const kvm_stats_vm_names[];   /* pages_4k, pages_2m, pages_1g */
extern const char *const kvm_stats_vcpu_names[]; /* exits, io_exits, mmio_exits, ... */

#endif
