// SPDX-License-Identifier: MIT
// Tests of the shared timer page: layout, reader math, bad pages, options, calibration,
// the writer, and stress across threads and processes.
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <virtcore/timerpage.h>

#include "helpers.h"
#include "timerpage/timerpage-internal.h"

/* A page in ordinary memory, aligned as a guest mapping would be. */
static _Alignas(4096) struct vc_timerpage_abi page;

/* ---- layout ---- */

Test(layout, size_offsets_and_magic_bytes)
{
	cr_assert_eq(sizeof(struct vc_timerpage_abi), 4096);
	cr_assert_eq(offsetof(struct vc_timerpage_abi, magic), 0);
	cr_assert_eq(offsetof(struct vc_timerpage_abi, seq), 8);
	cr_assert_eq(offsetof(struct vc_timerpage_abi, base_ns), 24);
	cr_assert_eq(offsetof(struct vc_timerpage_abi, tsc_mul), 36);
	cr_assert_eq(offsetof(struct vc_timerpage_abi, tick_period_ns), 56);
	cr_assert_eq(offsetof(struct vc_timerpage_abi, clock_id), 80);

	vc_timerpage *tp;
	cr_assert_eq(vc_timerpage_create(&tp, &page, sizeof(page), NULL), 0);
	cr_assert_eq(memcmp(&page, "VCTP", 4), 0, "magic is not little-endian 'VCTP'");
	cr_assert_eq(page.version, VC_TIMERPAGE_VERSION);
	cr_assert_eq(page.page_size, VC_TIMERPAGE_SIZE);
	cr_assert_eq(page.clock_id, VC_TIMERPAGE_CLOCK_MONOTONIC);
	cr_assert_eq(page.tick_period_ns, 1000000);
	cr_assert_eq(page.seq % 2, 0);
	for (size_t i = 0; i < sizeof(page.reserved); i++)
		cr_assert_eq(page.reserved[i], 0, "reserved byte %zu not zero", i);
	vc_timerpage_destroy(tp);
}

/* ---- reader math ---- */

/* Reference with 128-bit arithmetic and the documented saturation. */
static uint64_t ref_scale(uint64_t tsc, uint64_t base_tsc, uint64_t base_ns, uint32_t frac,
			  uint32_t mul, int32_t shift)
{
	uint64_t d = tsc - base_tsc;
	if ((int64_t)d < 0)
		d = 0;
	unsigned __int128 x = d;
	if (shift >= 0)
		x <<= shift;
	else
		x >>= -shift;
	if (x > UINT64_MAX)
		return UINT64_MAX;
	unsigned __int128 ns = ((x * mul + frac) >> 32) + base_ns;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

Test(math, known_values)
{
	/* 0.5 ns per cycle. */
	cr_assert_eq(vc_timerpage_abi_scale(1000, 0, 0, 0, 1u << 31, 0), 500);
	cr_assert_eq(vc_timerpage_abi_scale(1000 + 7, 7, 100, 0, 1u << 31, 0), 600);
	/* The fraction carries into whole nanoseconds. */
	cr_assert_eq(vc_timerpage_abi_scale(2, 0, 0, 0xffffffffu, 1u << 31, 0), 1);
	cr_assert_eq(vc_timerpage_abi_scale(1, 0, 0, 0x7fffffffu, 1u << 31, 0), 0);
	cr_assert_eq(vc_timerpage_abi_scale(1, 0, 0, 0x80000000u, 1u << 31, 0), 1);
	/* Positive shift: 4 ns per cycle as 0.5 << 3. */
	cr_assert_eq(vc_timerpage_abi_scale(10, 0, 0, 0, 1u << 31, 3), 40);
	/* Negative shift drops low TSC bits. */
	cr_assert_eq(vc_timerpage_abi_scale(1001, 0, 0, 0, 1u << 31, -1), 250);
}

Test(math, tsc_below_base_counts_as_no_time)
{
	cr_assert_eq(vc_timerpage_abi_scale(999, 1000, 5000, 0, 1u << 31, 0), 5000);
	cr_assert_eq(vc_timerpage_abi_scale(0, UINT64_MAX / 4, 5000, 0xffffffffu, 1u << 31, 0), 5000);
}

Test(math, tsc_wraparound_is_a_small_delta)
{
	uint64_t base = UINT64_MAX - 99;
	cr_assert_eq(vc_timerpage_abi_scale(100, base, 0, 0, 1u << 31, 0), 100); /* 200 cycles */
}

Test(math, overflow_edges_saturate)
{
	/* Shifting out the top bit saturates instead of wrapping. */
	cr_assert_eq(vc_timerpage_abi_scale(1ull << 62, 0, 0, 0, 1, 2), UINT64_MAX);
	cr_assert_eq(vc_timerpage_abi_scale(3, 0, 0, 0, 1, 63), UINT64_MAX);
	/* Largest product with shift 0 fits; adding base_ns saturates. */
	uint64_t big = vc_timerpage_abi_scale(INT64_MAX, 0, 0, 0xffffffffu, UINT32_MAX, 0);
	cr_assert_eq(big, ref_scale(INT64_MAX, 0, 0, 0xffffffffu, UINT32_MAX, 0));
	cr_assert_eq(vc_timerpage_abi_scale(INT64_MAX, 0, UINT64_MAX - 5, 0, UINT32_MAX, 0),
		     UINT64_MAX);
	cr_assert_eq(vc_timerpage_abi_scale(5, 0, UINT64_MAX, 0, 1u << 31, 0), UINT64_MAX);
}

Test(math, matches_128bit_reference_on_random_inputs)
{
	uint64_t st = 42;
	for (int i = 0; i < 200000; i++) {
		uint64_t base_tsc = th_rand64(&st);
		/* deltas of every magnitude, including negative ones */
		uint64_t d = th_rand64(&st) >> (th_rand64(&st) % 64);
		if (i % 7 == 0)
			d = -d;
		uint64_t base_ns = th_rand64(&st) >> (th_rand64(&st) % 64);
		uint32_t frac = (uint32_t)th_rand64(&st);
		uint32_t mul = (uint32_t)th_rand64(&st);
		int32_t shift = (int32_t)(th_rand64(&st) % 127) - 63;
		uint64_t got = vc_timerpage_abi_scale(base_tsc + d, base_tsc, base_ns, frac, mul, shift);
		uint64_t want = ref_scale(base_tsc + d, base_tsc, base_ns, frac, mul, shift);
		cr_assert_eq(got, want, "d=%#lx mul=%#x shift=%d base_ns=%#lx frac=%#x", d, mul,
			     shift, base_ns, frac);
	}
}

Test(math, scale_for_represents_rates_precisely)
{
	double rates[] = {0.05, 0.2, 0.3851, 0.5, 0.999999, 1.0, 1.5, 3.2, 10, 1000};
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		uint32_t mul;
		int32_t shift;
		vc__timerpage_scale_for(rates[i], &mul, &shift);
		double back = (double)mul * ldexp(1.0, shift) / 4294967296.0;
		cr_assert_lt(fabs(back / rates[i] - 1), 1e-8, "rate %g -> mul %u shift %d",
			     rates[i], mul, shift);
		cr_assert_geq(shift, 0);
		if (rates[i] < 1)
			cr_assert_eq(shift, 0, "TSC above 1 GHz must keep full resolution");
	}
}

