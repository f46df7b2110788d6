/* SPDX-License-Identifier: MIT */
/*
 * spt: guest page tables. This first part is the reference x86 page walker: it
 * translates a guest-virtual address the way the CPU would (32-bit 2-level with 4 MiB
 * pages, PAE 3-level, 4- and 5-level long mode with 2 MiB and 1 GiB pages; P, R/W, U/S,
 * NX with EFER.NXE, CR0.WP, SMEP, SMAP) and returns the guest-physical address or the
 * page-fault error code the hardware would push. It reads the tables through a guest
 * memory map (<virtcore/gmem.h>): a table outside guest memory is an error, never a host
 * fault. The shadow page-table cache built on it comes with the rest of this module.
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
VC_API int vc_spt_walk(const vc_gmem_t *gm, const struct vc_spt_cpu *cpu, uint64_t gva,
		       unsigned access, unsigned flags, struct vc_spt_walk *out);

VC_END_DECLS

#endif /* VIRTCORE_SPT_H */
