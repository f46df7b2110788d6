/* SPDX-License-Identifier: MIT */
/*
 * Shared timer page: one writer publishes the host's time on each tick into a page any
 * process or VM can map; readers get nanosecond time lock-free with one TSC read, no
 * system call and no VM exit. The page layout is in timerpage_abi.h.
 */
#ifndef VIRTCORE_TIMERPAGE_H
#define VIRTCORE_TIMERPAGE_H

#include <virtcore/common.h>
#include <virtcore/timerpage_abi.h>

VC_BEGIN_DECLS

/** The writer: owns the update logic, the optional tick thread and the optional memfd. */
typedef struct vc_timerpage vc_timerpage;

/** opts.flags: never extrapolate with the TSC; readers get tick resolution. */
#define VC_TIMERPAGE_OPT_NO_TSC (1u << 0)
/** opts.flags: extrapolate with the TSC even if the CPU/kernel do not vouch for it. */
#define VC_TIMERPAGE_OPT_FORCE_TSC (1u << 1)

/** Options for vc_timerpage_create(); fill with VC_OPTS(vc_timerpage_opts, o, ...). */
struct vc_timerpage_opts {
	size_t sz;
	/** Tick rate of the thread vc_timerpage_start() runs, in Hz (default 1000, max 100000). */
	uint32_t tick_hz;
	/** VC_TIMERPAGE_OPT_* (default 0: use the TSC when the evidence allows it, see
	 * enum vc_timerpage_mode_reason). */
	uint32_t flags;
	/** Host clock to follow: VC_TIMERPAGE_CLOCK_* (default VC_TIMERPAGE_CLOCK_MONOTONIC). */
	uint32_t clock_id;
	/** With a stable TSC: how often the writer re-measures the rate and rebases, ms (default 1000). */
	uint32_t rebase_ms;
	/** Bound on the rate correction applied at a rebase, parts per million (default 500, max 10000). */
	uint32_t max_slew_ppm;
	uint32_t pad;
	/** TSC frequency in Hz if the caller knows it; 0 calibrates (vc_timerpage_calibrate_tsc()). */
	uint64_t tsc_hz;
};

/**
 * @brief Formats a timer page in caller memory and publishes the first time value.
 *
 * The page is valid for readers when this returns. Updates then come from
 * vc_timerpage_update() (a VMM with its own tick) or from vc_timerpage_start().
 *
 * @param out receives the writer; free with vc_timerpage_destroy()
 * @param page at least VC_TIMERPAGE_SIZE bytes, 8-byte aligned (page-aligned to map it
 *        into a guest); it must outlive the writer
 * @param len size of @p page
 * @param opts NULL for defaults
 * @return 0; -EINVAL for a NULL/short/misaligned page or bad options; -E2BIG options
 *         this library does not know (a newer header's field); -ENOMEM;
 *         -EOPNOTSUPP if the CPU has no TSC-capable x86 clock (non-x86 builds)
 */
VC_API int vc_timerpage_create(vc_timerpage **out, void *page, size_t len,
			       const struct vc_timerpage_opts *opts);

/**
 * @brief Like vc_timerpage_create(), in a new memfd-backed page to share with other
 * processes or to map into guests; vc_timerpage_fd() gives the descriptor.
 * @return 0; -EINVAL for bad options; -ENOMEM; -EMFILE or another -errno from memfd_create/mmap
 */
VC_API int vc_timerpage_create_memfd(vc_timerpage **out, const struct vc_timerpage_opts *opts);

