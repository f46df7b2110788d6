/* SPDX-License-Identifier: MIT */
/* Promotion verdicts (lib/rewrite/promote.c), one site per case, in order; test_rewrite.c
 * lists what each must get. */
	.text
	.globl	cases
cases:
	cli				/* yes+7: 1 + mov (3) + add (4) */
	mov	%rdi, %rax
	add	$1, %rax
	sti				/* unmovable: a branch follows */
	jmp	1f
1:	pushf				/* unmovable: RIP-relative operand follows */
	lea	0(%rip), %rax
	popf				/* branch-target: the jne below enters its window */
	xor	%eax, %eax
2:	inc	%eax
	cmp	$3, %eax
	jne	2b
	wbinvd				/* yes+4: hlt and mov to CR3 are sites: the stub does them */
	hlt
	mov	%rax, %cr3		/* yes+2: 3 + xor (2) */
	xor	%eax, %eax
3:	invlpg	(%rax)			/* table: __ex_table names it */
	nop
	nop
	out	%al, $0x80		/* yes+3: 2 + three nops */
	nop
	nop
	nop
	rdmsr				/* branch-target: .rodata points into its window */
	mov	%eax, %ecx
4:	add	%ecx, %edx
	sgdt	0x12345678(%rax)	/* yes+0: 8 bytes of its own */
	ret

	.section .rodata, "a"
	.quad	4b

	.section __ex_table, "a"
	.long	3b - .
	.long	3b - .

	.section .text.last, "ax"
	.globl	last
last:
	nop
	rdtsc				/* code-end: the section ends after it */
	.section .note.GNU-stack, "", @progbits
