/* SPDX-License-Identifier: MIT */
/* The consumer's wait: adaptive spin, then the doze handshake, then the notifier. */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "ring-internal.h"
#include "util/probes.h"

/* How often an auto-spinning consumer re-reads the run queue length. */
#define LOAD_CHECK_NS 1000000000LL
/* A spin that starts growing starts here. */
#define SPIN_START_NS 1000LL

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

int64_t vc__ring_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long runnable_threads(void)
{
	/* /proc/loadavg's fourth field is "runnable/total"; runnable includes the caller */
	FILE *f = fopen("/proc/loadavg", "re");
	if (!f)
		return -1;
	double l1, l5, l15;
	long running = 0, total = 0;
	int got = fscanf(f, "%lf %lf %lf %ld/%ld", &l1, &l5, &l15, &running, &total);
	fclose(f);
	return got == 5 ? running : -1;
}

bool vc__ring_oversubscribed(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 2)
		return true; /* one CPU: the producer cannot run while we spin */
	/* the minimum of three samples: a kernel thread waking for a moment is not load */
	long least = -1;
	for (int i = 0; i < 3; i++) {
		long n = runnable_threads();
		if (n < 0)
			return false;
		if (least < 0 || n < least)
			least = n;
	}
	return least > cpus;
}

/* Spins up to the current window; returns entries found (> 0), 0, or an error. */
static int spin(struct vc_ring *r, int64_t deadline)
{
	int64_t now = vc__ring_now_ns();
	if (r->spin_auto && now - r->load_checked_ns > LOAD_CHECK_NS) {
		r->spin_allowed = !vc__ring_oversubscribed();
		r->load_checked_ns = now;
	}
	if (!r->spin_allowed || r->spin_ns <= 0)
		return 0;
	int64_t until = now + r->spin_ns;
	if (deadline >= 0 && until > deadline)
		until = deadline;
	for (;;) {
		for (int i = 0; i < 64; i++) {
			int n = vc_ring_abi_avail(&r->v);
			if (n != 0)
				return n;
			cpu_relax();
		}
		if (vc__ring_now_ns() >= until)
			return 0;
	}
}

/*
 * halt_poll_ns-style adaptation after a doze of @slept ns. The sleep includes the wake-up
 * itself (about the bound when the bound is the measured wake cost), so the message came
 * about slept - bound after the doze began: if that is within the bound, a longer spin
 * would have caught it, so grow; otherwise the spin was wasted, so shrink.
 */
static void adapt(struct vc_ring *r, int64_t slept)
{
	if (!r->spin_allowed || r->spin_bound_ns <= 0)
		return;
	if (slept - r->spin_bound_ns <= r->spin_bound_ns) {
		int64_t grown = r->spin_ns ? r->spin_ns * 2 : SPIN_START_NS;
		r->spin_ns = grown < r->spin_bound_ns ? grown : r->spin_bound_ns;
	} else {
		r->spin_ns /= 2;
	}
}

VC_API int vc_ring_wait(vc_ring *r, int64_t timeout_ns)
{
	if (!r || r->role != VC_RING_CONSUMER)
		return -EINVAL;
	int n = vc_ring_abi_avail(&r->v);
	if (n != 0)
		return n > 0 ? n : vc__ring_broken(r, "wrote an impossible producer index");
	if (timeout_ns == 0)
		return -ETIMEDOUT;
	if (!r->notifier.wait)
		return -EOPNOTSUPP;
	int64_t deadline = timeout_ns < 0 ? -1 : vc__ring_now_ns() + timeout_ns;

	n = spin(r, deadline);
	if (n != 0) {
		if (n > 0)
			r->stats.spin_hits++;
		return n > 0 ? n : vc__ring_broken(r, "wrote an impossible producer index");
	}
	for (;;) {
		n = vc_ring_abi_prepare_doze(&r->v);
		if (n != 0) {
			r->stats.doze_aborts++;
			return n > 0 ? n : vc__ring_broken(r, "wrote an impossible producer index");
		}
		int64_t left = -1, t0 = vc__ring_now_ns();
		if (deadline >= 0) {
			left = deadline - t0;
			if (left <= 0) {
				vc_ring_abi_end_doze(&r->v);
				r->stats.timeouts++;
				return -ETIMEDOUT;
			}
		}
		r->stats.dozes++;
		VC_PROBE1(ring_doze, r);
		int rc = r->notifier.wait(r->notifier.ctx, left);
		vc_ring_abi_end_doze(&r->v);
		adapt(r, vc__ring_now_ns() - t0);
		n = vc_ring_abi_avail(&r->v);
		if (rc == 0) {
			r->stats.wakeups++;
			VC_PROBE1(ring_wake, r);
		}
		if (n != 0)
			return n > 0 ? n : vc__ring_broken(r, "wrote an impossible producer index");
		if (rc == 0) {
			r->stats.spurious_wakeups++;
			continue;
		}
		if (rc == -ETIMEDOUT)
			r->stats.timeouts++;
		return rc;
	}
}
