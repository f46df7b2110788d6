// SPDX-License-Identifier: MIT
// hello: prints from CPL3 and shows where it runs.
#include "../user/ulib.h"

int main(int id)
{
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	printf("hello: task %d running at CPL%d on CPU %ld, code at %p\n", id, cs & 3,
	       syscall4(SYS_CPU, 0, 0, 0, 0), (void *)main);
	return 0;
}
