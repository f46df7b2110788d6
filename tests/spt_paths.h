/* SPDX-License-Identifier: MIT */
/* One valid path to a fixed address in each 8-byte paging mode, for the tests that set
 * one bit of one entry at a time: tests/test_spt_bits.c (against the SDM's table) and
 * tests/test_spt_kvm.c (against KVM's walker). */
#ifndef VC_TESTS_SPT_PATHS_H
#define VC_TESTS_SPT_PATHS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <virtcore/spt.h>

#define SP_VA 0x12345678ull /* PML4 0, PDPT 0, PD 0x91, PT 0x145 */
#define SP_MEM (1u << 20)   /* the paths' tables and 4 KiB page lie below 1 MiB */

enum sp_kind {
	PML5E, PML4E, PDPTE_TABLE, PDPTE_1G, PDE_TABLE, PDE_2M, PTE, PAE_PDPTE,
};
static const char *const sp_kind_name[] = {"PML5E", "PML4E", "PDPTE", "PDPTE (1 GiB)", "PDE",
					 "PDE (2 MiB)", "PTE", "PAE PDPTE"};

/* Bits that carry the frame address (changing them changes the answer, not its kind). */
static inline bool sp_address_bit(enum sp_kind k, unsigned bit, unsigned maxphy)
{
	unsigned low = k == PDPTE_1G ? 30 : k == PDE_2M ? 21 : 12;
	return bit >= low && bit < maxphy;
}

static inline void sp_put(uint8_t *mem, uint64_t gpa, uint64_t v)
{
	memcpy(mem + gpa, &v, 8);
}

/* A path to SP_VA in @mode, root table at 0x1000, ending in a page of kind @leaf, in
 * @mem (SP_MEM bytes, cleared first); returns each level's entry address in @where
 * (root first) and the expected gpa. */
static inline uint64_t sp_build(uint8_t *mem, enum vc_spt_mode mode, enum sp_kind leaf,
				uint64_t where[5], unsigned *n)
{
	memset(mem, 0, SP_MEM);
	const uint64_t flags = 0x3; /* P, RW */
	unsigned i = 0;
	if (mode == VC_SPT_MODE_PAE) {
		where[i++] = 0x1000 + 8 * ((SP_VA >> 30) & 3);
		sp_put(mem, where[0], 0x2000 | 1);
	} else {
		if (mode == VC_SPT_MODE_LONG5) {
			where[i++] = 0x1000 + 8 * ((SP_VA >> 48) & 511);
			sp_put(mem, where[0], 0x6000 | flags);
		}
		uint64_t pml4 = mode == VC_SPT_MODE_LONG5 ? 0x6000 : 0x1000;
		where[i] = pml4 + 8 * ((SP_VA >> 39) & 511);
		sp_put(mem, where[i++], 0x7000 | flags);
		where[i] = 0x7000 + 8 * ((SP_VA >> 30) & 511);
		if (leaf == PDPTE_1G) {
			sp_put(mem, where[i++], 0x40000000 | flags | 0x80);
			*n = i;
			return 0x40000000 | (SP_VA & 0x3fffffff);
		}
		sp_put(mem, where[i++], 0x2000 | flags);
	}
	where[i] = 0x2000 + 8 * ((SP_VA >> 21) & 511);
	if (leaf == PDE_2M) {
		sp_put(mem, where[i++], 0x800000 | flags | 0x80);
		*n = i;
		return 0x800000 | (SP_VA & 0x1fffff);
	}
	sp_put(mem, where[i++], 0x3000 | flags);
	where[i] = 0x3000 + 8 * ((SP_VA >> 12) & 511);
	sp_put(mem, where[i++], 0x80000 | flags);
	*n = i;
	return 0x80000 | (SP_VA & 0xfff);
}

/* The kind of entry at level @lv of a path ending in @leaf. */
static inline enum sp_kind sp_kind_at(enum vc_spt_mode mode, enum sp_kind leaf, unsigned lv,
				       unsigned n)
{
	if (lv == n - 1)
		return leaf;
	if (mode == VC_SPT_MODE_PAE)
		return lv == 0 ? PAE_PDPTE : PDE_TABLE;
	unsigned from_bottom = n - 1 - lv; /* 1: the entry above the leaf */
	static const enum sp_kind above_pte[] = {PTE, PDE_TABLE, PDPTE_TABLE, PML4E, PML5E};
	static const enum sp_kind above_2m[] = {PDE_2M, PDPTE_TABLE, PML4E, PML5E};
	static const enum sp_kind above_1g[] = {PDPTE_1G, PML4E, PML5E};
	return leaf == PTE ? above_pte[from_bottom] : leaf == PDE_2M ? above_2m[from_bottom]
							     : above_1g[from_bottom];
}

#endif /* VC_TESTS_SPT_PATHS_H */
