/* SPDX-License-Identifier: MIT */
/**
 * @file spt.h
 * spt: guest page tables, in two parts.
 *
 * The reference walker, vc_spt_walk(), translates a guest-virtual address the way the
 * CPU would (32-bit 2-level with 4 MiB pages, PAE 3-level, 4- and 5-level long mode with
 * 2 MiB and 1 GiB pages; P, R/W, U/S, NX with EFER.NXE, CR0.WP, SMEP, SMAP) and returns
 * the guest-physical address or the page-fault error code the hardware would push.
 *
 * The shadow page-table cache, vc_spt, gives the same answers fast. It keeps one shadow
 * table per guest table, keyed by the guest table's address and a *role* word (level,
 * paging mode, CR0.WP, CR4.PSE/SMEP/SMAP/PKE/LA57, EFER.NXE, MAXPHYADDR and the
 * permissions of the path that reaches it), compared as a whole: a mode change selects
 * other shadows rather than invalidating these. Loading a root (the guest's CR3) looks
 * in the vCPU's four most recent roots, then in a hash of every shadow; a hit installs
 * the cached table in O(1), a miss records a new empty one. Entries fill lazily, on
 * translation, and stay until the guest entry they came from changes. Roots stay cached
 * after they leave a vCPU (a cycle over more address spaces than the MRU holds still
 * hits) until the memory budget evicts the least recently used.
 *
 * Both read guest tables through a guest memory map (<virtcore/gmem.h>): a table outside
 * guest memory is an error, never a host fault, and a table that points at itself ends.
 *
 * ## The contract: what the VMM must report
 * A cached translation is derived from guest memory when it is filled. For it to stay
 * equal to what vc_spt_walk() would return now, the VMM must report:
 * - every write to guest memory that may hold a page table: vc_spt_guest_write() with
 *   the range (a dirty-log harvest of whole frames is fine; frames that hold no shadowed
 *   table cost one hash probe). Until reported, a translation may be the old one, as a
 *   TLB entry may be on hardware;
 * - INVLPG (and INVPCID of one address): vc_spt_invlpg() makes that address's
 *   translation current even if the write was never reported;
 * - every change of CR3, CR0.WP, CR4 (PSE, PAE, SMEP, SMAP, PKE, LA57), EFER (NXE, LMA)
 *   and RFLAGS.AC: vc_spt_load() with the new state;
 * - a change of the guest memory map, or anything else that changes what guest-physical
 *   memory holds without a write (a region remapped, a snapshot restored): vc_spt_flush().
 *
 * Thread safety: one cache and all its vCPU handles must be used by one thread at a
 * time (the caller serializes, e.g. with the lock that protects its memory map). The
 * walker is thread-safe. The cache never writes guest memory (accessed and dirty bits
 * are left to the CPU, or to vc_spt_walk() with VC_SPT_WALK_SET_AD).
 */
#ifndef VIRTCORE_SPT_H
#define VIRTCORE_SPT_H

#include <stdint.h>

#include <virtcore/common.h>
#include <virtcore/gmem.h>

VC_BEGIN_DECLS

/** Paging modes. */
enum vc_spt_mode {
	VC_SPT_MODE_32 = 1,    /**< CR0.PG, no CR4.PAE: 2 levels of 4-byte entries */
	VC_SPT_MODE_PAE = 2,   /**< CR4.PAE, not long mode: 4 PDPTEs, then 2 levels */
	VC_SPT_MODE_LONG4 = 3, /**< EFER.LMA, CR4.LA57 clear: 4 levels */
	VC_SPT_MODE_LONG5 = 4, /**< EFER.LMA and CR4.LA57: 5 levels */
};

/** The CPU state that decides what a walk means. */
struct vc_spt_cpu {
	enum vc_spt_mode mode;
	uint64_t cr3;     /**< the root: bits 12+ (32-bit, long), bits 5+ (PAE) */
	unsigned wp : 1;  /**< CR0.WP: supervisor writes honour R/W */
	unsigned nxe : 1; /**< EFER.NXE: the XD bit exists (PAE, long mode) */
	unsigned pse : 1; /**< CR4.PSE: 4 MiB pages in 32-bit paging */
	unsigned smep : 1; /**< CR4.SMEP: no supervisor fetch from user pages */
	unsigned smap : 1; /**< CR4.SMAP: no supervisor data access to user pages... */
	unsigned ac : 1;  /**< ...unless RFLAGS.AC is set (explicit accesses only) */
	unsigned pke : 1; /**< CR4.PKE: keys are not modelled, but a change selects other
			   *   shadows as on hardware the tables' meaning changes */
	unsigned amd : 1; /**< AMD's reading (APM vol. 2, 5.3.3): bit 8 of a PML4E or PML5E
			   *   is reserved (Intel ignores it); set it for a guest whose CPUID
			   *   vendor is AMD or Hygon, as KVM does */
	unsigned no_1g : 1; /**< CPUID lacks 1 GiB pages (leaf 0x80000001 EDX bit 26): PS in
			     *   a 4/5-level PDPTE is reserved instead of mapping 1 GiB */
	unsigned maxphyaddr; /**< physical address width; 0 = 52 */
};

