/* SPDX-License-Identifier: MIT */
/* Constants shared by the guest kernel's assembly and C. */
#ifndef VCG_LAYOUT_H
#define VCG_LAYOUT_H

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS (0x18 | 3)
#define USER_CS (0x20 | 3)
#define TSS_SEL 0x30
/* STAR[63:48]: sysret loads CS = this + 16, SS = this + 8 (both RPL 3). */
#define STAR_USER_BASE 0x10

#define CR0_PE 0x00000001
#define CR0_WP 0x00010000
#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020

#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_FMASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define EFER_SCE 0x001
#define EFER_LME 0x100
#define EFER_NXE 0x800

#define PTE_P 0x001
#define PTE_W 0x002
#define PTE_U 0x004
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS 0x080

#define KERNEL_STACK_SHIFT 14
#define KERNEL_STACK_SIZE (1 << KERNEL_STACK_SHIFT)
/* CPUs the kernel runs on (vc-vmm may have more vCPUs: those stay unstarted). */
#define MAX_CPUS 8
/* struct percpu offsets the syscall entry uses (kernel.h checks them). */
#define PERCPU_KSTACK 8
#define PERCPU_USER_RSP 16

/* User address space: PML4 slot 1. Image at USER_BASE, stack at the top of the
 * same 2 MiB page table. */
#define USER_BASE 0x8000000000
#define USER_SPAN 0x200000
#define USER_STACK_PAGES 4
/* A task's own block-device queue (SYS_BLK_QUEUE): a 1 MiB window the device may
 * write, the ring pair, the queue's doorbell page. Program images end below. */
#define USER_BLK_DMA_PAGE 240
#define USER_BLK_DMA_PAGES 256
#define USER_BLK_RING_PAGE 496
#define USER_BLK_DOORBELL_PAGE 497
/* The shared timer page, read-only, in every task when the VMM gives one. */
#define USER_TIMERPAGE_PAGE 498
#define USER_TIMERPAGE_VA (USER_BASE + USER_TIMERPAGE_PAGE * 4096)
#define USER_BLK_DMA_VA (USER_BASE + USER_BLK_DMA_PAGE * 4096)
#define USER_BLK_RING_VA (USER_BASE + USER_BLK_RING_PAGE * 4096)
#define USER_BLK_DOORBELL_VA (USER_BASE + USER_BLK_DOORBELL_PAGE * 4096)
/* Below the stack: the task's hypercall block and the MMIO doorbell page. */
#define USER_HCALL_PAGE 506
#define USER_DOORBELL_PAGE 507
#define USER_HCALL_VA (USER_BASE + USER_HCALL_PAGE * 4096)
#define USER_DOORBELL_VA (USER_BASE + USER_DOORBELL_PAGE * 4096)

/* Interrupt vectors: 32-47 the (masked) PICs', 48-63 device MSIs, each a stub. */
#define VEC_SYSCALL 0x80
#define VEC_TIMER 0x20
#define VEC_DEVICE_FIRST 0x30
#define VEC_BLK 0x30 /* block device completions, every queue */
#define VEC_IRQTEST 0x31 /* the VMM's test interrupt sources, one vector, an indicator */
#define VEC_WAKE 0x3e /* IPI: look again (a wait, a park request) */
#define VEC_STUBS 64
#define VEC_SPURIOUS 0xff

#endif
