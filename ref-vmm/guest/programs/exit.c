// SPDX-License-Identifier: MIT
// exit:N — ends the whole VM with status N (vc-vmm exits with it).
#include "../user/ulib.h"

int main(void)
{
	int status = (int)arg_long(0);
	printf("exit: ending the VM with status %d\n", status);
	vm_exit(status);
}
