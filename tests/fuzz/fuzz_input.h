/* SPDX-License-Identifier: MIT */
/* The libFuzzer targets' input reader: little-endian values taken from the front of the
 * input, zero once it runs out (so every input is a complete program). */
#ifndef VC_TESTS_FUZZ_INPUT_H
#define VC_TESTS_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct input {
	const uint8_t *p;
	size_t n;
};

static inline uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes && in->n; i++, in->n--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

#endif /* VC_TESTS_FUZZ_INPUT_H */
