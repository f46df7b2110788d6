// SPDX-License-Identifier: MIT
// Helpers shared by the Criterion tests.
#include <stdlib.h>

#include "helpers.h"

uint64_t th_clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double th_stress_seconds(double dflt)
{
	const char *s = getenv("VC_STRESS_SECONDS");
	double v = s ? strtod(s, NULL) : 0;
	return v > 0 ? v : dflt;
}

uint64_t th_rand64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
