/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the Criterion tests. */
#ifndef VC_TESTS_HELPERS_H
#define VC_TESTS_HELPERS_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds on @clock. */
uint64_t th_clock_ns(clockid_t clock);

/* Seconds a stress test runs: @dflt, or VC_STRESS_SECONDS from the environment. */
double th_stress_seconds(double dflt);

/* A deterministic 64-bit PRNG (splitmix64) so failures reproduce. */
uint64_t th_rand64(uint64_t *state);

#endif /* VC_TESTS_HELPERS_H */
