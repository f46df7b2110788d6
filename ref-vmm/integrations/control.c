// SPDX-License-Identifier: MIT
// The control language (ref-vmm/README.md, "Control"): run-time changes to a running VM,
// one command per line, from the FIFO of `--control PATH` or from the guest kernel
// (VCG_HC_CONTROL). Today it drives the irq integration: a vCPU's interception, a vCPU
// offline or online, the test interrupt sources added and removed; each change re-routes
// through the policy's minimal diff. Replies and errors go to stderr; a bad line is
// reported and changes nothing, and the VM runs on.
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../vmm.h"

#define LINE_MAX_BYTES 256
#define MAX_WORDS 6

struct control_state {
	int fd, wake_fd; /* valid once prepare ran (opened) */
	bool opened;
	bool made_fifo; /* vc-vmm created it: removed at exit */
	pthread_t thread;
	bool thread_started;
};

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (!*s || *end || errno || v > UINT32_MAX || !isdigit((unsigned char)*s))
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* `bench reroute CPU`: CPU going offline with the devices there are, by the policy's diff
 * and then as a VMM without it would (every irqfd and the whole table rewritten); the
 * figures go to the console, where the guest's `irq:bench` output is. */
static int bench_reroute(struct vm *vm, uint32_t cpu)
{
	bool online, intercept;
	if (irq_cpu_get(vm, cpu, &online, &intercept) || !online)
		return -EINVAL;
	struct irq_stats a, b, c;
	irq_get_stats(vm, &a);
	uint64_t t0 = now_ns();
	int rc = irq_cpu_set_online(vm, cpu, false, intercept);
	uint64_t t1 = now_ns();
	irq_get_stats(vm, &b);
	if (rc < 0)
		return rc;
	rc = irq_reprogram_all(vm);
	uint64_t t2 = now_ns();
	irq_get_stats(vm, &c);
	int rc2 = irq_cpu_set_online(vm, cpu, true, intercept);
	if (rc < 0 || rc2 < 0)
		return rc < 0 ? rc : rc2;
	char line[320];
	int n = snprintf(line, sizeof(line),
			 "vc-vmm: irq-bench: cpu %" PRIu32 " offline: diff %" PRIu64 " routes, %" PRIu64
			 " routing call(s), %" PRIu64 " irqfd calls, %" PRIu64 " ns; full rewrite %" PRIu64
			 " routes, %" PRIu64 " irqfd calls, %" PRIu64 " ns\n",
			 cpu, b.routes_written - a.routes_written, b.routing_calls - a.routing_calls,
			 b.irqfd_calls - a.irqfd_calls, t1 - t0,
			 c.routes_written - b.routes_written, c.irqfd_calls - b.irqfd_calls, t2 - t1);
	console_write(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	return 0;
}

static int run_words(struct vm *vm, char **w, int n)
{
	uint32_t a;
	if (n == 4 && !strcmp(w[0], "cpu") && !strcmp(w[2], "intercept") && !parse_u32(w[1], &a)) {
		if (strcmp(w[3], "on") && strcmp(w[3], "off"))
			return -EINVAL;
		int rc = irq_cpu_set_intercept(vm, a, !strcmp(w[3], "on"));
		return rc == -ENOENT ? -ENXIO : rc < 0 ? rc : 0;
	}
	if (n == 3 && !strcmp(w[0], "cpu") && !parse_u32(w[1], &a) &&
	    (!strcmp(w[2], "offline") || !strcmp(w[2], "online"))) {
		bool online, intercept;
		if (irq_cpu_get(vm, a, &online, &intercept))
			return -ENXIO;
		int rc = irq_cpu_set_online(vm, a, !strcmp(w[2], "online"), intercept);
		return rc == -EINVAL ? -EALREADY : rc < 0 ? rc : 0;
	}
	if (n == 4 && !strcmp(w[0], "device") && !strcmp(w[1], "add") && !parse_u32(w[2], &a)) {
		uint32_t mode = !strcmp(w[3], "dedicated") ? VC_IRQ_DEDICATED
				: !strcmp(w[3], "shared")  ? VC_IRQ_SHARED : 0;
		return mode ? irqtest_add(vm, a, mode) : -EINVAL;
	}
	if (n == 3 && !strcmp(w[0], "device") && !strcmp(w[1], "remove") && !parse_u32(w[2], &a))
		return irqtest_remove(vm, a);
	if (n == 1 && !strcmp(w[0], "stats")) {
		struct irq_stats s;
		irq_get_stats(vm, &s);
		fprintf(stderr,
			"vc-vmm: control: stats: %" PRIu64 " route changes, %" PRIu64
			" routing calls, %" PRIu64 " routes written, %" PRIu64 " irqfd calls, %" PRIu64
			" injected by the router, %" PRIu64 " held, %" PRIu64 " delivered later\n",
			s.changes, s.routing_calls, s.routes_written, s.irqfd_calls, s.emulated, s.held,
			s.delivered_held);
		return 0;
	}
	if (n == 3 && !strcmp(w[0], "bench") && !strcmp(w[1], "reroute") && !parse_u32(w[2], &a))
		return bench_reroute(vm, a);
	return -EINVAL;
}

int control_line(struct vm *vm, const char *text, size_t len)
{
	char line[LINE_MAX_BYTES], *w[MAX_WORDS + 1];
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len >= sizeof(line)) {
		vmm_err("control: a line of %zu bytes (at most %d)", len, LINE_MAX_BYTES - 1);
		return -E2BIG;
	}
	memcpy(line, text, len); /* the guest's copy may change under us */
	line[len] = 0;
	for (size_t i = 0; i < len; i++)
		if (!isprint((unsigned char)line[i]) && line[i] != '\t') {
			vmm_err("control: a line with a control character (byte %zu)", i);
			return -EINVAL;
		}
	int n = 0;
	for (char *save, *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == MAX_WORDS)
			break;
		w[n++] = t;
	}
	if (n == 0 || w[0][0] == '#')
		return 0;
	int rc = n == MAX_WORDS ? -EINVAL : run_words(vm, w, n);
	if (rc) {
		memcpy(line, text, len); /* strtok cut it */
		line[len] = 0;
		vmm_err("control: \"%s\": %s", line,
			rc == -EINVAL ? "not a command (ref-vmm/README.md, Control)" : strerror(-rc));
	}
	return rc;
}

