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
	int fd;        /* the memfd or shared file behind a page this object mapped; -1 for
			* caller memory */
	bool mapped;   /* the page is this object's mmap of @fd */
	bool reader;   /* a shared page another process writes (vc_timerpage_create_shared) */
	bool tsc_stable;
	uint64_t last_publish_ns; /* tick-only mode: the time the page carries */

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

/* tsc-check.c: what decides whether readers may extrapolate with the TSC. */
struct vc__tsc_evidence {
	bool invariant;        /* CPUID 0x80000007 EDX bit 8 */
	char clocksource[48];  /* the kernel's current clocksource; "" if unreadable */
	bool measured;         /* the fields below come from a measurement */
	unsigned cpus;         /* CPUs whose TSC was compared */
	uint64_t max_skew_ns;  /* largest distance of a CPU's TSC from the first CPU's */
	double rate_change_ppm; /* largest departure of a short-window rate from the mean */
};
/* Above these the TSC is not used: a reader moving between CPUs could see time step back
 * by the skew, and a rate that moves this much between 10 ms windows is not invariant. */
#define VC__TSC_MAX_SKEW_NS 2000u
#define VC__TSC_MAX_RATE_CHANGE_PPM 1000.0
/* The decision, a pure function of the evidence (tests drive it with any evidence). */
enum vc_timerpage_mode_reason vc__tsc_decide(const struct vc__tsc_evidence *ev);
/* Reads CPUID and the clocksource; measures every allowed CPU's TSC (~20 ms) when the
 * clocksource leaves the question open, or always with @always_measure (tests). */
void vc__tsc_gather(struct vc__tsc_evidence *ev, bool always_measure);
/* This machine's evidence, gathered once per process. */
const struct vc__tsc_evidence *vc__tsc_machine(void);

/* timerpage.c */
void vc__timerpage_tick(vc_timerpage *tp, uint64_t ticks);
vc_timerpage *vc__timerpage_new(void);
/* Makes @tp the writer of @page (opts applied, mode decided, first time published). A page
 * that already holds a timer page (a writer that died) is taken over under its seqlock:
 * its readers never see a torn page or time going backwards. */
int vc__timerpage_init_writer(vc_timerpage *tp, void *page, const struct vc_timerpage_opts *opts);

/* Exact extrapolation with the page's formula, keeping the sub-ns fraction. */
void vc__timerpage_extrapolate(const struct vc_timerpage_abi *p, uint64_t tsc, uint64_t *ns,
			       uint32_t *frac);
/* The (mul, shift) pair that represents @rate ns per cycle most precisely. */
void vc__timerpage_scale_for(double rate, uint32_t *mul, int32_t *shift);

#endif /* VC_TIMERPAGE_INTERNAL_H */
