// SPDX-License-Identifier: MIT
// The optional tick thread: a periodic timerfd drives vc__timerpage_tick(); an eventfd
// stops it.
#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "timerpage-internal.h"
#include "util/log.h"

static void *tick_main(void *arg)
{
	vc_timerpage *tp = arg;
	struct pollfd fds[2] = {
		{.fd = tp->timer_fd, .events = POLLIN},
		{.fd = tp->stop_fd, .events = POLLIN},
	};
	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			vc__err("timerpage: tick thread poll failed: errno %d", errno);
			break;
		}
		if (fds[1].revents)
			break;
		uint64_t expirations;
		if (read(tp->timer_fd, &expirations, sizeof(expirations)) != sizeof(expirations))
			continue;
		/* Ticks missed while descheduled are counted in one update: the tick counter
		 * stays true to elapsed time without a burst of rebases. */
		pthread_mutex_lock(&tp->lock);
		vc__timerpage_tick(tp, expirations);
		pthread_mutex_unlock(&tp->lock);
	}
	return NULL;
}

static void close_fds(vc_timerpage *tp)
{
	if (tp->timer_fd >= 0)
		close(tp->timer_fd);
	if (tp->stop_fd >= 0)
		close(tp->stop_fd);
	tp->timer_fd = tp->stop_fd = -1;
}

VC_API int vc_timerpage_start(vc_timerpage *tp)
{
	if (!tp)
		return -EINVAL;
	if (tp->reader)
		return -EROFS;
	if (tp->running)
		return -EBUSY;
	tp->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	tp->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (tp->timer_fd < 0 || tp->stop_fd < 0) {
		int err = -errno;
		close_fds(tp);
		return err;
	}
	long period = 1000000000L / (long)tp->opts.tick_hz;
	struct itimerspec its = {
		.it_interval = {.tv_sec = period / 1000000000L, .tv_nsec = period % 1000000000L},
		.it_value = {.tv_sec = period / 1000000000L, .tv_nsec = period % 1000000000L},
	};
	if (timerfd_settime(tp->timer_fd, 0, &its, NULL)) {
		int err = -errno;
		close_fds(tp);
		return err;
	}
	int rc = pthread_create(&tp->thread, NULL, tick_main, tp);
	if (rc) {
		close_fds(tp);
		return -rc;
	}
	tp->running = true;
	return 0;
}

VC_API int vc_timerpage_stop(vc_timerpage *tp)
{
	if (!tp || !tp->running)
		return -EINVAL;
	uint64_t one = 1;
	/* An eventfd write of 1 cannot fail short of a counter overflow. */
	if (write(tp->stop_fd, &one, sizeof(one)) != sizeof(one))
		vc__warn("timerpage: stop signal failed: errno %d", errno);
	pthread_join(tp->thread, NULL);
	close_fds(tp);
	tp->running = false;
	return 0;
}
