// SPDX-License-Identifier: MIT
// prefetch: the learned table requests what the next exit's handlers read, learns a miss
// at once, drops a set left unread `keep` times, keys on the kind of the exit returned
// from, survives a full table, and counts what it did.
#include <errno.h>
#include <stdint.h>

#include <criterion/criterion.h>

#include <virtcore/prefetch.h>

#define REGS 1u
#define SREGS 2u
#define EVENTS 4u

static vc_prefetch *pf;

static void setup(void)
{
	cr_assert_eq(vc_prefetch_create(&pf, NULL), 0);
}

static void teardown(void)
{
	vc_prefetch_destroy(pf);
}

/* One exit of @kind whose handlers read @needs; returns what was requested for it. */
static uint32_t one_exit(uint64_t kind, uint32_t needs)
{
	uint32_t asked = vc_prefetch_predict(pf);
	vc_prefetch_exit(pf, kind, asked);
	uint32_t missing = vc_prefetch_need(pf, needs);
	cr_assert_eq(missing, needs & ~asked, "need() returns exactly what was not delivered");
	vc_prefetch_fetched(pf, missing);
	return asked;
}

TestSuite(prefetch, .init = setup, .fini = teardown);

Test(prefetch, learns_a_miss_at_once_and_then_delivers)
{
	uint64_t hc = vc_prefetch_kind(6 /* MMIO */, 0xfe000000);
	cr_assert_eq(one_exit(hc, SREGS), 0, "nothing known: nothing requested");
	cr_assert_eq(one_exit(hc, SREGS), 0, "the first exit had no predecessor to learn on");
	cr_assert_eq(one_exit(hc, SREGS), SREGS, "one miss after an exit of this kind teaches it");
	for (int i = 0; i < 100; i++)
		cr_assert_eq(one_exit(hc, SREGS), SREGS);
	struct vc_prefetch_stats st;
	cr_assert_eq(vc_prefetch_get_stats(pf, &st, sizeof st), 0);
	cr_assert_eq(st.exits, 103);
	cr_assert_eq(st.misses, 2);
	cr_assert_eq(st.hits, 101);
	cr_assert_eq(st.unused, 0);
	cr_assert_eq(st.kinds, 1);
}

Test(prefetch, drops_a_set_left_unread_keep_times)
{
	uint64_t k = vc_prefetch_kind(2 /* IO */, 0x512);
	one_exit(k, 0);
	one_exit(k, REGS | SREGS);                 /* learned: both */
	cr_assert_eq(one_exit(k, REGS), REGS | SREGS); /* SREGS unread: 1 */
	cr_assert_eq(one_exit(k, REGS), REGS | SREGS); /* 2 */
	cr_assert_eq(one_exit(k, REGS), REGS | SREGS); /* 3 */
	cr_assert_eq(one_exit(k, REGS), REGS | SREGS); /* 4 = keep: dropped after this one */
	cr_assert_eq(one_exit(k, REGS), REGS, "default keep is 4");
	cr_assert_eq(vc_prefetch_lookup(pf, k), REGS);
}

Test(prefetch, a_read_resets_the_idle_count)
{
	uint64_t k = vc_prefetch_kind(2, 0x510);
	one_exit(k, 0);
	one_exit(k, SREGS);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(one_exit(k, i % 3 == 2 ? SREGS : 0), SREGS,
			     "read every third exit: never idle 4 times in a row");
}

Test(prefetch, keys_on_the_exit_returned_from)
{
	uint64_t a = vc_prefetch_kind(2, 0x10), b = vc_prefetch_kind(2, 0x20);
	/* Alternating a, b: after a the next exit (b) needs REGS; after b, the next (a)
	 * needs nothing. */
	for (int i = 0; i < 10; i++) {
		one_exit(a, 0);
		one_exit(b, REGS);
	}
	cr_assert_eq(vc_prefetch_lookup(pf, a), REGS);
	cr_assert_eq(vc_prefetch_lookup(pf, b), 0);
	cr_assert_eq(one_exit(a, 0), 0);
	cr_assert_eq(one_exit(b, REGS), REGS);
}

Test(prefetch, interrupted_entries_learn_once)
{
	uint64_t k = vc_prefetch_kind(2, 0x30);
	one_exit(k, 0);
	one_exit(k, REGS);
	/* Entries interrupted before any exit: predict() again and again. */
	for (int i = 0; i < 10; i++)
		cr_assert_eq(vc_prefetch_predict(pf), REGS);
	struct vc_prefetch_stats st;
	vc_prefetch_get_stats(pf, &st, sizeof st);
	cr_assert_eq(st.exits, 2);
	cr_assert_eq(st.unused, 0, "no exit happened, nothing went unread");
}

