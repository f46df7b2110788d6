// SPDX-License-Identifier: MIT
// hcall:N — N round trips to the VMM by each path a CPL3 task has, timed with the
// TSC: a system call that stays in the guest, `syscall` -> kernel -> hypercall,
// `int $0x80` -> kernel -> hypercall, and straight from CPL3 through the MMIO
// doorbell (no guest kernel). Also checks that the VMM answered (echo: x + 1).
#include "../user/ulib.h"

static uint64_t per_call(uint64_t t0, long n)
{
	return (rdtsc() - t0) / (uint64_t)n;
}

int main(void)
{
	long n = arg_long(1000);
	/* Under another VMM (QEMU) only the timings mean something: the doorbell and
	 * the port are unassigned there, so the echo checks are skipped. */
	int vc_vmm = *(volatile uint32_t *)USER_DOORBELL_VA == VCG_HCALL_MAGIC;
	if (vc_vmm && syscall4(SYS_HCALL_ECHO, 41, 0, 0, 0) != 42) {
		printf("hcall: echo failed\n");
		return 1;
	}
	uint64_t t0 = rdtsc();
	for (long i = 0; i < n; i++)
		syscall4(SYS_NOP, 0, 0, 0, 0);
	printf("hcall: syscall-only %lu tsc/call\n", per_call(t0, n));
	t0 = rdtsc();
	for (long i = 0; i < n; i++)
		syscall4(SYS_HCALL_NOP, 0, 0, 0, 0);
	printf("hcall: syscall+hypercall %lu tsc/call\n", per_call(t0, n));
	t0 = rdtsc();
	for (long i = 0; i < n; i++)
		int80(SYS_HCALL_NOP, 0);
	printf("hcall: int80+hypercall %lu tsc/call\n", per_call(t0, n));
	if (vc_vmm && hcall_direct(VCG_HC_ECHO, 99, 0) != 100) {
		printf("hcall: MMIO doorbell echo failed\n");
		return 1;
	}
	t0 = rdtsc();
	for (long i = 0; i < n; i++)
		doorbell_nop();
	printf("hcall: mmio-doorbell %lu tsc/call\n", per_call(t0, n));
	t0 = rdtsc();
	for (long i = 0; i < n; i++)
		hcall_direct(VCG_HC_NOP, 0, 0);
	printf("hcall: mmio-hcall-block %lu tsc/call\n", per_call(t0, n));
	printf("hcall: %ld round trips per path done%s\n", n, vc_vmm ? "" : " (not vc-vmm: unchecked)");
	return 0;
}