Test(math, writer_extrapolation_agrees_with_reader)
{
	uint64_t st = 7;
	for (int i = 0; i < 10000; i++) {
		memset(&page, 0, sizeof(page));
		page.base_tsc = th_rand64(&st);
		page.base_ns = th_rand64(&st) >> 2;
		page.base_frac = (uint32_t)th_rand64(&st);
		page.tsc_mul = (uint32_t)th_rand64(&st);
		page.tsc_shift = (int32_t)(th_rand64(&st) % 8);
		uint64_t tsc = page.base_tsc + (th_rand64(&st) >> 20);
		uint64_t ns;
		uint32_t frac;
		vc__timerpage_extrapolate(&page, tsc, &ns, &frac);
		cr_assert_eq(ns, vc_timerpage_abi_scale(tsc, page.base_tsc, page.base_ns,
							page.base_frac, page.tsc_mul,
							page.tsc_shift));
	}
}

/* ---- bad pages ---- */

static void make_valid_page(void)
{
	memset(&page, 0, sizeof(page));
	page.magic = VC_TIMERPAGE_MAGIC;
	page.version = VC_TIMERPAGE_VERSION;
	page.page_size = VC_TIMERPAGE_SIZE;
	page.flags = VC_TIMERPAGE_F_VALID | VC_TIMERPAGE_F_TSC_STABLE;
	page.tsc_mul = 1u << 31;
	page.base_ns = 12345;
}

Test(badpage, zeroed_or_foreign_memory_is_rejected, .init = make_valid_page)
{
	uint64_t ns = 77;
	cr_assert_eq(vc_timerpage_read(&ns, &page), 0);
	memset(&page, 0, sizeof(page));
	cr_assert_eq(vc_timerpage_read(&ns, &page), -EBADMSG);
	memset(&page, 0xa5, sizeof(page));
	cr_assert_eq(vc_timerpage_read_ordered(&ns, &page), -EBADMSG);
	cr_assert_eq(vc_timerpage_check(&page, sizeof(page)), -EBADMSG);
}

Test(badpage, wrong_version_is_rejected, .init = make_valid_page)
{
	uint64_t ns = 77;
	page.version = VC_TIMERPAGE_VERSION + 1;
	cr_assert_eq(vc_timerpage_read(&ns, &page), -EBADMSG);
	cr_assert_eq(ns, 77, "output written on error");
	cr_assert_eq(vc_timerpage_check(&page, sizeof(page)), -EBADMSG);
}

Test(badpage, out_of_range_shift_is_rejected_not_undefined, .init = make_valid_page)
{
	uint64_t ns;
	page.tsc_shift = 64;
	cr_assert_eq(vc_timerpage_read(&ns, &page), -EBADMSG);
	page.tsc_shift = -64;
	cr_assert_eq(vc_timerpage_read(&ns, &page), -EBADMSG);
	page.tsc_shift = INT32_MIN;
	cr_assert_eq(vc_timerpage_check(&page, sizeof(page)), -EBADMSG);
}

Test(badpage, unpublished_page_gives_nodata, .init = make_valid_page)
{
	uint64_t ns;
	page.flags = 0;
	cr_assert_eq(vc_timerpage_read(&ns, &page), -ENODATA);
	cr_assert_eq(vc_timerpage_check(&page, sizeof(page)), -ENODATA);
}

Test(badpage, writer_dead_mid_update_times_out_instead_of_hanging, .init = make_valid_page,
     .timeout = 10)
{
	uint64_t ns;
	page.seq = 3; /* odd forever */
	cr_assert_eq(vc_timerpage_read(&ns, &page), -ETIMEDOUT);
	cr_assert_eq(vc_timerpage_read_ordered(&ns, &page), -ETIMEDOUT);
	cr_assert_eq(vc_timerpage_check(&page, sizeof(page)), -EBADMSG);
}

Test(badpage, check_refuses_short_or_misaligned_memory, .init = make_valid_page)
{
	cr_assert_eq(vc_timerpage_check(&page, sizeof(page)), 0);
	cr_assert_eq(vc_timerpage_check(&page, sizeof(page) - 1), -EINVAL);
	cr_assert_eq(vc_timerpage_check((char *)&page + 4, sizeof(page)), -EINVAL);
	cr_assert_eq(vc_timerpage_check(NULL, sizeof(page)), -EINVAL);
	page.page_size = 8192;
	cr_assert_eq(vc_timerpage_check(&page, sizeof(page)), -EBADMSG);
}

Test(badpage, tick_resolution_page_ignores_the_scale, .init = make_valid_page)
{
	uint64_t ns;
	page.flags = VC_TIMERPAGE_F_VALID;
	page.tsc_shift = 99; /* unused without TSC_STABLE */
	cr_assert_eq(vc_timerpage_read(&ns, &page), 0);
	cr_assert_eq(ns, 12345);
}

/* ---- options ---- */

Test(opts, bad_arguments_are_refused)
{
	vc_timerpage *tp = NULL;
	cr_assert_eq(vc_timerpage_create(&tp, NULL, 4096, NULL), -EINVAL);
	cr_assert_eq(vc_timerpage_create(&tp, &page, 4095, NULL), -EINVAL);
	cr_assert_eq(vc_timerpage_create(&tp, (char *)&page + 4, 4096, NULL), -EINVAL);
	cr_assert_eq(vc_timerpage_create(NULL, &page, 4096, NULL), -EINVAL);

	VC_OPTS(vc_timerpage_opts, both, .flags = VC_TIMERPAGE_OPT_NO_TSC | VC_TIMERPAGE_OPT_FORCE_TSC);
	cr_assert_eq(vc_timerpage_create(&tp, &page, 4096, &both), -EINVAL);
	VC_OPTS(vc_timerpage_opts, unknown_flag, .flags = 1u << 7);
	cr_assert_eq(vc_timerpage_create(&tp, &page, 4096, &unknown_flag), -EINVAL);
	VC_OPTS(vc_timerpage_opts, clock, .clock_id = 0 + 2 /* CLOCK_PROCESS_CPUTIME_ID */);
	cr_assert_eq(vc_timerpage_create(&tp, &page, 4096, &clock), -EINVAL);
	VC_OPTS(vc_timerpage_opts, fast, .tick_hz = 100001);
	cr_assert_eq(vc_timerpage_create(&tp, &page, 4096, &fast), -EINVAL);
	VC_OPTS(vc_timerpage_opts, slew, .max_slew_ppm = 10001);
	cr_assert_eq(vc_timerpage_create(&tp, &page, 4096, &slew), -EINVAL);
	cr_assert_null(tp, "nothing may be returned on failure");
}

/* A newer program's struct with one more field than this library knows. */
struct opts_v2 {
	struct vc_timerpage_opts v1;
	uint64_t future;
};

Test(opts, sizes_old_and_new_programs)
{
	vc_timerpage *tp;
	struct opts_v2 o = {.v1 = {.sz = sizeof(struct opts_v2), .tick_hz = 500}};
	cr_assert_eq(vc_timerpage_create(&tp, &page, 4096, &o.v1), 0, "zero extra field refused");
	cr_assert_eq(page.tick_period_ns, 2000000);
	vc_timerpage_destroy(tp);
	o.future = 1;
	cr_assert_eq(vc_timerpage_create(&tp, &page, 4096, &o.v1), -E2BIG,
		     "an option this library cannot honour was ignored");

	/* An older program that knows only sz and tick_hz. */
	struct vc_timerpage_opts old = {.sz = offsetof(struct vc_timerpage_opts, flags),
					.tick_hz = 250, .flags = 0xdead};
	cr_assert_eq(vc_timerpage_create(&tp, &page, 4096, &old), 0);
	cr_assert_eq(page.tick_period_ns, 4000000);
	vc_timerpage_destroy(tp);
}

