// SPDX-License-Identifier: MIT
// irq benchmark: routing decisions and re-routing after CPU reassignment (incremental
// against a from-scratch recompute), and indicator scans against linear bitmap scans.
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <virtcore/irq.h>
#include <virtcore/timerpage.h>

#include "harness.h"

#define CPUS 256
#define VMS 16
#define DEVICES 4096

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_irq: %s: %s\n", what, vc_strerror(rc));
	exit(1);
}

/* 16 VMs of 16 CPUs, 4 of them intercepting; 4096 devices, 3 in 4 dedicated. */
static vc_irq *build_policy(void)
{
	vc_irq *p;
	int rc = vc_irq_create(&p, NULL);
	if (rc)
		die("create", rc);
	for (uint32_t c = 0; c < CPUS; c++)
		if ((rc = vc_irq_cpu_add(p, c, c / (CPUS / VMS), c % 4 == 0, 0)) < 0)
			die("cpu_add", rc);
	for (uint32_t d = 0; d < DEVICES; d++) {
		uint32_t mode = d % 4 ? VC_IRQ_DEDICATED : VC_IRQ_SHARED;
		if ((rc = vc_irq_device_add(p, d, d, mode, d % VMS, 32 + d)) < 0)
			die("device_add", rc);
	}
	return p;
}

static vc_irq *policy;
static uint64_t changes_total, ops_total;

static void op_route(void *ctx, uint64_t n)
{
	(void)ctx;
	struct vc_irq_route r;
	for (uint64_t i = 0; i < n; i++) {
		vc_irq_route(&r, policy, (uint32_t)(i * 2654435761u) % DEVICES);
		vcb_keep(r.cpu);
	}
}

/* One op: a CPU moves to the next VM and back (two changes), minimal diffs. */
static void op_reassign_incremental(void *ctx, uint64_t n)
{
	(void)ctx;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t c = (uint32_t)(i * 37) % CPUS, vm = c / (CPUS / VMS);
		changes_total += (uint64_t)vc_irq_cpu_assign(policy, c, (vm + 1) % VMS);
		changes_total += (uint64_t)vc_irq_cpu_assign(policy, c, vm);
		ops_total++;
	}
}

/* The same two changes, each followed by a full recompute: what a policy without
 * incremental re-routing does. */
static void op_reassign_recompute(void *ctx, uint64_t n)
{
	(void)ctx;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t c = (uint32_t)(i * 37) % CPUS, vm = c / (CPUS / VMS);
		changes_total += (uint64_t)vc_irq_cpu_assign(policy, c, (vm + 1) % VMS);
		changes_total += (uint64_t)vc_irq_rebalance(policy);
		changes_total += (uint64_t)vc_irq_cpu_assign(policy, c, vm);
		changes_total += (uint64_t)vc_irq_rebalance(policy);
		ops_total++;
	}
}

static void reroute_table(void)
{
	struct vcb_table *t = vcb_table_new("irq", "re-route after reassigning a CPU and back "
					    "(4096 devices x 256 CPUs)", "full recompute");
	policy = build_policy();
	vcb_run(t, "vc_irq_route (lookup)", op_route, NULL);
	changes_total = ops_total = 0;
	vcb_run(t, "incremental (minimal diff)", op_reassign_incremental, NULL);
	vcb_note(t, "incremental (minimal diff)", "routes/op", (double)changes_total / (double)ops_total);
	vc_irq_destroy(policy);

	policy = build_policy();
	changes_total = ops_total = 0;
	vcb_run(t, "full recompute", op_reassign_recompute, NULL);
	vcb_note(t, "full recompute", "routes/op", (double)changes_total / (double)ops_total);
	vc_irq_destroy(policy);
	vcb_table_finish(t, stdout);
}

/* ---- indicator ---- */

static vc_irq_indicator *ind;
static _Atomic uint64_t naive[1024];
static unsigned pending_count;
static uint16_t out[65536];

static uint32_t pending_id(unsigned i)
{
	return (uint32_t)(i * (65536u / pending_count) + 17u) & 0xffff;
}

static void op_ind_set_scan(void *ctx, uint64_t n)
{
	(void)ctx;
	for (uint64_t k = 0; k < n; k++) {
		for (unsigned i = 0; i < pending_count; i++)
			vc_irq_indicator_set(ind, pending_id(i));
		vcb_keep(vc_irq_indicator_scan(ind, out, 65536));
	}
}

static void naive_set(uint32_t r)
{
	atomic_fetch_or_explicit(&naive[r / 64], 1ull << (r % 64), memory_order_acq_rel);
}

