/* kvm_stats.c - KVM's binary statistics (see kvm_stats.h). */
#include "harness/vmm/kvm_stats.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MAX_DESCS 4096

const char *const kvm_stats_vm_names[] = {"pages_4k", "pages_2m", "pages_1g", NULL};
const char *const kvm_stats_vcpu_names[] = {"exits",         "io_exits",         "mmio_exits",     "irq_exits",
					    "halt_exits",    "signal_exits",     "irq_window_exits", "nmi_window_exits",
					    "request_irq_exits", "insn_emulation", "insn_emulation_fail", "pf_taken",
					    "tlb_flush",     NULL};

int kvm_stats_parse_fd(struct kvm_stats *s, int fd, nb_error *err)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	struct kvm_stats_header h;
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return nb_fail(err, "kvm stats: cannot read the header: %s", strerror(errno));
	if (h.num_desc > MAX_DESCS || h.name_size == 0 || h.name_size > 1024)
		return nb_fail(err, "kvm stats: implausible header (%u descriptors, %u-byte names)", h.num_desc,
			       h.name_size);
	size_t each = sizeof(struct kvm_stats_desc) + h.name_size;
	unsigned char *raw = malloc(each * (h.num_desc ? h.num_desc : 1));
	s->desc = calloc(h.num_desc ? h.num_desc : 1, sizeof(*s->desc));
	if (!raw || !s->desc) {
		free(raw);
		free(s->desc);
		s->desc = NULL;
		return nb_fail(err, "out of memory");
	}
	if (pread(fd, raw, each * h.num_desc, h.desc_offset) != (ssize_t)(each * h.num_desc)) {
		free(raw);
		free(s->desc);
		s->desc = NULL;
		return nb_fail(err, "kvm stats: cannot read %u descriptors: %s", h.num_desc, strerror(errno));
	}
	for (uint32_t i = 0; i < h.num_desc; i++) {
		const struct kvm_stats_desc *d = (const void *)(raw + i * each);
		const char *name = (const char *)(raw + i * each + sizeof(*d));
		snprintf(s->desc[i].name, sizeof(s->desc[i].name), "%.*s", (int)strnlen(name, h.name_size), name);
		s->desc[i].offset = d->offset;
	}
	free(raw);
	s->n = h.num_desc;
	s->data_offset = h.data_offset;
	s->fd = fd;
	return 0;
}

int kvm_stats_open(struct kvm_stats *s, int kvm_fd, int obj_fd, nb_error *err)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) <= 0)
		return nb_skip(err, "this KVM has no binary statistics (KVM_CAP_BINARY_STATS_FD, Linux 5.14)");
	int fd = ioctl(obj_fd, KVM_GET_STATS_FD, NULL);
	if (fd < 0)
		return nb_fail(err, "kvm: KVM_GET_STATS_FD failed: %s", strerror(errno));
	if (kvm_stats_parse_fd(s, fd, err)) {
		close(fd);
		return -1;
	}
	return 0;
}

int kvm_stats_get(const struct kvm_stats *s, const char *name, uint64_t *value)
{
	for (uint32_t i = 0; s->fd >= 0 && i < s->n; i++)
		if (!strcmp(s->desc[i].name, name))
			return pread(s->fd, value, sizeof(*value), (off_t)s->data_offset + s->desc[i].offset) ==
					       (ssize_t)sizeof(*value)
				       ? 0
				       : -1;
	return -1;
}

void kvm_stats_set_resolve(const struct kvm_stats *s, const char *const *names, unsigned n, struct kvm_stats_set *set)
{
	memset(set, 0, sizeof(*set));
	set->n = n < KVM_STATS_SET_MAX ? n : KVM_STATS_SET_MAX;
	set->lo = UINT32_MAX;
	for (unsigned k = 0; k < set->n; k++)
		for (uint32_t i = 0; i < s->n; i++)
			if (!strcmp(s->desc[i].name, names[k])) {
				set->found[k] = 1;
				set->offset[k] = s->desc[i].offset;
				if (set->offset[k] < set->lo)
					set->lo = set->offset[k];
				if (set->offset[k] + 8 > set->hi)
					set->hi = set->offset[k] + 8;
				break;
			}
}

int kvm_stats_set_read(const struct kvm_stats *s, const struct kvm_stats_set *set, uint64_t *out)
{
	unsigned char buf[4096];
	memset(out, 0, set->n * sizeof(*out));
	if (set->hi <= set->lo)
		return 0; /* none found */
	if (s->fd < 0 || set->hi - set->lo > sizeof(buf) ||
	    pread(s->fd, buf, set->hi - set->lo, (off_t)s->data_offset + set->lo) != (ssize_t)(set->hi - set->lo))
		return -1;
	for (unsigned k = 0; k < set->n; k++)
		if (set->found[k])
			memcpy(&out[k], buf + (set->offset[k] - set->lo), sizeof(out[k]));
	return 0;
}

json_t *kvm_stats_json(const struct kvm_stats *s, const char *const *names)
{
	json_t *o = json_object();
	for (size_t i = 0; names[i]; i++) {
		uint64_t v;
		if (kvm_stats_get(s, names[i], &v) == 0)
			json_object_set_new(o, names[i], json_integer((json_int_t)(v & INT64_MAX)));
	}
	return o;
}

void kvm_stats_close(struct kvm_stats *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->desc);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}