Test(prefetch, fetched_and_written_sets)
{
	uint64_t k = vc_prefetch_kind(2, 0x40);
	vc_prefetch_exit(pf, k, 0);
	cr_assert_eq(vc_prefetch_need(pf, REGS), REGS);
	vc_prefetch_fetched(pf, REGS);
	cr_assert_eq(vc_prefetch_need(pf, REGS), 0, "fetched once, present for the rest");
	cr_assert_eq(vc_prefetch_write(pf, REGS), 0, "a present set goes back with the entry");
	cr_assert_eq(vc_prefetch_write(pf, SREGS), SREGS, "an absent one the caller stores");
	struct vc_prefetch_stats st;
	vc_prefetch_get_stats(pf, &st, sizeof st);
	cr_assert_eq(st.misses, 2, "REGS and SREGS, each once");
	/* A write teaches like a read. */
	cr_assert_eq(vc_prefetch_predict(pf), 0, "first exit: no predecessor");
	vc_prefetch_exit(pf, k, 0);
	vc_prefetch_write(pf, SREGS);
	cr_assert_eq(vc_prefetch_predict(pf), SREGS);
}

Test(prefetch, requests_only_supported_sets)
{
	vc_prefetch_destroy(pf);
	VC_OPTS(vc_prefetch_opts, o, .sets = REGS | SREGS);
	cr_assert_eq(vc_prefetch_create(&pf, &o), 0);
	uint64_t k = vc_prefetch_kind(2, 0x50);
	one_exit(k, 0);
	one_exit(k, EVENTS | REGS);
	cr_assert_eq(vc_prefetch_predict(pf), REGS, "EVENTS is not supported: never requested");
}

Test(prefetch, a_full_table_replaces_and_keeps_working)
{
	vc_prefetch_destroy(pf);
	VC_OPTS(vc_prefetch_opts, o, .capacity = 4);
	cr_assert_eq(vc_prefetch_create(&pf, &o), 0);
	for (uint64_t port = 0; port < 1000; port++) {
		one_exit(vc_prefetch_kind(2, port), REGS);
	}
	struct vc_prefetch_stats st;
	vc_prefetch_get_stats(pf, &st, sizeof st);
	cr_assert_leq(st.kinds, 4);
	cr_assert_gt(st.replaced, 900);
	/* The most recent kind is still there and right. */
	uint64_t last = vc_prefetch_kind(2, 5000);
	one_exit(last, 0);
	one_exit(last, SREGS);
	cr_assert_eq(vc_prefetch_predict(pf), SREGS, "learned when the exit's handling ended");
	cr_assert_eq(vc_prefetch_lookup(pf, last), SREGS);
}

Test(prefetch, bad_options_and_nulls)
{
	vc_prefetch *p = (vc_prefetch *)1;
	VC_OPTS(vc_prefetch_opts, big, .capacity = 1u << 20);
	cr_assert_eq(vc_prefetch_create(&p, &big), -EINVAL);
	cr_assert_null(p, "nothing handed out on failure");
	VC_OPTS(vc_prefetch_opts, keep, .keep = 256);
	cr_assert_eq(vc_prefetch_create(&p, &keep), -EINVAL);
	VC_OPTS(vc_prefetch_opts, sets, .sets = 0x100);
	cr_assert_eq(vc_prefetch_create(&p, &sets), -EINVAL);
	VC_OPTS(vc_prefetch_opts, pad, .pad = 1);
	cr_assert_eq(vc_prefetch_create(&p, &pad), -E2BIG);
	cr_assert_eq(vc_prefetch_create(NULL, NULL), -EINVAL);
	vc_prefetch_destroy(NULL);
	cr_assert_eq(vc_prefetch_predict(NULL), 0);
	cr_assert_eq(vc_prefetch_need(NULL, REGS), REGS, "no table: fetch everything");
	cr_assert_eq(vc_prefetch_get_stats(NULL, NULL, 0), -EINVAL);
	struct vc_prefetch_stats st;
	cr_assert_eq(vc_prefetch_get_stats(pf, &st, 0), -EINVAL);
}

Test(prefetch, kinds_differ_by_reason_and_address)
{
	cr_assert_neq(vc_prefetch_kind(2, 0x510), vc_prefetch_kind(6, 0x510));
	cr_assert_neq(vc_prefetch_kind(6, 0xfe000000), vc_prefetch_kind(6, 0xfe001000));
	cr_assert_eq(vc_prefetch_kind(6, 0xfe000000), vc_prefetch_kind(6, 0xfe000000));
}
