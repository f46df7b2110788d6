/* SPDX-License-Identifier: MIT */
/*
 * Paravirt I/O ring with a doze flag: a single-producer single-consumer queue of
 * fixed-size slots in caller-provided shared memory (heap, a memfd shared between
 * processes, guest RAM). The consumer announces when it dozes; the producer notifies
 * (eventfd write, ioeventfd doorbell, irqfd interrupt) only then, once per doze. The
 * layout, the protocol and the freestanding inline fast paths are in ring_abi.h;
 * docs/ring.md explains the protocol and how it is checked.
 *
 * Thread-safety: a vc_ring handle is one side of one ring and is used by one thread at a
 * time. The two sides (two handles, in any threads or processes) run concurrently.
 */
#ifndef VIRTCORE_RING_H
#define VIRTCORE_RING_H

#include <virtcore/common.h>
#include <virtcore/ring_abi.h>

VC_BEGIN_DECLS

/** One side of a ring. */
typedef struct vc_ring vc_ring;

/**
 * How one side wakes or waits for the other. The library calls @c notify on the producer
 * side when the consumer must be woken, and @c wait on the consumer side to sleep.
 */
struct vc_ring_notifier {
	/** Wakes the peer. Returns 0 or a negative errno (counted, not fatal). */
	int (*notify)(void *ctx);
	/**
	 * Blocks until notified or @p timeout_ns passes (-1: no limit). Returns 0 when
	 * notified (a wake-up may be spurious: the ring is re-checked), -ETIMEDOUT, or
	 * another negative errno. One pending notification must survive until the next wait
	 * (eventfd semantics), or a notify that races with the doze is lost.
	 */
	int (*wait)(void *ctx, int64_t timeout_ns);
	void *ctx;
};

/** Options for vc_ring_format(); fill with VC_OPTS(vc_ring_format_opts, o, ...). */
struct vc_ring_format_opts {
	size_t sz;
	/** Slots: a power of two up to VC_RING_COUNT_MAX (default 256). */
	uint32_t slot_count;
	/** Bytes per slot: a multiple of 8, 8..VC_RING_SLOT_MAX (default 64). */
	uint32_t slot_size;
	/** VC_RING_MODE_EVENT_IDX (default) or VC_RING_MODE_FLAG. */
	uint32_t mode;
	uint32_t pad;
};

/** Role of a handle (struct vc_ring_attach_opts.role). */
#define VC_RING_PRODUCER 1u
#define VC_RING_CONSUMER 2u

/** attach flags: the producer notifies on every publish (the baseline the doze flag beats). */
#define VC_RING_ALWAYS_NOTIFY (1u << 0)

/** Options for vc_ring_attach(); fill with VC_OPTS(vc_ring_attach_opts, o, ...). */
struct vc_ring_attach_opts {
	size_t sz;
	/** VC_RING_PRODUCER or VC_RING_CONSUMER (required). */
	uint32_t role;
	/** VC_RING_ALWAYS_NOTIFY or 0. */
	uint32_t flags;
	/**
	 * Consumer: the longest spin before dozing, in ns. 0 (default): adaptive, bounded by
	 * the measured cost of a wake-up (vc_ring_wake_cost_ns()), and off while the machine
	 * has more runnable threads than CPUs. < 0: never spin. > 0: adaptive up to this.
	 */
	int64_t spin_max_ns;
	/**
	 * Producer: how to wake the consumer. Consumer: how to sleep. A NULL function means
	 * the side never notifies (a polled consumer) or cannot wait (vc_ring_wait() fails).
	 */
	struct vc_ring_notifier notifier;
};

/**
 * @brief Bytes a ring with this geometry occupies (header plus slots).
 * @return the size, or 0 if the geometry is invalid (see struct vc_ring_format_opts)
 */
VC_API size_t vc_ring_size(uint32_t slot_count, uint32_t slot_size);

/**
 * @brief Formats an empty ring at @p mem. No side may be attached while this runs.
 * @param mem 8-byte aligned, at least vc_ring_size() bytes
 * @param opts NULL for defaults
 * @return 0; -EINVAL for NULL/misaligned memory or a bad geometry or mode; -E2BIG
 *         options this library does not know; -ENOSPC if @p len is too small
 */
VC_API int vc_ring_format(void *mem, size_t len, const struct vc_ring_format_opts *opts);

/**
 * @brief Formats a request ring followed by a completion ring (the pair a device uses).
 * The completion ring starts at vc_ring_pair_offset(), 128-byte aligned after the first.
 * @param req options of the request ring (NULL: defaults)
 * @param comp options of the completion ring (NULL: defaults)
 * @return as vc_ring_format()
 */
