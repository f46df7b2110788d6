/* SPDX-License-Identifier: MIT */
/*
 * The paravirt I/O ring: the shared-memory layout (a wire ABI) and the freestanding inline
 * fast paths for both sides. Needs no libc: a guest kernel or a guest task includes it as
 * is. The library (ring.h) adds notifiers, waiting, batching helpers and statistics on top,
 * and exports a twin of every inline function for FFI (vc_ring_view_*).
 *
 * One ring carries fixed-size slots from one producer to one consumer. A device uses two:
 * requests (guest -> VMM) and completions (VMM -> guest); the doze protocol is the same on
 * both, only the roles swap.
 *
 * ## The doze protocol (docs/ring.md has the proof sketch and the model check)
 *
 * The consumer announces that it is about to sleep; the producer notifies only then, and
 * only once per sleep. Two modes, chosen when the ring is formatted:
 *
 * - VC_RING_MODE_EVENT_IDX (default): the consumer publishes the index it dozed at in
 *   @c wake_idx; a producer publishing [old, new) notifies iff wake_idx lies in that range.
 *   Exactly the first publish after the doze notifies; later ones find wake_idx behind.
 * - VC_RING_MODE_FLAG (the seed's flag, made exact): the consumer stores DOZING; the
 *   producer that sees DOZING claims the wake-up by exchanging it for NOTIFIED, so only
 *   one publish per doze notifies. The consumer stores ACTIVE once awake.
 *
 * Both are store-buffering (Dekker) handshakes:
 *
 *     producer                          consumer
 *     write slots                       store wake_idx/flag       (announce the doze)
 *     store-release prod_idx            FENCE C  -- pairs with P
 *     FENCE P  -- pairs with C          load prod_idx             (re-check)
 *     load wake_idx/flag                if empty: sleep
 *     if it says dozing: notify
 *
 * Without both full fences each side's load may pass its own earlier store (x86 does
 * this), both see the old value, and the consumer sleeps on a non-empty ring with no
 * notification coming: the lost wake-up. With them, at least one side sees the other's
 * store: either the consumer's re-check finds the message or the producer notifies.
 *
 * ## Layout (little-endian, offsets from the start of the ring)
 *
 *     0    header, read-only after formatting (magic, version, geometry)
 *     128  producer line: prod_idx
 *     256  consumer line: cons_idx
 *     384  doze line: wake_idx, doze_flag
 *     512  slot_count slots of slot_size bytes
 *
 * Hot fields are 128 bytes apart, not 64: Intel's adjacent-line prefetcher pulls cache
 * lines in pairs, so 64-byte spacing still ping-pongs a pair between cores.
 * Indices are free-running 32-bit counters; slot i lives at (i & (slot_count - 1)).
 *
 * ## Trust
 *
 * Each side keeps its own index and the geometry in private memory (struct vc_ring_view)
 * and only ever reads the peer's index from the ring, checking it: a peer index that
 * claims more than slot_count entries marks the view broken (VC_RING_ERR_BADMSG from then
 * on). Slot addresses are computed from the private geometry, so nothing the peer writes
 * can move an access outside the ring. The doze words are hints: garbage there costs at
 * most a spurious or a missing notification for the side that wrote it.
 */
#ifndef VIRTCORE_RING_ABI_H
#define VIRTCORE_RING_ABI_H

#include <stdint.h>

/** "VCRG" read as a little-endian 32-bit word. */
#define VC_RING_MAGIC 0x47524356u
/** Layout version; attach refuses any other. */
#define VC_RING_VERSION 1u
/** Bytes before the first slot. */
#define VC_RING_HDR_SIZE 512u
/** Slot geometry limits: slot_size a multiple of 8 in [8, 65536], slot_count a power of two. */
#define VC_RING_SLOT_ALIGN 8u
#define VC_RING_SLOT_MAX 65536u
#define VC_RING_COUNT_MAX (1u << 24)

/** Header mode: how the consumer asks for a notification. */
#define VC_RING_MODE_EVENT_IDX 1u
#define VC_RING_MODE_FLAG 2u

