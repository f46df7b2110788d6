// SPDX-License-Identifier: MIT
// Ring semantics in one thread: empty/full/batch, 32-bit wrap-around, zero-copy, attach
// validation, hostile peers (behind a guard page, so a stray access crashes the test),
// the one-notification-per-doze rule in both modes, the eventfd notifier, statistics and
// the exported twins of the inline fast paths.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <virtcore/ring.h>

#define SLOTS 16u
#define SLOT 64u

/* A ring whose last byte is followed by an inaccessible page. */
struct guarded {
	unsigned char *map;
	size_t map_len;
	void *ring;
	size_t len;
};

static struct guarded guarded_ring(size_t len)
{
	struct guarded g;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (len + page - 1) / page * page;
	g.map_len = span + page;
	g.map = mmap(NULL, g.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(g.map, MAP_FAILED);
	cr_assert_eq(mprotect(g.map + span, page, PROT_NONE), 0);
	g.ring = g.map + span - len; /* len is a multiple of 8 here */
	g.len = len;
	return g;
}

static void free_guarded(struct guarded *g)
{
	munmap(g->map, g->map_len);
}

static struct guarded g;
static vc_ring *prod, *cons;
static int efd = -1;

static void attach_both(uint32_t mode, uint32_t prod_flags)
{
	VC_OPTS(vc_ring_format_opts, f, .slot_count = SLOTS, .slot_size = SLOT, .mode = mode);
	g = guarded_ring(vc_ring_size(SLOTS, SLOT));
	cr_assert_eq(vc_ring_format(g.ring, g.len, &f), 0);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cr_assert_geq(efd, 0);
	VC_OPTS(vc_ring_attach_opts, p, .role = VC_RING_PRODUCER, .flags = prod_flags);
	VC_OPTS(vc_ring_attach_opts, c, .role = VC_RING_CONSUMER, .spin_max_ns = -1);
	cr_assert_eq(vc_ring_eventfd_notifier(&p.notifier, efd), 0);
	cr_assert_eq(vc_ring_eventfd_notifier(&c.notifier, efd), 0);
	cr_assert_eq(vc_ring_attach(&prod, g.ring, g.len, &p), 0);
	cr_assert_eq(vc_ring_attach(&cons, g.ring, g.len, &c), 0);
}

static void setup(void)
{
	attach_both(VC_RING_MODE_EVENT_IDX, 0);
}

static void teardown(void)
{
	vc_ring_detach(prod);
	vc_ring_detach(cons);
	prod = cons = NULL;
	close(efd);
	free_guarded(&g);
}

static struct vc_ring_stats stats_of(const vc_ring *r)
{
	struct vc_ring_stats s;
	cr_assert_eq(vc_ring_get_stats(r, &s, sizeof s), 0);
	return s;
}

static struct vc_ring_abi_hdr *hdr(void)
{
	return g.ring;
}

TestSuite(ring, .init = setup, .fini = teardown);

Test(ring, empty_then_one_message)
{
	char buf[SLOT];
	cr_assert_eq(vc_ring_pop(cons, buf, sizeof(buf)), 0);
	cr_assert_eq(vc_ring_push(prod, "hello", 6), 1);
	memset(buf, 0x7f, sizeof(buf));
	cr_assert_eq(vc_ring_pop(cons, buf, sizeof(buf)), 1);
	cr_assert_str_eq(buf, "hello");
	for (size_t i = 6; i < SLOT; i++)
		cr_assert_eq(buf[i], 0, "slot tail not zeroed at %zu", i);
	cr_assert_eq(vc_ring_pop(cons, buf, sizeof(buf)), 0);
	cr_assert_eq(vc_ring_push(prod, buf, SLOT + 1), -EMSGSIZE);
}

Test(ring, full_ring_refuses_then_drains_in_order)
{
	for (uint32_t i = 0; i < SLOTS; i++)
		cr_assert_eq(vc_ring_push(prod, &i, sizeof(i)), 1);
	uint32_t x = 99;
	cr_assert_eq(vc_ring_push(prod, &x, sizeof(x)), 0, "a full ring must refuse");
	for (uint32_t i = 0; i < SLOTS; i++) {
		cr_assert_eq(vc_ring_pop(cons, &x, sizeof(x)), 1);
		cr_assert_eq(x, i);
	}
	cr_assert_eq(vc_ring_pop(cons, &x, sizeof(x)), 0);
}

Test(ring, batches_split_at_the_end_of_the_slot_array)
{
	unsigned char in[24][SLOT], out[24][SLOT];
	for (int i = 0; i < 24; i++)
		memset(in[i], i + 1, SLOT);
	/* move the indices to 10 so a batch of 12 wraps around the slot array */
	cr_assert_eq(vc_ring_push_batch(prod, in, 10), 10);
	cr_assert_eq(vc_ring_pop_batch(cons, out, 10), 10);
	cr_assert_eq(vc_ring_push_batch(prod, in, 24), SLOTS, "only SLOTS fit");
	cr_assert_eq(vc_ring_pop_batch(cons, out, 24), SLOTS);
	cr_assert_eq(memcmp(in, out, SLOTS * SLOT), 0);
	struct vc_ring_stats s = stats_of(prod);
	cr_assert_eq(s.publishes, 2, "one publication per batch");
	cr_assert_eq(s.messages, 10 + SLOTS);
	cr_assert_eq(vc_ring_push_batch(prod, in, 0), 0);
	cr_assert_eq(vc_ring_pop_batch(cons, out, 0), 0);
}

Test(ring, indices_wrap_at_32_bits)
{
	teardown();
	attach_both(VC_RING_MODE_EVENT_IDX, 0);
	vc_ring_detach(prod);
	vc_ring_detach(cons);
	/* a ring that has carried almost 2^32 messages: both sides re-attach to it */
	hdr()->prod_idx = hdr()->cons_idx = 0xfffffff5u;
	hdr()->wake_idx = 0xfffffff4u;
	VC_OPTS(vc_ring_attach_opts, p, .role = VC_RING_PRODUCER);
	VC_OPTS(vc_ring_attach_opts, c, .role = VC_RING_CONSUMER, .spin_max_ns = -1);
	vc_ring_eventfd_notifier(&p.notifier, efd);
	vc_ring_eventfd_notifier(&c.notifier, efd);
	cr_assert_eq(vc_ring_attach(&prod, g.ring, g.len, &p), 0);
	cr_assert_eq(vc_ring_attach(&cons, g.ring, g.len, &c), 0);
	for (uint32_t i = 0; i < 100; i++) {
		uint32_t x;
		cr_assert_eq(vc_ring_push(prod, &i, sizeof(i)), 1);
		if (i % 3 == 0)
			cr_assert_eq(vc_ring_push(prod, &(uint32_t){i + 1000}, 4), 1);
		cr_assert_eq(vc_ring_pop(cons, &x, sizeof(x)), 1);
		cr_assert_eq(x, i);
		if (i % 3 == 0) {
			cr_assert_eq(vc_ring_pop(cons, &x, sizeof(x)), 1);
			cr_assert_eq(x, i + 1000);
		}
	}
	cr_assert_lt(hdr()->prod_idx, 0x1000u, "the index wrapped");
}

Test(ring, doze_at_the_wrap_point_is_notified)
{
	struct vc_ring_view p, c;
	hdr()->prod_idx = hdr()->cons_idx = 0xffffffffu;
	cr_assert_eq(vc_ring_view_attach(&p, g.ring, g.len, 1), 0);
	cr_assert_eq(vc_ring_view_attach(&c, g.ring, g.len, 0), 0);
	cr_assert_eq(vc_ring_view_prepare_doze(&c), 0);
	cr_assert_eq(hdr()->wake_idx, 0xffffffffu);
	cr_assert_eq(vc_ring_view_publish(&p, 3), 1, "publish [0xffffffff, 2) covers the doze");
	cr_assert_eq(vc_ring_view_publish(&p, 1), 0, "later publishes do not");
	cr_assert_eq(vc_ring_view_avail(&c), 4);
}

Test(ring, zero_copy_reserve_commit_peek_release)
{
	uint32_t first;
	cr_assert_eq(vc_ring_reserve(&first, prod, 4), 4);
	for (uint32_t i = 0; i < 4; i++)
		memcpy(vc_ring_slot(prod, first + i), &i, sizeof(i));
	cr_assert_eq(vc_ring_peek(&first, cons, 8), 0, "nothing visible before commit");
	cr_assert_eq(vc_ring_commit(prod, 5), -EINVAL, "more than reserved");
	cr_assert_eq(vc_ring_commit(prod, 3), 0);
	uint32_t at;
	cr_assert_eq(vc_ring_peek(&at, cons, 8), 3);
	for (uint32_t i = 0; i < 3; i++)
		cr_assert_eq(*(uint32_t *)vc_ring_slot(cons, at + i), i);
	cr_assert_eq(vc_ring_release(cons, 4), -EINVAL, "more than available");
	cr_assert_eq(vc_ring_release(cons, 2), 0);
	cr_assert_eq(vc_ring_peek(&at, cons, 8), 1);
	cr_assert_eq(*(uint32_t *)vc_ring_slot(cons, at), 2);
	/* the slot address wraps for any index */
	cr_assert_eq(vc_ring_slot(cons, at + SLOTS), vc_ring_slot(cons, at));
}

Test(ring, wrong_role_is_refused)
{
	char b[SLOT] = {0};
	uint32_t f;
	cr_assert_eq(vc_ring_push(cons, b, 1), -EINVAL);
	cr_assert_eq(vc_ring_reserve(&f, cons, 1), -EINVAL);
	cr_assert_eq(vc_ring_pop(prod, b, 1), -EINVAL);
	cr_assert_eq(vc_ring_wait(prod, 0), -EINVAL);
	cr_assert_eq(vc_ring_release(prod, 0), -EINVAL);
}

/* --- attach validation --- */

Test(ring, format_and_attach_validate_everything)
{
	VC_OPTS(vc_ring_attach_opts, c, .role = VC_RING_CONSUMER);
	vc_ring *r = NULL;
	cr_assert_eq(vc_ring_size(3, 64), 0, "not a power of two");
	cr_assert_eq(vc_ring_size(4, 12), 0, "not a multiple of 8");
	cr_assert_eq(vc_ring_size(4, 64), VC_RING_HDR_SIZE + 256);
	VC_OPTS(vc_ring_format_opts, bad, .slot_count = 5);
	cr_assert_eq(vc_ring_format(g.ring, g.len, &bad), -EINVAL);
	VC_OPTS(vc_ring_format_opts, big, .slot_count = 1024);
	cr_assert_eq(vc_ring_format(g.ring, g.len, &big), -ENOSPC);
	VC_OPTS(vc_ring_format_opts, mode, .mode = 9);
	cr_assert_eq(vc_ring_format(g.ring, g.len, &mode), -EINVAL);
	cr_assert_eq(vc_ring_attach(&r, (char *)g.ring + 4, g.len - 8, &c), -EINVAL, "misaligned");
	cr_assert_eq(vc_ring_attach(&r, g.ring, g.len - 8, &c), -EBADMSG, "memory too short");
	VC_OPTS(vc_ring_attach_opts, norole);
	cr_assert_eq(vc_ring_attach(&r, g.ring, g.len, &norole), -EINVAL);

	/* each header field corrupted in turn is refused */
	struct vc_ring_abi_hdr saved = *hdr();
	uint32_t *fields[] = {&hdr()->version, &hdr()->hdr_size, &hdr()->mode,
			      &hdr()->slot_count, &hdr()->slot_size};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		*fields[i] ^= 0x100;
		cr_assert_eq(vc_ring_attach(&r, g.ring, g.len, &c), -EBADMSG, "field %zu", i);
		*hdr() = saved;
	}
	hdr()->magic = 0;
	cr_assert_eq(vc_ring_attach(&r, g.ring, g.len, &c), -EBADMSG, "magic");
	*hdr() = saved;
	hdr()->ring_size += 8;
	cr_assert_eq(vc_ring_attach(&r, g.ring, g.len, &c), -EBADMSG, "ring_size");
	*hdr() = saved;
	hdr()->prod_idx = hdr()->cons_idx + SLOTS + 1;
	cr_assert_eq(vc_ring_attach(&r, g.ring, g.len, &c), -EBADMSG, "indices a ring apart");
	*hdr() = saved;
	cr_assert_eq(vc_ring_attach(&r, g.ring, g.len, &c), 0);
	vc_ring_detach(r);
}

