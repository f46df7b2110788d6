/* SPDX-License-Identifier: MIT */
/*
 * Ping-pong stress of the ring's doze handshake with a lost-wake-up detector, shared by
 * the Criterion test, the ThreadSanitizer build and the no-fence negative control.
 *
 * A driver pushes a batch of requests, then stays quiet until the device has consumed the
 * whole batch (a completion carrying the batch's last sequence number comes back), so a
 * missed notification is never rescued by the next publish. Every request carries a
 * sequence number and a payload derived from it: the device checks order, loss and
 * duplicates; the driver checks the completions the same way.
 *
 * Lost-wake-up detector: the consumer sleeps in a test notifier that waits in 20 ms
 * slices. While the doze is still announced, a slice that times out with the ring
 * non-empty, the producer's publish of those entries complete (it stores the index it
 * published, release, after its notify decision) and no notification pending on the
 * eventfd is a lost wake-up: the producer decided not to notify a consumer that had
 * already decided to sleep. A watchdog fails the run if nothing moves for 10 s.
 */
#ifndef VC_TESTS_RING_STRESS_H
#define VC_TESTS_RING_STRESS_H

#include <stdbool.h>
#include <stdint.h>

enum stress_pattern {
	/* the driver polls for its completions; the device dozes at once when empty: the
	 * device's doze races with the driver's next publish on nearly every round */
	STRESS_DRIVER_POLLS = 0,
	/* both sides wait with the library's adaptive spin, so each ring's doze races with
	 * the peer's publish (both directions) */
	STRESS_BOTH_DOZE = 1,
};

struct stress_cfg {
	uint64_t messages;
	uint32_t mode;       /* VC_RING_MODE_* */
	uint32_t pattern;    /* enum stress_pattern */
	bool processes;      /* device in a forked child, rings in a memfd */
	bool stop_on_lost;   /* return at the first lost wake-up (negative control) */
	uint32_t max_batch;  /* batches are 1..max_batch messages (0: 128); small = more rounds */
	uint64_t seed;
};

struct stress_result {
	uint64_t messages;       /* verified by the device */
	uint64_t rounds;         /* batches completed */
	uint64_t lost_wakeups;   /* detected, both rings */
	uint64_t device_dozes;   /* sleeps on the request ring */
	uint64_t driver_dozes;   /* sleeps on the completion ring */
	uint64_t notifications;  /* both producers */
	double seconds;
	char error[256];         /* first verification failure, "" if none */
};

/* Runs one stress; returns 0 if every message arrived in order with no lost wake-up. */
int ring_stress_run(const struct stress_cfg *cfg, struct stress_result *res);

/* Messages to send: @dflt, or VC_RING_STRESS_MESSAGES from the environment. */
uint64_t ring_stress_messages(uint64_t dflt);

/*
 * Store-buffering litmus: two threads each store one variable and load the other,
 * @iterations times. Returns how often both loads saw the old values (a store passed a
 * later load); with @fenced a full fence separates them and the answer must be 0.
 */
uint64_t ring_sb_litmus(uint64_t iterations, bool fenced);

#endif /* VC_TESTS_RING_STRESS_H */