/** doze_flag values (VC_RING_MODE_FLAG). */
#define VC_RING_ACTIVE 0u
#define VC_RING_DOZING 1u
#define VC_RING_NOTIFIED 2u

/*
 * Errors of the inline functions. They equal the Linux errno values (checked by the
 * library) so freestanding code, which has no <errno.h>, returns the library's codes.
 */
#define VC_RING_ERR_INVAL (-22)  /**< -EINVAL: bad arguments or geometry */
#define VC_RING_ERR_BADMSG (-74) /**< -EBADMSG: bad header, or the peer broke the ring */
#define VC_RING_ERR_NOSPC (-28)  /**< -ENOSPC: memory too small for the geometry */

/*
 * Shared fields are plain integers accessed only through the macros below. Define
 * VC_RING_ABI_ATOMIC to declare them _Atomic instead (the ThreadSanitizer build does, so
 * any access that bypasses the macros is an atomic access TSan checks, never a silent
 * plain one). Define VC_RING_ABI_NO_FENCE to compile the two handshake fences out: only
 * for the negative-control test that proves the stress test detects lost wake-ups.
 */
#ifdef VC_RING_ABI_ATOMIC
#include <stdatomic.h>
#define VC_RING_SHARED(t) _Atomic t
#define VC_RING_LOAD(p, mo) atomic_load_explicit(&(p), memory_order_##mo)
#define VC_RING_STORE(p, v, mo) atomic_store_explicit(&(p), (v), memory_order_##mo)
#define VC_RING_XCHG(p, v) atomic_exchange_explicit(&(p), (v), memory_order_seq_cst)
#define VC_RING_FULL_FENCE() atomic_thread_fence(memory_order_seq_cst)
#else
#define VC_RING_SHARED(t) t
#define VC_RING_ORDER_relaxed __ATOMIC_RELAXED
#define VC_RING_ORDER_acquire __ATOMIC_ACQUIRE
#define VC_RING_ORDER_release __ATOMIC_RELEASE
#define VC_RING_LOAD(p, mo) __atomic_load_n(&(p), VC_RING_ORDER_##mo)
#define VC_RING_STORE(p, v, mo) __atomic_store_n(&(p), (v), VC_RING_ORDER_##mo)
#define VC_RING_XCHG(p, v) __atomic_exchange_n(&(p), (v), __ATOMIC_SEQ_CST)
#define VC_RING_FULL_FENCE() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

#ifdef VC_RING_ABI_NO_FENCE
#define VC_RING_HANDSHAKE_FENCE() __asm__ __volatile__("" ::: "memory")
#else
#define VC_RING_HANDSHAKE_FENCE() VC_RING_FULL_FENCE()
#endif

/** The 512-byte header at the start of a ring. */
struct vc_ring_abi_hdr {
	/* 0: geometry, written once by the formatter */
	VC_RING_SHARED(uint32_t) magic; /* 0: VC_RING_MAGIC, stored last by the formatter */
	uint32_t version;     /* 4: VC_RING_VERSION */
	uint32_t hdr_size;    /* 8: VC_RING_HDR_SIZE */
	uint32_t mode;        /* 12: VC_RING_MODE_* */
	uint32_t slot_count;  /* 16: power of two, <= VC_RING_COUNT_MAX */
	uint32_t slot_size;   /* 20: multiple of 8, <= VC_RING_SLOT_MAX */
	uint64_t ring_size;   /* 24: hdr_size + slot_count * slot_size */
	uint32_t flags;       /* 32: zero (reserved for later versions) */
	uint32_t pad0[23];    /* 36..127 */

	/* 128: written by the producer only */
	VC_RING_SHARED(uint32_t) prod_idx; /* next index the producer will publish */
	uint32_t pad1[31];

	/* 256: written by the consumer only */
	VC_RING_SHARED(uint32_t) cons_idx; /* next index the consumer will read */
	uint32_t pad2[31];