Test(ring, unknown_option_bytes_are_refused)
{
	struct {
		struct vc_ring_attach_opts o;
		uint64_t future;
	} big = {{.sz = sizeof(big), .role = VC_RING_CONSUMER}, 1};
	vc_ring *r = NULL;
	cr_assert_eq(vc_ring_attach(&r, g.ring, g.len, &big.o), -E2BIG);
	big.future = 0;
	cr_assert_eq(vc_ring_attach(&r, g.ring, g.len, &big.o), 0);
	vc_ring_detach(r);
}

/* --- hostile peers --- */

Test(ring, producer_index_past_capacity_breaks_the_consumer)
{
	char b[SLOT];
	cr_assert_eq(vc_ring_push(prod, "x", 1), 1);
	hdr()->prod_idx += SLOTS + 7; /* a hostile producer jumps ahead */
	cr_assert_eq(vc_ring_pop(cons, b, sizeof(b)), -EBADMSG);
	cr_assert_eq(vc_ring_is_broken(cons), 1);
	hdr()->prod_idx -= SLOTS + 7; /* and repairing it later does not un-break us */
	cr_assert_eq(vc_ring_pop(cons, b, sizeof(b)), -EBADMSG);
	cr_assert_eq(vc_ring_wait(cons, 0), -EBADMSG);
	uint32_t f;
	cr_assert_eq(vc_ring_peek(&f, cons, 1), -EBADMSG);
}

