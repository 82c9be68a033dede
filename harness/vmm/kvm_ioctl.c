/* kvm_ioctl.c - ioctls on KVM descriptors that name what failed (see kvm_ioctl.h). */
#include "harness/vmm/kvm_ioctl.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

int kvm_ioctl_named(int fd, unsigned long req, void *arg, const char *name, nb_error *err)
{
	int rc;
	do
		rc = ioctl(fd, req, arg);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return nb_fail(err, "kvm: %s failed: %s", name, strerror(errno));
	return rc;
}
