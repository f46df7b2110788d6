// SPDX-License-Identifier: MIT
// vc-trace: VM exits of a VMM (or every VMM), counted by eBPF in the kernel. The interface
// is fixed (scripts depend on it): vc-trace [--pid PID] [--json] [--duration SECONDS].
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <virtcore/trace.h>

#include "error-capture.h"
#include "stdout-check.h"

static const char usage[] =
	"usage: vc-trace [--pid PID] [--json] [--duration SECONDS]\n"
	"Counts VM exits with eBPF: per exit reason and I/O port or MMIO address, how many,\n"
	"how often, and how long the VMM took before entering the guest again.\n"
	"\n"
	"  --pid PID           only this VMM process (default: every process using KVM)\n"
	"  --json              print one JSON document at the end instead of tables\n"
	"  --duration SECONDS  stop after this long (default: at SIGINT / Ctrl-C)\n"
	"\n"
	"Without --json a table is refreshed every second, then a final summary is printed.\n"
	"Needs root (or CAP_BPF and CAP_PERFMON), kernel BTF and the kvm tracepoints.\n";

#define MAX_ROWS 4096

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* "IO 0x510 out", "MMIO 0xfe000000 write", "HLT", "kernel 48" */
static void describe(const struct vc_trace_row *r, char *out, size_t len)
{
	if (r->source == VC_TRACE_KERNEL)
		snprintf(out, len, "kernel exit %" PRIu32, r->reason);
	else if (r->reason == 2)
		snprintf(out, len, "IO 0x%" PRIx64 " %s", r->addr, r->write ? "out" : "in");
	else if (r->reason == 6)
		snprintf(out, len, "MMIO 0x%" PRIx64 " %s", r->addr, r->write ? "write" : "read");
	else
		snprintf(out, len, "%s", vc_trace_reason_name(r->reason));
}

/* The upper bound of the bucket where the p-th fraction of timed exits lies. */
static double percentile_us(const struct vc_trace_row *r, double p)
{
	uint64_t want = (uint64_t)((double)r->timed * p + 0.5), seen = 0;
	for (int b = 0; b < VC_TRACE_BUCKETS; b++) {
		seen += r->hist[b];
		if (seen >= want && seen)
			return (double)(2ull << b) / 1000.0;
	}
	return 0;
}

/* A one-line histogram: one character per bucket from 1 µs to 1 s. */
static void sparkline(const struct vc_trace_row *r, char *out)
{
	static const char levels[] = " .:-=+*#%@";
	uint64_t max = 1;
	int k = 0;
	for (int b = 10; b < 30; b++)
		if (r->hist[b] > max)
			max = r->hist[b];
	for (int b = 10; b < 30; b++)
		out[k++] = r->hist[b] ? levels[1 + (r->hist[b] * 8) / max] : ' ';
	out[k] = '\0';
}

static void print_table(const struct vc_trace_row *rows, int n, double secs,
			const struct vc_trace_row *prev, int nprev, double dt, bool final)
{
	printf("%s after %.1f s: %d kinds of exit\n", final ? "== summary" : "--", secs, n);
	printf("%-28s %12s %10s %12s %10s %9s  %-20s\n", "exit", "count", "rate/s", "in VMM ms",
	       "mean us", "p99 us", "1us .. 1s (log2)");
	for (int i = 0; i < n; i++) {
		const struct vc_trace_row *r = &rows[i];
		char what[64], spark[32];
		uint64_t before = 0;
		for (int j = 0; j < nprev; j++)
			if (prev[j].source == r->source && prev[j].reason == r->reason &&
			    prev[j].addr == r->addr && prev[j].write == r->write)
				before = prev[j].count;
		double rate = final ? (double)r->count / secs : (double)(r->count - before) / dt;
		describe(r, what, sizeof(what));
		sparkline(r, spark);
		printf("%-28s %12" PRIu64 " %10.0f %12.3f %10.2f %9.1f  [%s]\n", what, r->count, rate,
		       (double)r->total_ns / 1e6,
		       r->timed ? (double)r->total_ns / (double)r->timed / 1000.0 : 0.0,
		       percentile_us(r, 0.99), spark);
	}
	fflush(stdout);
}

static struct vc_trace_probe probes[32];
static int nprobes;

static void print_probes(void)
{
	printf("libvirtcore probes:");
	for (int i = 0; i < nprobes; i++)
		if (probes[i].attached)
			printf(" %s %" PRIu64, probes[i].name, probes[i].count);
	printf("\n");
}