VC_API int vc_ring_pair_format(void *mem, size_t len, const struct vc_ring_format_opts *req,
			       const struct vc_ring_format_opts *comp);

/**
 * @brief Where the completion ring of a pair formatted at @p mem starts, validated.
 * @return the offset in bytes (> 0); -EBADMSG if the request ring's header is invalid or
 *         the completion ring would end past @p len; -EINVAL for NULL
 */
VC_API int64_t vc_ring_pair_offset(const void *mem, size_t len);

/**
 * @brief Attaches one side to the ring at @p mem after validating its header (magic,
 * version, mode, geometry within @p len, indices consistent). The geometry is copied into
 * the handle: a peer rewriting the header later cannot move any access.
 * @param out receives the handle; free with vc_ring_detach()
 * @param opts role (required), notifier, flags
 * @return 0; -EINVAL for NULL/misaligned memory or bad options; -E2BIG options this
 *         library does not know; -EBADMSG for a ring that is not a valid ring; -ENOMEM
 */
VC_API int vc_ring_attach(vc_ring **out, void *mem, size_t len,
			  const struct vc_ring_attach_opts *opts);

/** @brief Frees the handle; the shared memory is left as it is. Accepts NULL. */
VC_API void vc_ring_detach(vc_ring *r);

/** @brief Bytes per slot of the attached ring (its maximum message size). */
VC_API uint32_t vc_ring_slot_size(const vc_ring *r);

/** @brief Slots in the attached ring. */
VC_API uint32_t vc_ring_slot_count(const vc_ring *r);

/*
 * Producer.
 */

/**
 * @brief Copies one message of @p len bytes into the next slot and publishes it (the
 * rest of the slot is zeroed, so no stale bytes reach the peer). Notifies a dozing
 * consumer.
 * @return 1 if pushed, 0 if the ring is full; -EMSGSIZE if @p len exceeds the slot size;
 *         -EBADMSG if the consumer broke the ring; -EINVAL if not a producer
 */
VC_API int vc_ring_push(vc_ring *r, const void *msg, size_t len);

/**
 * @brief Copies up to @p n messages (an array of slot_size-byte records) and publishes
 * them with one index store, one fence and at most one notification.
 * @return the number pushed (0 if full); -EBADMSG; -EINVAL
 */
VC_API int vc_ring_push_batch(vc_ring *r, const void *msgs, uint32_t n);

/**
 * @brief Zero-copy: reserves up to @p want free slots starting at index *@p out; fill
 * them through vc_ring_slot(), then vc_ring_commit(). Reserving again before committing
 * returns the same slots.
 * @param out receives the index of the first reserved slot
 * @return the number reserved (0 if full); -EBADMSG; -EINVAL
 */
VC_API int vc_ring_reserve(uint32_t *out, vc_ring *r, uint32_t want);

/**
 * @brief Publishes @p n slots filled after vc_ring_reserve() (one store, one fence, at
 * most one notification).
 * @return 0; -EINVAL if @p n exceeds the free slots or not a producer; -EBADMSG
 */
VC_API int vc_ring_commit(vc_ring *r, uint32_t n);

/**
 * @brief The slot that holds index @p idx (from vc_ring_reserve() or vc_ring_peek()).
 * Always inside the ring, whatever the index.
 */
VC_API void *vc_ring_slot(const vc_ring *r, uint32_t idx);

/*
 * Consumer.
 */

/**
 * @brief Copies the oldest message into private memory (@p len bytes: at most the slot
 * size are written) and releases its slot. Validate the copy, never the slot: the
 * producer may rewrite the slot at any time.
 * @return 1 if a message was copied, 0 if the ring is empty; -EBADMSG if the producer
 *         broke the ring; -EINVAL
 */
VC_API int vc_ring_pop(vc_ring *r, void *msg, size_t len);

/**
 * @brief Copies up to @p max messages (slot_size bytes each) into @p msgs and releases
 * them with one index store.
 * @return the number copied (0 if empty); -EBADMSG; -EINVAL
 */
VC_API int vc_ring_pop_batch(vc_ring *r, void *msgs, uint32_t max);

/**
 * @brief Zero-copy read: up to @p max published entries starting at index *@p out,
 * read in place through vc_ring_slot(), then vc_ring_release(). Only for a trusted
 * producer: an untrusted one can change a slot after it was checked (use vc_ring_pop()).
 * @return the number available (0 if empty); -EBADMSG; -EINVAL
 */
VC_API int vc_ring_peek(uint32_t *out, vc_ring *r, uint32_t max);