Test(ring, producer_index_moving_backwards_breaks_the_consumer)
{
	char b[SLOT];
	for (int i = 0; i < 4; i++)
		cr_assert_eq(vc_ring_push(prod, "x", 1), 1);
	cr_assert_eq(vc_ring_pop(cons, b, sizeof(b)), 1); /* sees prod = 4 */
	hdr()->prod_idx = 2;                               /* un-publishes two messages */
	cr_assert_eq(vc_ring_pop(cons, b, sizeof(b)), -EBADMSG);
}

Test(ring, consumer_index_past_producer_breaks_the_producer)
{
	cr_assert_eq(vc_ring_push(prod, "x", 1), 1);
	hdr()->cons_idx = 5; /* consumed more than was ever published */
	cr_assert_eq(vc_ring_push(prod, "y", 1), -EBADMSG);
	cr_assert_eq(vc_ring_is_broken(prod), 1);
	uint32_t f;
	cr_assert_eq(vc_ring_reserve(&f, prod, 1), -EBADMSG);
	cr_assert_eq(vc_ring_commit(prod, 0), -EBADMSG);
}

Test(ring, rewritten_header_does_not_move_any_access)
{
	/* geometry grown after attach: accesses still use the private copy (the guard page
	 * after the ring would crash this test otherwise) */
	hdr()->slot_count = 1u << 20;
	hdr()->slot_size = 4096;
	hdr()->magic = 0xdeadbeef;
	unsigned char in[SLOTS][SLOT], out[SLOTS][SLOT];
	memset(in, 0xab, sizeof(in));
	for (int round = 0; round < 5; round++) {
		cr_assert_eq(vc_ring_push_batch(prod, in, SLOTS), SLOTS);
		cr_assert_eq(vc_ring_pop_batch(cons, out, SLOTS), SLOTS);
	}
	cr_assert_eq(memcmp(in, out, sizeof(in)), 0);
}

