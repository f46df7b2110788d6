/* SPDX-License-Identifier: MIT */
/* Every sensitive instruction in the encodings a compiler or an assembler programmer
 * produces: operand sizes, REX, immediate and %dx ports, rep and segment prefixes,
 * memory operands of every shape. tests/test_rewrite.c checks that vc-rewrite finds
 * exactly the ones objdump shows, with objdump's spelling. */
	.text
	.globl f
f:
	cli
	sti
	pushf
	pushfw
	popf
	popfw
	hlt
	in $0x60, %al
	in $0x60, %ax
	in $0x60, %eax
	in %dx, %al
	in %dx, %ax
	in %dx, %eax
	out %al, $0x80
	out %ax, $0x80
	out %eax, $0x80
	out %al, %dx
	out %ax, %dx
	out %eax, %dx
	insb
	insw
	insl
	outsb
	outsw
	outsl
	rep insb
	rep outsl
	rep insw
	rdmsr
	wrmsr
	mov %cr0, %rax
	mov %rax, %cr3
	mov %cr4, %r9
	mov %r10, %cr8
	mov %cr2, %rbx
	mov %db0, %rax
	mov %rax, %db7
	lgdt (%rax)
	sgdt (%rax)
	lidt 8(%rax)
	sidt (%rbx)
	lldt %ax
	sldt %ax
	sldt (%rax)
	ltr %ax
	str %ax
	str %eax
	str (%rax)
	smsw %ax
	smsw %eax
	smsw %rax
	smsw (%rax)
	lmsw %ax
	invlpg (%rax)
	invpcid (%rax), %rbx
	wbinvd
	invd
	clts
	cpuid
	rdtsc
	rdtscp
	rdpmc
	swapgs
	sysretq
	sysretl
	sysexitq
	sysexitl
	iretq
	iretl
	iretw
	xsetbv
	lar %ax, %bx
	lar %eax, %ebx
	lsl %ax, %bx
	lsl %rax, %rbx
	verr %ax
	verw (%rax)
	push %fs
	push %gs
	pop %fs
	pop %gs
	pushw %fs
	popw %gs
	mov %ds, %eax
	mov %eax, %ds
	mov %es, (%rax)
	mov (%rax), %ss
	mov %fs, %rax
	mov %gs, %ax
	lgdt 0x10(%rip)
	.byte 0xf3, 0x0f, 0x01, 0xf9	/* repz rdtscp */
	cs wbinvd
	lock add %eax,(%rbx)
	/* REX, extended registers, SIB and displacements */
	mov %cr0, %r15
	mov %r8, %cr4
	mov %db6, %r11
	rex.W rdmsr
	rex.W cpuid
	lgdt 0x12345678(%rax,%rcx,8)
	sidt -8(%rsp)
	invlpg (%r12,%r13,4)
	invpcid 0x40(%r9), %r10
	lldt (%r14)
	ltr %r9w
	str %r10d
	smsw %r11
	lmsw 2(%rax)
	lar (%rsi), %r8d
	lsl 6(%rdi), %rcx
	verr (%r15)
	verw %r8w
	mov %ss, %r9d
	mov (%r10), %fs
	mov %gs, 0x100(%rip)
	in $0xff, %al
	out %eax, $0
	rep outsb
	rep insl
	addr32 insb
	fs outsw
	data16 cli
	.byte 0x48, 0xcf	/* iretq again, by bytes */
	.byte 0x66, 0x0f, 0x01, 0xf8	/* data16 swapgs */
	.byte 0x0f, 0x01, 0xd1	/* xsetbv */
	.byte 0x41, 0x0f, 0xa0	/* rex.B push %fs */
	hlt