	/* 384: the doze line */
	VC_RING_SHARED(uint32_t) wake_idx;  /* EVENT_IDX: notify when publishing this index */
	VC_RING_SHARED(uint32_t) doze_flag; /* FLAG: VC_RING_ACTIVE/DOZING/NOTIFIED */
	uint32_t pad3[30];
};

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define VC_RING_ASSERT(c, m) _Static_assert(c, m)
#elif defined(__cplusplus) && __cplusplus >= 201103L
#define VC_RING_ASSERT(c, m) static_assert(c, m)
#else
#define VC_RING_ASSERT(c, m)
#endif
VC_RING_ASSERT(sizeof(struct vc_ring_abi_hdr) == VC_RING_HDR_SIZE, "header size");
VC_RING_ASSERT(__builtin_offsetof(struct vc_ring_abi_hdr, ring_size) == 24, "ring_size");
VC_RING_ASSERT(__builtin_offsetof(struct vc_ring_abi_hdr, prod_idx) == 128, "producer line");
VC_RING_ASSERT(__builtin_offsetof(struct vc_ring_abi_hdr, cons_idx) == 256, "consumer line");
VC_RING_ASSERT(__builtin_offsetof(struct vc_ring_abi_hdr, wake_idx) == 384, "doze line");
VC_RING_ASSERT(__builtin_offsetof(struct vc_ring_abi_hdr, doze_flag) == 388, "doze flag");
VC_RING_ASSERT(sizeof(VC_RING_SHARED(uint32_t)) == 4, "shared index width");

/**
 * One side's private view of a ring: the geometry copied (and checked) at attach, the
 * side's own index, and the last peer index seen. Keep it in memory the peer cannot write.
 */
struct vc_ring_view {
	struct vc_ring_abi_hdr *hdr;
	unsigned char *slots;
	uint32_t slot_count;
	uint32_t slot_size;
	uint32_t mask;
	uint32_t mode;
	uint32_t own;  /* producer: next index to publish; consumer: next index to read */
	uint32_t peer; /* last checked index of the other side */
	uint32_t broken;
	uint32_t pad;
};

/** Bytes a ring of this geometry needs, or 0 if the geometry is invalid. */
static inline uint64_t vc_ring_abi_size(uint32_t slot_count, uint32_t slot_size)
{
	if (slot_count == 0 || slot_count > VC_RING_COUNT_MAX || (slot_count & (slot_count - 1)))
		return 0;
	if (slot_size < VC_RING_SLOT_ALIGN || slot_size > VC_RING_SLOT_MAX ||
	    slot_size % VC_RING_SLOT_ALIGN)
		return 0;
	return VC_RING_HDR_SIZE + (uint64_t)slot_count * slot_size;
}

/**
 * Formats an empty ring in @p mem (8-byte aligned, @p len bytes). Not concurrent with any
 * attached side. Slots are not cleared. Returns 0, VC_RING_ERR_INVAL or VC_RING_ERR_NOSPC.
 */
static inline int vc_ring_abi_format(void *mem, uint64_t len, uint32_t slot_count,
				     uint32_t slot_size, uint32_t mode)
{
	uint64_t need = vc_ring_abi_size(slot_count, slot_size);
	if (!mem || ((uintptr_t)mem & 7) || need == 0 ||
	    (mode != VC_RING_MODE_EVENT_IDX && mode != VC_RING_MODE_FLAG))
		return VC_RING_ERR_INVAL;
	if (len < need)
		return VC_RING_ERR_NOSPC;
	volatile uint64_t *w = (volatile uint64_t *)mem; /* volatile: no libc memset call */
	for (unsigned i = 0; i < VC_RING_HDR_SIZE / 8; i++)
		w[i] = 0;
	struct vc_ring_abi_hdr *h = (struct vc_ring_abi_hdr *)mem;
	h->version = VC_RING_VERSION;
	h->hdr_size = VC_RING_HDR_SIZE;
	h->mode = mode;
	h->slot_count = slot_count;
	h->slot_size = slot_size;
	h->ring_size = need;
	/* wake_idx starts one behind: no publish notifies until the consumer first dozes */
	VC_RING_STORE(h->wake_idx, (uint32_t)-1, relaxed);
	VC_RING_STORE(h->doze_flag, VC_RING_ACTIVE, relaxed);
	/* the magic last, released: a side that sees it sees a complete header */
	VC_RING_STORE(h->magic, VC_RING_MAGIC, release);
	return 0;
}

