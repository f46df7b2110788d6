/* SPDX-License-Identifier: MIT */
/*
 * The contract between vc-vmm and its guest runtime: I/O ports and the hypercall
 * block (the PVH start info is in <virtcore/pvh_abi.h>). Included by the VMM (hosted
 * C) and by the guest (freestanding C), so it uses only fixed-width types and no libc.
 */
#ifndef VC_REFVMM_GUEST_ABI_H
#define VC_REFVMM_GUEST_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

/* The PVH boot protocol (start info, entry note): libvirtcore's pvh module. */
#include <virtcore/pvh_abi.h>

/* Console: an 8250 UART at COM1 (works under QEMU too). */
#define VCG_PORT_COM1 0x3f8

/* Exit device: a write of the status ends vc-vmm with that status (0..255).
 * Same port as QEMU's isa-debug-exit, which exits with (status << 1) | 1. */
#define VCG_PORT_EXIT 0x501

/* Null port: writes are ignored, reads return 0. Each access is one exit to the VMM
 * and nothing else, which makes exits countable (vc-trace's test, exit benchmarks). */
#define VCG_PORT_NULL 0x512

/*
 * Hypercall port. A 32-bit `out` of the guest-physical address of a struct
 * vcg_hcall asks the VMM to run it; the VMM writes @ret before the guest resumes.
 * A 32-bit `in` returns VCG_HCALL_MAGIC, so the guest can tell vc-vmm from other
 * VMMs (QEMU returns all ones) and fall back to the UART.
 */
#define VCG_PORT_HCALL 0x510
#define VCG_HCALL_MAGIC 0x564d4d56u /* "VMMV" */

/*
 * The same hypercall as an MMIO doorbell: a 32-bit store of the block's address
 * at offset 0 of this page (a 32-bit load returns VCG_HCALL_MAGIC). A CPL3 task
 * can reach it with the page mapped, where port I/O would need IOPL (which
 * kvm_pvm does not honour: `out` at CPL3 raises #GP there).
 */
#define VCG_MMIO_HCALL 0xfe000000u

/*
 * Task doorbells: page 1 + N of the doorbell range is task slot N's. The kernel maps a
 * task's page (and not the kernel's page 0) into the task and registers the task's
 * block with VCG_HC_TASK_REGISTER; the VMM knows the caller from the MMIO address alone.
 * A call through a task doorbell runs only on the slot's registered block (a store of
 * any other address gets -EPERM in the registered block's ret, and nothing is read or
 * written at the address stored) and only the calls a task may make: NOP, ECHO, CLOCK
 * and CONSOLE_WRITE_VIRT (guest-virtual, checked with user permission). The others
 * (physical addresses, VM exit, registration) get -EPERM: the kernel makes them.
 */
#define VCG_MMIO_TASK_DOORBELLS (VCG_MMIO_HCALL + 0x1000u)
#define VCG_TASK_DOORBELLS 64

/*
 * The reference-value list (include/virtcore/trust_abi.h) that `vc-vmm --trust` copies
 * into guest memory before boot, for guest stages to verify each other with. Below 1 MiB,
 * above the boot information; the guest's page allocator never hands it out.
 */
#define VCG_TRUST_LIST_GPA 0x30000u
#define VCG_TRUST_LIST_MAX 0x4000u

#ifndef __ASSEMBLER__
enum vcg_hcall_nr {
	VCG_HC_NOP = 0,           /* round trip only; ret = 0 */
	VCG_HC_CONSOLE_WRITE = 1, /* args: gpa, len; writes to the console; ret = len */
	VCG_HC_EXIT = 2,          /* args: status; ends the VM */
	VCG_HC_ECHO = 3,          /* args: x; ret = x + 1 (proves the VMM saw the block) */
	VCG_HC_CLOCK = 4,         /* ret = host CLOCK_MONOTONIC in ns */
	VCG_HC_CONSOLE_WRITE_VIRT = 5, /* args: gva, len: console bytes at a guest-virtual
					* address, read through the calling vCPU's current page
					* tables with user-mode permission (the VMM translates with
					* libvirtcore's shadow page-table cache); ret = len, or
					* -EFAULT if any byte is not readable by user mode */
	VCG_HC_TASK_REGISTER = 6, /* args: slot, gpa: the block of task doorbell `slot`
				   * (kernel only; gpa 0 unregisters); ret = 0, -EINVAL */
};

struct vcg_hcall {
	uint32_t nr;      /* enum vcg_hcall_nr */
	uint32_t reserved;
	uint64_t args[4];
	int64_t ret;      /* written by the VMM: >= 0 result, < 0 -errno */
};
_Static_assert(sizeof(struct vcg_hcall) == 48, "vcg_hcall layout");

#endif /* !__ASSEMBLER__ */

#endif /* VC_REFVMM_GUEST_ABI_H */