Test(ring, garbage_doze_words_are_only_hints)
{
	char b[SLOT];
	uint32_t garbage[] = {0, 1, 2, 3, 0x7fffffffu, 0xffffffffu, 0x80000000u};
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		hdr()->wake_idx = garbage[i];
		hdr()->doze_flag = garbage[i];
		cr_assert_eq(vc_ring_push(prod, &i, sizeof(i)), 1);
		cr_assert_eq(vc_ring_pop(cons, b, sizeof(b)), 1);
		cr_assert_eq(*(size_t *)b, i);
	}
	cr_assert_eq(vc_ring_is_broken(prod) + vc_ring_is_broken(cons), 0);
}

/* --- the doze handshake, single-threaded --- */

static uint64_t pending(void)
{
	uint64_t n = 0;
	if (read(efd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static void one_notification_per_doze(void)
{
	/* the consumer side through a view, so the test controls when it "sleeps" */
	struct vc_ring_view c;
	cr_assert_eq(vc_ring_view_attach(&c, g.ring, g.len, 0), 0);
	/* an active consumer: publishes notify nobody */
	for (int i = 0; i < 5; i++)
		cr_assert_eq(vc_ring_push(prod, "a", 1), 1);
	cr_assert_eq(pending(), 0);
	cr_assert_eq(vc_ring_view_avail(&c), 5);
	vc_ring_view_consume(&c, 5);
	for (int doze = 0; doze < 3; doze++) {
		cr_assert_eq(vc_ring_view_prepare_doze(&c), 0, "empty: may sleep");
		/* many messages while it sleeps: exactly one notification */
		for (int i = 0; i < 7; i++)
			cr_assert_eq(vc_ring_push(prod, "b", 1), 1);
		cr_assert_eq(pending(), 1, "doze %d", doze);
		vc_ring_view_end_doze(&c);
		cr_assert_eq(vc_ring_view_avail(&c), 7);
		vc_ring_view_consume(&c, 7);
		/* awake again: no notifications */
		cr_assert_eq(vc_ring_push(prod, "c", 1), 1);
		cr_assert_eq(pending(), 0);
		cr_assert_eq(vc_ring_view_avail(&c), 1);
		vc_ring_view_consume(&c, 1);
	}
	struct vc_ring_stats ps = stats_of(prod);
	cr_assert_eq(ps.notifications, 3);
	cr_assert_eq(ps.suppressed, 5 + 3 * 7);
}

Test(ring, one_notification_per_doze_event_idx)
{
	one_notification_per_doze();
}

Test(ring, one_notification_per_doze_flag)
{
	teardown();
	attach_both(VC_RING_MODE_FLAG, 0);
	one_notification_per_doze();
	cr_assert_eq(hdr()->doze_flag, VC_RING_ACTIVE, "end_doze marked it active");
}

Test(ring, always_notify_baseline_notifies_every_publish)
{
	teardown();
	attach_both(VC_RING_MODE_EVENT_IDX, VC_RING_ALWAYS_NOTIFY);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(vc_ring_push(prod, "a", 1), 1);
	cr_assert_eq(pending(), 5);
	cr_assert_eq(stats_of(prod).notifications, 5);
}

Test(ring, doze_announced_then_message_arrives_is_not_slept_through)
{
	/* the race, frozen: the consumer announced, the producer published before the
	 * consumer re-checked. The re-check must see the message. */
	struct vc_ring_view v;
	cr_assert_eq(vc_ring_view_attach(&v, g.ring, g.len, 0), 0);
	cr_assert_eq(vc_ring_push(prod, "m", 1), 1);
	cr_assert_eq(pending(), 0, "not dozing yet: suppressed");
	cr_assert_eq(vc_ring_view_prepare_doze(&v), 1, "re-check finds the message");
	/* and the other order: announce first, then publish: the producer notifies */
	vc_ring_view_consume(&v, 1);
	cr_assert_eq(vc_ring_view_prepare_doze(&v), 0);
	cr_assert_eq(vc_ring_push(prod, "n", 1), 1);
	cr_assert_eq(pending(), 1);
	vc_ring_view_end_doze(&v);
}

Test(ring, timed_out_doze_is_counted)
{
	cr_assert_eq(vc_ring_wait(cons, 1000), -ETIMEDOUT);
	struct vc_ring_stats s = stats_of(cons);
	cr_assert_eq(s.timeouts, 1);
	cr_assert_leq(s.dozes, 1, "dozed at most once (the deadline may pass before it)");
	cr_assert_eq(vc_ring_wait(cons, 0), -ETIMEDOUT);
	cr_assert_eq(vc_ring_push(prod, "a", 1), 1);
	cr_assert_eq(vc_ring_wait(cons, 0), 1);
}

Test(ring, wait_wakes_on_notification_and_counts_spurious)
{
	uint64_t one = 1;
	cr_assert_eq(write(efd, &one, sizeof(one)), sizeof(one)); /* a stale notification */
	cr_assert_eq(vc_ring_wait(cons, 20000000), -ETIMEDOUT);
	struct vc_ring_stats s = stats_of(cons);
	cr_assert_eq(s.spurious_wakeups, 1);
	cr_assert_eq(s.wakeups, 1);
}

Test(ring, consumer_without_wait_function)
{
	VC_OPTS(vc_ring_attach_opts, c, .role = VC_RING_CONSUMER);
	vc_ring *r;
	cr_assert_eq(vc_ring_attach(&r, g.ring, g.len, &c), 0);
	cr_assert_eq(vc_ring_wait(r, -1), -EOPNOTSUPP);
	vc_ring_detach(r);
}

/* --- pairs, twins, statistics --- */

Test(ring, pair_layout)
{
	size_t len = 8192;
	void *mem = aligned_alloc(4096, len);
	VC_OPTS(vc_ring_format_opts, req, .slot_count = 8, .slot_size = 64);
	VC_OPTS(vc_ring_format_opts, comp, .slot_count = 8, .slot_size = 16);
	cr_assert_eq(vc_ring_pair_format(mem, len, &req, &comp), 0);
	int64_t off = vc_ring_pair_offset(mem, len);
	cr_assert_eq(off, 1024);
	VC_OPTS(vc_ring_attach_opts, c, .role = VC_RING_CONSUMER);
	vc_ring *r;
	cr_assert_eq(vc_ring_attach(&r, (char *)mem + off, len - (size_t)off, &c), 0);
	cr_assert_eq(vc_ring_slot_size(r), 16);
	vc_ring_detach(r);
	cr_assert_eq(vc_ring_pair_format(mem, 1100, &req, &comp), -ENOSPC);
	cr_assert_eq(vc_ring_pair_format(mem, len, NULL, NULL), -ENOSPC, "defaults need 33 KiB");
	void *big = aligned_alloc(4096, 65536);
	cr_assert_eq(vc_ring_pair_format(big, 65536, NULL, NULL), 0, "NULL means defaults");
	cr_assert_eq(vc_ring_pair_offset(big, 65536), 16896);
	free(big);
	cr_assert_eq(vc_ring_pair_offset(mem, 1100), -EBADMSG);
	free(mem);
}

Test(ring, view_twins_match_the_inline_functions)
{
	struct vc_ring_view p, c;
	cr_assert_eq(vc_ring_view_attach(&p, g.ring, g.len, 1), 0);
	cr_assert_eq(vc_ring_view_attach(&c, g.ring, g.len, 0), 0);
	cr_assert_eq(vc_ring_view_space(&p), SLOTS);
	memcpy(vc_ring_view_slot(&p, p.own), "z", 2);
	cr_assert_eq(vc_ring_view_publish(&p, 1), 0);
	cr_assert_eq(vc_ring_view_avail(&c), 1);
	cr_assert_str_eq(vc_ring_view_slot(&c, c.own), "z");
	vc_ring_view_consume(&c, 1);
	cr_assert_eq(vc_ring_view_space(&p), SLOTS);
	cr_assert_eq(vc_ring_view_format(NULL, 0, 4, 64, VC_RING_MODE_FLAG), VC_RING_ERR_INVAL);
}

Test(ring, stats_respect_the_callers_size)
{
	struct {
		struct vc_ring_stats st;
		uint64_t newer_field;
	} s;
	memset(&s, 0xee, sizeof(s));
	cr_assert_eq(vc_ring_push(prod, "a", 1), 1);
	/* an older caller knows only the first field */
	cr_assert_eq(vc_ring_get_stats(prod, &s.st, offsetof(struct vc_ring_stats, publishes)), 0);
	cr_assert_eq(s.st.messages, 1);
	cr_assert_eq(s.st.publishes, 0xeeeeeeeeeeeeeeeeull, "past its size: untouched");
	/* a newer caller gets zeros for a field this library does not have */
	cr_assert_eq(vc_ring_get_stats(prod, &s.st, sizeof(s)), 0);
	cr_assert_eq(s.st.publishes, 1);
	cr_assert_eq(s.newer_field, 0);
	cr_assert_eq(vc_ring_get_stats(prod, &s.st, 0), -EINVAL);
	cr_assert_eq(vc_ring_get_stats(prod, NULL, sizeof(s.st)), -EINVAL);
}

Test(ring, wake_cost_is_measured_once)
{
	int64_t a = vc_ring_wake_cost_ns(), b = vc_ring_wake_cost_ns();
	cr_assert_gt(a, 0);
	cr_assert_eq(a, b);
}
