/* SPDX-License-Identifier: MIT */
/* The eventfd notifier, and the measured cost of an eventfd wake-up. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ring-internal.h"

static int eventfd_notify(void *ctx)
{
	uint64_t one = 1;
	if (write((int)(intptr_t)ctx, &one, sizeof(one)) == sizeof(one))
		return 0;
	return errno == EAGAIN ? 0 : -errno; /* EAGAIN: the counter is saturated, still pending */
}

static int eventfd_wait(void *ctx, int64_t timeout_ns)
{
	int fd = (int)(intptr_t)ctx;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct timespec ts, *tsp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000LL;
		ts.tv_nsec = timeout_ns % 1000000000LL;
		tsp = &ts;
	}
	int rc = ppoll(&p, 1, tsp, NULL);
	if (rc < 0)
		return -errno; /* -EINTR included: the caller decides whether to wait again */
	if (rc == 0)
		return -ETIMEDOUT;
	uint64_t count;
	if (read(fd, &count, sizeof(count)) == sizeof(count))
		return 0;
	/* EAGAIN on a non-blocking fd: drained by another reader since the poll; a wake-up */
	return errno == EAGAIN || errno == EINTR ? 0 : -errno;
}

VC_API int vc_ring_eventfd_notifier(struct vc_ring_notifier *n, int fd)
{
	if (!n || fd < 0)
		return -EINVAL;
	n->notify = eventfd_notify;
	n->wait = eventfd_wait;
	n->ctx = (void *)(intptr_t)fd;
	return 0;
}

/*
 * Wake cost: two threads bounce a token over two eventfds; each leg is one notify, one
 * sleep and one wake, which is exactly what a doze costs the consumer.
 */
#define ROUNDS 64

struct bounce {
	int ping, pong;
};

static void *bounce_back(void *arg)
{
	struct bounce *b = arg;
	for (int i = 0; i < ROUNDS; i++) {
		if (eventfd_wait((void *)(intptr_t)b->ping, -1) ||
		    eventfd_notify((void *)(intptr_t)b->pong))
			break;
	}
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t measure(void)
{
	struct bounce b = {eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC)};
	int64_t rtt[ROUNDS], rc = -EIO;
	pthread_t t;
	int perr = 0;
	if (b.ping < 0 || b.pong < 0 || (perr = pthread_create(&t, NULL, bounce_back, &b))) {
		rc = perr ? -perr : -errno; /* pthread_create returns its error, errno is stale */
		goto out;
	}
	int i;
	for (i = 0; i < ROUNDS; i++) {
		int64_t t0 = vc__ring_now_ns();
		if (eventfd_notify((void *)(intptr_t)b.ping) ||
		    eventfd_wait((void *)(intptr_t)b.pong, 1000000000LL))
			break;
		rtt[i] = vc__ring_now_ns() - t0;
	}
	if (i < ROUNDS)
		eventfd_notify((void *)(intptr_t)b.ping); /* unblock it, then give up */
	pthread_join(t, NULL);
	if (i == ROUNDS) {
		qsort(rtt, ROUNDS, sizeof(rtt[0]), cmp64);
		rc = rtt[ROUNDS / 2] / 2;
		if (rc <= 0)
			rc = 1;
	}
out:
	if (b.ping >= 0)
		close(b.ping);
	if (b.pong >= 0)
		close(b.pong);
	return rc;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int64_t wake_cost;

static void measure_once(void)
{
	wake_cost = measure();
}

VC_API int64_t vc_ring_wake_cost_ns(void)
{
	pthread_once(&once, measure_once);
	return wake_cost;
}
