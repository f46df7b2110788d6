/* SPDX-License-Identifier: MIT */
/*
 * The shared timer page: the 4 KiB layout one writer publishes and any number of readers
 * (host processes, guests) map, plus the freestanding inline readers. Wire ABI: only
 * fixed-width little-endian fields, no pointers, no libc.
 */
#ifndef VIRTCORE_TIMERPAGE_ABI_H
#define VIRTCORE_TIMERPAGE_ABI_H

#include <stdint.h>

/** "VCTP" read as a little-endian 32-bit word. */
#define VC_TIMERPAGE_MAGIC 0x50544356u
/** Layout version; a reader refuses any other. */
#define VC_TIMERPAGE_VERSION 1u
/** Size of the page; the layout below fills it (the tail is reserved, zero). */
#define VC_TIMERPAGE_SIZE 4096u

/** flags: the writer has published at least once and has not stopped. */
#define VC_TIMERPAGE_F_VALID (1u << 0)
/** flags: the TSC is invariant and synchronised, readers extrapolate between ticks. */
#define VC_TIMERPAGE_F_TSC_STABLE (1u << 1)

/*
 * Reader errors. They equal the Linux errno values (checked by the library) so the inline
 * readers, which cannot include <errno.h> in a freestanding guest, return the same codes
 * as the rest of libvirtcore.
 */
#define VC_TIMERPAGE_ERR_BADMSG (-74)    /**< -EBADMSG: wrong magic/version or bad scale */
#define VC_TIMERPAGE_ERR_NODATA (-61)    /**< -ENODATA: no writer has published (or it stopped) */
#define VC_TIMERPAGE_ERR_TIMEDOUT (-110) /**< -ETIMEDOUT: writer stuck mid-update (it died) */

/**
 * Retries of the seqlock read loop before giving up with VC_TIMERPAGE_ERR_TIMEDOUT.
 * A live writer holds the page odd for well under a microsecond; this bound is several
 * milliseconds of spinning, so only a writer that died mid-update reaches it.
 */
#define VC_TIMERPAGE_READ_RETRIES (1u << 16)

/**
 * The page. All fields are little-endian and naturally aligned; the first cache line holds
 * everything a reader touches. Time is a 32.32 fixed-point number of nanoseconds:
 *
 *     d  = tsc - base_tsc, or 0 if that is negative as a signed 64-bit value
 *     d' = tsc_shift >= 0 ? d << tsc_shift : d >> -tsc_shift
 *     ns = base_ns + ((d' * tsc_mul + base_frac) >> 32)
 *
 * Without VC_TIMERPAGE_F_TSC_STABLE, ns = base_ns (tick resolution).
 *
 * Protocol (a seqlock): the writer makes @c seq odd, issues a full fence, writes the
 * fields, then makes @c seq even again with a release store. A reader retries while
 * @c seq is odd or changed across its reads. @c tick_count is outside the seqlock: it is
 * one 64-bit atomic store per tick, readable with one load.
 */
struct vc_timerpage_abi {
	/* cache line 0: read on every call */
	uint32_t magic;          /* 0: VC_TIMERPAGE_MAGIC */
	uint32_t version;        /* 4: VC_TIMERPAGE_VERSION */
	uint32_t seq;            /* 8: odd while the writer updates */
	uint32_t flags;          /* 12: VC_TIMERPAGE_F_* */
	uint64_t base_tsc;       /* 16: TSC at which base_ns/base_frac hold */
	uint64_t base_ns;        /* 24: time at base_tsc, whole nanoseconds */
	uint32_t base_frac;      /* 32: time at base_tsc, fraction of a ns in 1/2^32 */
	uint32_t tsc_mul;        /* 36: ns per (shifted) TSC cycle in 0.32 fixed point */
	int32_t tsc_shift;       /* 40: pre-shift of the TSC delta, -63..63 */
	uint32_t pad0;           /* 44 */
	uint64_t tick_count;     /* 48: ticks processed since the page was created */
	uint64_t tick_period_ns; /* 56: nominal period of one tick (0: ticks are manual) */

	/* cache line 1: informational, written with the seqlock held */
	uint64_t tsc_hz;        /* 64: current TSC frequency estimate, Hz */
	uint64_t rebase_count;  /* 72: times the scale or base changed */
	uint32_t clock_id;      /* 80: host clock followed (VC_TIMERPAGE_CLOCK_*) */
	uint32_t page_size;     /* 84: VC_TIMERPAGE_SIZE */
	uint32_t pad1[10];      /* 88..127 */

	uint8_t reserved[VC_TIMERPAGE_SIZE - 128]; /* zero; room for later versions */
};