/* Linear scan: load each word, exchange the non-zero ones. */
static unsigned naive_scan_load(void)
{
	unsigned n = 0;
	for (unsigned w = 0; w < 1024; w++) {
		if (!atomic_load_explicit(&naive[w], memory_order_relaxed))
			continue;
		uint64_t bits = atomic_exchange_explicit(&naive[w], 0, memory_order_acq_rel);
		for (; bits; bits &= bits - 1)
			out[n++] = (uint16_t)(w * 64 + (unsigned)__builtin_ctzll(bits));
	}
	return n;
}

/* Linear read-and-clear of every word. */
static unsigned naive_scan_xchg(void)
{
	unsigned n = 0;
	for (unsigned w = 0; w < 1024; w++) {
		uint64_t bits = atomic_exchange_explicit(&naive[w], 0, memory_order_acq_rel);
		for (; bits; bits &= bits - 1)
			out[n++] = (uint16_t)(w * 64 + (unsigned)__builtin_ctzll(bits));
	}
	return n;
}

static void op_naive_load(void *ctx, uint64_t n)
{
	(void)ctx;
	for (uint64_t k = 0; k < n; k++) {
		for (unsigned i = 0; i < pending_count; i++)
			naive_set(pending_id(i));
		vcb_keep(naive_scan_load());
	}
}

static void ind_set_all(void)
{
	for (unsigned i = 0; i < pending_count; i++)
		vc_irq_indicator_set(ind, pending_id(i));
}

static unsigned ind_scan(void)
{
	return (unsigned)vc_irq_indicator_scan(ind, out, 65536);
}

static void naive_set_all(void)
{
	for (unsigned i = 0; i < pending_count; i++)
		naive_set(pending_id(i));
}

static unsigned no_scan(void)
{
	return 0;
}

static double ns_per_cycle;

/* Times the scan alone: set the bits, then bracket only the scan with ordered TSC reads.
 * The cost of an empty bracket, measured the same way, is subtracted. */
static struct vcb_stats time_scans(void (*set)(void), unsigned (*scan)(void), double overhead)
{
	unsigned samples = vcb_cfg.quick ? 200 : 20000;
	double *s = malloc(samples * sizeof(*s));
	if (!s)
		die("malloc", -ENOMEM);
	for (unsigned i = 0; i < samples; i++) {
		set();
		uint64_t t0 = vc_timerpage_abi_rdtsc_ordered();
		unsigned n = scan();
		uint64_t t1 = vc_timerpage_abi_rdtsc_ordered();
		if (scan != no_scan && n != pending_count) {
			fprintf(stderr, "bench_irq: scan found %u of %u\n", n, pending_count);
			exit(1);
		}
		s[i] = (double)(t1 - t0) * ns_per_cycle - overhead;
	}
	struct vcb_stats st;
	vcb_stats_compute(s, samples, &st);
	free(s);
	return st;
}

static void indicator_table(unsigned pending)
{
	char title[96];
	snprintf(title, sizeof(title), "indicator scan, %u pending of 65536", pending);
	pending_count = pending;
	struct vcb_stats empty = time_scans(ind_set_all, no_scan, 0);
	ind_scan();
	struct vcb_table *t = vcb_table_new("irq", title, "scan: linear (load, xchg non-zero)");
	struct vcb_stats st = time_scans(ind_set_all, ind_scan, empty.median);
	vcb_add(t, "scan: indicator (2 summary levels)", &st);
	st = time_scans(naive_set_all, naive_scan_load, empty.median);
	vcb_add(t, "scan: linear (load, xchg non-zero)", &st);
	st = time_scans(naive_set_all, naive_scan_xchg, empty.median);
	vcb_add(t, "scan: linear (xchg every word)", &st);
	vcb_run(t, "set+scan: indicator", op_ind_set_scan, NULL);
	vcb_run(t, "set+scan: linear (load)", op_naive_load, NULL);
	vcb_table_finish(t, stdout);
}

int main(int argc, char **argv)
{
	vcb_init(argc, argv);
	reroute_table();

	int rc = vc_irq_indicator_create(&ind);
	if (rc)
		die("indicator_create", rc);
	uint64_t hz;
	if ((rc = vc_timerpage_calibrate_tsc(&hz, NULL)))
		die("calibrate_tsc", rc);
	ns_per_cycle = 1e9 / (double)hz;
	indicator_table(1);
	indicator_table(64);
	indicator_table(4096);
	vc_irq_indicator_destroy(ind);
	return 0;
}
