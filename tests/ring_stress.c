// SPDX-License-Identifier: MIT
// The ring ping-pong stress and the store-buffering litmus (see ring_stress.h).
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <virtcore/ring.h>

#include "ring_stress.h"

#define REQ_SLOTS 256u
#define REQ_SIZE 64u
#define COMP_SLOTS 256u
#define COMP_SIZE 16u
#define MAX_BATCH 128u
#define SLICE_NS 20000000LL     /* detector granularity while dozing */
#define WATCHDOG_NS 10000000000LL /* nothing moved for this long: a hang */

struct request {
	uint64_t seq;
	uint64_t check[7]; /* derived from seq: a torn or stale slot shows */
};

struct completion {
	uint64_t last_seq;
	uint64_t check;
};

/* Lives in the shared mapping after the two rings. */
struct control {
	uint32_t done_req;  /* request prod index whose publish (and notify) completed */
	uint32_t done_comp; /* same for completions */
	int failed;
	int pad;
	uint64_t lost_wakeups;
	int64_t progress_ns; /* last time either side moved */
	uint64_t device_messages, device_dozes, device_notifications;
	char error[256];
};

struct detect {
	int fd;
	struct vc_ring_abi_hdr *hdr; /* the ring this waiter consumes */
	uint32_t *done;              /* its producer's completed-publish index */
	struct control *ctl;
	bool stop_on_lost;
	const char *name;
};

struct side {
	const struct stress_cfg *cfg;
	struct control *ctl;
	void *req_mem, *comp_mem;
	size_t req_len, comp_len;
	int req_efd, comp_efd;
	int notify_fd; /* the peer's eventfd: requests wake the device, completions the driver */
	int64_t think_max_ns;
	uint64_t rand;
	struct detect det;
	uint64_t dozes, notifications, rounds;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t check_of(uint64_t seq, int i)
{
	return (seq + 1) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)i << 56);
}

static void fail(struct control *ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct control *ctl, const char *fmt, ...)
{
	if (__atomic_exchange_n(&ctl->failed, 1, __ATOMIC_SEQ_CST) == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ctl->error, sizeof(ctl->error), fmt, ap);
		va_end(ap);
	}
}

static bool failed(const struct control *ctl)
{
	return __atomic_load_n(&ctl->failed, __ATOMIC_ACQUIRE);
}

static void progress(struct control *ctl)
{
	__atomic_store_n(&ctl->progress_ns, now_ns(), __ATOMIC_RELAXED);
}

static bool hung(struct control *ctl)
{
	if (now_ns() - __atomic_load_n(&ctl->progress_ns, __ATOMIC_RELAXED) < WATCHDOG_NS)
		return false;
	fail(ctl, "watchdog: nothing moved for %lld s", WATCHDOG_NS / 1000000000LL);
	return true;
}

static bool pending(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) == 1;
}

/*
 * The consumer's notifier wait, with the detector: called by vc_ring_wait() after the
 * doze was announced and the re-check found the ring empty, so while it runs the
 * consumer is dozing and any completed publish must have notified.
 */
static int detect_wait(void *ctx, int64_t timeout_ns)
{
	struct detect *d = ctx;
	int64_t deadline = timeout_ns < 0 ? -1 : now_ns() + timeout_ns;
	for (;;) {
		int64_t slice = SLICE_NS;
		if (deadline >= 0 && deadline - now_ns() < slice)
			slice = deadline - now_ns() > 0 ? deadline - now_ns() : 0;
		struct pollfd p = {.fd = d->fd, .events = POLLIN};
		struct timespec ts = {slice / 1000000000LL, slice % 1000000000LL};
		int rc = ppoll(&p, 1, &ts, NULL);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc == 1) {
			uint64_t n;
			if (read(d->fd, &n, sizeof(n)) != sizeof(n) && errno != EAGAIN)
				return -errno;
			return 0;
		}
		uint32_t done = __atomic_load_n(d->done, __ATOMIC_ACQUIRE);
		uint32_t prod = VC_RING_LOAD(d->hdr->prod_idx, acquire);
		uint32_t cons = VC_RING_LOAD(d->hdr->cons_idx, relaxed);
		if (prod != cons && (int32_t)(done - prod) >= 0 && !pending(d->fd)) {
			__atomic_fetch_add(&d->ctl->lost_wakeups, 1, __ATOMIC_RELAXED);
			if (d->stop_on_lost)
				fail(d->ctl, "lost wake-up on the %s ring: %u entries waiting, "
					     "producer done, no notification", d->name, prod - cons);
			return 0; /* count it and go on: the re-check picks the entries up */
		}
		if (failed(d->ctl) || hung(d->ctl))
			return -ECANCELED;
		if (deadline >= 0 && now_ns() >= deadline)
			return -ETIMEDOUT;
	}
}

