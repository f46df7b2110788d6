// SPDX-License-Identifier: MIT
// counter:N — counts to N, yielding after each step, so copies interleave.
#include "../user/ulib.h"

int main(int id)
{
	long n = arg_long(3);
	for (long i = 1; i <= n; i++) {
		printf("counter: task %d step %ld/%ld\n", id, i, n);
		yield();
	}
	return 0;
}
