// SPDX-License-Identifier: MIT
// Whether readers may extrapolate with the TSC: the evidence (CPUID, the kernel's
// clocksource, a measurement of every CPU's TSC against one clock) and the decision.
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timerpage-internal.h"

#define CLOCKSOURCE_FILE "/sys/devices/system/clocksource/clocksource0/current_clocksource"

/* Measurement: this many rounds over every allowed CPU, this far apart. */
#define ROUNDS 3
#define ROUND_GAP_NS 10000000L
/* At most this many CPUs are visited (the check must stay well under a second). */
#define MAX_CPUS_CHECKED 256

/*
 * Clocksources that are the kernel's choice of a paravirtual clock, not a verdict on the
 * TSC: a guest picks them even when its TSC is sound (or is booted with tsc=unstable to
 * prefer them), so the TSC is measured there. On any other clocksource (hpet, acpi_pm,
 * jiffies) the kernel found the TSC unusable, and we do not overrule it.
 */
static const char *const paravirt_clocks[] = {
	"kvm-clock", "hyperv_clocksource_tsc_page", "xen",
};

static bool is_paravirt_clock(const char *name)
{
	for (size_t i = 0; i < sizeof(paravirt_clocks) / sizeof(paravirt_clocks[0]); i++)
		if (strcmp(name, paravirt_clocks[i]) == 0)
			return true;
	return false;
}

enum vc_timerpage_mode_reason vc__tsc_decide(const struct vc__tsc_evidence *ev)
{
	if (!ev->invariant)
		return VC_TIMERPAGE_MODE_TICK_NOT_INVARIANT;
	if (strcmp(ev->clocksource, "tsc") == 0)
		return VC_TIMERPAGE_MODE_TSC_KERNEL;
	if (ev->clocksource[0] && !is_paravirt_clock(ev->clocksource))
		return VC_TIMERPAGE_MODE_TICK_KERNEL_REJECTED;
	if (!ev->measured)
		return VC_TIMERPAGE_MODE_TICK_UNMEASURED;
	if (ev->max_skew_ns > VC__TSC_MAX_SKEW_NS)
		return VC_TIMERPAGE_MODE_TICK_SKEWED;
	if (ev->rate_change_ppm > VC__TSC_MAX_RATE_CHANGE_PPM)
		return VC_TIMERPAGE_MODE_TICK_UNSTEADY;
	return VC_TIMERPAGE_MODE_TSC_MEASURED;
}

static bool cpuid_invariant_tsc(void)
{
	unsigned max, a, b, c, d;
	__cpuid(0x80000000, max, b, c, d);
	if (max < 0x80000007)
		return false;
	__cpuid(0x80000007, a, b, c, d);
	return d & (1u << 8);
}

static void read_clocksource(char *name, size_t len)
{
	name[0] = '\0';
	FILE *f = fopen(CLOCKSOURCE_FILE, "re");
	if (!f)
		return;
	if (fgets(name, (int)len, f))
		name[strcspn(name, "\n")] = '\0';
	else
		name[0] = '\0';
	fclose(f);
}

/* One (CLOCK_MONOTONIC_RAW, TSC) pair per CPU per round; valid = pinned and sampled. */
struct sample {
	struct vc__clock_pair pair;
	bool valid;
};

struct measure_job {
	int cpus[MAX_CPUS_CHECKED];
	unsigned ncpus;
	struct sample s[ROUNDS][MAX_CPUS_CHECKED];
	int rc;
};

/* Runs in a thread of its own, so pinning it to each CPU in turn never touches the
 * caller's affinity. */
static void *measure_thread(void *arg)
{
	struct measure_job *job = arg;
	uint64_t limit = vc__bracket_floor(CLOCK_MONOTONIC_RAW) * 2 + 64;
	for (int r = 0; r < ROUNDS; r++) {
		if (r) {
			struct timespec nap = {.tv_nsec = ROUND_GAP_NS};
			while (nanosleep(&nap, &nap) == -1 && errno == EINTR)
				;
		}
		for (unsigned i = 0; i < job->ncpus; i++) {
			cpu_set_t one;
			CPU_ZERO(&one);
			CPU_SET(job->cpus[i], &one);
			if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one))
				continue; /* went offline or left our cpuset: not compared */
			job->s[r][i].valid =
				vc__sample_pair(CLOCK_MONOTONIC_RAW, limit, &job->s[r][i].pair, NULL) == 0;
		}
	}
	return NULL;
}

/*
 * Every CPU's TSC against the first CPU's, through CLOCK_MONOTONIC_RAW: the first CPU's
 * samples give the TSC rate; a CPU's skew is how far its TSC reading lies from the first
 * CPU's line at the same clock instant. The rate is steady when each CPU's rate over each
 * gap agrees with the first CPU's rate over the whole window.
 */
