/* channel.h - the result channel out of a Linux guest.
 *
 * The guest writes one file (its results) to its second serial port, which
 * QEMU stores in a host file.  Why a serial port: the 8250 UART driver is
 * built into every distribution kernel, so no module has to be found and
 * loaded; it works the same under TCG and KVM; and QEMU writes what the
 * guest sends to a plain file the host reads after the guest is gone.  A
 * second virtio disk or 9p would be faster but needs virtio modules in the
 * initramfs; results files are small enough for a UART.
 *
 * A frame makes truncation and line-discipline damage visible:
 *   "\nNESTBENCH-CHANNEL 1 status=S bytes=N fnv1a64=H\n" <N bytes> "\nNESTBENCH-CHANNEL-END\n"
 * S is the exit status of the guest's run (what the host's command returns).
 */
#ifndef NESTBENCH_LINUXGUEST_CHANNEL_H
#define NESTBENCH_LINUXGUEST_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

/* FNV-1a, 64 bits: a checksum, not a MAC (the guest is our own). */
uint64_t channel_fnv1a64(const void *data, size_t len);
/* Continue a hash h over more bytes (h starts at the FNV offset basis). */
uint64_t channel_fnv1a64_more(uint64_t h, const void *data, size_t len);

/* Write a frame carrying data (may be NULL with len 0) and status to fd.  0 or -1. */
int channel_write(int fd, const void *data, size_t len, int status, nb_error *err);

/* Find the last complete frame in buf (what QEMU stored; the guest may have
 * written a partial frame first).  On success *data points into buf. 0 or -1. */
int channel_parse(const void *buf, size_t len, const unsigned char **data, size_t *dlen, int *status,
		  nb_error *err);

#endif
