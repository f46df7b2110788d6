/* SPDX-License-Identifier: MIT */
/* Entry of a user program, linked first at USER_BASE; %rdi = task id. */
#include "../syscalls.h"

	.section .text.entry, "ax"
	.globl _start
_start:
	and	$-16, %rsp
	mov	%rsi, hcall_gpa(%rip)   /* this task's hypercall block, physical */
	call	main
	mov	%eax, %edi
	mov	$SYS_EXIT, %eax
	syscall
	ud2

	/* A fault handler returns here with the RIP to resume at in %rax. */
	.data
	.p2align 3
	.globl hcall_gpa
hcall_gpa:
	.quad 0

	.text
	.globl fault_trampoline
fault_trampoline:
	mov	%rax, %rdi
	mov	$SYS_FAULT_RETURN, %eax
	syscall
	ud2
