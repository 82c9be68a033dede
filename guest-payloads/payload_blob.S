/* payload_blob.S - the guest payload image, linked into nestbench so the
 * binary is self-contained.  NB_PAYLOAD_BIN is set by guest.mk. */
	.section .rodata.nb_payload, "a"
	.balign 4096
	.globl nb_payload_start
	.globl nb_payload_end
nb_payload_start:
	.incbin NB_PAYLOAD_BIN
nb_payload_end:

	.section .note.GNU-stack, "", @progbits
