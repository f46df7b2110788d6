/* SPDX-License-Identifier: MIT */
/*
 * Kernel entries: exception and interrupt stubs, int $0x80 and the `syscall`
 * instruction. All build the same struct trapframe (kernel.h) on the kernel
 * stack, call trap(), and leave through trap_return, which may resume a different
 * task: trap() rewrites the frame and CR3 to switch.
 */
#include "layout.h"

	/* One 16-byte stub per vector v (the assembler symbol below); the CPU pushes
	 * an error code for 8, 10-14, 17, 21, 29 and 30, the stub a 0 for the rest. */
	.macro stub
	.if (v == 8) | ((v >= 10) & (v <= 14)) | (v == 17) | (v == 21) | (v == 29) | (v == 30)
	.else
	push	$0
	.endif
	push	$v
	jmp	trap_common
	.endm

	.text
	.globl trap_stubs
	.p2align 4
trap_stubs:
	.set v, 0
	.rept VEC_STUBS
	.p2align 4
	stub
	.set v, v + 1
	.endr
	.p2align 4
	.globl syscall_int80
syscall_int80:
	push	$0
	push	$VEC_SYSCALL
	jmp	trap_common
	.p2align 4
	.globl spurious_stub
spurious_stub:
	push	$0
	push	$VEC_SPURIOUS
	jmp	trap_common

	/* `syscall`: RIP in %rcx, RFLAGS in %r11, still on the user stack. Build the
	 * frame an int $0x80 would have built. KERNEL_GS_BASE is this CPU's struct percpu:
	 * swapgs reaches it for the two instructions that need it (interrupts are off,
	 * FMASK clears IF), and swaps the task's GS base back. */
	.p2align 4
	.globl syscall_entry
syscall_entry:
	swapgs
	mov	%rsp, %gs:PERCPU_USER_RSP
	mov	%gs:PERCPU_KSTACK, %rsp
	push	$USER_DS
	push	%gs:PERCPU_USER_RSP
	swapgs
	push	%r11
	push	$USER_CS
	push	%rcx
	push	$0
	push	$VEC_SYSCALL
	/* fall through */
trap_common:
	push	%rax
	push	%rbx
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%rbp
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, %rdi
	call	trap
	.globl trap_return
trap_return:
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rbp
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rbx
	pop	%rax
	add	$16, %rsp
	iretq

	/* void enter_frame(struct trapframe *tf): start running tf (first entry to a task). */
	.globl enter_frame
enter_frame:
	mov	%rdi, %rsp
	jmp	trap_return
