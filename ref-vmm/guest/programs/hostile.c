// SPDX-License-Identifier: MIT
// hostile — a task that tries what its doorbell must not allow: a console write of a
// guest-physical address (kernel memory), a store of an address that is not its own
// block (to have the VMM write `ret` there), a VM exit, a guest-virtual write of a
// kernel address; then one legitimate call. Each refusal is checked and printed.
#include "../user/ulib.h"

#define EPERM 1
#define EFAULT 14

static int failures;

static void expect(const char *what, int64_t got, int64_t want)
{
	printf("hostile: %s: %ld (%s)\n", what, (long)got, got == want ? "refused" : "NOT REFUSED");
	failures += got != want;
}

int main(void)
{
	volatile struct vcg_hcall *b = (volatile struct vcg_hcall *)USER_HCALL_VA;
	/* 1 MiB: the guest kernel's first page, supervisor-only in every task. */
	const uint64_t kernel = 0x100000;

	expect("console write of physical kernel memory",
	       hcall_direct(VCG_HC_CONSOLE_WRITE, kernel, 64), -EPERM);
	b->nr = VCG_HC_ECHO;
	b->args[0] = 1;
	b->ret = 12345;
	*(volatile uint32_t *)USER_DOORBELL_VA = (uint32_t)kernel; /* not its block */
	expect("doorbell store of another block's address", b->ret, -EPERM);
	expect("VM exit from a task", hcall_direct(VCG_HC_EXIT, 3, 0), -EPERM);
	expect("registering another task's block",
	       hcall_direct(VCG_HC_TASK_REGISTER, 0, kernel), -EPERM);
	expect("guest-virtual write of a kernel address",
	       hcall_direct(VCG_HC_CONSOLE_WRITE_VIRT, kernel, 16), -EFAULT);
	int64_t echo = hcall_direct(VCG_HC_ECHO, 41, 0);
	printf("hostile: its own call still works: echo 41 -> %ld\n", (long)echo);
	if (failures || echo != 42) {
		printf("hostile: FAILED\n");
		return 1;
	}
	printf("hostile: every attempt refused\n");
	return 0;
}
