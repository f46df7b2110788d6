// SPDX-License-Identifier: MIT
// bench_trace: what tracing costs per VM exit. The guest program pio:N makes N exits to
// vc-vmm's null port; the time per exit is (T(pio:N) - T(pio:0)) / N, measured with no
// tracer, with vc-trace attached, and with `perf stat -a -e kvm:*` attached, cases
// round-robin in the same run; and with `perf record` of the same events, which is what
// gives per-exit times with perf (vc-trace keeps them in the kernel). Needs root, /dev/kvm,
// VC_VMM, VC_GUEST and VC_TRACE
// (meson sets them); skips with a reason otherwise.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define TRIALS 7

static const char *vmm, *guest, *tracer;
static unsigned exits_per_run;

static pid_t spawn_bg(const char *const argv[], int *err_fd)
{
	posix_spawn_file_actions_t fa;
	int p[2] = {-1, -1};
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (err_fd) {
		if (pipe(p) != 0)
			return -1;
		posix_spawn_file_actions_adddup2(&fa, p[1], 2);
		posix_spawn_file_actions_addclose(&fa, p[0]);
	} else {
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err_fd) {
		close(p[1]);
		*err_fd = p[0];
	}
	return rc == 0 ? pid : -1;
}

/* Runs the guest with pio:N; nanoseconds of wall time, or -1. */
static double run_guest(unsigned n)
{
	char append[64];
	snprintf(append, sizeof(append), "run=pio:%u quiet", n);
	const char *argv[] = {vmm, "--kernel", guest, "--append", append, NULL};
	uint64_t t0 = vcb_now_ns();
	if (vcb_command(argv, NULL) != 0)
		return -1;
	return (double)(vcb_now_ns() - t0);
}

/* Per-exit cost in this condition: big run minus empty run, over N. */
static double per_exit_ns(void)
{
	double big = run_guest(exits_per_run), empty = run_guest(0);
	if (big < 0 || empty < 0) {
		fprintf(stderr, "bench_trace: the guest run failed\n");
		exit(1);
	}
	return (big - empty) / exits_per_run;
}

/* Starts a tracer and waits until it is attached; returns its pid. */
static pid_t start_tracer(int which)
{
	if (which == 1) {
		const char *argv[] = {tracer, "--json", NULL};
		int fd;
		pid_t pid = spawn_bg(argv, &fd);
		char line[256] = {0};
		ssize_t k = pid > 0 ? read(fd, line, sizeof(line) - 1) : -1; /* "tracing ..." */
		close(fd);
		if (k <= 0 || !strstr(line, "tracing")) {
			fprintf(stderr, "bench_trace: vc-trace did not start: %s\n", line);
			exit(1);
		}
		return pid;
	}
	static const char events[] =
		"kvm:kvm_userspace_exit,kvm:kvm_pio,kvm:kvm_mmio,kvm:kvm_fpu,kvm:kvm_exit,kvm:kvm_entry";
	const char *stat_argv[] = {"perf", "stat", "-a", "-e", events, NULL};
	const char *record_argv[] = {"perf", "record", "-q", "-a", "-e", events, "-o",
				     "/tmp/bench_trace.perf.data", NULL};
	/* no command: perf counts (or records) system-wide until SIGINT */
	pid_t pid = spawn_bg(which == 2 ? stat_argv : record_argv, NULL);
	usleep(500 * 1000); /* perf prints nothing when attached; give it half a second */
	return pid;
}

static void stop_tracer(pid_t pid)
{
	int status;
	kill(pid, SIGINT);
	waitpid(pid, &status, 0);
}

int main(int argc, char **argv)
{
	vcb_init(argc, argv);
	vmm = getenv("VC_VMM");
	guest = getenv("VC_GUEST");
	tracer = getenv("VC_TRACE");
	if (!vmm || !guest || !tracer) {
		fprintf(stderr, "bench_trace: set VC_VMM, VC_GUEST and VC_TRACE (meson test "
				"--benchmark does)\n");
		return 1;
	}
	char why[128];
	if (geteuid() != 0) {
		printf("bench_trace: skipped: needs root (BPF)\n");
		return VCB_SKIP;
	}
	if (!vcb_kvm_usable(why, sizeof(why))) {
		printf("bench_trace: skipped: %s\n", why);
		return VCB_SKIP;
	}
	bool have_perf = system("perf stat -e kvm:kvm_pio true >/dev/null 2>&1") == 0;
	exits_per_run = vcb_cfg.quick ? 200 : 20000;
	int trials = vcb_cfg.quick ? 1 : TRIALS;
	static const char *const names[] = {"no tracer", "vc-trace attached",
					    "perf stat -a -e kvm:... (counts only)",
					    "perf record -a -e kvm:... (per event)"};
	double t[4][TRIALS];
	int ncases = have_perf ? 4 : 2;

	printf("bench_trace: %u null-port exits per run, %d trials per case%s\n", exits_per_run,
	       trials, have_perf ? "" : " (perf unavailable: its row is skipped)");
	for (int k = 0; k < trials; k++) {
		for (int c = 0; c < ncases; c++) {
			pid_t p = c ? start_tracer(c) : 0;
			t[c][k] = per_exit_ns();
			if (p > 0)
				stop_tracer(p);
		}
	}
	struct vcb_table *tab = vcb_table_new("trace", "time per VM exit (null port)", "no tracer");
	double med[4], mins[4];
	for (int c = 0; c < ncases; c++) {
		struct vcb_stats s;
		vcb_stats_compute(t[c], (size_t)trials, &s);
		vcb_add(tab, names[c], &s);
		med[c] = s.median;
		mins[c] = s.min;
	}
	for (int c = 1; c < ncases; c++) {
		vcb_note(tab, names[c], "added ns (median)", med[c] - med[0]);
		vcb_note(tab, names[c], "added ns (min)", mins[c] - mins[0]);
	}
	unlink("/tmp/bench_trace.perf.data");
	vcb_table_finish(tab, stdout);
	return 0;
}
