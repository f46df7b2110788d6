// SPDX-License-Identifier: MIT
// module:N — prints boot module N's size, an FNV-1a hash and its first line.
#include "../user/ulib.h"

int main(void)
{
	int index = (int)arg_long(0);
	long size = module_size(index);
	if (size < 0) {
		printf("module: no boot module %d (error %ld)\n", index, size);
		return 1;
	}
	uint64_t h = 0xcbf29ce484222325ull;
	char buf[256], first[81];
	size_t first_len = 0;
	int first_done = 0;
	for (long off = 0; off < size;) {
		long n = module_read(index, buf, sizeof(buf), (size_t)off);
		if (n <= 0)
			return 1;
		for (long i = 0; i < n; i++) {
			h = (h ^ (uint8_t)buf[i]) * 0x100000001b3ull;
			if (!first_done && (buf[i] == '\n' || first_len == 80))
				first_done = 1;
			if (!first_done)
				first[first_len++] = buf[i];
		}
		off += n;
	}
	first[first_len] = 0;
	printf("module: %d: %ld bytes, fnv1a64 %016lx, first line \"%s\"\n", index, size, h, first);
	return 0;
}