/**
 * @brief Opens a timer page shared through the file @p path, as its writer or a reader.
 *
 * The first process to open the file (the one that gets its exclusive flock()) becomes the
 * writer: it creates the file if needed, sizes it to one page and publishes into it as
 * vc_timerpage_create() does; it holds the lock until vc_timerpage_destroy() or its death.
 * Every other process becomes a reader: it maps the page read-only (waiting up to
 * @p wait_ms for a writer that is still formatting it), and vc_timerpage_update() /
 * vc_timerpage_start() refuse it. Both roles get the page from vc_timerpage_page() and the
 * file's descriptor from vc_timerpage_fd() (to map it into guests).
 *
 * A writer that is killed leaves a page that still reads (never backwards) but whose tick
 * counter stopped: readers see it as stale with vc_timerpage_abi_stale(). The next
 * process to open the file then takes the page over under its seqlock, with its tick count
 * continuing and its time starting no earlier than the old page read. A writer that ends
 * with vc_timerpage_destroy() marks the page invalid first (readers get -ENODATA).
 *
 * Only a regular file that is empty, one zero-filled page, or a timer page is used; any
 * other file is left untouched.
 *
 * @param opts the writer's options (NULL for defaults); a reader ignores them
 * @param wait_ms how long a reader waits for the first publication
 * @return 0; -EINVAL for a NULL/empty path or a path that is not a regular file (a FIFO,
 *         a device); -EEXIST for a file that holds something else; -ETIMEDOUT if no
 *         writer published within @p wait_ms; -ENODATA if the page's writer stopped and
 *         the file is read-only to this process; -EBADMSG for a page of another version;
 *         -errno from open/flock/mmap; the errors of vc_timerpage_create()
 */
VC_API int vc_timerpage_create_shared(vc_timerpage **out, const char *path,
				    const struct vc_timerpage_opts *opts, uint32_t wait_ms);

/** @brief 1 if @p tp writes its page, 0 if it reads a page another process writes
 *  (vc_timerpage_create_shared()); -EINVAL for NULL. */
VC_API int vc_timerpage_is_writer(const vc_timerpage *tp);

/**
 * @brief Stops the tick thread, marks the page invalid (readers then get -ENODATA rather
 * than time from a writer that is gone), and frees the writer. Closes and unmaps a memfd
 * or shared-file page this object mapped (a shared file's writer releases its lock; a
 * reader leaves the page as it is). Accepts NULL.
 */
VC_API void vc_timerpage_destroy(vc_timerpage *tp);

/**
 * @brief Processes one tick: advances the tick counter and, when due, re-measures the
 * host clock against the TSC and rebases (with a stable TSC, every opts.rebase_ms; without,
 * every tick).
 *
 * Never moves time backwards for any reader: a rebase starts from the old parameters'
 * extrapolation and corrects the rate by at most opts.max_slew_ppm.
 * Thread-safe (updates are serialised), but calling it while vc_timerpage_start()'s thread
 * runs adds ticks of its own.
 * @return 0; -EINVAL if @p tp is NULL; -EROFS for a reader of a shared page
 */
VC_API int vc_timerpage_update(vc_timerpage *tp);

/**
 * @brief Starts a thread that calls vc_timerpage_update() opts.tick_hz times a second
 * (a timerfd; missed ticks are counted, not replayed one by one).
 * @return 0; -EBUSY if already running; -EINVAL if @p tp is NULL; -EROFS for a reader of
 *         a shared page; -errno from timerfd/pthread
 */
VC_API int vc_timerpage_start(vc_timerpage *tp);

/**
 * @brief Stops the tick thread and waits for it; the page stays valid.
 * @return 0; -EINVAL if @p tp is NULL or the thread is not running
 */
VC_API int vc_timerpage_stop(vc_timerpage *tp);

/** @brief The page this writer publishes (borrowed; lives as long as @p tp). */
VC_API const struct vc_timerpage_abi *vc_timerpage_page(const vc_timerpage *tp);

/** @brief The memfd of a page made by vc_timerpage_create_memfd(), or the file of
 *  vc_timerpage_create_shared() (borrowed).
 *  @return the descriptor; -1 for a page in caller memory or a NULL @p tp. */
VC_API int vc_timerpage_fd(const vc_timerpage *tp);

