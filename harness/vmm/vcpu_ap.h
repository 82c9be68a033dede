/* vcpu_ap.h - the vCPUs after the first.
 *
 * Created with the in-kernel irqchip and run by their own threads from boot
 * to destroy: they serve no commands (the payload runs its shootdown target
 * loop on them); PRINT messages are logged, anything else stops the vCPU
 * with the reason kept (ap->why) for the VM's error messages.
 */
#ifndef NESTBENCH_VCPU_AP_H
#define NESTBENCH_VCPU_AP_H

#include "core/util.h"
#include "harness/vmm/vm_impl.h"

/* Start a->thread.  0, or -1 with err. */
int ap_start(struct ap *a, nb_error *err);
/* Stop and join it (nothing if it never started). */
void ap_stop(struct ap *a);

#endif
