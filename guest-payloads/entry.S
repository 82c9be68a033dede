/* entry.S - the payload's entry, system-call entry and exception stubs.
 *
 * The VMM starts the vCPU here in 64-bit mode at CPL0 with RSP at the top of
 * the kernel stack.  Everything at CPL0 is kept short: on some hosts (PVM)
 * each guest-kernel instruction is emulated.
 */
#include "guest-payloads/protocol.h"

	.section .text.entry, "ax"
	.globl _start
_start:
	testq	%rdi, %rdi
	jnz	ap_start
	movq	$NB_KSTACK_TOP, %rsp
	call	kinit
	/* Drop to CPL3 at user_start. */
	pushq	$NB_SEL_UDATA
	pushq	$NB_USTACK_TOP
	pushq	$0x0002
	pushq	$NB_SEL_UCODE
	leaq	user_start(%rip), %rax
	pushq	%rax
	iretq

user_start:
	call	user_main
	ud2

/* vCPU i > 0 (RDI = i): its slice of the stacks, its TSS and APIC, then
 * CPL3 with interrupts enabled (it takes the shootdown IPIs). */
ap_start:
	movq	%rdi, %rbx
	movq	%rdi, %rax
	imulq	$NB_KSTACK_PER_CPU, %rax
	movq	$NB_KSTACK_TOP, %rsp
	subq	%rax, %rsp
	call	kinit_ap
	movq	%rbx, %rax
	imulq	$NB_USTACK_PER_CPU, %rax
	movq	$NB_USTACK_TOP, %rcx
	subq	%rax, %rcx
	pushq	$NB_SEL_UDATA
	pushq	%rcx
	pushq	$0x0202
	pushq	$NB_SEL_UCODE
	leaq	ap_user(%rip), %rax
	pushq	%rax
	iretq

ap_user:
	movq	%rbx, %rdi
	call	ap_main
	ud2

/* SYSCALL: rax = number, rdi/rsi/rdx = arguments, rax = result.  Like a
 * kernel's entry it preserves every register but rax, rcx and r11 (the
 * callers in gsys.h rely on it): ksyscall is C and may clobber the
 * caller-saved ones.  It returns with SYSRETQ where SYSCALL reached CPL0
 * (VMX, SVM); under PVM SYSCALL lands here still at CPL3 (the probe in
 * user.c), where SYSRETQ would fault, so it returns with IRETQ there. */
	.text
	.globl syscall_entry
syscall_entry:
	movq	%rsp, syscall_user_rsp(%rip)
	movq	$NB_KSTACK_TOP, %rsp
	pushq	%rax
	movw	%cs, %ax
	movzwq	%ax, %rax
	movq	%rax, syscall_entry_cs(%rip)
	popq	%rax
	/* Eight pushes keep the stack 16-byte aligned for the call. */
	pushq	%rcx
	pushq	%r11
	pushq	%rdi
	pushq	%rsi
	pushq	%rdx
	pushq	%r8
	pushq	%r9
	pushq	%r10
	movq	%rax, %rcx
	call	ksyscall
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdx
	popq	%rsi
	popq	%rdi
	popq	%r11
	popq	%rcx
	testq	$3, syscall_entry_cs(%rip)
	jnz	1f
	movq	syscall_user_rsp(%rip), %rsp
	sysretq
1:	pushq	$NB_SEL_UDATA
	pushq	syscall_user_rsp(%rip)
	pushq	%r11
	pushq	$NB_SEL_UCODE
	pushq	%rcx
	iretq

/* The #UD system-call gate (see gsys.h): the handler returns past the UD2. */
	.globl gsys_gate
gsys_gate:
	ud2
	ret

/* The shootdown IPI (vector NB_IPI_VECTOR) and the spurious vector. */
	.globl ipi_stub
ipi_stub:
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	call	kipi
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rax
	iretq

	.globl spurious_stub
spurious_stub:
	iretq

/* Exceptions: a uniform frame (vector, error code, then the CPU's frame)
 * for ktrap(); callee-saved registers are preserved by the C code. */
trap_common:
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	movq	%rsp, %rdi
	call	ktrap
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rax
	addq	$16, %rsp
	iretq

.macro TRAP_NOERR n
trap_stub_\n:
	pushq	$0
	pushq	$\n
	jmp	trap_common
.endm
.macro TRAP_ERR n
trap_stub_\n:
	pushq	$\n
	jmp	trap_common
.endm

	TRAP_NOERR 0
	TRAP_NOERR 1
	TRAP_NOERR 2
	TRAP_NOERR 3
	TRAP_NOERR 4
	TRAP_NOERR 5
	TRAP_NOERR 6
	TRAP_NOERR 7
	TRAP_ERR 8
	TRAP_NOERR 9
	TRAP_ERR 10
	TRAP_ERR 11
	TRAP_ERR 12
	TRAP_ERR 13
	TRAP_ERR 14
	TRAP_NOERR 15
	TRAP_NOERR 16
	TRAP_ERR 17
	TRAP_NOERR 18
	TRAP_NOERR 19
	TRAP_NOERR 20
	TRAP_ERR 21
	TRAP_NOERR 22
	TRAP_NOERR 23
	TRAP_NOERR 24
	TRAP_NOERR 25
	TRAP_NOERR 26
	TRAP_NOERR 27
	TRAP_NOERR 28
	TRAP_ERR 29
	TRAP_ERR 30
	TRAP_NOERR 31

	.section .rodata
	.globl trap_stubs
	.balign 8
trap_stubs:
	.quad trap_stub_0
	.quad trap_stub_1
	.quad trap_stub_2
	.quad trap_stub_3
	.quad trap_stub_4
	.quad trap_stub_5
	.quad trap_stub_6
	.quad trap_stub_7
	.quad trap_stub_8
	.quad trap_stub_9
	.quad trap_stub_10
	.quad trap_stub_11
	.quad trap_stub_12
	.quad trap_stub_13
	.quad trap_stub_14
	.quad trap_stub_15
	.quad trap_stub_16
	.quad trap_stub_17
	.quad trap_stub_18
	.quad trap_stub_19
	.quad trap_stub_20
	.quad trap_stub_21
	.quad trap_stub_22
	.quad trap_stub_23
	.quad trap_stub_24
	.quad trap_stub_25
	.quad trap_stub_26
	.quad trap_stub_27
	.quad trap_stub_28
	.quad trap_stub_29
	.quad trap_stub_30
	.quad trap_stub_31

	.bss
	.balign 8
syscall_user_rsp:
	.quad	0
	.globl syscall_entry_cs
syscall_entry_cs:
	.quad	0

	.section .note.GNU-stack, "", @progbits