/** Where the TSC frequency came from (struct vc_timerpage_stats.tsc_source). */
enum vc_timerpage_tsc_source {
	VC_TIMERPAGE_TSC_CALLER = 0,   /**< opts.tsc_hz */
	VC_TIMERPAGE_TSC_CPUID_15 = 1, /**< CPUID leaf 0x15 (crystal ratio): exact nominal */
	VC_TIMERPAGE_TSC_CPUID_16 = 2, /**< CPUID leaf 0x16 (base MHz): within 1 MHz */
	VC_TIMERPAGE_TSC_MEASURED = 3, /**< measured against CLOCK_MONOTONIC_RAW */
};

/**
 * Why the page is in the mode it is in (struct vc_timerpage_stats.mode_reason). The values
 * up to VC_TIMERPAGE_MODE_TSC_FORCED are TSC mode (VC_TIMERPAGE_F_TSC_STABLE set: readers
 * extrapolate between ticks); the others are tick-only mode (readers get the host clock as
 * sampled at the last tick).
 *
 * The decision, unless the caller forces one: the CPU must report an invariant TSC
 * (CPUID 0x80000007 EDX bit 8). Where the kernel's clocksource is `tsc` the kernel has
 * already checked that the CPUs' TSCs are in step, and its word is taken. Where it is a
 * paravirtual clock (kvm-clock, hyperv_clocksource_tsc_page, xen: a choice of clock, not a
 * verdict on the TSC), the library measures, once per process (~20 ms): every CPU the
 * process may run on, three rounds 10 ms apart, each TSC reading bracketed around a
 * CLOCK_MONOTONIC_RAW read. The TSC is used if every CPU's TSC lies within 2 us of the
 * first CPU's at the same instant and every 10 ms rate is within 1000 ppm of the mean.
 * Any other clocksource (hpet, acpi_pm, jiffies) means the kernel rejected the TSC.
 */
enum vc_timerpage_mode_reason {
	VC_TIMERPAGE_MODE_TSC_KERNEL = 0,         /**< invariant, and the kernel's clocksource */
	VC_TIMERPAGE_MODE_TSC_MEASURED = 1,       /**< invariant, measured in step and steady */
	VC_TIMERPAGE_MODE_TSC_FORCED = 2,         /**< VC_TIMERPAGE_OPT_FORCE_TSC */
	VC_TIMERPAGE_MODE_TICK_DISABLED = 3,      /**< VC_TIMERPAGE_OPT_NO_TSC */
	VC_TIMERPAGE_MODE_TICK_NOT_INVARIANT = 4, /**< no invariant-TSC CPUID bit */
	VC_TIMERPAGE_MODE_TICK_KERNEL_REJECTED = 5, /**< the kernel runs on hpet, acpi_pm, ... */
	VC_TIMERPAGE_MODE_TICK_UNMEASURED = 6,    /**< the measurement itself failed */
	VC_TIMERPAGE_MODE_TICK_SKEWED = 7,        /**< some CPU's TSC more than 2 us off */
	VC_TIMERPAGE_MODE_TICK_UNSTEADY = 8,      /**< a 10 ms rate more than 1000 ppm off */
};

/**
 * @brief One line of text for an enum vc_timerpage_mode_reason ("TSC: ..." or
 * "tick only: ..."); a static string, never NULL.
 */
VC_API const char *vc_timerpage_mode_reason_str(uint32_t reason);

/**
 * Writer statistics, from vc_timerpage_get_stats().
 *
 * Accuracy of the page against the followed clock, by mode:
 * - TSC mode: readers extrapolate; the page follows the clock within the slew bound
 *   (opts.max_slew_ppm) of the rate estimate, typically a few microseconds, however late
 *   the tick thread runs (tests hold it to 2 ms).
 * - tick-only mode: the page carries the clock as read at the last tick, so it is never
 *   ahead of the clock and behind it by at most the gap between two publications: one
 *   tick period when the tick thread runs on time, more when it is starved.
 *   @c max_staleness_ns is that lag as it happened (from a publication's clock reading to
 *   the moment the next one became visible).
 */
