/* SPDX-License-Identifier: MIT */
/*
 * PVH entry: 32-bit protected mode, paging off, %ebx = struct vc_pvh_start_info.
 * Everything the CPU needs for long mode (GDT, page tables identity-mapping the
 * first 4 GiB with 2 MiB pages) is laid out statically, so the emulated CPL0 path
 * is about twenty instructions.
 */
#include "../abi.h"
#include "layout.h"

	.section .note.Xen, "a"
	.p2align 2
	.long 4                         /* name size ("Xen\0") */
	.long 4                         /* descriptor size */
	.long VC_PVH_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long pvh_start32

	.section .text.boot, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	mov	$-1, %esi               /* the boot CPU; %ebx is the start info */
	jmp	start32

	/* An application processor, started by VCG_HC_CPU_START with %ebx = its index:
	 * the same path to long mode, then its own stack and ap_main(). */
	.globl pvh_ap_start32
pvh_ap_start32:
	mov	%ebx, %esi

start32:
	cli
	cld
	lgdt	gdt_ptr
	mov	$KERNEL_DS, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss

	mov	%cr4, %eax
	or	$CR4_PAE, %eax
	mov	%eax, %cr4
	mov	$boot_pml4, %eax
	mov	%eax, %cr3

	/* EFER: skip the write when the VMM preset it (kvm_pvm #GPs on this wrmsr). */
	mov	$MSR_EFER, %ecx
	rdmsr
	mov	%eax, %edx
	and	$(EFER_LME | EFER_SCE | EFER_NXE), %edx
	cmp	$(EFER_LME | EFER_SCE | EFER_NXE), %edx
	je	1f
	or	$(EFER_LME | EFER_SCE | EFER_NXE), %eax
	xor	%edx, %edx
	wrmsr
1:
	mov	%cr0, %eax
	or	$(CR0_PG | CR0_WP | CR0_PE), %eax
	mov	%eax, %cr0
	ljmp	$KERNEL_CS, $long_entry

	.code64
long_entry:
	xor	%eax, %eax
	mov	%eax, %fs
	mov	%eax, %gs
	cmp	$-1, %esi
	jne	ap_long
	mov	$boot_stack_top, %rsp
	mov	%ebx, %edi              /* zero-extends: start-info address */
	call	kmain
2:	hlt
	jmp	2b
ap_long:
	/* CPU n's stack is cpu_stacks[n] (this_cpu() finds the CPU from %rsp). */
	mov	%esi, %edi
	lea	1(%rsi), %rax
	shl	$KERNEL_STACK_SHIFT, %rax
	lea	cpu_stacks(%rip), %rsp
	add	%rax, %rsp
	call	ap_main
3:	hlt
	jmp	3b

	/* GDT; the TSS descriptor is filled in by gdt_init(). */
	.section .data.boot, "aw"
	.p2align 4
	.globl gdt
gdt:
	.quad 0                         /* 0x00 null */
	.quad 0x00af9a000000ffff        /* 0x08 kernel code, 64-bit */
	.quad 0x00cf92000000ffff        /* 0x10 kernel data */
	.quad 0x00cff2000000ffff        /* 0x18 user data (STAR order: data, then code) */
	.quad 0x00affa000000ffff        /* 0x20 user code, 64-bit */
	.quad 0x00cf9a000000ffff        /* 0x28 kernel code, 32-bit */
	.quad 0, 0                      /* 0x30 TSS (16 bytes) */
gdt_end:
	.globl gdt_ptr
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt

	/* Page tables: PML4[0] -> PDPT[0..3] -> four PDs of 2 MiB pages = 4 GiB. The
	 * PDPT and PDs are supervisor-only, so user address spaces may share them. */
	.section .data.pagetables, "aw"
	.p2align 12
	.globl boot_pml4, kernel_pdpt
boot_pml4:
	.quad kernel_pdpt + (PTE_P | PTE_W | PTE_U)
	.fill 511, 8, 0
kernel_pdpt:
	.quad kernel_pd + 0x0000 + (PTE_P | PTE_W)
	.quad kernel_pd + 0x1000 + (PTE_P | PTE_W)
	.quad kernel_pd + 0x2000 + (PTE_P | PTE_W)
	.quad kernel_pd + 0x3000 + (PTE_P | PTE_W)
	.fill 508, 8, 0
kernel_pd:
	.set i, 0
	.rept 2048
	.quad (i << 21) | (PTE_P | PTE_W | PTE_PS)
	.set i, i + 1
	.endr

	/* One kernel stack per CPU, each aligned to its size; the boot CPU's is the first. */
	.section .bss.stack, "aw", @nobits
	.p2align KERNEL_STACK_SHIFT
	.globl cpu_stacks, boot_stack_top
cpu_stacks:
	.skip KERNEL_STACK_SIZE
boot_stack_top:
	.skip KERNEL_STACK_SIZE * (MAX_CPUS - 1)