/** What an access is (combine). Without VC_SPT_USER it is a supervisor (CPL < 3) access. */
enum vc_spt_access {
	VC_SPT_READ = 0,
	VC_SPT_WRITE = 1u << 0,
	VC_SPT_USER = 1u << 1,
	VC_SPT_FETCH = 1u << 2,
	VC_SPT_IMPLICIT = 1u << 3, /**< a supervisor access the CPU makes itself (descriptor
				    *   tables): SMAP applies regardless of RFLAGS.AC */
};

/** Page-fault error code bits, as the CPU pushes them. */
#define VC_SPT_PF_P (1u << 0)    /**< protection violation (clear: not present) */
#define VC_SPT_PF_W (1u << 1)    /**< the access was a write */
#define VC_SPT_PF_U (1u << 2)    /**< the access was a user access */
#define VC_SPT_PF_RSVD (1u << 3) /**< a reserved bit was set in an entry */
#define VC_SPT_PF_I (1u << 4)    /**< an instruction fetch (with NXE or SMEP) */

/** vc_spt_walk() flags. */
#define VC_SPT_WALK_SET_AD (1u << 0) /**< set accessed (and on writes dirty) as the CPU would */

/** The result of a walk. */
struct vc_spt_walk {
	int fault;            /**< 1: the CPU would raise #PF with @c error_code */
	uint32_t error_code;  /**< VC_SPT_PF_* */
	int noncanonical;     /**< 1: not a canonical address (#GP, not #PF) */
	uint64_t gpa;         /**< the translation (when !fault) */
	uint64_t page_size;   /**< 4 KiB, 2 MiB, 4 MiB or 1 GiB */
	unsigned levels;      /**< entries read (including the leaf or the faulting one) */
	uint64_t entry_gpa[5]; /**< where each entry read lives, root level first */
	uint64_t entry[5];    /**< each entry's value */
	int writable, user, executable; /**< effective permissions of the leaf (when !fault) */
};

/**
 * @brief Translates @p gva for an access of kind @p access (enum vc_spt_access), as the
 *        hardware would, reading the tables from @p gm.
 *
 * Differences from silicon, by design: PAE PDPTEs are read from memory at each walk
 * (the CPU loads them at the CR3 write), accessed/dirty bits are set only on a
 * successful walk and only with VC_SPT_WALK_SET_AD, protection keys are not modelled.
 *
 * @return 0 with @p out filled (check @c fault and @c noncanonical); -EFAULT a table or
 *         an entry is outside guest memory (@c levels says how far it got); -EINVAL bad
 *         arguments (unknown mode, a 32-bit mode address above 4 GiB).
 */
VC_API int vc_spt_walk(struct vc_spt_walk *out, const vc_gmem *gm,
		       const struct vc_spt_cpu *cpu, uint64_t gva, unsigned access,
		       unsigned flags);

/** Opaque shadow page-table cache (one per guest memory map, i.e. per VM). */
typedef struct vc_spt vc_spt;
/** Opaque per-vCPU view of a cache: the loaded CPU state and its most recent roots. */
typedef struct vc_spt_vcpu vc_spt_vcpu;

/** Roots a vCPU keeps at hand (the current one and the 3 before it, as KVM does). */
#define VC_SPT_MRU_ROOTS 4

/** Options for vc_spt_create(); fill with VC_OPTS(vc_spt_opts, o, ...). */
struct vc_spt_opts {
	size_t sz;
	/** Memory the cache may hold for shadow tables, in bytes; 0 = 64 MiB. When a new
	 *  shadow would pass it, old generations are freed, then the least recently used
	 *  roots that are no vCPU's current root are evicted with everything only they
	 *  reach; if that is not enough the translation is answered by a full walk instead
	 *  (vc_spt_stats.uncached). A vCPU's current root is never evicted, so a budget
	 *  smaller than one root page per vCPU is passed by that much. */
	uint64_t budget;
};

/** Counters since vc_spt_create(); see vc_spt_get_stats(). */
struct vc_spt_stats {
	uint64_t root_loads;    /**< vc_spt_load() calls (and reloads after a flush) */
	uint64_t root_hits;     /**< ...that found the root's shadow cached */
	uint64_t root_mru_hits; /**< ...of which in the vCPU's recent roots */
	uint64_t root_misses;   /**< ...that recorded a new, empty root shadow */
	uint64_t lookups;       /**< vc_spt_translate() calls */
	uint64_t fills;         /**< shadow entries filled from a guest entry */
	uint64_t invalidations; /**< shadow entries dropped because their guest entry
				 *   changed (write reports, INVLPG) */
	uint64_t flushes;       /**< vc_spt_flush() calls */
	uint64_t evictions;     /**< roots evicted to stay within the budget */
	uint64_t uncached;      /**< translations answered by a full walk (budget full) */
	uint64_t pages;         /**< shadow tables held now (roots included) */
	uint64_t roots;         /**< root shadows held now */
	uint64_t bytes;         /**< memory held now for shadow tables */
};

