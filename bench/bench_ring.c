// SPDX-License-Identifier: MIT
// bench_ring: throughput of 64-byte messages between two threads at batch 1/16/64 with a
// polling consumer (the baseline), a dozing consumer (no spin, adaptive spin) and an
// always-notify producer; notifications per million messages at saturation and at a
// moderate rate; memcpy of the same bytes as the copy-bandwidth ceiling.
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <virtcore/ring.h>

#include "harness.h"

#define SLOTS 1024u
#define MSG 64u
#define MODERATE_RATE 100000.0 /* messages per second in the paced case */

enum consumer_kind { POLL, DOZE_NO_SPIN, DOZE_SPIN };

struct trial_cfg {
	uint32_t batch;
	enum consumer_kind consumer;
	bool always_notify;
	double rate; /* 0: as fast as possible */
	uint64_t duration_ns;
};

struct trial {
	const struct trial_cfg *cfg;
	void *mem;
	int efd;
	int stop;
	uint64_t produced, consumed, notifications, dozes;
	double seconds;
};

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *consumer(void *arg)
{
	struct trial *t = arg;
	pin(1);
	VC_OPTS(vc_ring_attach_opts, o, .role = VC_RING_CONSUMER,
		.spin_max_ns = t->cfg->consumer == DOZE_SPIN ? 0 : -1);
	vc_ring_eventfd_notifier(&o.notifier, t->efd);
	vc_ring *r;
	if (vc_ring_attach(&r, t->mem, vc_ring_size(SLOTS, MSG), &o))
		abort();
	static __thread unsigned char buf[64][MSG];
	for (;;) {
		int n = vc_ring_pop_batch(r, buf, 64);
		if (n > 0) {
			t->consumed += (uint64_t)n;
			continue;
		}
		if (n < 0)
			abort();
		if (__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE) && vc_ring_wait(r, 0) < 0)
			break;
		if (t->cfg->consumer == POLL)
			__builtin_ia32_pause();
		else
			vc_ring_wait(r, 100000000LL);
	}
	struct vc_ring_stats s;
	vc_ring_get_stats(r, &s, sizeof s);
	t->dozes = s.dozes;
	vc_ring_detach(r);
	return NULL;
}

static void run_trial(struct trial *t)
{
	VC_OPTS(vc_ring_format_opts, f, .slot_count = SLOTS, .slot_size = MSG);
	size_t len = vc_ring_size(SLOTS, MSG);
	t->mem = aligned_alloc(4096, (len + 4095) / 4096 * 4096);
	t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!t->mem || t->efd < 0 || vc_ring_format(t->mem, len, &f))
		abort();
	VC_OPTS(vc_ring_attach_opts, o, .role = VC_RING_PRODUCER,
		.flags = t->cfg->always_notify ? VC_RING_ALWAYS_NOTIFY : 0);
	vc_ring_eventfd_notifier(&o.notifier, t->efd);
	vc_ring *p;
	if (vc_ring_attach(&p, t->mem, len, &o))
		abort();
	pthread_t th;
	pthread_create(&th, NULL, consumer, t);
	pin(0);
	static unsigned char msgs[64][MSG];
	memset(msgs, 0x5a, sizeof(msgs));
	double gap_ns = t->cfg->rate > 0 ? 1e9 * t->cfg->batch / t->cfg->rate : 0;
	uint64_t t0 = vcb_now_ns(), end = t0 + t->cfg->duration_ns, next = t0;
	while (vcb_now_ns() < end) {
		if (gap_ns > 0) {
			while (vcb_now_ns() < next)
				;
			next += (uint64_t)gap_ns;
		}
		uint32_t left = t->cfg->batch;
		while (left) {
			int n = vc_ring_push_batch(p, msgs, left);
			if (n < 0)
				abort();
			if (n == 0)
				__builtin_ia32_pause(); /* full: the consumer is behind */
			left -= (uint32_t)n;
			t->produced += (uint64_t)n;
		}
	}
	__atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
	uint64_t one = 1;
	if (write(t->efd, &one, sizeof(one)) != sizeof(one))
		abort();
	pthread_join(th, NULL);
	t->seconds = (double)(vcb_now_ns() - t0) / 1e9;
	struct vc_ring_stats s;
	vc_ring_get_stats(p, &s, sizeof s);
	t->notifications = s.notifications;
	vc_ring_detach(p);
	close(t->efd);
	free(t->mem);
}

struct result {
	double ns[8];
	double notes, dozes, msgs;
	struct vcb_stats ns_per_msg;
};

/*
 * Runs every case of a table once per round, round after round, so a change in the
 * machine's state (these vCPUs share hosts) hits every case alike and the ratios hold.
 */