/** Host clock the page follows (field clock_id). */
#define VC_TIMERPAGE_CLOCK_MONOTONIC 1u
#define VC_TIMERPAGE_CLOCK_MONOTONIC_RAW 4u
#define VC_TIMERPAGE_CLOCK_BOOTTIME 7u

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define VC_TIMERPAGE_ASSERT(c, m) _Static_assert(c, m)
#elif defined(__cplusplus) && __cplusplus >= 201103L
#define VC_TIMERPAGE_ASSERT(c, m) static_assert(c, m)
#else
#define VC_TIMERPAGE_ASSERT(c, m)
#endif
VC_TIMERPAGE_ASSERT(sizeof(struct vc_timerpage_abi) == VC_TIMERPAGE_SIZE, "page size");
VC_TIMERPAGE_ASSERT(__builtin_offsetof(struct vc_timerpage_abi, seq) == 8, "seq offset");
VC_TIMERPAGE_ASSERT(__builtin_offsetof(struct vc_timerpage_abi, base_tsc) == 16, "base_tsc");
VC_TIMERPAGE_ASSERT(__builtin_offsetof(struct vc_timerpage_abi, base_frac) == 32, "base_frac");
VC_TIMERPAGE_ASSERT(__builtin_offsetof(struct vc_timerpage_abi, tsc_shift) == 40, "tsc_shift");
VC_TIMERPAGE_ASSERT(__builtin_offsetof(struct vc_timerpage_abi, tick_count) == 48, "tick_count");
VC_TIMERPAGE_ASSERT(__builtin_offsetof(struct vc_timerpage_abi, tsc_hz) == 64, "line 1");
VC_TIMERPAGE_ASSERT(__builtin_offsetof(struct vc_timerpage_abi, reserved) == 128, "reserved");

/*
 * Inline readers. They need no libc and run in a freestanding guest (x86 only: they read
 * the TSC). The TSC they read must be the writer's: a guest needs a zero TSC offset (or a
 * page written in its own TSC domain).
 */
#if defined(__x86_64__) || defined(__i386__)

#define VC_TIMERPAGE_LOAD(p) __atomic_load_n(&(p), __ATOMIC_RELAXED)

/** Plain rdtsc: may execute earlier or later than the loads around it. */
static inline uint64_t vc_timerpage_abi_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/**
 * rdtsc fenced on both sides: it reads the TSC after every earlier load completed and
 * before any later load, so the timestamp orders against other memory accesses.
 */
