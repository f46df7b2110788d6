// SPDX-License-Identifier: MIT
// irq[:bench] — vc-vmm's interrupt routing end to end, on four or more CPUs (`--cpus 4`,
// this task on CPU 0: `run=irq@0`). Test interrupt sources (dedicated 0..15, shared
// 16..23) are added through the control language; each fire sets the source's bit in the
// indicator in guest RAM and raises one vector. Then a sequence of changes, each re-routed
// by the VMM's policy with its minimal diff: a CPU's interception on, a CPU offline (parked
// by the kernel, which tells the VMM), devices removed and added, a CPU back online,
// interception off again until the shared sources have no eligible CPU (held by the VMM)
// and then one (delivered). After each, every source fires (all in one hypercall, while the
// other CPUs' handlers scan) and every request must be seen exactly once, none invented,
// none on an offline CPU. Exit 0 when all held.
//
// `bench` adds: the latency from the fire (host TSC) to the guest handler, straight to the
// vCPU (irqfd) and through the VMM's router thread; the VMM's re-routing of 64 devices for
// one CPU going offline, diff vs full rewrite (printed by vc-vmm); the indicator scan with
// 1 of 4096 requesters pending vs a linear scan of the same bitmap, at CPL3.
#include "../user/ulib.h"

#define DEDICATED 16u
#define SHARED 8u
#define ROUNDS 3

static struct vcg_irq_counters k;
static uint32_t expect[256];
static uint8_t active[256];
static int failures;

static long control(const char *line)
{
	long rc = syscall4(SYS_CONTROL, (long)line, (long)strlen(line), 0, 0);
	if (rc)
		printf("irq: control \"%s\": error %ld\n", line, rc);
	return rc;
}

static void read_counters(void)
{
	long rc = syscall4(SYS_IRQ_COUNTERS, (long)&k, 0, 0, 0);
	if (rc) {
		printf("irq: no test interrupt sources here (%ld): run under vc-vmm\n", rc);
		exit(2);
	}
}

static uint64_t now_ms(void)
{
	uint64_t ns;
	return clock_ns(&ns) ? rdtsc() / 2000000 : ns / 1000000; /* no page: ~2 GHz TSC */
}

/* Fires the sources in [first, first + count) that are active, in contiguous runs. */
static void fire(unsigned first, unsigned count)
{
	for (unsigned r = first; r < first + count;) {
		if (!active[r]) {
			r++;
			continue;
		}
		unsigned end = r;
		while (end < first + count && active[end])
			end++;
		int64_t rc = hcall_direct(VCG_HC_IRQTEST_FIRE, r, end - r);
		if (rc != (int64_t)(end - r)) {
			printf("irq: fire %u..%u: %ld\n", r, end - 1, (long)rc);
			failures++;
		}
		for (unsigned i = r; i < end; i++)
			expect[i]++;
		r = end;
	}
}

/* Waits until every request fired so far was seen; checks none twice, none invented. */
static int settle(const char *what, uint64_t timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		read_counters();
		int missing = 0, extra = 0;
		for (unsigned r = 0; r < 256; r++) {
			missing += k.seen[r] < expect[r];
			extra += k.seen[r] > expect[r];
		}
		if (extra || k.other_requesters || k.offline_interrupts) {
			printf("irq: %s: %d requesters seen more often than fired, %lu invented, %lu on "
			       "an offline CPU\n", what, extra, (unsigned long)k.other_requesters,
			       (unsigned long)k.offline_interrupts);
			failures++;
			return -1;
		}
		if (!missing)
			return 0;
		if (now_ms() > deadline) {
			for (unsigned r = 0; r < 256; r++)
				if (k.seen[r] != expect[r])
					printf("irq: %s: source %u seen %u of %u\n", what, r, k.seen[r],
					       expect[r]);
			failures++;
			return -1;
		}
	}
}

static uint64_t total_seen(void)
{
	uint64_t n = 0;
	for (unsigned r = 0; r < 256; r++)
		n += k.seen[r];
	return n;
}

/*
 * Waits until no CPU has taken a test interrupt for 200 ms. All requests being seen does
 * not mean all interrupts arrived: a handler on one CPU may scan (and report) bits whose
 * own interrupt is still on its way to another CPU, late by as long as the host leaves
 * that vCPU's thread unscheduled. A change made before they land would be blamed for them.
 */
