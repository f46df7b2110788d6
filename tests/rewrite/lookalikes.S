/* SPDX-License-Identifier: MIT */
/* Instructions that are NOT sensitive, some of them carrying the bytes of sensitive
 * ones in their immediates and displacements, and neighbours of sensitive opcodes:
 * a linear decoder that lost track, or matched bytes, would report them. */
	.text
	.globl g
g:
	mov $0xfa, %eax			/* cli's byte as an immediate */
	mov $0xa20f, %eax		/* cpuid's bytes */
	mov $0x310f, %ecx		/* rdtsc's bytes */
	movabs $0x00f4ececececec, %rax	/* hlt and in %dx */
	mov 0x0f22(%rax), %rbx		/* mov to CR's opcode in a displacement */
	lea 0x300f(%rip), %rdx		/* wrmsr's bytes */
	test $0xcf, %al			/* iret's byte */
	cmp $0xfb, %bl			/* sti's byte */
	mov %rax, %rbx
	mov (%rax), %ecx
	mov %ecx, (%rdx)
	movzbl %al, %eax
	movsbl (%rdi), %esi
	push %rax
	push $1
	pushq 8(%rsp)
	pop %rbx
	pop %r15
	xgetbv
	syscall
	sysenter
	pause
	nop
	nopw 0x0(%rax,%rax,1)
	int3
	int $0x80
	ud2
	lfence
	mfence
	rdrand %eax
	rdseed %rax
	rdpid %rax
	lods %ds:(%rsi), %al
	stos %al, %es:(%rdi)
	rep stosq
	rep movsb
	lea 0x10(%rsp), %rsp
	fninit
	clflush (%rax)
	prefetcht0 (%rax)
	ret
