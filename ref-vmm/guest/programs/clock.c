// SPDX-License-Identifier: MIT
// clock[:N[/SECONDS]] — time from the shared timer page, read at CPL3 with no exit, side
// by side with the VMM's VCG_HC_CLOCK hypercall (one exit per read): N rounds (default 5)
// of "page before, hypercall, page after", checked to be in order and monotonic; then the
// cost of each way to read time from this task, in TSC cycles (a raw rdtsc for scale);
// with SECONDS, the page's accuracy against the host clock sampled that long.
#include "../user/ulib.h"

/* Costs are medians over batches, rdtsc and page batches interleaved: an exit or host
 * interrupt in the middle of one batch (tens of microseconds on kvm_pvm, thousands of
 * reads' worth) spoils that batch only. */
#define BATCHES 64
#define BATCH 512
#define HCALLS 64

/* Tenths of a cycle per read, as "24.3". */
static void print_tenths(const char *label, uint64_t batch_cycles, uint64_t per)
{
	uint64_t t = batch_cycles * 10 / per;
	printf("%s %lu.%lu tsc/read", label, (unsigned long)(t / 10), (unsigned long)(t % 10));
}

static int rounds(long n)
{
	uint64_t before, after, last = 0;
	for (long i = 0; i < n; i++) {
		clock_ns(&before);
		int64_t host = hcall_direct(VCG_HC_CLOCK, 0, 0);
		clock_ns(&after);
		printf("clock: page %lu ns, hypercall %ld ns, page after %lu ns\n",
		       (unsigned long)before, (long)host, (unsigned long)after);
		if (before < last || after < before) {
			printf("clock: the page went backwards\n");
			return 1;
		}
		last = after;
	}
	return 0;
}

static void costs(void)
{
	static uint64_t c_rdtsc[BATCHES], c_page[BATCHES], c_hcall[HCALLS];
	uint64_t sink = 0;
	for (int b = 0; b < BATCHES; b++) {
		uint64_t t0 = rdtsc();
		for (int i = 0; i < BATCH; i++)
			sink += rdtsc();
		uint64_t t1 = rdtsc();
		for (int i = 0; i < BATCH; i++) {
			uint64_t ns;
			clock_ns(&ns);
			sink += ns;
		}
		uint64_t t2 = rdtsc();
		c_rdtsc[b] = t1 - t0;
		c_page[b] = t2 - t1;
	}
	for (int i = 0; i < HCALLS; i++) {
		uint64_t t0 = rdtsc();
		sink += (uint64_t)hcall_direct(VCG_HC_CLOCK, 0, 0);
		c_hcall[i] = rdtsc() - t0;
	}
	printf("clock:");
	print_tenths(" rdtsc", median(c_rdtsc, BATCHES), BATCH);
	print_tenths(", page", median(c_page, BATCHES), BATCH);
	printf(", hypercall %lu tsc/read (%lu)\n", (unsigned long)median(c_hcall, HCALLS),
	       (unsigned long)(sink & 1));
}

/*
 * The page against the host's CLOCK_MONOTONIC for @seconds: each sample brackets one
 * hypercall between two page reads. The host's reading lies inside [before, after] if the
 * page is right; how far outside it ever fell is the page's error beyond what the exit's
 * own duration hides. The median distance from the bracket's middle is printed too.
 */
static int accuracy(long seconds)
{
	static uint64_t mid_off[4096];
	uint64_t start, now, worst = 0, samples = 0, widest = 0;
	clock_ns(&start);
	do {
		uint64_t before, after;
		clock_ns(&before);
		int64_t host = hcall_direct(VCG_HC_CLOCK, 0, 0);
		clock_ns(&after);
		uint64_t h = (uint64_t)host, out = 0;
		if (h < before)
			out = before - h;
		else if (h > after)
			out = h - after;
		if (out > worst)
			worst = out;
		if (after - before > widest)
			widest = after - before;
		uint64_t mid = before + (after - before) / 2;
		mid_off[samples % 4096] = mid > h ? mid - h : h - mid;
		samples++;
		now = after;
	} while (now - start < (uint64_t)seconds * 1000000000u);
	int kept = samples < 4096 ? (int)samples : 4096;
	printf("clock: accuracy over %lu samples in %ld s: host outside the page's bracket by "
	       "at most %lu ns; median |bracket middle - host| %lu ns; widest bracket %lu ns\n",
	       (unsigned long)samples, seconds, (unsigned long)worst,
	       (unsigned long)median(mid_off, kept), (unsigned long)widest);
	return 0;
}

int main(void)
{
	const char *a = arg();
	long n = 0, seconds = 0;
	int have_n = 0;
	for (; *a >= '0' && *a <= '9'; a++, have_n = 1)
		n = n * 10 + (*a - '0');
	if (*a == '/')
		for (a++; *a >= '0' && *a <= '9'; a++)
			seconds = seconds * 10 + (*a - '0');
	if (*a) {
		printf("clock: usage clock[:ROUNDS[/SECONDS]]\n");
		return 2;
	}
	uint64_t ns;
	int rc = clock_ns(&ns);
	if (rc) {
		printf("clock: no timer page (%d): the VMM gave none\n", rc);
		return 1;
	}
	/* The page says whether readers may extrapolate with the TSC (its writer decided
	 * from the host's evidence); without it, time advances once per tick. */
	if (ulib_timerpage->flags & VC_TIMERPAGE_F_TSC_STABLE)
		printf("clock: the page extrapolates with the TSC (nanosecond resolution)\n");
	else
		printf("clock: tick resolution only (%lu ns): the page's writer does not "
		       "extrapolate with the TSC here\n", (unsigned long)ulib_timerpage->tick_period_ns);
	if (rounds(have_n ? n : 5))
		return 1;
	costs();
	return seconds ? accuracy(seconds) : 0;
}