static void measure_all(const struct trial_cfg *cfgs, struct result *res, size_t n)
{
	unsigned rounds = vcb_cfg.quick ? 1 : 7;
	memset(res, 0, n * sizeof(*res));
	for (unsigned i = 0; i < rounds; i++) {
		for (size_t c = 0; c < n; c++) {
			struct trial t = {.cfg = &cfgs[c]};
			run_trial(&t);
			if (t.consumed != t.produced)
				fprintf(stderr, "bench_ring: consumed %llu of %llu\n",
					(unsigned long long)t.consumed, (unsigned long long)t.produced);
			res[c].ns[i] = t.seconds * 1e9 / (double)t.produced;
			res[c].notes += (double)t.notifications;
			res[c].dozes += (double)t.dozes;
			res[c].msgs += (double)t.produced;
		}
	}
	for (size_t c = 0; c < n; c++)
		vcb_stats_compute(res[c].ns, rounds, &res[c].ns_per_msg);
}

static void row(struct vcb_table *t, const char *name, const struct result *r,
		const struct result *poll)
{
	vcb_add(t, name, &r->ns_per_msg);
	vcb_note(t, name, "Mmsg/s", 1e3 / r->ns_per_msg.median);
	if (r == poll)
		return;
	vcb_note(t, name, "notify/Mmsg", r->notes * 1e6 / r->msgs);
	vcb_note(t, name, "dozes/Mmsg", r->dozes * 1e6 / r->msgs);
	if (poll)
		vcb_note(t, name, "% of poll", 100.0 * poll->ns_per_msg.median / r->ns_per_msg.median);
}

static void memcpy_cycle(void *ctx, uint64_t ops)
{
	static unsigned char src[SLOTS][MSG], dst[64][MSG];
	(void)ctx;
	for (uint64_t i = 0; i < ops; i++) {
		memcpy(dst[i & 63], src[i & (SLOTS - 1)], MSG);
		__asm__ __volatile__("" : : "r"(dst) : "memory");
	}
}

int main(int argc, char **argv)
{
	vcb_init(argc, argv);
	uint64_t dur = vcb_cfg.quick ? 20000000ull : 200000000ull;
	printf("wake-up cost (eventfd, measured): %lld ns\n", (long long)vc_ring_wake_cost_ns());

	static const uint32_t batches[] = {1, 16, 64};
	static const char *const kinds[] = {"polling consumer", "dozing consumer, no spin",
					    "dozing consumer, adaptive spin",
					    "always-notify producer"};
	for (size_t b = 0; b < 3; b++) {
		char title[128], names[4][96];
		uint32_t batch = batches[b];
		struct trial_cfg cfgs[4];
		for (int k = 0; k < 4; k++) {
			snprintf(names[k], sizeof(names[k]), "%s, batch %u", kinds[k], batch);
			cfgs[k] = (struct trial_cfg){
				.batch = batch, .duration_ns = dur,
				.consumer = k == 0 ? POLL : k == 2 ? DOZE_SPIN : DOZE_NO_SPIN,
				.always_notify = k == 3,
			};
		}
		struct result res[4];
		measure_all(cfgs, res, 4);
		snprintf(title, sizeof(title), "64-byte messages between two threads, batch %u (ns/msg)",
			 batch);
		struct vcb_table *t = vcb_table_new("ring", title, names[0]);
		for (int k = 0; k < 4; k++)
			row(t, names[k], &res[k], &res[0]);
		if (batch == 64)
			vcb_run(t, "memcpy of one 64-byte message (copy ceiling)", memcpy_cycle, NULL);
		vcb_table_finish(t, stdout);
	}

	static const char *const paced[] = {"always-notify producer, 100k msg/s",
					    "dozing consumer, no spin, 100k msg/s",
					    "dozing consumer, adaptive spin, 100k msg/s"};
	struct trial_cfg cfgs[3];
	for (int k = 0; k < 3; k++)
		cfgs[k] = (struct trial_cfg){.batch = 1, .rate = MODERATE_RATE, .duration_ns = dur,
					     .consumer = k == 2 ? DOZE_SPIN : DOZE_NO_SPIN,
					     .always_notify = k == 0};
	struct result res[3];
	measure_all(cfgs, res, 3);
	struct vcb_table *t = vcb_table_new("ring",
		"moderate rate: 100k msg/s, batch 1 (ns/msg is the pacing)", paced[0]);
	for (int k = 0; k < 3; k++)
		row(t, paced[k], &res[k], NULL);
	vcb_table_finish(t, stdout);
	return 0;
}