/**
 * Validates the ring at @p mem (@p len bytes) and fills @p v for one side. Reads the
 * header once, so a peer rewriting it later changes nothing. The side's own index starts
 * at its current shared value (a side may re-attach to a live ring).
 * Returns 0, VC_RING_ERR_INVAL (NULL or misaligned) or VC_RING_ERR_BADMSG (bad magic,
 * version, mode, geometry, a size beyond @p len, or indices more than a ring apart).
 */
static inline int vc_ring_abi_attach(struct vc_ring_view *v, void *mem, uint64_t len,
				     int producer)
{
	if (!v || !mem || ((uintptr_t)mem & 7))
		return VC_RING_ERR_INVAL;
	if (len < VC_RING_HDR_SIZE)
		return VC_RING_ERR_BADMSG;
	struct vc_ring_abi_hdr *h = (struct vc_ring_abi_hdr *)mem;
	if (VC_RING_LOAD(h->magic, acquire) != VC_RING_MAGIC)
		return VC_RING_ERR_BADMSG;
	const volatile struct vc_ring_abi_hdr *vh = h; /* one read of each field */
	uint32_t version = vh->version, hdr_size = vh->hdr_size, mode = vh->mode;
	uint32_t count = vh->slot_count, size = vh->slot_size;
	uint64_t ring_size = vh->ring_size;
	uint64_t need = vc_ring_abi_size(count, size);
	if (version != VC_RING_VERSION || hdr_size != VC_RING_HDR_SIZE || need == 0 ||
	    ring_size != need || need > len ||
	    (mode != VC_RING_MODE_EVENT_IDX && mode != VC_RING_MODE_FLAG))
		return VC_RING_ERR_BADMSG;
	uint32_t prod = VC_RING_LOAD(h->prod_idx, acquire);
	uint32_t cons = VC_RING_LOAD(h->cons_idx, acquire);
	if (prod - cons > count)
		return VC_RING_ERR_BADMSG;
	v->hdr = h;
	v->slots = (unsigned char *)mem + VC_RING_HDR_SIZE;
	v->slot_count = count;
	v->slot_size = size;
	v->mask = count - 1;
	v->mode = mode;
	v->own = producer ? prod : cons;
	v->peer = producer ? cons : prod;
	v->broken = 0;
	v->pad = 0;
	return 0;
}

/** The slot holding index @p idx (any index: it wraps). Always inside the ring. */
static inline void *vc_ring_abi_slot(const struct vc_ring_view *v, uint32_t idx)
{
	return v->slots + (uint64_t)(idx & v->mask) * v->slot_size;
}

/*
 * Producer side.
 */

/**
 * Free slots the producer may fill, starting at index v->own. Reads the consumer's index
 * (acquire: the consumer's reads of those slots are done before we overwrite them).
 * Returns the count, or VC_RING_ERR_BADMSG if the consumer's index is impossible (the
 * view is then broken for good).
 */
static inline int vc_ring_abi_space(struct vc_ring_view *v)
{
	if (v->broken)
		return VC_RING_ERR_BADMSG;
	uint32_t cons = VC_RING_LOAD(v->hdr->cons_idx, acquire);
	uint32_t used = v->own - cons;
	/* the consumer may only move forward, and never past what was published */
	if (used > v->slot_count || cons - v->peer > v->own - v->peer) {
		v->broken = 1;
		return VC_RING_ERR_BADMSG;
	}
	v->peer = cons;
	return (int)(v->slot_count - used);
}

/**
 * Publishes @p n filled slots (the caller checked they were free) with one index store,
 * one fence and one notify decision. Returns 1 if the consumer is dozing and must be
 * notified now (this publish claimed the wake-up), 0 if not, VC_RING_ERR_BADMSG if broken.
 */
