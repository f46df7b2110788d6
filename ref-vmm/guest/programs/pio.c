// SPDX-License-Identifier: MIT
// pio:N — exactly N port writes to the null port (0x512), each one exit to the VMM:
// what vc-trace's test counts.
#include "../abi.h"
#include "../user/ulib.h"

int main(void)
{
	long n = arg_long(1000);
	long done = pio_burst(n);

	printf("pio: %ld writes to port 0x%x\n", done, VCG_PORT_NULL);
	return done == n ? 0 : 1;
}
