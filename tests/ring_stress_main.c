// SPDX-License-Identifier: MIT
// The ring stress as a program, for builds Criterion does not fit: the ThreadSanitizer
// build (shared fields _Atomic) and the negative control with the handshake fences
// compiled out, which must detect a lost wake-up (its meson test is should_fail).
// Usage: ring_stress [MESSAGES [MAX_BATCH]]; exit status 0 only if every run was clean
// (it stops at the first failing run).
#include <stdio.h>
#include <stdlib.h>

#include <virtcore/ring.h>

#include "ring_stress.h"

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
			if (rc)
				return 1; /* the first failure is the verdict */
		}
	}
	return 0;
}
