// SPDX-License-Identifier: MIT
// regs:N — the two exits the register-prefetch benchmark compares (bench_vmm, `vc-vmm
// --regs`): N guest-virtual console hypercalls from CPL3 through the MMIO doorbell (the
// VMM reads the vCPU's control registers to translate the address: KVM_GET_SREGS, or
// delivered with the exit), then N null-port exits (the VMM reads nothing).
#include "../user/ulib.h"

static const char dot[] = ".";

int main(void)
{
	long n = arg_long(1000);
	uint64_t t0 = rdtsc();
	for (long i = 0; i < n; i++) {
		if (hcall_direct(VCG_HC_CONSOLE_WRITE_VIRT, (uint64_t)dot, 1) != 1) {
			printf("\nregs: console hypercall %ld failed\n", i);
			return 1;
		}
	}
	uint64_t t1 = rdtsc();
	long done = pio_burst(n);
	uint64_t t2 = rdtsc();
	printf("\nregs: console-virt %lu tsc/call\nregs: null-port %lu tsc/exit\n",
	       (t1 - t0) / (uint64_t)n, (t2 - t1) / (uint64_t)n);
	return done == n ? 0 : 1;
}
