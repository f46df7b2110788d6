/* SPDX-License-Identifier: MIT */
/* Sites other sections point at, as in kernel modules: an rdmsr with an __ex_table
 * fixup, a cli that a __jump_table entry names, an lgdt whose displacement is
 * relocated (R_X86_64_PC32 inside the site), plus a site in a second text section
 * behind data that a symbol resynchronises. */
	.text
	.globl h
h:
	xor %eax, %eax
1:	rdmsr
2:	ret
3:	cli
	lgdt gdt_desc(%rip)
	mov %cr3, %rax
	ret

	.pushsection __ex_table, "a"
	.balign 4
	.long 1b - .
	.long 2b - .
	.long 0
	.popsection

	.pushsection __jump_table, "aw"
	.balign 8
	.long 3b - .
	.long 2b - .
	.quad 0
	.popsection

	.section .text.unlikely, "ax"
	.byte 0x0f, 0xff, 0x0f		/* data: no decodable instruction at its start */
	.globl late
late:
	wbinvd
	ret

	.data
gdt_desc:
	.quad 0, 0