static int eventfd_notify_counted(void *ctx)
{
	struct side *s = ctx;
	s->notifications++;
	uint64_t one = 1;
	return write(s->notify_fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

static void think(struct side *s)
{
	if (s->think_max_ns <= 0)
		return;
	int64_t until = now_ns() + (int64_t)(next_rand(&s->rand) % (uint64_t)s->think_max_ns);
	while (now_ns() < until)
		;
}

static vc_ring *attach(struct side *s, void *mem, size_t len, uint32_t role, bool waits,
		       int64_t spin)
{
	VC_OPTS(vc_ring_attach_opts, o, .role = role, .spin_max_ns = spin);
	if (role == VC_RING_PRODUCER) {
		o.notifier.notify = eventfd_notify_counted;
		o.notifier.ctx = s;
	} else if (waits) {
		o.notifier.wait = detect_wait;
		o.notifier.ctx = &s->det;
	}
	vc_ring *r = NULL;
	int rc = vc_ring_attach(&r, mem, len, &o);
	if (rc)
		fail(s->ctl, "attach: %s", vc_strerror(rc));
	return r;
}

static void run_device(struct side *s)
{
	bool polls = s->cfg->pattern == STRESS_DRIVER_POLLS;
	vc_ring *req = attach(s, s->req_mem, s->req_len, VC_RING_CONSUMER, true, polls ? -1 : 0);
	vc_ring *comp = attach(s, s->comp_mem, s->comp_len, VC_RING_PRODUCER, false, 0);
	static __thread struct request buf[MAX_BATCH];
	uint64_t expected = 0, pushed = 0;
	while (req && comp && expected < s->cfg->messages && !failed(s->ctl)) {
		int n = vc_ring_pop_batch(req, buf, MAX_BATCH);
		if (n == 0) {
			n = vc_ring_wait(req, 200000000LL);
			if (n < 0 && n != -ETIMEDOUT && n != -ECANCELED)
				fail(s->ctl, "device wait: %s", vc_strerror(n));
			continue;
		}
		if (n < 0) {
			fail(s->ctl, "device pop: %s", vc_strerror(n));
			break;
		}
		for (int i = 0; i < n; i++, expected++) {
			bool ok = buf[i].seq == expected;
			for (int j = 0; j < 7 && ok; j++)
				ok = buf[i].check[j] == check_of(expected, j);
			if (!ok) {
				fail(s->ctl, "device: message %llu: got seq %llu (lost, duplicated, "
					     "reordered or torn)", (unsigned long long)expected,
				     (unsigned long long)buf[i].seq);
				break;
			}
		}
		progress(s->ctl);
		think(s);
		struct completion c = {expected - 1, check_of(expected - 1, 0)};
		if (vc_ring_push(comp, &c, sizeof(c)) != 1) {
			fail(s->ctl, "device: completion ring full or broken");
			break;
		}
		__atomic_store_n(&s->ctl->done_comp, (uint32_t)++pushed, __ATOMIC_RELEASE);
	}
	struct vc_ring_stats st;
	if (req && vc_ring_get_stats(req, &st, sizeof st) == 0)
		s->ctl->device_dozes = st.dozes;
	s->ctl->device_messages = expected;
	s->ctl->device_notifications = s->notifications;
	vc_ring_detach(req);
	vc_ring_detach(comp);
}

static void *device_thread(void *arg)
{
	run_device(arg);
	return NULL;
}

/* Waits for the completion of everything up to @last; false on failure. */
static bool await_completion(struct side *s, vc_ring *comp, uint64_t last)
{
	bool polls = s->cfg->pattern == STRESS_DRIVER_POLLS;
	uint64_t spins = 0;
	for (;;) {
		struct completion c;
		int n = vc_ring_pop(comp, &c, sizeof(c));
		if (n < 0) {
			fail(s->ctl, "driver pop: %s", vc_strerror(n));
			return false;
		}
		if (n == 1) {
			if (c.check != check_of(c.last_seq, 0) || c.last_seq > last) {
				fail(s->ctl, "driver: bad completion %llu (expected up to %llu)",
				     (unsigned long long)c.last_seq, (unsigned long long)last);
				return false;
			}
			if (c.last_seq == last)
				return true;
			continue;
		}
		if (failed(s->ctl))
			return false;
		if (polls) {
			if (++spins % 4096 == 0 && hung(s->ctl))
				return false;
			continue;
		}
		n = vc_ring_wait(comp, 200000000LL);
		if (n < 0 && n != -ETIMEDOUT && n != -ECANCELED) {
			fail(s->ctl, "driver wait: %s", vc_strerror(n));
			return false;
		}
	}
}

/* A few pauses (0..15): sweeps the publish across the peer's doze re-check. */
static void jitter(struct side *s)
{
	unsigned n = (unsigned)(next_rand(&s->rand) & 15);
	for (unsigned i = 0; i < n; i++)
		__builtin_ia32_pause();
}

static uint64_t fill_batch(struct side *s, struct request *buf, uint64_t seq)
{
	uint32_t max = s->cfg->max_batch && s->cfg->max_batch < MAX_BATCH ? s->cfg->max_batch
									: MAX_BATCH;
	uint64_t k = 1 + next_rand(&s->rand) % max;
	if (k > s->cfg->messages - seq)
		k = s->cfg->messages - seq;
	for (uint64_t i = 0; i < k; i++) {
		buf[i].seq = seq + i;
		for (int j = 0; j < 7; j++)
			buf[i].check[j] = check_of(seq + i, j);
	}
	return k;
}

static void run_driver(struct side *s)
{
	bool polls = s->cfg->pattern == STRESS_DRIVER_POLLS;
	vc_ring *req = attach(s, s->req_mem, s->req_len, VC_RING_PRODUCER, false, 0);
	vc_ring *comp = attach(s, s->comp_mem, s->comp_len, VC_RING_CONSUMER, !polls, 0);
	static __thread struct request buf[MAX_BATCH];
	uint64_t seq = 0;
	/* the next batch is built before the previous one completes, so the publish follows
	 * the completion within nanoseconds: right inside the device's doze re-check */
	uint64_t k = fill_batch(s, buf, seq);
	while (req && comp && seq < s->cfg->messages && !failed(s->ctl)) {
		if (polls)
			jitter(s);
		else
			think(s);
		int n = vc_ring_push_batch(req, buf, (uint32_t)k);
		if (n != (int)k) {
			fail(s->ctl, "driver: pushed %d of %llu into an empty ring", n,
			     (unsigned long long)k);
			break;
		}
		seq += k;
		/* the publish and its notify decision are complete: arm the detector */
		__atomic_store_n(&s->ctl->done_req, (uint32_t)seq, __ATOMIC_RELEASE);
		uint64_t last = seq - 1;
		if (seq < s->cfg->messages)
			k = fill_batch(s, buf, seq);
		if (!await_completion(s, comp, last))
			break;
		s->rounds++;
		progress(s->ctl);
	}
	struct vc_ring_stats st;
	if (comp && vc_ring_get_stats(comp, &st, sizeof st) == 0)
		s->dozes = st.dozes;
	vc_ring_detach(req);
	vc_ring_detach(comp);
}

uint64_t ring_stress_messages(uint64_t dflt)
{
	const char *e = getenv("VC_RING_STRESS_MESSAGES");
	return e && *e ? strtoull(e, NULL, 0) : dflt;
}

int ring_stress_run(const struct stress_cfg *cfg, struct stress_result *res)
{
	memset(res, 0, sizeof(*res));
	VC_OPTS(vc_ring_format_opts, rf, .slot_count = REQ_SLOTS, .slot_size = REQ_SIZE,
		.mode = cfg->mode);
	VC_OPTS(vc_ring_format_opts, cf, .slot_count = COMP_SLOTS, .slot_size = COMP_SIZE,
		.mode = cfg->mode);
	size_t rings = 64 * 1024, len = rings + 4096;
	int memfd = memfd_create("ring-stress", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)len)) {
		snprintf(res->error, sizeof(res->error), "memfd: %s", strerror(errno));
		return -1;
	}
	unsigned char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	close(memfd);
	if (mem == MAP_FAILED || vc_ring_pair_format(mem, rings, &rf, &cf)) {
		snprintf(res->error, sizeof(res->error), "cannot map or format the rings");
		return -1;
	}
	size_t off = (size_t)vc_ring_pair_offset(mem, rings);
	struct control *ctl = (struct control *)(mem + rings);
	progress(ctl);

	int req_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int comp_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int64_t wake = vc_ring_wake_cost_ns();
	struct side base = {
		.cfg = cfg, .ctl = ctl, .req_mem = mem, .req_len = off,
		.comp_mem = mem + off, .comp_len = rings - off,
		.req_efd = req_efd, .comp_efd = comp_efd,
		.think_max_ns = cfg->pattern == STRESS_BOTH_DOZE && wake > 0 ? 2 * wake : 0,
	};
	struct side device = base, driver = base;
	device.rand = cfg->seed ^ 0xd1ce;
	device.notify_fd = comp_efd;
	driver.notify_fd = req_efd;
	driver.rand = cfg->seed;
	device.det = (struct detect){req_efd, (void *)mem, &ctl->done_req, ctl,
				     cfg->stop_on_lost, "request"};
	driver.det = (struct detect){comp_efd, (void *)(mem + off), &ctl->done_comp, ctl,
				     cfg->stop_on_lost, "completion"};

	int64_t t0 = now_ns();
	pid_t child = -1;
	pthread_t thread;
	if (cfg->processes) {
		child = fork();
		if (child == 0) {
			run_device(&device);
			_exit(failed(ctl) ? 1 : 0);
		}
		if (child < 0)
			fail(ctl, "fork: %s", strerror(errno));
	} else if (pthread_create(&thread, NULL, device_thread, &device)) {
		fail(ctl, "pthread_create failed");
	}
	run_driver(&driver);
	if (cfg->processes && child > 0) {
		int status;
		waitpid(child, &status, 0);
		if (!WIFEXITED(status))
			fail(ctl, "device process died (signal %d)", WTERMSIG(status));
	} else if (!cfg->processes) {
		pthread_join(thread, NULL);
	}
	res->seconds = (double)(now_ns() - t0) / 1e9;
	res->messages = ctl->device_messages;
	res->rounds = driver.rounds;
	res->lost_wakeups = ctl->lost_wakeups;
	res->device_dozes = ctl->device_dozes;
	res->driver_dozes = driver.dozes;
	res->notifications = ctl->device_notifications + driver.notifications;
	if (ctl->failed)
		snprintf(res->error, sizeof(res->error), "%s", ctl->error);
	else if (res->messages != cfg->messages)
		snprintf(res->error, sizeof(res->error), "device saw %llu of %llu messages",
			 (unsigned long long)res->messages, (unsigned long long)cfg->messages);
	int ok = !ctl->failed && res->messages == cfg->messages && res->lost_wakeups == 0;
	close(req_efd);
	close(comp_efd);
	munmap(mem, len);
	return ok ? 0 : -1;
}