/* ---- calibration ---- */

Test(calibration, frequency_is_plausible_and_matches_the_clock)
{
	uint64_t hz;
	uint32_t src = 99;
	cr_assert_eq(vc_timerpage_calibrate_tsc(&hz, &src), 0);
	cr_assert(src >= VC_TIMERPAGE_TSC_CPUID_15 && src <= VC_TIMERPAGE_TSC_MEASURED);
	cr_assert(hz > 100000000ull && hz < 20000000000ull, "hz %lu", hz);

	/* Over 100 ms the calibrated rate predicts CLOCK_MONOTONIC_RAW within 1% (a
	 * correctness bound: CPUID 0x16 is only MHz-exact, and this may be a VM). */
	uint64_t n0 = th_clock_ns(CLOCK_MONOTONIC_RAW), t0 = vc__tsc_ordered();
	usleep(100000);
	uint64_t n1 = th_clock_ns(CLOCK_MONOTONIC_RAW), t1 = vc__tsc_ordered();
	double predicted = (double)(t1 - t0) / (double)hz * 1e9;
	cr_assert_lt(fabs(predicted / (double)(n1 - n0) - 1), 0.01, "predicted %.0f ns, clock %lu ns",
		     predicted, n1 - n0);
	cr_assert_eq(vc_timerpage_calibrate_tsc(NULL, NULL), -EINVAL);
}

Test(calibration, clock_pairs_are_bracketed)
{
	struct vc__clock_pair a, b;
	uint64_t limit = vc__bracket_floor(CLOCK_MONOTONIC) * 2 + 64;
	cr_assert_eq(vc__sample_pair(CLOCK_MONOTONIC, limit, &a, NULL), 0);
	cr_assert_eq(vc__sample_pair(CLOCK_MONOTONIC, limit, &b, NULL), 0);
	cr_assert_geq(b.ns, a.ns);
	cr_assert_gt(b.tsc, a.tsc);
}

/* ---- writer ---- */

Test(writer, first_read_is_close_to_the_host_clock)
{
	vc_timerpage *tp;
	cr_assert_eq(vc_timerpage_create(&tp, &page, sizeof(page), NULL), 0);
	uint64_t c0 = th_clock_ns(CLOCK_MONOTONIC), ns;
	cr_assert_eq(vc_timerpage_read(&ns, &page), 0);
	uint64_t c1 = th_clock_ns(CLOCK_MONOTONIC);
	/* Calibration error over the few ms since create stays far below 1 ms. */
	cr_assert(ns + 1000000 >= c0 && ns <= c1 + 1000000, "page %lu clock %lu..%lu", ns, c0, c1);
	cr_assert_eq(vc_timerpage_check(&page, sizeof(page)), 0);
	cr_assert_eq(vc_timerpage_ticks(&page), 0);
	vc_timerpage_destroy(tp);
}

Test(writer, updates_count_ticks)
{
	vc_timerpage *tp;
	cr_assert_eq(vc_timerpage_create(&tp, &page, sizeof(page), NULL), 0);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(vc_timerpage_update(tp), 0);
	cr_assert_eq(vc_timerpage_ticks(&page), 5);
	cr_assert_eq(vc_timerpage_abi_ticks(&page), 5);
	struct vc_timerpage_stats st;
	cr_assert_eq(vc_timerpage_get_stats(tp, &st, sizeof st), 0);
	cr_assert_eq(st.ticks, 5);
	cr_assert_gt(st.tsc_hz, 1e8);
	cr_assert_eq(vc_timerpage_update(NULL), -EINVAL);
	vc_timerpage_destroy(tp);
}

Test(writer, stats_fill_only_what_the_caller_knows)
{
	vc_timerpage *tp;
	cr_assert_eq(vc_timerpage_create(&tp, &page, sizeof(page), NULL), 0);
	vc_timerpage_update(tp);
	struct {
		struct vc_timerpage_stats st;
		uint64_t canary;
	} s;
	memset(&s, 0xee, sizeof(s));
	cr_assert_eq(vc_timerpage_get_stats(tp, &s.st, offsetof(struct vc_timerpage_stats, rebases)), 0);
	cr_assert_eq(s.st.ticks, 1);
	cr_assert_eq(s.st.rebases, 0xeeeeeeeeeeeeeeeeull, "wrote past the caller's size");
	cr_assert_eq(vc_timerpage_get_stats(tp, &s.st, sizeof(s)), 0);
	cr_assert_eq(s.canary, 0, "a field this library does not have reads as zero");
	cr_assert_eq(vc_timerpage_get_stats(tp, &s.st, 0), -EINVAL);
	vc_timerpage_destroy(tp);
}

Test(writer, no_tsc_mode_has_tick_resolution)
{
	vc_timerpage *tp;
	VC_OPTS(vc_timerpage_opts, o, .flags = VC_TIMERPAGE_OPT_NO_TSC);
	cr_assert_eq(vc_timerpage_create(&tp, &page, sizeof(page), &o), 0);
	cr_assert_eq(page.flags & VC_TIMERPAGE_F_TSC_STABLE, 0);
	uint64_t a, b, c;
	cr_assert_eq(vc_timerpage_read(&a, &page), 0);
	usleep(2000);
	cr_assert_eq(vc_timerpage_read(&b, &page), 0);
	cr_assert_eq(a, b, "time moved without a tick");
	vc_timerpage_update(tp);
	cr_assert_eq(vc_timerpage_read(&c, &page), 0);
	cr_assert_geq(c, b + 2000000, "a tick did not publish the host clock");
	vc_timerpage_destroy(tp);
}

/* A rebase continues exactly from the old parameters' value at the rebase TSC, to the
 * sub-nanosecond fraction: never earlier, and no remainder dropped. */
Test(writer, rebase_continues_from_the_old_extrapolation)
{
	vc_timerpage *tp;
	VC_OPTS(vc_timerpage_opts, o, .rebase_ms = 1, .flags = VC_TIMERPAGE_OPT_FORCE_TSC);
	cr_assert_eq(vc_timerpage_create(&tp, &page, sizeof(page), &o), 0);
	for (int i = 0; i < 20; i++) {
		static struct vc_timerpage_abi before;
		memcpy(&before, &page, sizeof(page));
		usleep(1500);
		vc_timerpage_update(tp);
		cr_assert_neq(page.base_tsc, before.base_tsc, "no rebase happened");
		uint64_t ns;
		uint32_t frac;
		vc__timerpage_extrapolate(&before, page.base_tsc, &ns, &frac);
		cr_assert_eq(page.base_ns, ns, "rebase %d moved the base by %ld ns", i,
			     (long)(page.base_ns - ns));
		cr_assert_eq(page.base_frac, frac, "rebase %d dropped the fraction", i);
	}
	vc_timerpage_destroy(tp);
}

