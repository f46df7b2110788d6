/* SPDX-License-Identifier: MIT */
/* Private state of the timer-page writer, shared by the files of lib/timerpage/. */
#ifndef VC_TIMERPAGE_INTERNAL_H
#define VC_TIMERPAGE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include <virtcore/timerpage.h>

/* A host-clock reading and the TSC at the same instant (mid-point of a bracket). */
struct vc__clock_pair {
	uint64_t ns;
	uint64_t tsc;
};

/* Past pairs kept to estimate the rate over seconds, not over one tick. */
#define VC__RATE_WINDOW 8

struct vc_timerpage {
	struct vc_timerpage_abi *page;
	struct vc_timerpage_opts opts; /* defaults applied */
	clockid_t clock;
	int memfd;     /* -1 unless create_memfd made the page */
	bool tsc_stable;

	pthread_mutex_t lock; /* serialises updates: one writer at a time */
	uint64_t ticks;
	uint64_t bracket_limit; /* widest acceptable clock_gettime bracket, TSC cycles */
	uint64_t rebase_cycles; /* rebase interval in TSC cycles (opts.rebase_ms) */
	uint64_t interval_cycles; /* current interval: starts short, grows to rebase_cycles */
	uint64_t last_rebase_tsc;
	double rate;            /* ns per TSC cycle as published */
	struct vc__clock_pair window[VC__RATE_WINDOW];
	unsigned window_len, window_next;
	struct vc_timerpage_stats stats;

	/* tick thread */
	bool running;
	pthread_t thread;
	int timer_fd;
	int stop_fd;
};

/* calibrate.c */
uint64_t vc__tsc_ordered(void);
int vc__sample_pair(clockid_t clock, uint64_t bracket_limit, struct vc__clock_pair *out,
		    uint64_t *retries);
uint64_t vc__bracket_floor(clockid_t clock);
bool vc__tsc_trusted(void);

/* timerpage.c */
void vc__timerpage_tick(vc_timerpage *tp, uint64_t ticks);

/* Exact extrapolation with the page's formula, keeping the sub-ns fraction. */
void vc__timerpage_extrapolate(const struct vc_timerpage_abi *p, uint64_t tsc, uint64_t *ns,
			       uint32_t *frac);
/* The (mul, shift) pair that represents @rate ns per cycle most precisely. */
void vc__timerpage_scale_for(double rate, uint32_t *mul, int32_t *shift);

#endif /* VC_TIMERPAGE_INTERNAL_H */
