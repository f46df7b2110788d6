// SPDX-License-Identifier: MIT
// The ring stress as a program, for builds Criterion does not fit: the ThreadSanitizer
// build (shared fields _Atomic) and the negative control with the handshake fences
// compiled out (VC_RING_ABI_NO_FENCE), which must detect a lost wake-up.
// Usage: ring_stress [MESSAGES [MAX_BATCH]]. Exit status: normal builds 0 only if every
// run was clean (it stops at the first failing run). The control inverts it: 0 when a
// lost wake-up was caught; 77 (skip) when none was and a store-buffering litmus shows
// the host never ran the two threads at once, so the control could not be proven;
// 1 when the machine does reorder and still nothing was caught.
#include <stdio.h>
#include <stdlib.h>

#include <virtcore/ring.h>

#include "ring_stress.h"

/* Reorders per 200000 litmus rounds above which the two threads clearly ran at once
 * (a co-scheduled pair shows thousands). */
#define CONTROL_MIN_REORDERS 100

int main(int argc, char **argv)
{
	uint64_t messages = argc > 1 ? strtoull(argv[1], NULL, 0) : ring_stress_messages(1000000);
	uint32_t max_batch = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 0;
	static const uint32_t modes[] = {VC_RING_MODE_EVENT_IDX, VC_RING_MODE_FLAG};
	for (int m = 0; m < 2; m++) {
		for (uint32_t pattern = 0; pattern < 2; pattern++) {
			struct stress_cfg cfg = {
				.messages = messages / 4, .mode = modes[m], .pattern = pattern,
								.stop_on_lost = true, .max_batch = max_batch, .seed = 42 + m * 2 + pattern,
			};
			struct stress_result r;
			int rc = ring_stress_run(&cfg, &r);
			printf("%s %s: %llu messages, %.1f s, dozes %llu/%llu, lost wake-ups %llu%s%s\n",
			       m ? "flag" : "event-idx", pattern ? "both-doze" : "driver-polls",
			       (unsigned long long)r.messages, r.seconds,
			       (unsigned long long)r.device_dozes, (unsigned long long)r.driver_dozes,
			       (unsigned long long)r.lost_wakeups, rc ? ": FAILED: " : "", r.error);
			fflush(stdout);
			if (rc) {
#ifdef VC_RING_ABI_NO_FENCE
				printf("control: the stress caught the lost wake-up the missing fences "
				       "allow, as it must\n");
				return 0;
#else
				return 1; /* the first failure is the verdict */
#endif
			}
		}
	}
#ifdef VC_RING_ABI_NO_FENCE
	uint64_t reorders = ring_sb_litmus(200000, false);
	if (reorders < CONTROL_MIN_REORDERS) {
		printf("SKIP: no lost wake-up, and only %llu stores passed a load in 200000 litmus "
		       "rounds: the host did not run both threads at once, the control is "
		       "unproven\n", (unsigned long long)reorders);
		return 77;
	}
	printf("control FAILED: this machine reorders (%llu in 200000 litmus rounds) but the "
	       "stress caught no lost wake-up without the fences\n", (unsigned long long)reorders);
	return 1;
#else
	return 0;
#endif
}
