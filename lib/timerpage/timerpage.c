// SPDX-License-Identifier: MIT
// The timer-page writer: formats the page, publishes time under the seqlock, and keeps
// the page in step with the host clock by slewing the rate at rebases, never stepping back.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <fcntl.h>

#include "timerpage-internal.h"
#include "util/compiler.h"
#include "util/log.h"
#include "util/opts.h"

_Static_assert(VC_TIMERPAGE_ERR_BADMSG == -EBADMSG, "freestanding error codes match errno");
_Static_assert(VC_TIMERPAGE_ERR_NODATA == -ENODATA, "freestanding error codes match errno");
_Static_assert(VC_TIMERPAGE_ERR_TIMEDOUT == -ETIMEDOUT, "freestanding error codes match errno");

#define DEFAULT_TICK_HZ 1000u
#define MAX_TICK_HZ 100000u
#define DEFAULT_REBASE_MS 1000u
#define DEFAULT_SLEW_PPM 500u
#define MAX_SLEW_PPM 10000u
/* A page this far behind the host clock steps forward instead of slewing for seconds. */
#define STEP_THRESHOLD_NS 1000000.0
/* An offset is worked off over this many rebase intervals. */
#define CORRECTION_INTERVALS 2.0
/* The first rebase comes this soon, then intervals grow 4x up to opts.rebase_ms: the
 * calibrated rate is the TSC's against CLOCK_MONOTONIC_RAW (or CPUID's nominal one),
 * while the followed clock may be NTP-slewed by tens of ppm, so the page locks on
 * within ~50 ms instead of drifting until the first full interval. */
#define FIRST_INTERVAL_MS 10

#define STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

static void write_begin(struct vc_timerpage_abi *p)
{
	STORE(p->seq, LOAD(p->seq) + 1);
	/* Full fence: the odd seq is visible to readers before any field changes and before
	 * the writer samples the rebase TSC. Pairs with the readers' acquire fence before
	 * their second seq load (timerpage_abi.h). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void write_end(struct vc_timerpage_abi *p)
{
	/* Release: every field store is visible before seq turns even. Pairs with the
	 * readers' acquire load of seq at the top of their loop. */
	__atomic_store_n(&p->seq, LOAD(p->seq) + 1, __ATOMIC_RELEASE);
}

void vc__timerpage_extrapolate(const struct vc_timerpage_abi *p, uint64_t tsc, uint64_t *ns,
			       uint32_t *frac)
{
	uint64_t d = tsc - LOAD(p->base_tsc);
	int32_t shift = LOAD(p->tsc_shift);
	uint32_t mul = LOAD(p->tsc_mul);
	uint64_t base_ns = LOAD(p->base_ns);

	if ((int64_t)d < 0)
		d = 0;
	if (shift >= 0) {
		if (d > (UINT64_MAX >> shift)) {
			*ns = UINT64_MAX;
			*frac = 0;
			return;
		}
		d <<= shift;
	} else {
		d >>= -shift;
	}
	/* The reader's formula, keeping the low 32 bits it discards: a rebase continues
	 * from the exact old value, so no reader sees the sub-nanosecond remainder lost. */
	uint64_t lo = (d & 0xffffffffu) * mul + LOAD(p->base_frac);
	uint64_t whole = (d >> 32) * mul + (lo >> 32);
	*frac = (uint32_t)lo;
	*ns = whole > UINT64_MAX - base_ns ? UINT64_MAX : base_ns + whole;
}

void vc__timerpage_scale_for(double rate, uint32_t *mul, int32_t *shift)
{
	/* ns = ((d << shift) * mul) >> 32, so rate = mul * 2^shift / 2^32 with mul < 2^32.
	 * TSCs above 1 GHz need shift 0 and keep full TSC resolution. */
	int32_t s = 0;
	while (s < 63 && rate >= ldexp(1.0, s))
		s++;
	double m = ldexp(rate, 32 - s);
	if (m >= 4294967295.5) {
		s++;
		m = ldexp(rate, 32 - s);
	}
	uint64_t r = (uint64_t)llround(m);
	*mul = r ? (uint32_t)r : 1;
	*shift = s;
}

/* Rebases at the current TSC from the old parameters' own extrapolation (never earlier),
 * plus an optional forward step, with a new rate. */
