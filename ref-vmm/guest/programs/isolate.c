// SPDX-License-Identifier: MIT
// isolate:TAG — several copies run at the same virtual addresses; each writes its
// tag into a global, yields to the others, and checks that its value survived.
#include "../user/ulib.h"

static char mine[32];

int main(int id)
{
	const char *tag = arg();
	size_t n = strlen(tag);
	if (n >= sizeof(mine))
		n = sizeof(mine) - 1;
	for (size_t i = 0; i < n; i++)
		mine[i] = tag[i];
	uint64_t cr3_hint = (uint64_t)&mine;
	printf("isolate: task %d wrote \"%s\" at %p\n", id, mine, (void *)cr3_hint);
	yield();
	yield();
	if (strcmp(mine, tag) != 0) {
		printf("isolate: task %d FAILED: found \"%s\", expected \"%s\"\n", id, mine, tag);
		return 1;
	}
	printf("isolate: task %d still reads \"%s\" at %p: address spaces are separate\n", id, mine,
	       (void *)cr3_hint);
	return 0;
}
