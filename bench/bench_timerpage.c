// SPDX-License-Identifier: MIT
// Timer-page benchmark: reader cost next to a bare rdtsc and the vDSO clock_gettime, with
// the writer idle and ticking at 1 kHz and 10 kHz, plus the writer's cost per update.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <virtcore/timerpage.h>

#include "harness.h"

static _Alignas(4096) struct vc_timerpage_abi page;
static uint64_t backward_steps, read_errors;

static void op_rdtsc(void *ctx, uint64_t n)
{
	(void)ctx;
	for (uint64_t i = 0; i < n; i++)
		vcb_keep(vc_timerpage_abi_rdtsc());
}

static void op_rdtsc_ordered(void *ctx, uint64_t n)
{
	(void)ctx;
	for (uint64_t i = 0; i < n; i++)
		vcb_keep(vc_timerpage_abi_rdtsc_ordered());
}

static void op_clock_gettime(void *ctx, uint64_t n)
{
	(void)ctx;
	struct timespec ts;
	for (uint64_t i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		vcb_keep(ts.tv_nsec);
	}
}

/* Each reader checks what it reads: the benchmark doubles as a monotonicity run. */
#define READER(name, call)                                                   \
	static void name(void *ctx, uint64_t n)                             \
	{                                                                    \
		(void)ctx;                                                   \
		uint64_t last = 0, ns = 0;                                   \
		for (uint64_t i = 0; i < n; i++) {                           \
			if (call(&ns, &page))                                \
				read_errors++;                               \
			backward_steps += ns < last;                         \
			last = ns;                                           \
		}                                                            \
		vcb_keep(ns);                                                \
	}
READER(op_read_inline, vc_timerpage_abi_read)
READER(op_read_ordered_inline, vc_timerpage_abi_read_ordered)
READER(op_read_exported, vc_timerpage_read)
READER(op_read_ordered_exported, vc_timerpage_read_ordered)

static void op_ticks(void *ctx, uint64_t n)
{
	(void)ctx;
	for (uint64_t i = 0; i < n; i++)
		vcb_keep(vc_timerpage_abi_ticks(&page));
}

static void op_update(void *ctx, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		vc_timerpage_update(ctx);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_timerpage: %s: %s\n", what, vc_strerror(rc));
	exit(1);
}

static vc_timerpage *make_writer(uint32_t tick_hz, uint32_t flags)
{
	vc_timerpage *tp;
	VC_OPTS(vc_timerpage_opts, o, .tick_hz = tick_hz ? tick_hz : 1000, .flags = flags);
	int rc = vc_timerpage_create(&tp, &page, sizeof(page), &o);
	if (rc)
		die("create", rc);
	if (tick_hz && (rc = vc_timerpage_start(tp)))
		die("start", rc);
	return tp;
}

static void reader_table(const char *title, uint32_t tick_hz, int full)
{
	vc_timerpage *tp = make_writer(tick_hz, 0);
	uint64_t back0 = backward_steps;
	struct vcb_table *t = vcb_table_new("timerpage", title, "rdtsc");
	vcb_run(t, "rdtsc", op_rdtsc, NULL);
	vcb_run(t, "clock_gettime(MONOTONIC) vDSO", op_clock_gettime, NULL);
	vcb_run(t, "read (inline)", op_read_inline, NULL);
	vcb_run(t, "read_ordered (inline)", op_read_ordered_inline, NULL);
	if (full) {
		vcb_run(t, "lfence;rdtsc;lfence", op_rdtsc_ordered, NULL);
		vcb_run(t, "read (exported twin)", op_read_exported, NULL);
		vcb_run(t, "read_ordered (exported twin)", op_read_ordered_exported, NULL);
		vcb_run(t, "ticks (one load)", op_ticks, NULL);
	}
	struct vc_timerpage_stats st;
	vc_timerpage_get_stats(tp, &st, sizeof st);
	vc_timerpage_destroy(tp);
	vcb_table_finish(t, stdout);
	printf("writer: %lu ticks, %lu rebases during the table; reader backward steps: %lu\n",
	       (unsigned long)st.ticks, (unsigned long)st.rebases,
	       (unsigned long)(backward_steps - back0));
}

int main(int argc, char **argv)
{
	vcb_init(argc, argv);

	reader_table("reader cost, writer idle (manual ticks)", 0, 1);
	reader_table("reader cost, writer ticking at 1 kHz", 1000, 0);
	reader_table("reader cost, writer ticking at 10 kHz", 10000, 0);

	struct vcb_table *t = vcb_table_new("timerpage", "writer cost per update",
					    "clock_gettime(MONOTONIC) vDSO");
	vcb_run(t, "clock_gettime(MONOTONIC) vDSO", op_clock_gettime, NULL);
	vc_timerpage *tp = make_writer(0, 0);
	vcb_run(t, "update: tick (TSC stable)", op_update, tp);
	vc_timerpage_destroy(tp);
	tp = make_writer(0, VC_TIMERPAGE_OPT_NO_TSC);
	vcb_run(t, "update: tick + publish host time", op_update, tp);
	vc_timerpage_destroy(tp);
	vcb_table_finish(t, stdout);

	printf("\ntotal reader backward steps: %lu, read errors: %lu\n",
	       (unsigned long)backward_steps, (unsigned long)read_errors);
	return backward_steps || read_errors ? 1 : 0;
}