static void rebase(vc_timerpage *tp, double rate, uint64_t step_ns)
{
	struct vc_timerpage_abi *p = tp->page;
	uint32_t mul;
	int32_t shift;
	vc__timerpage_scale_for(rate, &mul, &shift);

	write_begin(p);
	uint64_t tsc = vc__tsc_ordered();
	uint64_t ns;
	uint32_t frac;
	vc__timerpage_extrapolate(p, tsc, &ns, &frac);
	STORE(p->base_tsc, tsc);
	STORE(p->base_ns, ns + step_ns);
	STORE(p->base_frac, frac);
	STORE(p->tsc_mul, mul);
	STORE(p->tsc_shift, shift);
	STORE(p->tsc_hz, (uint64_t)(1e9 / rate + 0.5));
	STORE(p->rebase_count, LOAD(p->rebase_count) + 1);
	write_end(p);

	tp->rate = rate;
	tp->last_rebase_tsc = tsc;
	tp->stats.rebases++;
	tp->stats.tsc_hz = 1e9 / rate;
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Stable TSC: re-measure the host clock, estimate the rate over the window of past
 * samples (seconds, not one tick), and aim to cancel the offset over the next intervals. */
static void adjust(vc_timerpage *tp)
{
	struct vc__clock_pair now;
	if (vc__sample_pair(tp->clock, tp->bracket_limit, &now, &tp->stats.bracket_retries))
		return;

	uint64_t page_ns;
	uint32_t frac;
	vc__timerpage_extrapolate(tp->page, now.tsc, &page_ns, &frac);
	double offset = (double)(int64_t)(now.ns - page_ns) - ldexp((double)frac, -32);

	const struct vc__clock_pair *old =
		&tp->window[tp->window_len < VC__RATE_WINDOW ? 0 : tp->window_next];
	double est = tp->rate;
	if (now.tsc > old->tsc && now.ns > old->ns)
		est = (double)(now.ns - old->ns) / (double)(now.tsc - old->tsc);
	tp->window[tp->window_next] = now;
	tp->window_next = (tp->window_next + 1) % VC__RATE_WINDOW;
	if (tp->window_len < VC__RATE_WINDOW)
		tp->window_len++;

	uint64_t step = 0;
	tp->stats.last_offset_ns = (int64_t)offset;
	if (offset > STEP_THRESHOLD_NS) {
		step = (uint64_t)offset;
		offset -= (double)step;
		tp->stats.forward_steps++;
	}
	double slew = tp->opts.max_slew_ppm * 1e-6;
	double horizon_ns = CORRECTION_INTERVALS * (double)tp->interval_cycles * tp->rate;
	tp->interval_cycles = tp->interval_cycles * 4 < tp->rebase_cycles ? tp->interval_cycles * 4
									   : tp->rebase_cycles;
	double rate = est * (1 + clamp(offset / horizon_ns, -slew, slew));
	/* Bounded change per rebase, and always a positive rate. */
	rate = clamp(rate, tp->rate * (1 - slew), tp->rate * (1 + slew));
	rebase(tp, rate, step);
}

/* Without a trusted TSC the page carries the host clock at each tick. */
static void publish_tick_time(vc_timerpage *tp)
{
	struct vc__clock_pair now;
	if (vc__sample_pair(tp->clock, tp->bracket_limit, &now, &tp->stats.bracket_retries))
		return;
	struct vc_timerpage_abi *p = tp->page;
	write_begin(p);
	if (now.ns > LOAD(p->base_ns))
		STORE(p->base_ns, now.ns);
	STORE(p->base_tsc, now.tsc);
	write_end(p);
	/* The previous value stood until this one became visible: how far behind the clock a
	 * reader could have found the page (the mode's accuracy, as it happened). */
	struct timespec ts;
	clock_gettime(tp->clock, &ts);
	uint64_t visible = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (visible > tp->last_publish_ns &&
	    visible - tp->last_publish_ns > tp->stats.max_staleness_ns)
		tp->stats.max_staleness_ns = visible - tp->last_publish_ns;
	tp->last_publish_ns = LOAD(p->base_ns);
}

void vc__timerpage_tick(vc_timerpage *tp, uint64_t ticks)
{
	tp->ticks += ticks;
	tp->stats.ticks = tp->ticks;
	__atomic_store_n(&tp->page->tick_count, tp->ticks, __ATOMIC_RELEASE);
	if (!tp->tsc_stable)
		publish_tick_time(tp);
	else if (vc__tsc_ordered() - tp->last_rebase_tsc >= tp->interval_cycles)
		adjust(tp);
}

VC_API int vc_timerpage_update(vc_timerpage *tp)
{
	if (!tp)
		return -EINVAL;
	if (tp->reader)
		return -EROFS;
	pthread_mutex_lock(&tp->lock);
	vc__timerpage_tick(tp, 1);
	pthread_mutex_unlock(&tp->lock);
	return 0;
}

static int resolve_opts(struct vc_timerpage_opts *o, const struct vc_timerpage_opts *in)
{
	int rc = VC__OPTS_COPY(*o, in, vc_timerpage_opts, tsc_hz);
	if (rc)
		return rc;
	if (!o->tick_hz)
		o->tick_hz = DEFAULT_TICK_HZ;
	if (!o->clock_id)
		o->clock_id = VC_TIMERPAGE_CLOCK_MONOTONIC;
	if (!o->rebase_ms)
		o->rebase_ms = DEFAULT_REBASE_MS;
	if (!o->max_slew_ppm)
		o->max_slew_ppm = DEFAULT_SLEW_PPM;
	if (o->pad) {
		vc__err("struct vc_timerpage_opts: the reserved field is set: an option this "
			"library (%s) cannot honour", VC_VERSION_STRING);
		return -E2BIG;
	}
	if (o->tick_hz > MAX_TICK_HZ || o->max_slew_ppm > MAX_SLEW_PPM ||
	    o->rebase_ms > 3600u * 1000u ||
	    (o->flags & ~(VC_TIMERPAGE_OPT_NO_TSC | VC_TIMERPAGE_OPT_FORCE_TSC)) ||
	    (o->flags & VC_TIMERPAGE_OPT_NO_TSC && o->flags & VC_TIMERPAGE_OPT_FORCE_TSC)) {
		vc__err("timerpage: invalid options");
		return -EINVAL;
	}
	switch (o->clock_id) {
	case VC_TIMERPAGE_CLOCK_MONOTONIC:
	case VC_TIMERPAGE_CLOCK_MONOTONIC_RAW:
	case VC_TIMERPAGE_CLOCK_BOOTTIME:
		return 0;
	default:
		vc__err("timerpage: unknown clock_id %u", o->clock_id);
		return -EINVAL;
	}
}

/* What an existing page reads at @tsc, for a writer taking it over: its extrapolation in
 * TSC mode, else the last time it published (also when its writer stopped cleanly). */
static uint64_t inherited_time(const struct vc_timerpage_abi *p, uint64_t tsc)
{
	uint32_t flags = LOAD(p->flags);
	int32_t shift = LOAD(p->tsc_shift);
	if (!(flags & VC_TIMERPAGE_F_VALID))
		return LOAD(p->base_ns); /* a writer that stopped: its last time still stood */
	if (!(flags & VC_TIMERPAGE_F_TSC_STABLE) || shift > 63 || shift < -63)
		return LOAD(p->base_ns);
	uint64_t ns;
	uint32_t frac;
	vc__timerpage_extrapolate(p, tsc, &ns, &frac);
	return ns;
}

int vc__timerpage_init_writer(vc_timerpage *tp, void *page, const struct vc_timerpage_opts *opts)
{
	int rc = resolve_opts(&tp->opts, opts);
	if (rc)
		return rc;
	tp->page = page;
	tp->clock = (clockid_t)tp->opts.clock_id; /* the ABI values are Linux's clockids */

	const struct vc__tsc_evidence *ev = NULL;
	if (tp->opts.flags & VC_TIMERPAGE_OPT_NO_TSC) {
		tp->stats.mode_reason = VC_TIMERPAGE_MODE_TICK_DISABLED;
	} else if (tp->opts.flags & VC_TIMERPAGE_OPT_FORCE_TSC) {
		tp->stats.mode_reason = VC_TIMERPAGE_MODE_TSC_FORCED;
	} else {
		ev = vc__tsc_machine();
		tp->stats.mode_reason = vc__tsc_decide(ev);
	}
	tp->tsc_stable = tp->stats.mode_reason <= VC_TIMERPAGE_MODE_TSC_FORCED;
	if (ev && ev->measured) {
		tp->stats.tsc_skew_ns = ev->max_skew_ns;
		tp->stats.tsc_rate_change_ppm = ev->rate_change_ppm;
		tp->stats.tsc_cpus_checked = ev->cpus;
	}

	uint64_t hz = tp->opts.tsc_hz;
	tp->stats.tsc_source = VC_TIMERPAGE_TSC_CALLER;
	if (!hz) {
		rc = vc_timerpage_calibrate_tsc(&hz, &tp->stats.tsc_source);
		if (rc) {
			vc__err("timerpage: TSC calibration failed: %s", vc_strerror(rc));
			return rc;
		}
	}
	tp->rate = 1e9 / (double)hz;
	tp->stats.tsc_hz = tp->stats.calibrated_hz = (double)hz;
	tp->stats.tsc_stable = tp->tsc_stable;
	tp->bracket_limit = vc__bracket_floor(tp->clock) * 2 + 64;
	tp->rebase_cycles = (uint64_t)((double)hz * tp->opts.rebase_ms / 1000.0);
	tp->interval_cycles = (uint64_t)((double)hz * FIRST_INTERVAL_MS / 1000.0);
	if (tp->interval_cycles > tp->rebase_cycles)
		tp->interval_cycles = tp->rebase_cycles;

	struct vc__clock_pair now;
	rc = vc__sample_pair(tp->clock, tp->bracket_limit, &now, &tp->stats.bracket_retries);
	if (rc)
		return rc;
	tp->window[0] = now;
	tp->window_len = tp->window_next = 1;
	tp->last_rebase_tsc = now.tsc;
	tp->last_publish_ns = now.ns;

	struct vc_timerpage_abi *p = page;
	uint32_t mul;
	int32_t shift;
	vc__timerpage_scale_for(tp->rate, &mul, &shift);
	bool takeover = LOAD(p->magic) == VC_TIMERPAGE_MAGIC &&
			LOAD(p->version) == VC_TIMERPAGE_VERSION;
	if (takeover) {
		/* Readers may be attached: rewrite under the seqlock (odd even if the dead
		 * writer left it odd), keep the tick count climbing, and start no earlier
		 * than the old page reads now; a page ahead of the clock slews back. */
		STORE(p->seq, (LOAD(p->seq) | 1u) + 2u);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		uint64_t old = inherited_time(p, now.tsc);
		if (old > now.ns)
			now.ns = old;
		tp->ticks = LOAD(p->tick_count);
		tp->last_publish_ns = now.ns;
		memset(p->reserved, 0, sizeof(p->reserved));
		memset(p->pad1, 0, sizeof(p->pad1));
	} else {
		memset(p, 0, sizeof(*p));
	}
	STORE(p->page_size, VC_TIMERPAGE_SIZE);
	STORE(p->clock_id, tp->opts.clock_id);
	STORE(p->tick_period_ns, 1000000000u / tp->opts.tick_hz);
	STORE(p->base_tsc, now.tsc);
	STORE(p->base_ns, now.ns);
	STORE(p->base_frac, 0);
	STORE(p->tsc_mul, mul);
	STORE(p->tsc_shift, shift);
	STORE(p->tsc_hz, hz);
	STORE(p->rebase_count, takeover ? LOAD(p->rebase_count) + 1 : 0);
	STORE(p->flags, VC_TIMERPAGE_F_VALID | (tp->tsc_stable ? VC_TIMERPAGE_F_TSC_STABLE : 0));
	if (takeover) {
		write_end(p);
		return 0;
	}
	STORE(p->version, VC_TIMERPAGE_VERSION);
	/* Release: a reader that sees the magic sees a complete page. */
	__atomic_store_n(&p->magic, VC_TIMERPAGE_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

vc_timerpage *vc__timerpage_new(void)
{
	vc_timerpage *tp = calloc(1, sizeof(*tp));
	if (!tp)
		return NULL;
	tp->fd = tp->timer_fd = tp->stop_fd = -1;
	pthread_mutex_init(&tp->lock, NULL);
	return tp;
}

VC_API int vc_timerpage_create(vc_timerpage **out, void *page, size_t len,
			       const struct vc_timerpage_opts *opts)
{
	if (!out || !page || len < VC_TIMERPAGE_SIZE || (uintptr_t)page % 8)
		return -EINVAL;
	vc_timerpage *tp = vc__timerpage_new();
	if (!tp)
		return -ENOMEM;
	int rc = vc__timerpage_init_writer(tp, page, opts);
	if (rc) {
		vc_timerpage_destroy(tp);
		return rc;
	}
	*out = tp;
	return 0;
}

VC_API int vc_timerpage_create_memfd(vc_timerpage **out, const struct vc_timerpage_opts *opts)
{
	if (!out)
		return -EINVAL;
	int fd = memfd_create("vc-timerpage", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* Sealed at one page so no process sharing it can shrink it under a reader. */
	if (ftruncate(fd, VC_TIMERPAGE_SIZE) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		int err = -errno;
		close(fd);
		return err;
	}
	void *page = mmap(NULL, VC_TIMERPAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (page == MAP_FAILED) {
		int err = -errno;
		close(fd);
		return err;
	}
	vc_timerpage *tp = vc__timerpage_new();
	if (!tp) {
		munmap(page, VC_TIMERPAGE_SIZE);
		close(fd);
		return -ENOMEM;
	}
	tp->fd = fd;
	tp->page = page;
	tp->mapped = true;
	int rc = vc__timerpage_init_writer(tp, page, opts);
	if (rc) {
		vc_timerpage_destroy(tp);
		return rc;
	}
	*out = tp;
	return 0;
}

VC_API void vc_timerpage_destroy(vc_timerpage *tp)
{
	if (!tp)
		return;
	if (tp->running)
		vc_timerpage_stop(tp);
	if (tp->page && !tp->reader && LOAD(tp->page->magic) == VC_TIMERPAGE_MAGIC) {
		/* Readers must not extrapolate from a writer that is gone. */
		write_begin(tp->page);
		STORE(tp->page->flags, LOAD(tp->page->flags) & ~VC_TIMERPAGE_F_VALID);
		write_end(tp->page);
	}
	if (tp->mapped)
		munmap(tp->page, VC_TIMERPAGE_SIZE);
	if (tp->fd >= 0)
		close(tp->fd); /* for a shared file's writer, this releases its lock */
	pthread_mutex_destroy(&tp->lock);
	free(tp);
}

VC_API const struct vc_timerpage_abi *vc_timerpage_page(const vc_timerpage *tp)
{
	return tp ? tp->page : NULL;
}

VC_API int vc_timerpage_fd(const vc_timerpage *tp)
{
	return tp ? tp->fd : -1;
}

VC_API int vc_timerpage_get_stats(const vc_timerpage *tp, struct vc_timerpage_stats *stats,
				  size_t size)
{
	if (!tp)
		return -EINVAL;
	vc_timerpage *w = (vc_timerpage *)tp; /* the lock is not part of the logical state */
	pthread_mutex_lock(&w->lock);
	struct vc_timerpage_stats s = w->stats;
	pthread_mutex_unlock(&w->lock);
	return vc__stats_copy(stats, size, &s, sizeof(s));
}

VC_API int vc_timerpage_check(const void *page, size_t len)
{
	if (!page || len < VC_TIMERPAGE_SIZE || (uintptr_t)page % 8)
		return -EINVAL;
	const struct vc_timerpage_abi *p = page;
	if (LOAD(p->magic) != VC_TIMERPAGE_MAGIC || LOAD(p->version) != VC_TIMERPAGE_VERSION ||
	    LOAD(p->page_size) != VC_TIMERPAGE_SIZE)
		return -EBADMSG;
	uint64_t ns;
	int rc = vc_timerpage_abi_read(&ns, p);
	return rc == -ETIMEDOUT ? -EBADMSG : rc;
}

VC_API int vc_timerpage_read(uint64_t *ns, const struct vc_timerpage_abi *page)
{
	return vc_timerpage_abi_read(ns, page);
}

VC_API int vc_timerpage_read_ordered(uint64_t *ns, const struct vc_timerpage_abi *page)
{
	return vc_timerpage_abi_read_ordered(ns, page);
}

VC_API uint64_t vc_timerpage_ticks(const struct vc_timerpage_abi *page)
{
	return vc_timerpage_abi_ticks(page);
}

VC_API int vc_timerpage_stale(const struct vc_timerpage_abi *page,
			      struct vc_timerpage_abi_watch *watch, uint32_t max_ms)
{
	return vc_timerpage_abi_stale(page, watch, max_ms);
}