static inline int vc_ring_abi_publish(struct vc_ring_view *v, uint32_t n)
{
	if (v->broken)
		return VC_RING_ERR_BADMSG;
	uint32_t old = v->own, now = old + n;
	v->own = now;
	/* release: the slot contents are visible before the index that covers them */
	VC_RING_STORE(v->hdr->prod_idx, now, release);
	/* FENCE P: the index store above is globally visible before the doze word is read
	 * below. Pairs with FENCE C in vc_ring_abi_prepare_doze(). */
	VC_RING_HANDSHAKE_FENCE();
	if (v->mode == VC_RING_MODE_EVENT_IDX) {
		uint32_t wake = VC_RING_LOAD(v->hdr->wake_idx, relaxed);
		/* wake in [old, now), with 32-bit wrap-around */
		return (uint32_t)(now - wake - 1) < (uint32_t)(now - old);
	}
	if (VC_RING_LOAD(v->hdr->doze_flag, relaxed) != VC_RING_DOZING)
		return 0;
	/* claim this doze's one wake-up; a lost race means someone else changed the word */
	return VC_RING_XCHG(v->hdr->doze_flag, VC_RING_NOTIFIED) == VC_RING_DOZING;
}

/*
 * Consumer side.
 */

/**
 * Entries published and not yet consumed, starting at index v->own. Reads the producer's
 * index (acquire: the slot contents are visible once the index is). Returns the count or
 * VC_RING_ERR_BADMSG (the producer claims more than a ring, or moved backwards).
 */
static inline int vc_ring_abi_avail(struct vc_ring_view *v)
{
	if (v->broken)
		return VC_RING_ERR_BADMSG;
	uint32_t prod = VC_RING_LOAD(v->hdr->prod_idx, acquire);
	uint32_t avail = prod - v->own;
	/* at most a ring ahead of us, and never behind what the producer published before */
	if (avail > v->slot_count || avail < v->peer - v->own) {
		v->broken = 1;
		return VC_RING_ERR_BADMSG;
	}
	v->peer = prod;
	return (int)avail;
}

/**
 * Marks @p n entries consumed (the caller has finished reading their slots): one release
 * store of the consumer index, which hands the slots back to the producer.
 */
static inline void vc_ring_abi_consume(struct vc_ring_view *v, uint32_t n)
{
	v->own += n;
	VC_RING_STORE(v->hdr->cons_idx, v->own, release);
}

/**
 * Announces that the consumer is about to sleep, then re-checks the ring. Returns 0 if
 * the ring is still empty: the consumer may now block on its notifier and a producer is
 * guaranteed to notify after its next publish. Returns > 0 (entries available: do not
 * sleep; the announcement may still cost one spurious notification) or
 * VC_RING_ERR_BADMSG.
 */
static inline int vc_ring_abi_prepare_doze(struct vc_ring_view *v)
{
	if (v->broken)
		return VC_RING_ERR_BADMSG;
	if (v->mode == VC_RING_MODE_EVENT_IDX)
		VC_RING_STORE(v->hdr->wake_idx, v->own, relaxed); /* notify when this one comes */
	else
		VC_RING_STORE(v->hdr->doze_flag, VC_RING_DOZING, relaxed);
	/* FENCE C: the announcement above is globally visible before the producer index is
	 * read below. Pairs with FENCE P in vc_ring_abi_publish(). */
	VC_RING_HANDSHAKE_FENCE();
	int avail = vc_ring_abi_avail(v);
	if (avail != 0 && v->mode == VC_RING_MODE_FLAG)
		VC_RING_STORE(v->hdr->doze_flag, VC_RING_ACTIVE, relaxed);
	return (int)avail;
}

/**
 * Ends a doze (after the wait returned, whatever woke it). In flag mode the producer stops
 * notifying until the next doze; in EVENT_IDX mode nothing is needed (wake_idx is behind).
 */
static inline void vc_ring_abi_end_doze(struct vc_ring_view *v)
{
	if (v->mode == VC_RING_MODE_FLAG)
		VC_RING_STORE(v->hdr->doze_flag, VC_RING_ACTIVE, relaxed);
}

#endif /* VIRTCORE_RING_ABI_H */
