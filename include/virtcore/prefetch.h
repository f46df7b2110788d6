/* SPDX-License-Identifier: MIT */
/**
 * @file prefetch.h
 * Learned register prefetch for VM exits: which parts of a vCPU's state to have the
 * hypervisor deliver with the next exit, learned from what the exit handlers read.
 *
 * A VMM that handles an exit often needs some of the vCPU's state (general registers
 * for an emulated instruction, control registers to translate a guest-virtual address).
 * Fetching it after the exit costs a system call per set (KVM_GET_REGS, KVM_GET_SREGS:
 * ~11.5 us each on kvm_pvm); asking the hypervisor to deliver it with every exit
 * (KVM_CAP_SYNC_REGS, `kvm_run->kvm_valid_regs`) costs a copy on exits that need
 * nothing. The seed (US20100115513A1) keeps "prefetch entry information" saying which
 * parts of the CPU state to copy out on an event; this module learns that information.
 *
 * The state is divided into up to 8 *sets* (bits 0-7 of a mask; for KVM, the
 * KVM_SYNC_X86_* bits). Exits are grouped into *kinds*, a 64-bit key the VMM chooses
 * (vc_prefetch_kind(): exit reason and port or address). The request has to be made
 * before the guest runs, when the next exit's kind is not known yet, so the table is
 * keyed by the kind of the exit the vCPU is returning from: "after an exit of kind K,
 * the next exit's handler read sets M". Guests repeat themselves (a print loop, a
 * polling loop), so that predicts well; a wrong guess costs one fetch, which teaches
 * the table at once.
 *
 * Per exit:
 *   1. vc_prefetch_predict() before entering the guest: the sets to request;
 *   2. vc_prefetch_exit() after the exit: its kind and the sets that came with it;
 *   3. vc_prefetch_need() / vc_prefetch_write() from the handlers: the sets they read
 *      or write; each returns the sets the caller has to fetch or store itself.
 * A set is added to an entry the first time it is missed and dropped after it was
 * delivered and left unused `opts.keep` times in a row.
 *
 * Thread safety: one vc_prefetch per vCPU, used by that vCPU's thread only.
 */
#ifndef VIRTCORE_PREFETCH_H
#define VIRTCORE_PREFETCH_H

#include <stddef.h>
#include <stdint.h>

#include <virtcore/common.h>

VC_BEGIN_DECLS

/** A vCPU's learned prefetch table. */
typedef struct vc_prefetch vc_prefetch;

/** Number of state sets a mask can name (bits 0 to VC_PREFETCH_SETS - 1). */
#define VC_PREFETCH_SETS 8

/** Options for vc_prefetch_create(); fill with VC_OPTS(vc_prefetch_opts, o, ...). */
struct vc_prefetch_opts {
	size_t sz;
	/** Exit kinds remembered, rounded up to a power of two (default 64, max 65536).
	 * When full, a new kind replaces the entry in its slot. */
	uint32_t capacity;
	/** Exits of a kind after which a delivered but unused set is dropped from its
	 * entry (default 4, 1 to 255). */
	uint32_t keep;
	/** Sets the table may request (default all 8): the hypervisor's supported sets. */
	uint32_t sets;
	uint32_t pad;
};

/** Counters since vc_prefetch_create(); a set delivered and read counts once. */
struct vc_prefetch_stats {
	uint64_t exits;     /**< vc_prefetch_exit() calls */
	uint64_t delivered; /**< sets delivered with exits */
	uint64_t hits;      /**< sets a handler needed that came with the exit */
	uint64_t misses;    /**< sets a handler needed that did not (the caller fetched them) */
	uint64_t unused;    /**< sets delivered that no handler needed */
	uint64_t kinds;     /**< kinds in the table now */
	uint64_t replaced;  /**< kinds that replaced another in a full slot */
};

/**
 * @brief Creates an empty table (it predicts nothing until it learns).
 * @param out receives the table; end it with vc_prefetch_destroy()
 * @param opts NULL for defaults
 * @return 0; -EINVAL for a NULL @p out or options out of range; -E2BIG options this
 *         library does not know; -ENOMEM
 */
VC_API int vc_prefetch_create(vc_prefetch **out, const struct vc_prefetch_opts *opts);

/** @brief Frees the table. Accepts NULL. */
VC_API void vc_prefetch_destroy(vc_prefetch *pf);

/**
 * @brief An exit kind from the hypervisor's exit reason and the exit's address (port,
 * MMIO address, or 0). Equal inputs give equal kinds.
 */
VC_API uint64_t vc_prefetch_kind(uint32_t reason, uint64_t addr);

/**
 * @brief Before entering the guest: the sets to request for the next exit.
 *
 * Learns from the exit handled since the last call first (what its handlers needed
 * against what was delivered). Calling it again without an exit in between (an
 * interrupted entry) learns nothing twice.
 * @return a mask of sets, within opts.sets
 */
VC_API uint32_t vc_prefetch_predict(vc_prefetch *pf);

/**
 * @brief After an exit: its kind and the sets the hypervisor delivered with it
 * (normally what vc_prefetch_predict() returned).
 */
VC_API void vc_prefetch_exit(vc_prefetch *pf, uint64_t kind, uint32_t delivered);

/**
 * @brief A handler reads @p sets of the state.
 * @return the sets among @p sets that were not delivered with this exit: the caller
 *         fetches those itself (and they are learned for next time). Sets needed twice
 *         in one exit count once; one fetched by the caller counts as delivered from
 *         then on (call vc_prefetch_fetched()).
 */
VC_API uint32_t vc_prefetch_need(vc_prefetch *pf, uint32_t sets);

/**
 * @brief The caller fetched @p sets itself during this exit: later vc_prefetch_need()
 * and vc_prefetch_write() calls in the same exit treat them as present.
 */
VC_API void vc_prefetch_fetched(vc_prefetch *pf, uint32_t sets);

/**
 * @brief A handler writes @p sets of the state (it read them first, or replaces them
 * whole).
 * @return the sets among @p sets that are not present (neither delivered nor fetched):
 *         the caller stores those with its own call; the present ones can go back with
 *         the next entry (for KVM: `kvm_dirty_regs`). Counts as a need for learning.
 */
VC_API uint32_t vc_prefetch_write(vc_prefetch *pf, uint32_t sets);

/**
 * @brief The sets the table would request after an exit of @p kind, without learning
 * (for inspection and tests).
 */
VC_API uint32_t vc_prefetch_lookup(const vc_prefetch *pf, uint64_t kind);

/**
 * @brief Copies the counters (see docs/api-conventions.md: statistics).
 * @return 0; -EINVAL for NULL arguments or a zero @p size
 */
VC_API int vc_prefetch_get_stats(const vc_prefetch *pf, struct vc_prefetch_stats *stats,
				 size_t size);

VC_END_DECLS

#endif /* VIRTCORE_PREFETCH_H */
