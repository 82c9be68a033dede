/* guest_init.h - nestbench as the first process of its Linux guest.
 *
 * /init of the image (image.c) runs `nestbench guest-init CONFIG`: mount
 * /proc, /sys, /dev; load the KVM modules listed in CONFIG (so the guest has
 * a /dev/kvm of its own where the CPU it sees has VMX or SVM); run
 * `nestbench run` with CONFIG's arguments; send the results file through the
 * result channel (channel.h) on the second serial port; power off.
 * It never returns: PID 1 must not exit.
 */
#ifndef NESTBENCH_LINUXGUEST_GUEST_INIT_H
#define NESTBENCH_LINUXGUEST_GUEST_INIT_H

#define GUEST_CHANNEL_TTY "/dev/ttyS1"

_Noreturn void guest_init_main(const char *config_path);

#endif
