/* SPDX-License-Identifier: MIT */
/* Private state of one ring side, shared by the files of lib/ring/. */
#ifndef VC_RING_INTERNAL_H
#define VC_RING_INTERNAL_H

#include <stdbool.h>

#include <virtcore/ring.h>

struct vc_ring {
	struct vc_ring_view v; /* private geometry and index: the peer cannot write it */
	uint32_t role;
	uint32_t flags;
	struct vc_ring_notifier notifier;
	uint32_t reserved; /* producer: slots handed out by the last vc_ring_reserve() */

	/* consumer: adaptive spin before dozing (like KVM's halt_poll_ns) */
	bool spin_auto;        /* bound measured, and checked against oversubscription */
	bool spin_allowed;     /* false while runnable threads outnumber CPUs */
	int64_t spin_bound_ns; /* 0: never spin */
	int64_t spin_ns;       /* current window, 0..spin_bound_ns */
	int64_t load_checked_ns;

	struct vc_ring_stats stats;
};

/* CLOCK_MONOTONIC in ns (vDSO, ~20 ns). */
int64_t vc__ring_now_ns(void);

/* 1 if more threads are runnable than there are CPUs (spinning would steal a core). */
bool vc__ring_oversubscribed(void);

/* Marks the handle broken once, with a log line saying which side saw what. */
int vc__ring_broken(struct vc_ring *r, const char *what);

#endif /* VC_RING_INTERNAL_H */
