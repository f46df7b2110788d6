// SPDX-License-Identifier: MIT
// The ring's doze handshake under load: ping-pong stress with the lost-wake-up detector
// (ring_stress.h), 10^7 messages between threads and 10^7 between two processes over a
// memfd, in both modes and both patterns; and the store-buffering litmus showing that
// this machine reorders a store past a later load (the reason for the two fences).
#include <unistd.h>

#include <criterion/criterion.h>

#include <virtcore/ring.h>

#include "ring_stress.h"

#define MESSAGES 10000000ull

static void stress(bool processes, uint32_t mode, uint32_t pattern, uint64_t messages)
{
	struct stress_cfg cfg = {
		.messages = messages, .mode = mode, .pattern = pattern,
		.processes = processes, .seed = 0x5eed0000 + mode * 16 + pattern,
		.max_batch = pattern == STRESS_DRIVER_POLLS ? 16 : 0, /* more rounds, more races */
	};
	struct stress_result r;
	int rc = ring_stress_run(&cfg, &r);
	cr_log_info("%s %s %s: %llu messages in %llu rounds, %.1f s, device dozes %llu, "
		    "driver dozes %llu, notifications %llu, lost wake-ups %llu",
		    processes ? "processes" : "threads",
		    mode == VC_RING_MODE_FLAG ? "flag" : "event-idx",
		    pattern == STRESS_DRIVER_POLLS ? "driver-polls" : "both-doze",
		    (unsigned long long)r.messages, (unsigned long long)r.rounds, r.seconds,
		    (unsigned long long)r.device_dozes, (unsigned long long)r.driver_dozes,
		    (unsigned long long)r.notifications, (unsigned long long)r.lost_wakeups);
	cr_assert_eq(r.lost_wakeups, 0, "lost wake-ups: %llu", (unsigned long long)r.lost_wakeups);
	cr_assert_eq(rc, 0, "%s", r.error);
	cr_assert_gt(r.device_dozes, 0, "the device never dozed: the handshake was not exercised");
	if (pattern == STRESS_BOTH_DOZE)
		cr_assert_gt(r.driver_dozes, 0, "the driver never dozed");
}

/* A quarter of the messages per mode x pattern, so each transport carries 10^7. */
#define SHARE (ring_stress_messages(MESSAGES) / 4)

Test(ring_stress, threads_event_idx_driver_polls, .timeout = 600)
{
	stress(false, VC_RING_MODE_EVENT_IDX, STRESS_DRIVER_POLLS, SHARE);
}

Test(ring_stress, threads_event_idx_both_doze, .timeout = 600)
{
	stress(false, VC_RING_MODE_EVENT_IDX, STRESS_BOTH_DOZE, SHARE);
}

Test(ring_stress, threads_flag_driver_polls, .timeout = 600)
{
	stress(false, VC_RING_MODE_FLAG, STRESS_DRIVER_POLLS, SHARE);
}

Test(ring_stress, threads_flag_both_doze, .timeout = 600)
{
	stress(false, VC_RING_MODE_FLAG, STRESS_BOTH_DOZE, SHARE);
}

Test(ring_stress, processes_event_idx_driver_polls, .timeout = 600)
{
	stress(true, VC_RING_MODE_EVENT_IDX, STRESS_DRIVER_POLLS, SHARE);
}

Test(ring_stress, processes_event_idx_both_doze, .timeout = 600)
{
	stress(true, VC_RING_MODE_EVENT_IDX, STRESS_BOTH_DOZE, SHARE);
}

Test(ring_stress, processes_flag_driver_polls, .timeout = 600)
{
	stress(true, VC_RING_MODE_FLAG, STRESS_DRIVER_POLLS, SHARE);
}

Test(ring_stress, processes_flag_both_doze, .timeout = 600)
{
	stress(true, VC_RING_MODE_FLAG, STRESS_BOTH_DOZE, SHARE);
}

Test(ring_stress, this_machine_reorders_stores_past_loads)
{
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		cr_skip_test("one CPU: stores cannot be observed out of order");
	uint64_t seen = 0, iterations = 0;
	/* usually thousands of reorders per 10^5 rounds; keep going on a quiet machine */
	while (seen == 0 && iterations < 2000000) {
		seen += ring_sb_litmus(100000, false);
		iterations += 100000;
	}
	cr_log_info("store-buffering litmus: %llu reorders in %llu rounds",
		    (unsigned long long)seen, (unsigned long long)iterations);
	cr_assert_eq(ring_sb_litmus(100000, true), 0, "a full fence must forbid the reorder");
	/* Not seeing a reorder is no bug of ours: the host may never have run both vCPUs at
	 * once (it happened in CI). Then the control is unproven, which is a skip. */
	if (seen == 0)
		cr_skip_test("no store passed a load in %llu rounds: the two threads never ran "
			     "concurrently enough here, so the fence check proves nothing on this run",
			     (unsigned long long)iterations);
}
