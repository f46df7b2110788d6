// SPDX-License-Identifier: MIT
// A writer process publishes time into a memfd page at 1 kHz; a reader process maps it
// read-only and times its work with it, without a system call per timestamp.
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <virtcore/timerpage.h>

static uint64_t host_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int reader(int fd)
{
	const struct vc_timerpage_abi *page =
		mmap(NULL, VC_TIMERPAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (page == MAP_FAILED) {
		perror("reader: mmap");
		return 1;
	}
	/* Validate once when attaching; each read re-checks magic and version anyway. */
	int rc = vc_timerpage_check(page, VC_TIMERPAGE_SIZE);
	if (rc) {
		fprintf(stderr, "reader: not a usable timer page: %s\n", vc_strerror(rc));
		return 1;
	}
	for (int i = 0; i < 5; i++) {
		uint64_t start, end, now;
		if ((rc = vc_timerpage_abi_read(&start, page)))
			break;
		usleep(20000); /* "I/O" being timed */
		if ((rc = vc_timerpage_abi_read(&end, page)))
			break;
		/* Compare with the host clock read just before and after the page. */
		uint64_t h0 = host_ns();
		vc_timerpage_abi_read(&now, page);
		uint64_t h1 = host_ns();
		printf("reader: took %8.3f ms; page - CLOCK_MONOTONIC = %+5ld ns (+-%lu); tick %lu\n",
		       (double)(end - start) / 1e6, (long)(now - (h0 + h1) / 2),
		       (unsigned long)(h1 - h0) / 2, (unsigned long)vc_timerpage_abi_ticks(page));
	}
	if (rc)
		fprintf(stderr, "reader: %s\n", vc_strerror(rc));
	munmap((void *)page, VC_TIMERPAGE_SIZE);
	fflush(stdout); /* the child leaves with _exit(), which does not flush */
	return rc ? 1 : 0;
}

int main(void)
{
	vc_timerpage *tp;
	VC_OPTS(vc_timerpage_opts, opts, .tick_hz = 1000);
	int rc = vc_timerpage_create_memfd(&tp, &opts);
	if (rc) {
		fprintf(stderr, "timerpage-share: create: %s\n", vc_strerror(rc));
		return 1;
	}
	struct vc_timerpage_stats st;
	vc_timerpage_get_stats(tp, &st, sizeof st);
	static const char *const sources[] = {"caller", "CPUID 0x15", "CPUID 0x16", "measured"};
	printf("writer: TSC %.3f MHz (%s); mode %s\n", st.tsc_hz / 1e6, sources[st.tsc_source & 3],
	       vc_timerpage_mode_reason_str(st.mode_reason));
	if ((rc = vc_timerpage_start(tp))) {
		fprintf(stderr, "timerpage-share: start: %s\n", vc_strerror(rc));
		vc_timerpage_destroy(tp);
		return 1;
	}

	fflush(stdout);
	/* The fd is all another process (or a VMM mapping it into a guest) needs. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(reader(vc_timerpage_fd(tp)));
	int status = 1;
	if (pid < 0)
		perror("timerpage-share: fork");
	else
		waitpid(pid, &status, 0);

	vc_timerpage_get_stats(tp, &st, sizeof st);
	printf("writer: %lu ticks, %lu rebases, last offset %+ld ns\n", (unsigned long)st.ticks,
	       (unsigned long)st.rebases, (long)st.last_offset_ns);
	vc_timerpage_destroy(tp);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