Test(writer, destroy_invalidates_the_page)
{
	vc_timerpage *tp;
	uint64_t ns;
	cr_assert_eq(vc_timerpage_create(&tp, &page, sizeof(page), NULL), 0);
	cr_assert_eq(vc_timerpage_read(&ns, &page), 0);
	vc_timerpage_destroy(tp);
	cr_assert_eq(vc_timerpage_read(&ns, &page), -ENODATA);
	vc_timerpage_destroy(NULL);
}

Test(writer, tick_thread_start_stop)
{
	vc_timerpage *tp;
	VC_OPTS(vc_timerpage_opts, o, .tick_hz = 2000);
	cr_assert_eq(vc_timerpage_create(&tp, &page, sizeof(page), &o), 0);
	cr_assert_eq(vc_timerpage_stop(tp), -EINVAL);
	cr_assert_eq(vc_timerpage_start(tp), 0);
	cr_assert_eq(vc_timerpage_start(tp), -EBUSY);
	/* No timing threshold (CI machines are loaded): wait for 20 ticks, however
	 * long the thread takes to get scheduled, and bound the count by the elapsed
	 * time, which only a broken rate could exceed. */
	uint64_t t0 = th_clock_ns(CLOCK_MONOTONIC);
	while (vc_timerpage_ticks(&page) < 20 && th_clock_ns(CLOCK_MONOTONIC) - t0 < 30000000000ull)
		usleep(1000);
	cr_assert_eq(vc_timerpage_stop(tp), 0);
	uint64_t elapsed_ms = (th_clock_ns(CLOCK_MONOTONIC) - t0) / 1000000;
	uint64_t ticks = vc_timerpage_ticks(&page);
	cr_assert(ticks >= 20 && ticks <= 2 * elapsed_ms + 10, "ticks %lu in %lu ms at 2 kHz", ticks,
		  elapsed_ms);
	usleep(10000);
	cr_assert_eq(vc_timerpage_ticks(&page), ticks, "ticks after stop");
	cr_assert_eq(vc_timerpage_start(tp), 0, "restart");
	vc_timerpage_destroy(tp); /* stops the running thread */
}

Test(writer, memfd_page_is_sealed_and_shared)
{
	vc_timerpage *tp;
	cr_assert_eq(vc_timerpage_create_memfd(&tp, NULL), 0);
	int fd = vc_timerpage_fd(tp);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 0), -1, "page can be shrunk under readers");
	void *view = mmap(NULL, VC_TIMERPAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(view, MAP_FAILED);
	cr_assert_eq(vc_timerpage_check(view, VC_TIMERPAGE_SIZE), 0);
	munmap(view, VC_TIMERPAGE_SIZE);
	cr_assert_eq(vc_timerpage_fd(NULL), -1);
	vc_timerpage_destroy(tp);
}

/* ---- monotonicity under rebases and stress ---- */

struct reader_ctx {
	const struct vc_timerpage_abi *p;
	int ordered;
	atomic_bool *stop;
	uint64_t reads, backwards, errors;
	bool check_accuracy;
	uint64_t max_ahead_ns;  /* page time past the clock read after it */
	uint64_t max_behind_ns; /* page time before the clock read before it */
};

static void *reader_main(void *arg)
{
	struct reader_ctx *r = arg;
	uint64_t last = 0;
	while (!atomic_load_explicit(r->stop, memory_order_relaxed)) {
		for (int i = 0; i < 1000; i++) {
			uint64_t ns;
			int rc = r->ordered ? vc_timerpage_abi_read_ordered(&ns, r->p)
					    : vc_timerpage_abi_read(&ns, r->p);
			if (rc) {
				r->errors++;
				continue;
			}
			if (ns < last)
				r->backwards++;
			last = ns;
			r->reads++;
		}
		if (r->check_accuracy) {
			uint64_t c0 = th_clock_ns(CLOCK_MONOTONIC), ns;
			if (vc_timerpage_abi_read_ordered(&ns, r->p) == 0) {
				uint64_t c1 = th_clock_ns(CLOCK_MONOTONIC);
				if (ns > c1 && ns - c1 > r->max_ahead_ns)
					r->max_ahead_ns = ns - c1;
				if (ns < c0 && c0 - ns > r->max_behind_ns)
					r->max_behind_ns = c0 - ns;
			}
		}
	}
	return NULL;
}

static void run_readers(const struct vc_timerpage_abi *p, double seconds,
			struct reader_ctx *r, int n, bool check_accuracy)
{
	atomic_bool stop = false;
	pthread_t t[4];
	for (int i = 0; i < n; i++) {
		r[i] = (struct reader_ctx){.p = p, .ordered = i % 2, .stop = &stop,
					   .check_accuracy = check_accuracy};
		cr_assert_eq(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
	}
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&stop, true);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/*
 * The writer is told a TSC frequency 0.5% too low, so the page runs fast and gets ahead
 * of the host clock, and may correct the rate by only 100 ppm per rebase, with a rebase
 * every millisecond: hundreds of rate changes while the page is ahead, the case where a
 * naive rebase (snap the base to the host clock) steps time backwards at every rebase.
 */
Test(monotonic, constant_recalibration_never_steps_back, .timeout = 60)
{
	uint64_t hz;
	cr_assert_eq(vc_timerpage_calibrate_tsc(&hz, NULL), 0);
	vc_timerpage *tp;
	VC_OPTS(vc_timerpage_opts, o, .tick_hz = 10000, .rebase_ms = 1, .max_slew_ppm = 100,
		.tsc_hz = hz - hz / 200, .flags = VC_TIMERPAGE_OPT_FORCE_TSC);
	cr_assert_eq(vc_timerpage_create(&tp, &page, sizeof(page), &o), 0);
	cr_assert_eq(vc_timerpage_start(tp), 0);
	struct reader_ctx r[2];
	run_readers(&page, th_stress_seconds(1.0), r, 2, false);
	struct vc_timerpage_stats st;
	vc_timerpage_get_stats(tp, &st, sizeof st);
	vc_timerpage_destroy(tp);
	cr_assert_gt(st.rebases, 100, "only %lu rebases", st.rebases);
	cr_assert_lt(st.last_offset_ns, 0, "the page never got ahead: the test lost its edge");
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(r[i].backwards, 0, "reader %d stepped back %lu times", i,
			     r[i].backwards);
		cr_assert_eq(r[i].errors, 0);
		cr_assert_gt(r[i].reads, 1000);
	}
}

/* TSC mode: readers extrapolate, so the page stays near the clock however late the tick
 * thread runs; 2 ms is a correctness bound (a lost rebase or a wrong scale is off by
 * far more), loose enough for a noisy VM. */
#define TSC_MODE_BOUND_NS 2000000u

/*
 * Whether the readers' errors lie inside the bound of the mode the page is in.
 * TSC mode: within TSC_MODE_BOUND_NS either way. Tick-only mode: never ahead of the clock
 * (the page carries a clock reading taken before it was published), and behind by no
 * more than the writer's own record of the oldest its page got before the next
 * publication replaced it: the documented bound, whatever the scheduler did.
 */
static bool within_mode_bound(bool tsc_mode, const struct vc_timerpage_stats *st,
			      const struct reader_ctx *r, char *why, size_t len)
{
	uint64_t ahead_bound = tsc_mode ? TSC_MODE_BOUND_NS : 0;
	uint64_t behind_bound = tsc_mode ? TSC_MODE_BOUND_NS : st->max_staleness_ns;
	snprintf(why, len, "%s mode: %lu ns ahead (bound %lu), %lu ns behind (bound %lu)",
		 tsc_mode ? "TSC" : "tick-only", r->max_ahead_ns, ahead_bound, r->max_behind_ns,
		 behind_bound);
	return r->max_ahead_ns <= ahead_bound && r->max_behind_ns <= behind_bound;
}