/** The result of vc_spt_translate(): vc_spt_walk()'s answer without the path. */
struct vc_spt_result {
	int fault;           /**< 1: the CPU would raise #PF with @c error_code */
	uint32_t error_code; /**< VC_SPT_PF_* */
	int noncanonical;    /**< 1: not a canonical address (#GP, not #PF) */
	uint64_t gpa;        /**< the translation (when !fault) */
	uint64_t page_size;  /**< 4 KiB, 2 MiB, 4 MiB or 1 GiB */
	int writable, user, executable; /**< effective permissions (when !fault) */
};

/**
 * @brief Creates an empty cache over guest memory @p gm (which must outlive it).
 * @param opts NULL for defaults
 * @return 0; -EINVAL a NULL argument; -E2BIG options this library does not know; -ENOMEM.
 */
VC_API int vc_spt_create(vc_spt **out, vc_gmem *gm, const struct vc_spt_opts *opts);

/** @brief Frees the cache and every shadow. Its vCPU handles must be destroyed first
 *  (they are freed here too if not, but must not be used again). NULL is accepted. */
VC_API void vc_spt_destroy(vc_spt *spt);

/**
 * @brief Creates a vCPU handle on @p spt, with no CPU state loaded yet.
 * @return 0; -EINVAL; -ENOMEM.
 */
VC_API int vc_spt_vcpu_create(vc_spt_vcpu **out, vc_spt *spt);

/** @brief Releases a vCPU handle and its hold on its recent roots. NULL is accepted. */
VC_API void vc_spt_vcpu_destroy(vc_spt_vcpu *vcpu);

/**
 * @brief Reports the vCPU's paging state: a CR3 load, or a change of CR0.WP, CR4, EFER
 *        or RFLAGS.AC. Selects (hit) or records (miss) the root shadow for the new
 *        root table and role, O(1) on a hit.
 * @return 0; -EINVAL (unknown mode, MAXPHYADDR outside 32..52, NULL); -ENOMEM.
 */
VC_API int vc_spt_load(vc_spt_vcpu *vcpu, const struct vc_spt_cpu *cpu);

/**
 * @brief Translates @p gva for an access of kind @p access (enum vc_spt_access) under
 *        the state last loaded, through the cache: the same answer as vc_spt_walk() on
 *        the current guest memory, given the contract above. Fills missing shadow
 *        entries from the guest's tables; faults are never cached (a not-present entry
 *        is read again next time).
 * @return 0 with @p out filled (check @c fault and @c noncanonical); -EFAULT a guest
 *         table on the path is outside guest memory; -EINVAL bad arguments, no state
 *         loaded, or an address above 4 GiB in a 32-bit mode; -ENOMEM.
 */
VC_API int vc_spt_translate(struct vc_spt_result *out, vc_spt_vcpu *vcpu, uint64_t gva,
			    unsigned access);

/**
 * @brief Reports that the guest wrote [@p gpa, @p gpa + @p len). Every shadow entry
 *        derived from a guest entry in that range is checked against guest memory now:
 *        kept if it still says the same, dropped if not (vc_spt_stats.invalidations).
 *        Cost: one hash probe per 4 KiB frame, plus the entries of shadowed tables.
 * @return 0; -EINVAL (NULL, or a range that wraps).
 */
VC_API int vc_spt_guest_write(vc_spt *spt, uint64_t gpa, uint64_t len);

/**
 * @brief Reports INVLPG of @p gva on this vCPU: every shadow entry on @p gva's path under
 *        the current root is checked against guest memory and replaced if it changed,
 *        so the next translation of @p gva is the current one even if the writes to
 *        the tables were not reported.
 * @return 0 (also for an address with no cached path); -EINVAL (no state loaded, NULL);
 *         -ENOMEM.
 */
VC_API int vc_spt_invlpg(vc_spt_vcpu *vcpu, uint64_t gva);

/**
 * @brief Drops every shadow, in O(1): a new generation begins, the vCPUs' roots are
 *        looked up again at their next translation, old shadows are freed a few at a
 *        time by later calls (or at once when the budget needs the memory).
 */
VC_API void vc_spt_flush(vc_spt *spt);

/**
 * @brief Copies the counters (and the current page, root and byte figures) into @p stats.
 * @param size sizeof(*stats) as the caller knows it: the library fills that many bytes,
 *        zeros for fields it does not have, and never writes past them
 * @return 0; -EINVAL for NULL arguments or a zero @p size
 */
VC_API int vc_spt_get_stats(const vc_spt *spt, struct vc_spt_stats *stats, size_t size);

VC_END_DECLS

#endif /* VIRTCORE_SPT_H */