static void quiesce(void)
{
	uint64_t last = UINT64_MAX, since = now_ms(), deadline = since + 3000;
	while (now_ms() < deadline) {
		read_counters();
		uint64_t sum = 0;
		for (unsigned c = 0; c < k.ncpus && c < 8; c++)
			sum += k.irqtest_interrupts[c];
		if (sum != last) {
			last = sum;
			since = now_ms();
		} else if (now_ms() - since >= 200) {
			return;
		}
	}
}

/* One phase: fire every active source ROUNDS times, all seen exactly once each time. */
static void phase(const char *what)
{
	read_counters();
	uint64_t before[8];
	for (unsigned c = 0; c < k.ncpus && c < 8; c++)
		before[c] = k.irqtest_interrupts[c];
	uint64_t seen0 = total_seen();
	for (int i = 0; i < ROUNDS; i++) {
		fire(0, 256);
		if (settle(what, 3000))
			break;
	}
	read_counters();
	printf("irq: %-34s %3lu requests, each seen once; interrupts per CPU", what,
	       (unsigned long)(total_seen() - seen0));
	for (unsigned c = 0; c < k.ncpus && c < 8; c++) {
		uint64_t got = k.irqtest_interrupts[c] - before[c];
		printf(" %lu%s", (unsigned long)got, k.parked_mask >> c & 1 ? "(off)" : "");
		if (k.parked_mask >> c & 1 && got) {
			printf(" <- offline CPU took interrupts");
			failures++;
		}
	}
	printf("\n");
	quiesce(); /* before the next change */
}

static void device(const char *verb, unsigned id, const char *mode)
{
	char line[64];
	sfmt(line, sizeof(line), "device %s %u%s%s", verb, id, mode ? " " : "", mode ? mode : "");
	if (control(line) == 0)
		active[id] = mode != NULL;
	else
		failures++;
}

static void must(long rc, const char *what)
{
	if (rc) {
		printf("irq: %s: %ld\n", what, rc);
		failures++;
	}
}

static void cpu_intercept(unsigned cpu, int on)
{
	char line[48];
	sfmt(line, sizeof(line), "cpu %u intercept %s", cpu, on ? "on" : "off");
	must(control(line), line);
}

static void park(unsigned cpu, int park_it)
{
	must(syscall4(SYS_CPU_PARK, cpu, park_it, 0, 0), park_it ? "park" : "unpark");
}

/* ---- bench ---- */

/* TSC cycles per millisecond by the timer page's clock, over 20 ms (0: no page). */
static uint64_t cycles_per_ms;

static void calibrate(void)
{
	uint64_t n0, n1;
	if (clock_ns(&n0))
		return;
	uint64_t t0 = rdtsc();
	do
		clock_ns(&n1);
	while (n1 - n0 < 20000000);
	cycles_per_ms = (rdtsc() - t0) * 1000000 / (n1 - n0);
}

/* @cycles as nanoseconds (TSC cycles without a page). */
static uint64_t ns_of(uint64_t cycles)
{
	return cycles_per_ms ? cycles * 1000000 / cycles_per_ms : cycles;
}

/* Median fire-to-handler latency of @source, on whichever CPU its route names. */
static uint64_t latency(unsigned source, unsigned n)
{
	static uint64_t samples[64];
	if (n > 64)
		n = 64;
	for (unsigned i = 0; i < n; i++) {
		read_counters();
		uint64_t before[8];
		for (unsigned c = 0; c < k.ncpus && c < 8; c++)
			before[c] = k.irqtest_interrupts[c];
		fire(source, 1);
		settle("latency", 3000);
		samples[i] = 0;
		for (unsigned c = 0; c < k.ncpus && c < 8; c++)
			if (k.irqtest_interrupts[c] != before[c])
				samples[i] = k.last_latency[c];
	}
	return median(samples, n);
}

static struct vc_irq_indicator_abi bench_ind;
static uint64_t flat[4096 / 64];

