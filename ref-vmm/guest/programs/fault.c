// SPDX-License-Identifier: MIT
// fault — takes CPL3 exceptions and recovers from each: #UD (ud2), #GP (a
// privileged `cli`), #PF (a write to kernel memory), #BP (int3). Then, with
// fault:die, takes one without recovering and is killed by the kernel.
#include "../user/ulib.h"

static volatile int seen[32];

static uint64_t handler(uint64_t vector, uint64_t error, uint64_t rip, uint64_t addr)
{
	if (vector < 32)
		seen[vector]++;
	printf("fault: caught vector %lu error %lx at rip %lx addr %lx\n", vector, error, rip, addr);
	/* #BP reports the RIP after int3; the others the faulting instruction. */
	if (vector == 3)
		return rip;
	return rip + (vector == 14 ? 6 : vector == 6 ? 2 : 1);
}

int main(void)
{
	if (!strcmp(arg(), "die")) {
		printf("fault: no handler, writing to kernel memory\n");
		*(volatile int *)0x100000 = 1;
		printf("fault: still alive?!\n");
		return 0;
	}
	on_fault(handler);
	__asm__ volatile("ud2");
	__asm__ volatile("cli");
	/* movl $1, (%rax): 6 bytes, skipped by the handler */
	__asm__ volatile(".byte 0xc7, 0x00; .long 1" ::"a"(0x100000) : "memory");
	__asm__ volatile("int3");
	int ok = seen[6] == 1 && seen[13] == 1 && seen[14] == 1 && seen[3] == 1;
	printf("fault: recovered from #UD, #GP, #PF and #BP: %s\n", ok ? "yes" : "NO");
	return ok ? 0 : 1;
}