/*
 * Full contention: two readers spin on the two cores (one unordered, one ordered) while
 * the tick thread runs at 10 kHz for @seconds. Returns the writer's stats; the readers'
 * results are in @r. A last update after the readers stop closes the staleness record
 * (the final value's replacement is visible after every read).
 */
static void stress_page(uint32_t flags, uint32_t tick_hz, uint64_t tsc_hz, uint32_t slew_ppm,
			uint32_t rebase_ms, double seconds, struct reader_ctx *r,
			struct vc_timerpage_stats *st)
{
	vc_timerpage *tp;
	VC_OPTS(vc_timerpage_opts, o, .tick_hz = tick_hz, .flags = flags, .tsc_hz = tsc_hz,
		.max_slew_ppm = slew_ppm, .rebase_ms = rebase_ms);
	cr_assert_eq(vc_timerpage_create(&tp, &page, sizeof(page), &o), 0);
	cr_assert_eq(vc_timerpage_start(tp), 0);
	run_readers(&page, seconds, r, 2, true);
	cr_assert_eq(vc_timerpage_stop(tp), 0);
	cr_assert_eq(vc_timerpage_update(tp), 0);
	cr_assert_eq(vc_timerpage_get_stats(tp, st, sizeof *st), 0);
	vc_timerpage_destroy(tp);
}

static void check_stress(const char *what, uint32_t flags)
{
	struct reader_ctx r[2];
	struct vc_timerpage_stats st;
	stress_page(flags, 10000, 0, 0, 0, th_stress_seconds(3.0), r, &st);
	bool tsc_mode = st.tsc_stable;
	cr_log_info("%s: %s (%s), max staleness %lu ns", what, tsc_mode ? "TSC" : "tick-only",
		    vc_timerpage_mode_reason_str(st.mode_reason), st.max_staleness_ns);
	for (int i = 0; i < 2; i++) {
		char why[160];
		bool ok = within_mode_bound(tsc_mode, &st, &r[i], why, sizeof(why));
		cr_log_info("reader %d (%s): %lu reads, %s", i, r[i].ordered ? "ordered" : "unordered",
			    r[i].reads, why);
		cr_assert_eq(r[i].backwards, 0, "reader %d stepped back", i);
		cr_assert_eq(r[i].errors, 0);
		cr_assert_gt(r[i].reads, 0);
		cr_assert(ok, "%s: reader %d outside the bound of its mode: %s", what, i, why);
	}
	cr_assert_gt(st.ticks, 1, "the tick thread never ticked");
}

/* The page in whatever mode this machine's evidence gives it. */
Test(stress, writer_10khz_two_readers_in_this_machines_mode, .timeout = 120)
{
	check_stress("machine's decision", 0);
}

/* Both modes on any machine: tick-only is always possible; TSC mode is forced where the
 * CPU reports an invariant TSC (on a machine without one, TSC mode would be wrong). */
Test(stress, writer_10khz_two_readers_tick_only, .timeout = 120)
{
	check_stress("tick-only (NO_TSC)", VC_TIMERPAGE_OPT_NO_TSC);
}

Test(stress, writer_10khz_two_readers_tsc, .timeout = 120)
{
	if (!vc__tsc_machine()->invariant)
		cr_skip_test("the CPU reports no invariant TSC: TSC mode is not right here");
	check_stress("TSC (FORCE_TSC)", VC_TIMERPAGE_OPT_FORCE_TSC);
}

/*
 * Negative controls: the wrong mode decision fails the mode's bound. A tick-only page
 * (100 Hz) judged as if readers extrapolated; and TSC mode forced on a TSC that is not
 * what the writer believes (its rate 2% off, as an unsteady TSC would be, corrected by
 * at most 1 ppm per hourly rebase), judged by the TSC-mode bound.
 */
Test(stress, wrong_mode_decisions_fail_the_bound, .timeout = 120)
{
	struct reader_ctx r[2];
	struct vc_timerpage_stats st;
	char why[160];
	double seconds = th_stress_seconds(1.0);

	stress_page(VC_TIMERPAGE_OPT_NO_TSC, 100, 0, 0, 0, seconds, r, &st);
	cr_assert(within_mode_bound(false, &st, &r[0], why, sizeof(why)), "%s", why);
	cr_assert_not(within_mode_bound(true, &st, &r[0], why, sizeof(why)),
		      "a 100 Hz tick-only page met the TSC-mode bound: %s", why);

	uint64_t hz;
	cr_assert_eq(vc_timerpage_calibrate_tsc(&hz, NULL), 0);
	stress_page(VC_TIMERPAGE_OPT_FORCE_TSC, 1000, hz - hz / 50, 1, 3600u * 1000u, seconds, r,
		    &st);
	cr_assert_not(within_mode_bound(true, &st, &r[0], why, sizeof(why)),
		      "a page extrapolating at the wrong rate met the TSC-mode bound: %s", why);
}

/* ---- the TSC decision, driven with any evidence ---- */

static struct vc__tsc_evidence good_kvm_clock(void)
{
	struct vc__tsc_evidence ev = {.invariant = true, .clocksource = "kvm-clock",
				      .measured = true, .cpus = 2, .max_skew_ns = 200,
				      .rate_change_ppm = 5};
	return ev;
}

Test(decision, evidence_decides_the_mode)
{
	struct vc__tsc_evidence ev = good_kvm_clock();
	cr_assert_eq(vc__tsc_decide(&ev), VC_TIMERPAGE_MODE_TSC_MEASURED,
		     "kvm-clock host with a TSC in step (the cloud VM case)");
	strcpy(ev.clocksource, "hyperv_clocksource_tsc_page");
	cr_assert_eq(vc__tsc_decide(&ev), VC_TIMERPAGE_MODE_TSC_MEASURED);
	strcpy(ev.clocksource, "xen");
	cr_assert_eq(vc__tsc_decide(&ev), VC_TIMERPAGE_MODE_TSC_MEASURED);
	ev.clocksource[0] = '\0';
	cr_assert_eq(vc__tsc_decide(&ev), VC_TIMERPAGE_MODE_TSC_MEASURED,
		     "an unreadable clocksource leaves it to the measurement");

	ev = good_kvm_clock();
	strcpy(ev.clocksource, "tsc");
	ev.measured = false;
	cr_assert_eq(vc__tsc_decide(&ev), VC_TIMERPAGE_MODE_TSC_KERNEL);

	ev = good_kvm_clock();
	ev.invariant = false;
	cr_assert_eq(vc__tsc_decide(&ev), VC_TIMERPAGE_MODE_TICK_NOT_INVARIANT);
	strcpy(ev.clocksource, "tsc");
	cr_assert_eq(vc__tsc_decide(&ev), VC_TIMERPAGE_MODE_TICK_NOT_INVARIANT,
		     "no invariant bit: not even the kernel's tsc clocksource overrules it");

	ev = good_kvm_clock();
	strcpy(ev.clocksource, "hpet");
	cr_assert_eq(vc__tsc_decide(&ev), VC_TIMERPAGE_MODE_TICK_KERNEL_REJECTED);
	strcpy(ev.clocksource, "acpi_pm");
	cr_assert_eq(vc__tsc_decide(&ev), VC_TIMERPAGE_MODE_TICK_KERNEL_REJECTED);

	ev = good_kvm_clock();
	ev.measured = false;
	cr_assert_eq(vc__tsc_decide(&ev), VC_TIMERPAGE_MODE_TICK_UNMEASURED);

	ev = good_kvm_clock();
	ev.max_skew_ns = VC__TSC_MAX_SKEW_NS;
	cr_assert_eq(vc__tsc_decide(&ev), VC_TIMERPAGE_MODE_TSC_MEASURED, "at the bound");
	ev.max_skew_ns = VC__TSC_MAX_SKEW_NS + 1;
	cr_assert_eq(vc__tsc_decide(&ev), VC_TIMERPAGE_MODE_TICK_SKEWED);

	ev = good_kvm_clock();
	ev.rate_change_ppm = VC__TSC_MAX_RATE_CHANGE_PPM + 1;
	cr_assert_eq(vc__tsc_decide(&ev), VC_TIMERPAGE_MODE_TICK_UNSTEADY);

	for (uint32_t m = VC_TIMERPAGE_MODE_TSC_KERNEL; m <= VC_TIMERPAGE_MODE_TICK_UNSTEADY; m++)
		cr_assert(strncmp(vc_timerpage_mode_reason_str(m), m <= VC_TIMERPAGE_MODE_TSC_FORCED
						? "TSC: " : "tick only: ", 5) == 0);
	cr_assert_str_eq(vc_timerpage_mode_reason_str(999), "unknown reason");
}

