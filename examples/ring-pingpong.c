// SPDX-License-Identifier: MIT
// Two processes, one memfd: a driver sends requests on one ring, a device answers on the
// other, and each side sleeps on an eventfd when its ring is empty. The doze protocol
// means notifications are sent only to a side that is actually asleep.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <virtcore/ring.h>

#define ROUNDS 100000
#define MEM_SIZE (64 * 1024)

struct msg {
	uint64_t seq;
	char text[56];
};

static vc_ring *attach(void *mem, size_t len, uint32_t role, int efd)
{
	VC_OPTS(vc_ring_attach_opts, o, .role = role);
	vc_ring_eventfd_notifier(&o.notifier, efd);
	vc_ring *r = NULL;
	int rc = vc_ring_attach(&r, mem, len, &o);
	if (rc)
		fprintf(stderr, "ring-pingpong: attach: %s\n", vc_strerror(rc));
	return r;
}

/* Receives one message, sleeping while the ring is empty. */
static int receive(vc_ring *r, struct msg *m)
{
	for (;;) {
		int n = vc_ring_pop(r, m, sizeof(*m));
		if (n != 0)
			return n;
		n = vc_ring_wait(r, 5000000000LL);
		if (n < 0)
			return n;
	}
}

static void print_stats(const char *who, vc_ring *tx, vc_ring *rx)
{
	struct vc_ring_stats t;
	struct vc_ring_stats x;
	vc_ring_get_stats(tx, &t, sizeof t);
	vc_ring_get_stats(rx, &x, sizeof x);
	printf("%-7s sent %llu, notifications %llu (suppressed %llu); received %llu, "
	       "dozes %llu, spin hits %llu\n", who, (unsigned long long)t.messages,
	       (unsigned long long)t.notifications, (unsigned long long)t.suppressed,
	       (unsigned long long)x.messages, (unsigned long long)x.dozes,
	       (unsigned long long)x.spin_hits);
}

int main(void)
{
	int memfd = memfd_create("ring-pingpong", MFD_CLOEXEC);
	int req_efd = eventfd(0, EFD_CLOEXEC), comp_efd = eventfd(0, EFD_CLOEXEC);
	if (memfd < 0 || req_efd < 0 || comp_efd < 0 || ftruncate(memfd, MEM_SIZE)) {
		perror("ring-pingpong");
		return 1;
	}
	void *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	int rc = mem == MAP_FAILED ? -1 : vc_ring_pair_format(mem, MEM_SIZE, NULL, NULL);
	if (rc) {
		fprintf(stderr, "ring-pingpong: format: %s\n", vc_strerror(rc));
		return 1;
	}
	size_t off = (size_t)vc_ring_pair_offset(mem, MEM_SIZE);
	char *comp_mem = (char *)mem + off;

	pid_t device = fork();
	if (device == 0) {
		/* the device: consumes requests, produces completions */
		vc_ring *req = attach(mem, off, VC_RING_CONSUMER, req_efd);
		vc_ring *comp = attach(comp_mem, MEM_SIZE - off, VC_RING_PRODUCER, comp_efd);
		struct msg m;
		for (int i = 0; req && comp && i < ROUNDS; i++) {
			if (receive(req, &m) != 1 || m.seq != (uint64_t)i)
				_exit(1);
			snprintf(m.text, sizeof(m.text), "pong %llu", (unsigned long long)m.seq);
			while (vc_ring_push(comp, &m, sizeof(m)) == 0)
				; /* full: the driver is behind */
		}
		print_stats("device", comp, req);
		fflush(stdout); /* _exit does not flush */
		_exit(0);
	}

	/* the driver: produces requests, consumes completions */
	vc_ring *req = attach(mem, off, VC_RING_PRODUCER, req_efd);
	vc_ring *comp = attach(comp_mem, MEM_SIZE - off, VC_RING_CONSUMER, comp_efd);
	int bad = !req || !comp;
	struct msg m = {0};
	for (int i = 0; !bad && i < ROUNDS; i++) {
		m.seq = (uint64_t)i;
		snprintf(m.text, sizeof(m.text), "ping %d", i);
		bad = vc_ring_push(req, &m, sizeof(m)) != 1 || receive(comp, &m) != 1 ||
		      m.seq != (uint64_t)i || strncmp(m.text, "pong", 4) != 0;
	}
	int status = 1;
	waitpid(device, &status, 0);
	if (!bad) {
		printf("%d round trips; last reply \"%s\"\n", ROUNDS, m.text);
		print_stats("driver", req, comp);
	}
	vc_ring_detach(req);
	vc_ring_detach(comp);
	return bad || status != 0;
}