static inline uint64_t vc_timerpage_abi_rdtsc_ordered(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

/**
 * Scales a TSC reading with the page's parameters (the formula on struct
 * vc_timerpage_abi), without touching the page. Saturates at UINT64_MAX instead of
 * wrapping; a TSC below @p base_tsc counts as no time elapsed.
 */
static inline uint64_t vc_timerpage_abi_scale(uint64_t tsc, uint64_t base_tsc, uint64_t base_ns,
					      uint32_t base_frac, uint32_t mul, int32_t shift)
{
	uint64_t d = tsc - base_tsc;
	if ((int64_t)d < 0)
		d = 0;
	if (shift >= 0) {
		if (d > (UINT64_MAX >> shift))
			return UINT64_MAX;
		d <<= shift;
	} else {
		d >>= -shift;
	}
	/* 64x32-bit product in two halves; neither half nor the sum can overflow. */
	uint64_t lo = (d & 0xffffffffu) * mul + base_frac;
	uint64_t ns = (d >> 32) * mul + (lo >> 32);
	return ns > UINT64_MAX - base_ns ? UINT64_MAX : base_ns + ns;
}

/* The seqlock read loop shared by both readers; @p ordered picks the TSC read. */
static inline int vc__timerpage_abi_read_common(const struct vc_timerpage_abi *p, uint64_t *ns,
					       int ordered)
{
	if (VC_TIMERPAGE_LOAD(p->magic) != VC_TIMERPAGE_MAGIC ||
	    VC_TIMERPAGE_LOAD(p->version) != VC_TIMERPAGE_VERSION)
		return VC_TIMERPAGE_ERR_BADMSG;
	for (uint32_t i = 0; i < VC_TIMERPAGE_READ_RETRIES; i++) {
		/* Acquire: the field loads below cannot move above this load; pairs with the
		 * writer's release store that made seq even. */
		uint32_t s1 = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1) {
			__asm__ __volatile__("pause" ::: "memory");
			continue;
		}
		uint32_t flags = VC_TIMERPAGE_LOAD(p->flags);
		uint64_t base_tsc = VC_TIMERPAGE_LOAD(p->base_tsc);
		uint64_t base_ns = VC_TIMERPAGE_LOAD(p->base_ns);
		uint32_t frac = VC_TIMERPAGE_LOAD(p->base_frac);
		uint32_t mul = VC_TIMERPAGE_LOAD(p->tsc_mul);
		int32_t shift = VC_TIMERPAGE_LOAD(p->tsc_shift);
		uint64_t tsc = ordered ? vc_timerpage_abi_rdtsc_ordered() : vc_timerpage_abi_rdtsc();
		/* Acquire fence: the field loads above complete before seq is read again;
		 * pairs with the writer's full fence after it made seq odd. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&p->seq, __ATOMIC_RELAXED) != s1)
			continue;
		if (!(flags & VC_TIMERPAGE_F_VALID))
			return VC_TIMERPAGE_ERR_NODATA;
		if (!(flags & VC_TIMERPAGE_F_TSC_STABLE)) {
			*ns = base_ns;
			return 0;
		}
		if (shift > 63 || shift < -63)
			return VC_TIMERPAGE_ERR_BADMSG;
		*ns = vc_timerpage_abi_scale(tsc, base_tsc, base_ns, frac, mul, shift);
		return 0;
	}
	return VC_TIMERPAGE_ERR_TIMEDOUT;
}

/**
 * @brief Reads the page's time in nanoseconds with a plain rdtsc (the fastest read).
 *
 * Successive reads in one thread never go backwards. Across threads or against other
 * memory accesses, use vc_timerpage_abi_read_ordered(). Lock-free, wait-free unless the
 * writer is mid-update; safe from any thread, any process, any VM sharing the TSC.
 *
 * @return 0 and *out set; VC_TIMERPAGE_ERR_BADMSG for a page that is not a timer page (or
 *         a corrupt scale); VC_TIMERPAGE_ERR_NODATA before the first publish or after
 *         the writer stopped; VC_TIMERPAGE_ERR_TIMEDOUT if the writer died mid-update.
 */
static inline int vc_timerpage_abi_read(uint64_t *out, const struct vc_timerpage_abi *p)
{
	return vc__timerpage_abi_read_common(p, out, 0);
}

/**
 * @brief Like vc_timerpage_abi_read(), with the TSC read fenced (lfence; rdtsc; lfence):
 * a timestamp taken after a store another thread observed is never earlier than a
 * timestamp that thread takes afterwards. Costs about one extra fence pair.
 */
static inline int vc_timerpage_abi_read_ordered(uint64_t *out, const struct vc_timerpage_abi *p)
{
	return vc__timerpage_abi_read_common(p, out, 1);
}

#endif /* x86 */

/** @brief The tick counter alone: one 64-bit load, no TSC, no retry loop. */
static inline uint64_t vc_timerpage_abi_ticks(const struct vc_timerpage_abi *p)
{
	return __atomic_load_n(&p->tick_count, __ATOMIC_RELAXED);
}

/**
 * A reader's memory of the tick counter, for vc_timerpage_abi_stale(). Zero-initialise it
 * (a fresh watch judges nothing stale until it has seen the counter once).
 */
struct vc_timerpage_abi_watch {
	uint64_t ticks; /* the counter as last seen */
	uint64_t tsc;   /* this reader's TSC when it last saw the counter move */
	uint32_t armed; /* ticks/tsc hold an observation */
	uint32_t pad;
};

/** A suggested bound for vc_timerpage_abi_stale(): a starved tick thread has been seen
 *  50 ms late on a loaded 2-CPU machine; a writer that is gone stays silent for good. */
#define VC_TIMERPAGE_STALE_MS 500u

#if defined(__x86_64__) || defined(__i386__)
/**
 * @brief Whether the page's writer is gone: its tick counter has not moved for more than
 * @p max_ms by this reader's TSC (at the page's tsc_hz), or the page says it is invalid.
 *
 * The page's time is still monotonic when its writer was killed (it extrapolates from
 * the last rebase), but it drifts from the host clock without bound; a reader that times
 * work against other VMs calls this now and then and stops trusting the page when it says
 * 1. Pages ticked by hand (tick_period_ns 0) or without a TSC rate are never judged stale
 * by the counter. Call it at least once per @p max_ms for a prompt verdict; the first call
 * only arms @p w.
 * @return 1 stale or invalid; 0 fresh (or not yet judged)
 */
static inline int vc_timerpage_abi_stale(const struct vc_timerpage_abi *p,
					 struct vc_timerpage_abi_watch *w, uint32_t max_ms)
{
	if (VC_TIMERPAGE_LOAD(p->magic) != VC_TIMERPAGE_MAGIC ||
	    !(VC_TIMERPAGE_LOAD(p->flags) & VC_TIMERPAGE_F_VALID))
		return 1;
	uint64_t ticks = vc_timerpage_abi_ticks(p);
	uint64_t now = vc_timerpage_abi_rdtsc();
	if (!w->armed || ticks != w->ticks) {
		w->ticks = ticks;
		w->tsc = now;
		w->armed = 1;
		return 0;
	}
	uint64_t hz = VC_TIMERPAGE_LOAD(p->tsc_hz);
	if (!VC_TIMERPAGE_LOAD(p->tick_period_ns) || !hz)
		return 0;
	/* In kHz first: max_ms * hz would overflow past ~1.8 s at 10 GHz. */
	return now - w->tsc > hz / 1000u * max_ms;
}
#endif /* x86 */

#endif /* VIRTCORE_TIMERPAGE_ABI_H */
