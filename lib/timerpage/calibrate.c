// SPDX-License-Identifier: MIT
// TSC facts for the writer: its frequency (CPUID 0x15/0x16 or measured) and (host clock,
// TSC) pairs sampled as one instant. Whether to use the TSC at all: tsc-check.c.
#include <cpuid.h>
#include <errno.h>
#include <time.h>

#include "timerpage-internal.h"

uint64_t vc__tsc_ordered(void)
{
	return vc_timerpage_abi_rdtsc_ordered();
}

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The clock read is bracketed between two ordered TSC reads; the pair's TSC is the
 * midpoint. A wide bracket (an interrupt or preemption in between) makes the pair
 * uncertain by up to its width, and unbracketed pairs were seen to step back by 7.5 us
 * here, so wide ones are retried and the narrowest of the tries is kept.
 */
int vc__sample_pair(clockid_t clock, uint64_t bracket_limit, struct vc__clock_pair *out,
		    uint64_t *retries)
{
	uint64_t best_width = UINT64_MAX;
	for (int i = 0; i < 32; i++) {
		uint64_t t0 = vc__tsc_ordered();
		uint64_t ns = clock_ns(clock);
		uint64_t t1 = vc__tsc_ordered();
		uint64_t width = t1 - t0;
		if (width < best_width) {
			best_width = width;
			out->ns = ns;
			out->tsc = t0 + width / 2;
		}
		if (width <= bracket_limit)
			return 0;
		if (retries)
			(*retries)++;
	}
	return best_width == UINT64_MAX ? -EIO : 0;
}

/* The narrowest bracket this machine manages, so the limit adapts to slow clocks (VMs). */
uint64_t vc__bracket_floor(clockid_t clock)
{
	uint64_t floor = UINT64_MAX;
	for (int i = 0; i < 64; i++) {
		uint64_t t0 = vc__tsc_ordered();
		(void)clock_ns(clock);
		uint64_t width = vc__tsc_ordered() - t0;
		if (width < floor)
			floor = width;
	}
	return floor;
}

static int calibrate_cpuid(uint64_t *hz, uint32_t *source)
{
	unsigned max, a, b, c, d;
	__cpuid(0, max, b, c, d);
	if (max >= 0x15) {
		/* TSC = crystal * ebx / eax; all three must be reported. */
		__cpuid_count(0x15, 0, a, b, c, d);
		if (a && b && c) {
			*hz = (uint64_t)c * b / a;
			*source = VC_TIMERPAGE_TSC_CPUID_15;
			return 0;
		}
	}
	if (max >= 0x16) {
		__cpuid_count(0x16, 0, a, b, c, d);
		if (a & 0xffff) {
			*hz = (uint64_t)(a & 0xffff) * 1000000u;
			*source = VC_TIMERPAGE_TSC_CPUID_16;
			return 0;
		}
	}
	return -EOPNOTSUPP;
}

static int calibrate_measured(uint64_t *hz)
{
	clockid_t raw = CLOCK_MONOTONIC_RAW;
	uint64_t limit = vc__bracket_floor(raw) * 2 + 64;
	struct vc__clock_pair p0, p1;
	if (vc__sample_pair(raw, limit, &p0, NULL))
		return -EIO;
	struct timespec nap = {.tv_nsec = 20 * 1000 * 1000};
	while (nanosleep(&nap, &nap) == -1 && errno == EINTR)
		;
	if (vc__sample_pair(raw, limit, &p1, NULL) || p1.ns <= p0.ns || p1.tsc <= p0.tsc)
		return -EIO;
	double f = (double)(p1.tsc - p0.tsc) * 1e9 / (double)(p1.ns - p0.ns);
	if (f < 1e8 || f > 2e10) /* outside any real TSC: the clock or TSC misbehaved */
		return -EIO;
	*hz = (uint64_t)(f + 0.5);
	return 0;
}

VC_API int vc_timerpage_calibrate_tsc(uint64_t *hz, uint32_t *source)
{
	uint32_t src;
	if (!hz)
		return -EINVAL;
	if (calibrate_cpuid(hz, &src) == 0) {
		if (source)
			*source = src;
		return 0;
	}
	int rc = calibrate_measured(hz);
	if (rc == 0 && source)
		*source = VC_TIMERPAGE_TSC_MEASURED;
	return rc;
}