/**
 * @brief Releases @p n entries read after vc_ring_peek().
 * @return 0; -EINVAL if @p n exceeds what is available or not a consumer
 */
VC_API int vc_ring_release(vc_ring *r, uint32_t n);

/**
 * @brief Waits until the ring holds at least one entry: returns at once if it does, else
 * spins (adaptively, see spin_max_ns), then dozes: announces the doze, re-checks, and
 * sleeps in the notifier's wait until a producer notifies or @p timeout_ns passes.
 * @param timeout_ns -1: no limit; 0: only check
 * @return the number of entries available (> 0); -ETIMEDOUT; -EBADMSG; -EOPNOTSUPP if
 *         the consumer has no wait function; -EINVAL if not a consumer; another negative
 *         errno from the notifier
 */
VC_API int vc_ring_wait(vc_ring *r, int64_t timeout_ns);

/** @brief 1 if the peer broke this ring (every operation then fails with -EBADMSG). */
VC_API int vc_ring_is_broken(const vc_ring *r);

/** Per-handle statistics, from vc_ring_get_stats(). */
struct vc_ring_stats {
	uint64_t messages;         /**< messages pushed (producer) or popped/released (consumer) */
	uint64_t publishes;        /**< producer: index publications (one per batch) */
	uint64_t notifications;    /**< producer: notifications sent */
	uint64_t suppressed;       /**< producer: publications that needed no notification */
	uint64_t notify_errors;    /**< producer: notifier calls that failed */
	uint64_t dozes;            /**< consumer: sleeps entered after an empty re-check */
	uint64_t doze_aborts;      /**< consumer: announced dozes cancelled by the re-check */
	uint64_t wakeups;          /**< consumer: sleeps ended by a notification */
	uint64_t spurious_wakeups; /**< consumer: notifications that found the ring empty */
	uint64_t spin_hits;        /**< consumer: waits satisfied while spinning */
	uint64_t timeouts;         /**< consumer: waits that timed out */
	int64_t spin_ns;           /**< consumer: current adaptive spin length */
	int64_t spin_max_ns;       /**< consumer: its bound (0 when spinning is off) */
};

/**
 * @brief Copies the handle's statistics into @p stats.
 * @param size sizeof(*stats) as the caller knows it: the library fills that many bytes,
 *        zeros for fields it does not have, and never writes past them
 * @return 0; -EINVAL for NULL arguments or a zero @p size
 */
VC_API int vc_ring_get_stats(const vc_ring *r, struct vc_ring_stats *stats, size_t size);

/**
 * @brief Fills @p out with a notifier over an eventfd (blocking or not): notify writes 1,
 * wait polls and reads. The descriptor stays the caller's. The same notifier fits the
 * eventfd behind a KVM ioeventfd (guest doorbell, VMM waits) or irqfd (VMM notifies).
 * @return 0; -EINVAL for NULL or a negative @p fd
 */
VC_API int vc_ring_eventfd_notifier(struct vc_ring_notifier *out, int fd);

/**
 * @brief The measured cost of waking a sleeping thread through an eventfd on this
 * machine (half the median round trip between two threads), measured once per process
 * (~20 ms) and cached. Bounds the adaptive spin.
 * @return nanoseconds (> 0); -EIO if a wake-up took over a second; the -errno of
 *         eventfd() or pthread_create() if they failed
 */
VC_API int64_t vc_ring_wake_cost_ns(void);

/**
 * Exported twins of the inline fast paths in ring_abi.h, for callers that cannot use
 * inline functions (FFI). Same arguments, results and thread rules as the vc_ring_abi_*
 * function of the same name (@return: its codes, as negative errno values).
 */
VC_API int vc_ring_view_format(void *mem, uint64_t len, uint32_t slot_count, uint32_t slot_size,
			       uint32_t mode);
VC_API int vc_ring_view_attach(struct vc_ring_view *out, void *mem, uint64_t len, int producer);
VC_API void *vc_ring_view_slot(const struct vc_ring_view *v, uint32_t idx);
VC_API int vc_ring_view_space(struct vc_ring_view *v);
VC_API int vc_ring_view_publish(struct vc_ring_view *v, uint32_t n);
VC_API int vc_ring_view_avail(struct vc_ring_view *v);
VC_API void vc_ring_view_consume(struct vc_ring_view *v, uint32_t n);
VC_API int vc_ring_view_prepare_doze(struct vc_ring_view *v);
VC_API void vc_ring_view_end_doze(struct vc_ring_view *v);

VC_END_DECLS

#endif /* VIRTCORE_RING_H */