static int measure(struct vc__tsc_evidence *ev)
{
	struct measure_job *job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed)) {
		free(job);
		return -errno;
	}
	for (int c = 0; c < CPU_SETSIZE && job->ncpus < MAX_CPUS_CHECKED; c++)
		if (CPU_ISSET(c, &allowed))
			job->cpus[job->ncpus++] = c;

	pthread_t t;
	int rc = pthread_create(&t, NULL, measure_thread, job);
	if (rc) {
		free(job);
		return -rc;
	}
	pthread_join(t, NULL);

	const struct sample *f0 = &job->s[0][0], *f1 = &job->s[ROUNDS - 1][0];
	if (!f0->valid || !f1->valid || f1->pair.ns <= f0->pair.ns || f1->pair.tsc <= f0->pair.tsc) {
		free(job);
		return -EIO;
	}
	double cycles_per_ns =
		(double)(f1->pair.tsc - f0->pair.tsc) / (double)(f1->pair.ns - f0->pair.ns);
	double max_skew = 0, max_ppm = 0;
	unsigned compared = 0;
	for (unsigned i = 0; i < job->ncpus; i++) {
		bool seen = false;
		for (int r = 0; r < ROUNDS; r++) {
			const struct sample *s = &job->s[r][i];
			if (!s->valid)
				continue;
			seen = true;
			double expect = (double)f0->pair.tsc +
					((double)s->pair.ns - (double)f0->pair.ns) * cycles_per_ns;
			double skew = ((double)s->pair.tsc - expect) / cycles_per_ns;
			if (skew < 0)
				skew = -skew;
			if (skew > max_skew)
				max_skew = skew;
			const struct sample *n = r + 1 < ROUNDS ? &job->s[r + 1][i] : NULL;
			if (n && n->valid && n->pair.ns > s->pair.ns) {
				double rate = (double)(n->pair.tsc - s->pair.tsc) /
					      (double)(n->pair.ns - s->pair.ns);
				double ppm = (rate / cycles_per_ns - 1) * 1e6;
				if (ppm < 0)
					ppm = -ppm;
				if (ppm > max_ppm)
					max_ppm = ppm;
			}
		}
		compared += seen;
	}
	free(job);
	ev->measured = true;
	ev->cpus = compared;
	ev->max_skew_ns = (uint64_t)(max_skew + 0.5);
	ev->rate_change_ppm = max_ppm;
	return 0;
}

void vc__tsc_gather(struct vc__tsc_evidence *ev, bool always_measure)
{
	memset(ev, 0, sizeof(*ev));
	ev->invariant = cpuid_invariant_tsc();
	read_clocksource(ev->clocksource, sizeof(ev->clocksource));
	/* Measure only where the verdict depends on it. */
	if (always_measure || (ev->invariant && strcmp(ev->clocksource, "tsc") != 0 &&
			       (!ev->clocksource[0] || is_paravirt_clock(ev->clocksource))))
		(void)measure(ev);
}

/* The machine does not change under a process: one gathering serves every writer. */
static struct vc__tsc_evidence machine;
static pthread_once_t machine_once = PTHREAD_ONCE_INIT;

static void gather_machine(void)
{
	vc__tsc_gather(&machine, false);
}

const struct vc__tsc_evidence *vc__tsc_machine(void)
{
	pthread_once(&machine_once, gather_machine);
	return &machine;
}

VC_API const char *vc_timerpage_mode_reason_str(uint32_t reason)
{
	switch (reason) {
	case VC_TIMERPAGE_MODE_TSC_KERNEL:
		return "TSC: invariant, and the kernel's clocksource";
	case VC_TIMERPAGE_MODE_TSC_MEASURED:
		return "TSC: invariant, measured in step across CPUs and steady";
	case VC_TIMERPAGE_MODE_TSC_FORCED:
		return "TSC: forced by the caller (VC_TIMERPAGE_OPT_FORCE_TSC)";
	case VC_TIMERPAGE_MODE_TICK_DISABLED:
		return "tick only: the caller asked (VC_TIMERPAGE_OPT_NO_TSC)";
	case VC_TIMERPAGE_MODE_TICK_NOT_INVARIANT:
		return "tick only: the CPU does not report an invariant TSC";
	case VC_TIMERPAGE_MODE_TICK_KERNEL_REJECTED:
		return "tick only: the kernel runs on another clocksource, which it does when it "
		       "found the TSC unreliable";
	case VC_TIMERPAGE_MODE_TICK_UNMEASURED:
		return "tick only: the TSC could not be measured against the clock";
	case VC_TIMERPAGE_MODE_TICK_SKEWED:
		return "tick only: the CPUs' TSCs are not in step";
	case VC_TIMERPAGE_MODE_TICK_UNSTEADY:
		return "tick only: the TSC's rate was not steady against CLOCK_MONOTONIC_RAW";
	default:
		return "unknown reason";
	}
}