/* ---- --control PATH: a FIFO read by a thread of its own ---- */

static void *control_main(void *arg)
{
	struct vm *vm = arg;
	struct control_state *s = vm->part[PART_CONTROL];
	char buf[LINE_MAX_BYTES];
	size_t have = 0;
	bool skipping = false; /* the rest of an overlong line */
	for (;;) {
		struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->wake_fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!p[0].revents)
			continue;
		ssize_t k = read(s->fd, buf + have, sizeof(buf) - have);
		if (k <= 0)
			continue; /* EAGAIN; never EOF: we hold the FIFO open for writing too */
		have += (size_t)k;
		size_t start = 0;
		for (size_t i = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			if (!skipping)
				control_line(vm, buf + start, i - start);
			skipping = false;
			start = i + 1;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have == sizeof(buf)) {
			if (!skipping)
				vmm_err("control: a line longer than %d bytes, ignored", LINE_MAX_BYTES - 1);
			skipping = true;
			have = 0;
		}
	}
	return NULL;
}

static int control_prepare(struct vm *vm, void *st)
{
	struct control_state *s = st;
	const char *path = vm->cfg->control_path;
	s->fd = s->wake_fd = -1;
	s->opened = true;
	if (!path)
		return 0;
	struct stat sb;
	if (stat(path, &sb) == 0) {
		if (!S_ISFIFO(sb.st_mode)) {
			vmm_err("--control %s: not a FIFO (give a FIFO, or a path that does not exist "
				"for vc-vmm to make one)", path);
			return -EINVAL;
		}
	} else if (errno != ENOENT) {
		vmm_err("--control %s: %s", path, strerror(errno));
		return -errno;
	} else if (mkfifo(path, 0600) < 0) {
		vmm_err("--control %s: cannot make the FIFO: %s", path, strerror(errno));
		return -errno;
	} else {
		s->made_fifo = true;
	}
	/* Read and write: opening does not wait for a writer, and writers coming and going
	 * never make it read end-of-file. */
	s->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (s->fd < 0) {
		vmm_err("--control %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(s->fd, &sb) < 0 || !S_ISFIFO(sb.st_mode)) {
		vmm_err("--control %s: replaced by something that is not a FIFO", path);
		return -EINVAL;
	}
	return 0;
}

static int control_init(struct vm *vm, void *st)
{
	struct control_state *s = st;
	if (s->fd < 0)
		return 0;
	s->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (s->wake_fd < 0)
		return -errno;
	int rc = pthread_create(&s->thread, NULL, control_main, vm);
	if (rc) {
		vmm_err("control: cannot start its thread: %s", strerror(rc));
		return -rc;
	}
	s->thread_started = true;
	return 0;
}

static void control_exit(struct vm *vm, void *st)
{
	struct control_state *s = st;
	if (!s->opened)
		return;
	if (s->thread_started) {
		eventfd_write(s->wake_fd, 1);
		pthread_join(s->thread, NULL);
	}
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->fd >= 0)
		close(s->fd);
	if (s->made_fifo)
		unlink(vm->cfg->control_path);
}

const struct vmm_part control_part = {
	.name = "control",
	.state_size = sizeof(struct control_state),
	.prepare = control_prepare,
	.init = control_init,
	.exit = control_exit,
};