/* The measurement on this machine: every allowed CPU compared. Where the kernel itself
 * runs on the TSC it has checked the CPUs are in step, so the measurement must agree. */
Test(decision, this_machine_is_measured_plausibly)
{
	struct vc__tsc_evidence ev;
	vc__tsc_gather(&ev, true);
	cr_log_info("this machine: invariant %d, clocksource '%s', %u CPUs, skew %lu ns, "
		    "rate change %.1f ppm", ev.invariant, ev.clocksource, ev.cpus,
		    ev.max_skew_ns, ev.rate_change_ppm);
	cr_assert(ev.measured, "the measurement failed");
	cr_assert_geq(ev.cpus, 1);
	cr_assert_leq(ev.cpus, (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	if (ev.invariant && strcmp(ev.clocksource, "tsc") == 0) {
		cr_assert_leq(ev.max_skew_ns, VC__TSC_MAX_SKEW_NS);
		cr_assert_leq(ev.rate_change_ppm, VC__TSC_MAX_RATE_CHANGE_PPM);
	}
}

/* Each writer states its mode in the page and its reason in the stats. */
Test(decision, the_page_and_stats_say_which_mode)
{
	static const struct {
		uint32_t flags;
		bool tsc;
		uint32_t reason;
	} cases[] = {
		{VC_TIMERPAGE_OPT_NO_TSC, false, VC_TIMERPAGE_MODE_TICK_DISABLED},
		{VC_TIMERPAGE_OPT_FORCE_TSC, true, VC_TIMERPAGE_MODE_TSC_FORCED},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vc_timerpage *tp;
		VC_OPTS(vc_timerpage_opts, o, .flags = cases[i].flags);
		cr_assert_eq(vc_timerpage_create(&tp, &page, sizeof(page), &o), 0);
		struct vc_timerpage_stats st;
		cr_assert_eq(vc_timerpage_get_stats(tp, &st, sizeof st), 0);
		cr_assert_eq(st.mode_reason, cases[i].reason);
		cr_assert_eq(st.tsc_stable, cases[i].tsc);
		cr_assert_eq(!!(page.flags & VC_TIMERPAGE_F_TSC_STABLE), cases[i].tsc);
		vc_timerpage_destroy(tp);
	}
	vc_timerpage *tp;
	cr_assert_eq(vc_timerpage_create(&tp, &page, sizeof(page), NULL), 0);
	struct vc_timerpage_stats st;
	cr_assert_eq(vc_timerpage_get_stats(tp, &st, sizeof st), 0);
	cr_assert_eq(st.mode_reason, vc__tsc_decide(vc__tsc_machine()));
	cr_assert_eq(!!(page.flags & VC_TIMERPAGE_F_TSC_STABLE),
		     st.mode_reason <= VC_TIMERPAGE_MODE_TSC_FORCED);
	vc_timerpage_destroy(tp);
}

/*
 * Ordered reads order across threads: a timestamp taken after observing another thread's
 * published timestamp is never earlier than it.
 */
static _Atomic uint64_t baton;
static atomic_bool baton_stop;

static void *baton_passer(void *arg)
{
	const struct vc_timerpage_abi *p = arg;
	while (!atomic_load_explicit(&baton_stop, memory_order_relaxed)) {
		uint64_t ns;
		if (vc_timerpage_abi_read_ordered(&ns, p) == 0)
			atomic_store_explicit(&baton, ns, memory_order_release);
	}
	return NULL;
}

Test(stress, ordered_reads_order_across_threads, .timeout = 60)
{
	vc_timerpage *tp;
	VC_OPTS(vc_timerpage_opts, o, .tick_hz = 10000, .rebase_ms = 1);
	cr_assert_eq(vc_timerpage_create(&tp, &page, sizeof(page), &o), 0);
	cr_assert_eq(vc_timerpage_start(tp), 0);
	pthread_t t;
	atomic_store(&baton_stop, false);
	cr_assert_eq(pthread_create(&t, NULL, baton_passer, &page), 0);
	uint64_t end = th_clock_ns(CLOCK_MONOTONIC) + (uint64_t)(th_stress_seconds(1.0) * 1e9);
	uint64_t checks = 0, inversions = 0;
	while (th_clock_ns(CLOCK_MONOTONIC) < end) {
		for (int i = 0; i < 1000; i++) {
			uint64_t seen = atomic_load_explicit(&baton, memory_order_acquire), ns;
			if (vc_timerpage_abi_read_ordered(&ns, &page))
				continue;
			checks++;
			if (ns < seen)
				inversions++;
		}
	}
	atomic_store(&baton_stop, true);
	pthread_join(t, NULL);
	vc_timerpage_destroy(tp);
	cr_assert_gt(checks, 10000);
	cr_assert_eq(inversions, 0, "%lu of %lu reads were earlier than a timestamp already seen",
		     inversions, checks);
}

/* The reader in another process, over the memfd, mapped read-only. */
Test(stress, reader_in_another_process_over_memfd, .timeout = 120)
{
	vc_timerpage *tp;
	VC_OPTS(vc_timerpage_opts, o, .tick_hz = 10000);
	cr_assert_eq(vc_timerpage_create_memfd(&tp, &o), 0);
	int fd = vc_timerpage_fd(tp);
	double seconds = th_stress_seconds(2.0);
	cr_assert_eq(vc_timerpage_start(tp), 0);

	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		const struct vc_timerpage_abi *p =
			mmap(NULL, VC_TIMERPAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED || vc_timerpage_check(p, VC_TIMERPAGE_SIZE))
			_exit(10);
		uint64_t last = 0, ticks0 = vc_timerpage_abi_ticks(p);
		uint64_t end = th_clock_ns(CLOCK_MONOTONIC) + (uint64_t)(seconds * 1e9);
		unsigned long reads = 0;
		while (th_clock_ns(CLOCK_MONOTONIC) < end) {
			for (int i = 0; i < 1000; i++, reads++) {
				uint64_t ns;
				if (vc_timerpage_abi_read(&ns, p))
					_exit(11);
				if (ns < last)
					_exit(12);
				last = ns;
			}
		}
		if (vc_timerpage_abi_ticks(p) <= ticks0 || reads < 1000)
			_exit(13); /* the writer's ticks never reached this process */
		_exit(0);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	vc_timerpage_destroy(tp);
	cr_assert(WIFEXITED(status), "reader process died (signal %d)", WTERMSIG(status));
	cr_assert_eq(WEXITSTATUS(status), 0,
		     "reader process failed: 10 bad page, 11 read error, 12 backwards, 13 no ticks");
}

/* ---- one page shared through a file (vc_timerpage_create_shared) ---- */

static void th_scratch_begin_share(void)
{
	th_scratch_begin("tpshare");
}

/* A writer in a child process: opens @path, ticks at 1 kHz, says "ready" on @ready_fd and
 * waits to be killed. Exits 20+ on a failure the parent reports. */
static pid_t spawn_shared_writer(const char *path)
{
	int pipefd[2];
	cr_assert_eq(pipe(pipefd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(pipefd[0]);
		vc_timerpage *tp;
		if (vc_timerpage_create_shared(&tp, path, NULL, 1000))
			_exit(20);
		if (vc_timerpage_is_writer(tp) != 1)
			_exit(21);
		if (vc_timerpage_start(tp))
			_exit(22);
		char c = 'r';
		if (write(pipefd[1], &c, 1) != 1)
			_exit(23);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	char c;
	cr_assert_eq(read(pipefd[0], &c, 1), 1, "the writer process failed before publishing");
	close(pipefd[0]);
	return pid;
}

static void kill_and_reap(pid_t pid)
{
	int ws;
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	cr_assert(WIFSIGNALED(ws), "the writer process ended by itself: status %d", ws);
}

Test(share, first_opener_writes_later_ones_read, .init = th_scratch_begin_share,
     .fini = th_scratch_end)
{
	const char *path = th_path("timer");
	pid_t writer = spawn_shared_writer(path);
	vc_timerpage *rd;
	cr_assert_eq(vc_timerpage_create_shared(&rd, path, NULL, 1000), 0, "%s", th_last_log);
	cr_assert_eq(vc_timerpage_is_writer(rd), 0);
	cr_assert_eq(vc_timerpage_update(rd), -EROFS);
	cr_assert_eq(vc_timerpage_start(rd), -EROFS);
	cr_assert_geq(vc_timerpage_fd(rd), 0);
	const struct vc_timerpage_abi *p = vc_timerpage_page(rd);
	/* The writer's ticks reach this process; its time is the host's clock. */
	uint64_t t0 = vc_timerpage_ticks(p), start = th_clock_ns(CLOCK_MONOTONIC);
	while (vc_timerpage_ticks(p) < t0 + 5 && th_clock_ns(CLOCK_MONOTONIC) - start < 30000000000ull)
		usleep(1000);
	cr_assert_geq(vc_timerpage_ticks(p), t0 + 5, "no ticks from the writer process");
	uint64_t h0 = th_clock_ns(CLOCK_MONOTONIC), ns;
	cr_assert_eq(vc_timerpage_read(&ns, p), 0);
	uint64_t h1 = th_clock_ns(CLOCK_MONOTONIC);
	/* TSC mode: within the library's 2 ms; tick mode: at most a (starved) tick behind. */
	cr_assert(ns + 200000000ull >= h0 && ns <= h1 + 2000000ull, "page %lu, host %lu..%lu", ns,
		  h0, h1);
	/* A third process reads as well; the page is not writable through a reader. */
	vc_timerpage *rd2;
	cr_assert_eq(vc_timerpage_create_shared(&rd2, path, NULL, 1000), 0);
	cr_assert_eq(vc_timerpage_is_writer(rd2), 0);
	vc_timerpage_destroy(rd2);
	vc_timerpage_destroy(rd);
	kill_and_reap(writer);
	cr_assert_eq(vc_timerpage_is_writer(NULL), -EINVAL);
}

/* The seed's failure case: the writing VM dies. Readers keep time that never goes back,
 * the tick counter says the page is stale, and the next opener takes the page over. */
Test(share, killed_writer_leaves_a_stale_page_and_is_replaced, .init = th_scratch_begin_share,
     .fini = th_scratch_end, .timeout = 60)
{
	const char *path = th_path("timer");
	pid_t writer = spawn_shared_writer(path);
	vc_timerpage *rd;
	cr_assert_eq(vc_timerpage_create_shared(&rd, path, NULL, 1000), 0, "%s", th_last_log);
	const struct vc_timerpage_abi *p = vc_timerpage_page(rd);
	struct vc_timerpage_abi_watch w = {0};
	uint64_t last = 0, ns;
	cr_assert_eq(vc_timerpage_stale(p, &w, 50), 0, "a fresh watch judges nothing");
	/* Live: the counter moves, so the page is never stale, however often it is asked. */
	for (int i = 0; i < 100; i++) {
		usleep(1000);
		cr_assert_eq(vc_timerpage_read(&ns, p), 0);
		cr_assert_geq(ns, last);
		last = ns;
		/* A generous bound: a starved writer must not count as dead. */
		cr_assert_eq(vc_timerpage_stale(p, &w, VC_TIMERPAGE_STALE_MS), 0);
	}
	kill_and_reap(writer);
	uint64_t ticks_at_death = vc_timerpage_ticks(p);
	/* Dead: reads still succeed and never go back; the watch says so once the counter has
	 * stood still for the bound (counted from when this watch saw it last). */
	w = (struct vc_timerpage_abi_watch){0};
	cr_assert_eq(vc_timerpage_stale(p, &w, 50), 0);
	uint64_t start = th_clock_ns(CLOCK_MONOTONIC);
	int stale = 0;
	while (!stale && th_clock_ns(CLOCK_MONOTONIC) - start < 5000000000ull) {
		usleep(5000);
		cr_assert_eq(vc_timerpage_read(&ns, p), 0);
		cr_assert_geq(ns, last, "time went back after the writer died");
		last = ns;
		stale = vc_timerpage_stale(p, &w, 50);
	}
	uint64_t waited_ms = (th_clock_ns(CLOCK_MONOTONIC) - start) / 1000000;
	cr_assert_eq(stale, 1, "the page of a killed writer never became stale");
	cr_assert_geq(waited_ms, 50, "stale after %lu ms, before the 50 ms bound", waited_ms);
	cr_assert_eq(vc_timerpage_ticks(p), ticks_at_death);

	/* The next opener gets the lock the kernel released, and takes the page over: the
	 * readers see the counter move on and time continue from where it was. */
	vc_timerpage *heir;
	cr_assert_eq(vc_timerpage_create_shared(&heir, path, NULL, 1000), 0, "%s", th_last_log);
	cr_assert_eq(vc_timerpage_is_writer(heir), 1);
	cr_assert_eq(vc_timerpage_update(heir), 0);
	cr_assert_gt(vc_timerpage_ticks(p), ticks_at_death, "the tick count restarted");
	cr_assert_eq(vc_timerpage_read(&ns, p), 0);
	cr_assert_geq(ns, last, "the heir's page reads earlier than the dead writer's did");
	cr_assert_eq(vc_timerpage_stale(p, &w, 50), 0, "the heir ticked: fresh again");
	/* The heir ends cleanly: readers are told the page is gone. */
	vc_timerpage_destroy(heir);
	cr_assert_eq(vc_timerpage_read(&ns, p), -ENODATA);
	cr_assert_eq(vc_timerpage_stale(p, &w, 50), 1);
	vc_timerpage_destroy(rd);
}

/* A takeover under readers' feet: an old page running ahead of the clock (its writer's
 * rate was off) is continued from its own reading, never from the lower host clock. */
Test(share, takeover_never_steps_back_from_a_page_ahead, .init = th_scratch_begin_share,
     .fini = th_scratch_end)
{
	const char *path = th_path("timer");
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* A writer whose page runs 1 s ahead, gone without a word (as if killed). */
		vc_timerpage *tp;
		if (vc_timerpage_create_shared(&tp, path, NULL, 0) || vc_timerpage_is_writer(tp) != 1)
			_exit(1);
		struct vc_timerpage_abi *w = (struct vc_timerpage_abi *)vc_timerpage_page(tp);
		w->base_ns += 1000000000ull;
		_exit(0);
	}
	int ws;
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "the first writer failed");
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	const struct vc_timerpage_abi *p = mmap(NULL, VC_TIMERPAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	uint64_t ahead, ticks = vc_timerpage_ticks(p), ns;
	cr_assert_eq(vc_timerpage_read(&ahead, p), 0);
	cr_assert_gt(ahead, th_clock_ns(CLOCK_MONOTONIC) + 500000000ull);

	vc_timerpage *heir;
	cr_assert_eq(vc_timerpage_create_shared(&heir, path, NULL, 0), 0, "%s", th_last_log);
	cr_assert_eq(vc_timerpage_is_writer(heir), 1);
	cr_assert_eq(vc_timerpage_read(&ns, p), 0);
	cr_assert_geq(ns, ahead, "the heir stepped back from %lu to %lu", ahead, ns);
	cr_assert_eq(vc_timerpage_update(heir), 0);
	cr_assert_eq(vc_timerpage_ticks(p), ticks + 1, "the tick count did not continue");
	vc_timerpage_destroy(heir);
	munmap((void *)p, VC_TIMERPAGE_SIZE);
	close(fd);
}

/* What is not a timer page is never made one: nothing at the path is lost. */
Test(share, other_files_are_refused_untouched, .init = th_scratch_begin_share,
     .fini = th_scratch_end)
{
	vc_timerpage *tp;
	const char *data = th_path("data");
	FILE *f = fopen(data, "w");
	cr_assert(f);
	fputs("someone's notes\n", f);
	fclose(f);
	cr_assert_eq(vc_timerpage_create_shared(&tp, data, NULL, 0), -EEXIST);
	cr_assert(strstr(th_last_log, "refusing to overwrite"), "%s", th_last_log);
	char buf[64] = {0};
	f = fopen(data, "r");
	cr_assert(f && fgets(buf, sizeof(buf), f));
	fclose(f);
	cr_assert_str_eq(buf, "someone's notes\n");

	/* A page-sized file of other bytes: refused too. */
	const char *other = th_path("other");
	int fd = open(other, O_CREAT | O_WRONLY, 0644);
	char junk[VC_TIMERPAGE_SIZE];
	memset(junk, 0xa5, sizeof(junk));
	cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	cr_assert_eq(vc_timerpage_create_shared(&tp, other, NULL, 0), -EEXIST);

	/* A FIFO (and, by the same check, a device node) is not a page's home. */
	const char *fifo = th_path("fifo");
	cr_assert_eq(mkfifo(fifo, 0644), 0);
	cr_assert_eq(vc_timerpage_create_shared(&tp, fifo, NULL, 0), -EINVAL);
	cr_assert(strstr(th_last_log, "not a regular file"), "%s", th_last_log);
	cr_assert_eq(vc_timerpage_create_shared(&tp, "/dev/null", NULL, 0), -EINVAL);
	cr_assert_eq(vc_timerpage_create_shared(&tp, "", NULL, 0), -EINVAL);
	cr_assert_eq(vc_timerpage_create_shared(NULL, fifo, NULL, 0), -EINVAL);
	cr_assert_eq(vc_timerpage_create_shared(&tp, th_path("no/such/dir"), NULL, 0), -ENOENT);
}

/* A reader whose writer holds the lock but never publishes gives up after its wait. */
Test(share, reader_waits_for_a_writer_then_gives_up, .init = th_scratch_begin_share,
     .fini = th_scratch_end)
{
	const char *path = th_path("timer");
	int fd = open(path, O_CREAT | O_RDWR, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX), 0); /* a "writer" still calibrating */
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		vc_timerpage *tp;
		_exit(vc_timerpage_create_shared(&tp, path, NULL, 100) == -ETIMEDOUT ? 0 : 1);
	}
	int ws;
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "an empty locked file did not time out");
	/* Sized but still all zeros: same verdict. */
	cr_assert_eq(ftruncate(fd, VC_TIMERPAGE_SIZE), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		vc_timerpage *tp;
		_exit(vc_timerpage_create_shared(&tp, path, NULL, 100) == -ETIMEDOUT ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "a zero page did not time out");
	close(fd);
	/* Unlocked, the zero page is ours to format. */
	vc_timerpage *tp;
	cr_assert_eq(vc_timerpage_create_shared(&tp, path, NULL, 0), 0, "%s", th_last_log);
	cr_assert_eq(vc_timerpage_is_writer(tp), 1);
	cr_assert_eq(vc_timerpage_check(vc_timerpage_page(tp), VC_TIMERPAGE_SIZE), 0);
	vc_timerpage_destroy(tp);
}

/* The staleness rule itself, on a page this test ticks by hand. */
Test(share, staleness_rule)
{
	vc_timerpage *tp;
	VC_OPTS(vc_timerpage_opts, o, .tick_hz = 1000);
	cr_assert_eq(vc_timerpage_create(&tp, &page, sizeof(page), &o), 0);
	struct vc_timerpage_abi_watch w = {0};
	cr_assert_eq(vc_timerpage_stale(&page, &w, 10), 0, "first call only arms");
	usleep(30000);
	cr_assert_eq(vc_timerpage_stale(&page, &w, 10), 1, "30 ms without a tick, bound 10 ms");
	cr_assert_eq(vc_timerpage_update(tp), 0);
	cr_assert_eq(vc_timerpage_stale(&page, &w, 10), 0, "a tick makes it fresh");
	cr_assert_eq(vc_timerpage_stale(&page, &w, 1000), 0);
	/* Ticked by hand (no period): the counter says nothing. */
	page.tick_period_ns = 0;
	usleep(30000);
	cr_assert_eq(vc_timerpage_stale(&page, &w, 10), 0);
	vc_timerpage_destroy(tp);
	cr_assert_eq(vc_timerpage_stale(&page, &w, 10), 1, "an invalid page is gone");
	memset(&page, 0, sizeof(page));
	cr_assert_eq(vc_timerpage_stale(&page, &w, 10), 1, "not a page at all");
}