/* --- store-buffering litmus --- */

/*
 * x and y each own a cache line, and so does every control word: with x and y in one
 * line the line's owner serialises both stores and loads, and the reorder all but
 * disappears (0 in 200000 rounds on an EPYC host, against 1000-2500 with separate lines).
 * Both threads leave a two-party barrier together each round, so their store-load windows
 * overlap whenever the host runs them at the same time.
 */
struct litmus {
	_Alignas(64) int x;
	_Alignas(64) int y;
	_Alignas(64) unsigned arrived; /* 2 per round: both threads passed the barrier */
	_Alignas(64) unsigned done;    /* the last round the second thread finished */
	int r2;
	_Alignas(64) uint64_t iterations;
	bool fenced;
};

static void litmus_barrier(struct litmus *l, unsigned round)
{
	__atomic_fetch_add(&l->arrived, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&l->arrived, __ATOMIC_ACQUIRE) < 2 * round)
		;
}

static void *litmus_thread(void *arg)
{
	struct litmus *l = arg;
	for (unsigned i = 1; i <= l->iterations; i++) {
		litmus_barrier(l, i);
		__atomic_store_n(&l->y, 1, __ATOMIC_RELAXED);
		if (l->fenced)
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
		l->r2 = __atomic_load_n(&l->x, __ATOMIC_RELAXED);
		__atomic_store_n(&l->done, i, __ATOMIC_RELEASE);
	}
	return NULL;
}

uint64_t ring_sb_litmus(uint64_t iterations, bool fenced)
{
	struct litmus *l = aligned_alloc(64, sizeof(*l));
	if (!l)
		return 0;
	memset(l, 0, sizeof(*l));
	l->iterations = iterations;
	l->fenced = fenced;
	pthread_t t;
	if (pthread_create(&t, NULL, litmus_thread, l)) {
		free(l);
		return 0;
	}
	uint64_t reordered = 0;
	for (unsigned i = 1; i <= iterations; i++) {
		/* The other thread finished round i - 1 (acquire below), so x and y are
		 * reset before either thread can pass this round's barrier. */
		__atomic_store_n(&l->x, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&l->y, 0, __ATOMIC_RELAXED);
		litmus_barrier(l, i);
		__atomic_store_n(&l->x, 1, __ATOMIC_RELAXED);
		if (fenced)
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
		int r1 = __atomic_load_n(&l->y, __ATOMIC_RELAXED);
		while (__atomic_load_n(&l->done, __ATOMIC_ACQUIRE) != i)
			;
		reordered += r1 == 0 && l->r2 == 0;
	}
	pthread_join(t, NULL);
	free(l);
	return reordered;
}
