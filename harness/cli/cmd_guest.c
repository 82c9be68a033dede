/* cmd_guest.c - `nestbench guest-init`: the first process of nestbench's
 * Linux guest (harness/linuxguest/guest_init.c).  Not a user command: the
 * guest's /init runs it.  Booting a guest is `nestbench run --mode linux`
 * (harness/run/run_linux.c), the one way there is; the former `nestbench
 * guest` subcommand is gone. */
#include "harness/cli/commands.h"
#include "harness/linuxguest/guest_init.h"
#include "core/util.h"

int cmd_guest_init(int argc, char **argv)
{
	if (argc != 2) {
		nb_error_msg("guest-init: usage: nestbench guest-init CONFIG (the first process of nestbench's guest)");
		return EXIT_USAGE;
	}
	guest_init_main(argv[1]);
}
