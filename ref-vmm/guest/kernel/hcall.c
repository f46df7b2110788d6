// SPDX-License-Identifier: MIT
// Hypercalls: fill the block, one 32-bit `out` of its physical address.
#include "kernel.h"

static struct vcg_hcall block;

int64_t hcall(uint32_t nr, uint64_t a0, uint64_t a1)
{
	block.nr = nr;
	block.args[0] = a0;
	block.args[1] = a1;
	block.ret = -38; /* -ENOSYS unless the VMM answers */
	__asm__ volatile("outl %0, %1" ::"a"((uint32_t)(uintptr_t)&block), "Nd"((uint16_t)VCG_PORT_HCALL)
			 : "memory");
	return block.ret;
}

_Noreturn void vm_exit(int status)
{
	if (console_has_hcall())
		hcall(VCG_HC_EXIT, (uint64_t)status, 0);
	outb(VCG_PORT_EXIT, (uint8_t)status);
	/* Not reached under vc-vmm or QEMU with isa-debug-exit; otherwise stop here. */
	for (;;)
		__asm__ volatile("cli; hlt");
}
