/* kvm_ioctl.h - ioctls on KVM descriptors that name what failed.
 *
 * KVM_IOCTL(fd, KVM_SET_SREGS, &s, err) retries on EINTR and, on failure,
 * fills err with "kvm: KVM_SET_SREGS failed: <strerror>" and returns -1;
 * otherwise it returns what the ioctl returned (a descriptor, a size, 0).
 */
#ifndef NESTBENCH_KVM_IOCTL_H
#define NESTBENCH_KVM_IOCTL_H

#include "core/util.h"

int kvm_ioctl_named(int fd, unsigned long req, void *arg, const char *name, nb_error *err);
#define KVM_IOCTL(fd, req, arg, err) kvm_ioctl_named((fd), (req), (arg), #req, (err))

#endif