static void print_json(const struct vc_trace_row *rows, int n, double secs, int pid)
{
	uint64_t total = 0;
	for (int i = 0; i < n; i++)
		total += rows[i].count;
	printf("{\"pid\": %d, \"duration_s\": %.3f, \"total_exits\": %" PRIu64 ", \"exits\": [",
	       pid, secs, total);
	for (int i = 0; i < n; i++) {
		const struct vc_trace_row *r = &rows[i];
		printf("%s\n  {\"source\": \"%s\", \"reason\": \"%s\", \"reason_code\": %" PRIu32,
		       i ? "," : "", r->source == VC_TRACE_KERNEL ? "kernel" : "userspace",
		       r->source == VC_TRACE_KERNEL ? "hardware" : vc_trace_reason_name(r->reason),
		       r->reason);
		if (r->source == VC_TRACE_USERSPACE && r->reason == 2)
			printf(", \"port\": %" PRIu64 ", \"direction\": \"%s\"", r->addr,
			       r->write ? "out" : "in");
		if (r->source == VC_TRACE_USERSPACE && r->reason == 6)
			printf(", \"gpa\": %" PRIu64 ", \"direction\": \"%s\"", r->addr,
			       r->write ? "write" : "read");
		printf(", \"count\": %" PRIu64 ", \"timed\": %" PRIu64 ", \"total_ns\": %" PRIu64
		       ", \"mean_ns\": %.0f, \"hist_log2_ns\": [",
		       r->count, r->timed, r->total_ns,
		       r->timed ? (double)r->total_ns / (double)r->timed : 0.0);
		int last = VC_TRACE_BUCKETS - 1;
		while (last > 0 && !r->hist[last])
			last--;
		for (int b = 0; b <= last; b++)
			printf("%s%" PRIu64, b ? ", " : "", r->hist[b]);
		printf("]}");
	}
	printf("%s], \"probes\": {", n ? "\n" : "");
	for (int i = 0, k = 0; i < nprobes; i++)
		if (probes[i].attached)
			printf("%s\"%s\": %" PRIu64, k++ ? ", " : "", probes[i].name, probes[i].count);
	printf("}}\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'},
		{"duration", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	VC_OPTS(vc_trace_opts, o);
	bool json = false;
	double duration = 0;
	int c;
	char *end;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': {
			long v = strtol(optarg, &end, 10);
			if (*end || v <= 0 || v > INT32_MAX) {
				fprintf(stderr, "vc-trace: --pid %s: not a process id\n%s", optarg, usage);
				return 2;
			}
			o.pid = (int)v;
			break;
		}
		case 'j':
			json = true;
			break;
		case 'd':
			duration = strtod(optarg, &end);
			if (*end || !(duration > 0) || duration > 1e7) {
				fprintf(stderr, "vc-trace: --duration %s: not a number of seconds\n%s",
					optarg, usage);
				return 2;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vc-trace: unexpected argument \"%s\"\n%s", argv[optind], usage);
		return 2;
	}

	tool_capture_errors("trace: ");
	tool_check_stdout_at_exit("vc-trace");
	vc_trace *t;
	int rc = vc_trace_open(&t, &o);
	if (rc) {
		const char *why = tool_last_error() ? tool_last_error() : vc_strerror(rc);
		if (o.pid)
			fprintf(stderr, "vc-trace: pid %d: %s\n", o.pid, why);
		else
			fprintf(stderr, "vc-trace: %s\n", why);
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	static struct vc_trace_row rows[MAX_ROWS], prev[MAX_ROWS];
	int nprev = 0;
	double t0 = now_s(), last = t0;
	/* On stderr in both modes: scripts wait for this line before starting the guest. */
	if (o.pid)
		fprintf(stderr, "vc-trace: tracing pid %d; Ctrl-C for the summary\n", o.pid);
	else
		fprintf(stderr, "vc-trace: tracing every VMM; Ctrl-C for the summary\n");
	while (!stop) {
		double now = now_s(), left = duration ? t0 + duration - now : 1.0;
		if (left <= 0)
			break;
		double nap = left < 1.0 ? left : 1.0;
		struct timespec ts = {(time_t)nap, (long)((nap - (double)(time_t)nap) * 1e9)};
		nanosleep(&ts, NULL); /* a signal cuts it short */
		if (o.pid && kill(o.pid, 0) != 0)
			break; /* the VMM is gone: its summary is final */
		if (!json && !stop) {
			int n = vc_trace_snapshot(t, rows, MAX_ROWS);
			now = now_s();
			if (n >= 0) {
				print_table(rows, n < MAX_ROWS ? n : MAX_ROWS, now - t0, prev, nprev,
					    now - last, false);
				memcpy(prev, rows, sizeof(rows[0]) * (size_t)(n < MAX_ROWS ? n : MAX_ROWS));
				nprev = n < MAX_ROWS ? n : MAX_ROWS;
			}
			last = now;
		}
	}
	int n = vc_trace_snapshot(t, rows, MAX_ROWS);
	double secs = now_s() - t0;
	nprobes = vc_trace_probes(t, probes, 32);
	if (nprobes < 0)
		nprobes = 0;
	vc_trace_close(t);
	if (n < 0) {
		fprintf(stderr, "vc-trace: reading the counts: %s\n", vc_strerror(n));
		return 1;
	}
	if (n > MAX_ROWS)
		n = MAX_ROWS;
	if (json)
		print_json(rows, n, secs, o.pid);
	else {
		print_table(rows, n, secs, NULL, 0, secs, true);
		print_probes();
	}
	return 0;
}
