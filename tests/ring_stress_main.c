// SPDX-License-Identifier: MIT
// The ring stress as a program, for builds Criterion does not fit: the ThreadSanitizer
// build (shared fields _Atomic) and the negative control with the handshake fences
// compiled out (VC_RING_ABI_NO_FENCE), which must detect a lost wake-up.
// Usage: ring_stress [MESSAGES [MAX_BATCH]]. Exit status: normal builds 0 only if every
// run was clean (it stops at the first failing run). The control inverts it: 0 when a
// lost wake-up was caught (it tries up to CONTROL_ATTEMPTS times); else a
// store-buffering litmus decides: 77 (skip) when the host barely ran the two threads at
// once, so the control could not be proven; 1 when it clearly did and still nothing was
// caught.
#include <stdio.h>
#include <stdlib.h>

#include <virtcore/ring.h>

#include "ring_stress.h"

#define CONTROL_ATTEMPTS 3
/* Reorders per 200000 litmus rounds from which the two threads clearly ran at once: a
 * co-scheduled pair shows thousands; a few hundred (seen under ASan in CI) means the
 * host ran them together only now and then, too rarely to prove the control. */
#define CONTROL_MIN_REORDERS 2000

/* Every mode and pattern once; 1 at the first failing run (a lost wake-up). */
static int stress_all(uint64_t messages, uint32_t max_batch, uint64_t seed)
{
	static const uint32_t modes[] = {VC_RING_MODE_EVENT_IDX, VC_RING_MODE_FLAG};
	for (int m = 0; m < 2; m++) {
		for (uint32_t pattern = 0; pattern < 2; pattern++) {
			struct stress_cfg cfg = {
				.messages = messages / 4, .mode = modes[m], .pattern = pattern,
				.stop_on_lost = true, .max_batch = max_batch,
				.seed = seed + (uint64_t)m * 2 + pattern,
			};
			struct stress_result r;
			int rc = ring_stress_run(&cfg, &r);
			printf("%s %s: %llu messages, %.1f s, dozes %llu/%llu, lost wake-ups %llu%s%s\n",
			       m ? "flag" : "event-idx", pattern ? "both-doze" : "driver-polls",
			       (unsigned long long)r.messages, r.seconds,
			       (unsigned long long)r.device_dozes, (unsigned long long)r.driver_dozes,
			       (unsigned long long)r.lost_wakeups, rc ? ": FAILED: " : "", r.error);
			fflush(stdout);
			if (rc)
				return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t messages = argc > 1 ? strtoull(argv[1], NULL, 0) : ring_stress_messages(1000000);
	uint32_t max_batch = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 0;
#ifdef VC_RING_ABI_NO_FENCE
	for (int attempt = 0; attempt < CONTROL_ATTEMPTS; attempt++) {
		if (stress_all(messages, max_batch, 42 + 4 * (uint64_t)attempt)) {
			printf("control: the stress caught the lost wake-up the missing fences "
			       "allow, as it must\n");
			return 0;
		}
	}
	uint64_t reorders = ring_sb_litmus(200000, false);
	if (reorders < CONTROL_MIN_REORDERS) {
		printf("SKIP: no lost wake-up in %d attempts, and only %llu stores passed a load in "
		       "200000 litmus rounds: the host rarely ran both threads at once, the "
		       "control is unproven\n", CONTROL_ATTEMPTS, (unsigned long long)reorders);
		return 77;
	}
	printf("control FAILED: this machine reorders (%llu in 200000 litmus rounds) but %d "
	       "stress runs caught no lost wake-up without the fences\n",
	       (unsigned long long)reorders, CONTROL_ATTEMPTS);
	return 1;
#else
	return stress_all(messages, max_batch, 42);
#endif
}