struct vc_timerpage_stats {
	uint64_t ticks;           /**< tick counter published */
	uint64_t rebases;         /**< rebases (base and rate changes) */
	uint64_t forward_steps;   /**< rebases that stepped time forward (page was >1 ms behind) */
	uint64_t bracket_retries; /**< clock samples retried because the TSC bracket was wide */
	int64_t last_offset_ns;   /**< host clock minus page time at the last rebase */
	double tsc_hz;            /**< current rate estimate */
	double calibrated_hz;     /**< the initial calibration */
	uint32_t tsc_source;      /**< enum vc_timerpage_tsc_source */
	uint32_t tsc_stable;      /**< 1 if readers extrapolate with the TSC */
	uint32_t mode_reason;     /**< enum vc_timerpage_mode_reason */
	uint32_t tsc_cpus_checked; /**< CPUs the measurement compared (0: not measured) */
	uint64_t tsc_skew_ns;     /**< measured: largest CPU-to-CPU TSC distance */
	double tsc_rate_change_ppm; /**< measured: largest 10 ms rate departure */
	uint64_t max_staleness_ns; /**< tick-only mode: the oldest a published time got before
				    *   the next publication replaced it */
};

/**
 * @brief Copies the writer's statistics into @p stats.
 * @param size sizeof(*stats) as the caller knows it: the library fills that many bytes,
 *        zeros for fields it does not have, and never writes past them
 * @return 0; -EINVAL for NULL arguments or a zero @p size
 */
VC_API int vc_timerpage_get_stats(const vc_timerpage *tp, struct vc_timerpage_stats *stats,
				  size_t size);

/**
 * @brief Finds the TSC frequency: CPUID 0x15, else CPUID 0x16, else a ~20 ms measurement
 * against CLOCK_MONOTONIC_RAW with bracketed clock reads.
 * @param out_hz receives the frequency in Hz
 * @param out_source receives an enum vc_timerpage_tsc_source (may be NULL)
 * @return 0; -EINVAL if @p hz is NULL; -EOPNOTSUPP on non-x86; -EIO if the measurement
 *         kept failing (clock reads too slow to bracket)
 */
VC_API int vc_timerpage_calibrate_tsc(uint64_t *out_hz, uint32_t *out_source);

/**
 * @brief Checks that @p page of @p len bytes is a timer page a reader can use: size,
 * alignment, magic, version, page_size and a sane scale. Use it once when attaching to a
 * page another process or VM publishes.
 * @return 0; -EINVAL for NULL, short or misaligned memory; -EBADMSG for a bad magic,
 *         version, page_size or scale; -ENODATA if nothing is published yet
 */
VC_API int vc_timerpage_check(const void *page, size_t len);

/** @brief Exported twin of vc_timerpage_abi_read() (for FFI); same contract.
 *  @return 0; -EBADMSG not a timer page; -ENODATA its writer is gone. */
VC_API int vc_timerpage_read(uint64_t *out, const struct vc_timerpage_abi *page);

/** @brief Exported twin of vc_timerpage_abi_read_ordered() (for FFI); same contract.
 *  @return as vc_timerpage_read(). */
VC_API int vc_timerpage_read_ordered(uint64_t *out, const struct vc_timerpage_abi *page);

/** @brief Exported twin of vc_timerpage_abi_ticks() (for FFI). */
VC_API uint64_t vc_timerpage_ticks(const struct vc_timerpage_abi *page);

/** @brief Exported twin of vc_timerpage_abi_stale() (for FFI); same contract.
 *  @return 1 stale or gone, 0 fresh. */
VC_API int vc_timerpage_stale(const struct vc_timerpage_abi *page,
			      struct vc_timerpage_abi_watch *watch, uint32_t max_ms);

VC_END_DECLS

#endif /* VIRTCORE_TIMERPAGE_H */
