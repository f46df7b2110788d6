// SPDX-License-Identifier: MIT
// remap: prints a page, has the kernel swap it with another in this task's page table,
// prints the same address again. Under vc-vmm the VMM reads what we print through our
// page tables (its shadow page-table cache), so the second line proves it saw the
// kernel's page-table write (KVM dirty logging) and dropped the stale translation.
// Then a kernel address, which a user task may not read: -EFAULT, nothing printed.
#include "../user/ulib.h"

static char first[4096] __attribute__((aligned(4096))) = "remap: this page was mapped first\n";
static char second[4096] __attribute__((aligned(4096))) = "remap: now the other page is\n";

int main(void)
{
	long rounds = arg_long(3);
	for (long i = 0; i < rounds; i++) {
		write(first, strlen(first));
		if (swap_pages(first, second) != 0) {
			printf("remap: swap failed\n");
			return 1;
		}
	}
	/* Kernel memory (identity-mapped, supervisor-only) is refused, not printed. */
	long rc = write((const void *)0x100000, 16);
	printf("remap: %ld swaps; writing kernel memory returns %ld\n", rounds, rc);
	return rc == -14 ? 0 : 1;
}