static void scan_bench(void)
{
	enum { N = 20000 };
	uint16_t out[8];
	unsigned sink = 0;
	uint64_t t0 = rdtsc();
	for (unsigned i = 0; i < N; i++) {
		vc_irq_abi_indicator_set(&bench_ind, (i * 2654435761u) % 4096);
		sink += (unsigned)vc_irq_abi_indicator_scan(&bench_ind, out, 8);
	}
	uint64_t t1 = rdtsc();
	for (unsigned i = 0; i < N; i++) {
		unsigned r = (i * 2654435761u) % 4096;
		__atomic_fetch_or(&flat[r / 64], 1ull << (r % 64), __ATOMIC_ACQ_REL);
		/* Linear: every word of the 4096-bit map, each read (and taken if set). */
		for (unsigned w = 0; w < 4096 / 64; w++) {
			uint64_t bits = __atomic_load_n(&flat[w], __ATOMIC_ACQUIRE);
			if (bits) {
				bits = __atomic_exchange_n(&flat[w], 0, __ATOMIC_ACQ_REL);
				for (; bits; bits &= bits - 1)
					sink++;
			}
		}
	}
	uint64_t t2 = rdtsc();
	if (sink != 2 * N)
		failures++;
	/* Hundredths of a ns per scan, and the ratio in tenths. */
	uint64_t a = ns_of((t1 - t0) * 100) / N, b = ns_of((t2 - t1) * 100) / N;
	printf("irq-bench: scan 1 of 4096 pending: indicator %lu.%02lu ns, linear %lu.%02lu ns "
	       "(%lu.%lux)\n", (unsigned long)(a / 100), (unsigned long)(a % 100),
	       (unsigned long)(b / 100), (unsigned long)(b % 100), (unsigned long)(b / a),
	       (unsigned long)(b * 10 / a % 10));
}

static void bench(void)
{
	calibrate();
	/* Direct: CPU 0 intercepts (it runs this task), the others take dedicated sources
	 * straight from KVM. Through the VMM: the others intercept, shared sources go there. */
	cpu_intercept(0, 1);
	for (unsigned c = 1; c < k.ncpus; c++)
		cpu_intercept(c, 0);
	uint64_t direct = latency(0, 41);
	for (unsigned c = 1; c < k.ncpus; c++)
		cpu_intercept(c, 1);
	cpu_intercept(0, 0);
	uint64_t routed = latency(DEDICATED, 41);
	for (unsigned c = 1; c < k.ncpus; c++)
		cpu_intercept(c, 0);
	printf("irq-bench: latency fire to guest handler: direct (irqfd) %lu ns, through the VMM "
	       "(KVM_SIGNAL_MSI) %lu ns (%lu / %lu TSC cycles)\n", (unsigned long)ns_of(direct),
	       (unsigned long)ns_of(routed), (unsigned long)direct, (unsigned long)routed);
	/* 64 dedicated devices, then the VMM times CPU 1 going offline both ways. */
	for (unsigned id = 100; id < 164; id++)
		device("add", id, "dedicated");
	must(control("bench reroute 1"), "bench reroute");
	for (unsigned id = 100; id < 164; id++)
		device("remove", id, NULL);
	scan_bench();
}

int main(void)
{
	read_counters();
	if (k.ncpus < 4) {
		printf("irq: needs 4 CPUs (vc-vmm --cpus 4), this VM has %u\n", k.ncpus);
		return 2;
	}
	if (syscall4(SYS_CPU, 0, 0, 0, 0) != 0) {
		printf("irq: run it on CPU 0 (run=irq@0): CPU 2 must be free to go offline\n");
		return 2;
	}
	cpu_intercept(3, 1); /* the shared sources need a CPU that intercepts */
	for (unsigned id = 0; id < DEDICATED; id++)
		device("add", id, "dedicated");
	for (unsigned id = DEDICATED; id < DEDICATED + SHARED; id++)
		device("add", id, "shared");
	phase("start (cpu 3 intercepts)");
	park(2, 1);
	phase("cpu 2 offline");
	cpu_intercept(1, 1);
	phase("cpu 1 intercepts");
	device("remove", 5, NULL);
	device("add", 40, "dedicated");
	if (hcall_direct(VCG_HC_IRQTEST_FIRE, 5, 1) != -2) {
		printf("irq: a removed source still fires\n");
		failures++;
	}
	phase("device 5 removed, 40 added");
	park(2, 0);
	phase("cpu 2 online again");
	cpu_intercept(3, 0);
	phase("cpu 3 stops intercepting");
	/* No CPU intercepts: the shared sources have no eligible CPU and the VMM holds their
	 * interrupts; they must arrive, once, when CPU 0 starts intercepting. */
	cpu_intercept(1, 0);
	read_counters();
	uint64_t seen0 = total_seen();
	fire(DEDICATED, SHARED);
	uint64_t t = now_ms() + 50;
	while (now_ms() < t)
		read_counters();
	if (total_seen() != seen0) {
		printf("irq: shared sources arrived with no CPU intercepting\n");
		failures++;
	}
	cpu_intercept(0, 1);
	settle("held until cpu 0 intercepts", 3000);
	phase("held ones delivered, cpu 0 intercepts");
	if (!strcmp(arg(), "bench"))
		bench();
	must(control("stats"), "stats");
	printf("irq: %s\n", failures ? "FAILED" : "every request seen exactly once, on an online CPU");
	return failures ? 1 : 0;
}
