/* SPDX-License-Identifier: MIT */
/* spt internals: paging geometry and the decoding of one guest entry, shared by the
 * reference walker and the shadow cache so both read the guest's tables by one rule. */
#ifndef VC_SPT_INTERNAL_H
#define VC_SPT_INTERNAL_H

#include <stdint.h>

#include <virtcore/spt.h>

#define SPT_P (1ull << 0)
#define SPT_RW (1ull << 1)
#define SPT_US (1ull << 2)
#define SPT_A (1ull << 5)
#define SPT_D (1ull << 6)
#define SPT_PS (1ull << 7)
#define SPT_XD (1ull << 63)

/* Effective permissions along a path, as 3 bits (the cache keeps them in roles and
 * leaves). */
#define SPT_PERM_W 1u
#define SPT_PERM_U 2u
#define SPT_PERM_X 4u
#define SPT_PERM_ALL 7u

/* One paging-structure level. */
struct spt_level {
	unsigned shift;     /* the virtual-address bits this level indexes start here */
	unsigned bits;      /* how many */
	int large_ok;       /* PS may map a page here */
	int pae_pdpte;      /* PAE PDPTE: no R/W, U/S, XD, A; its own reserved bits */
};

/* What decides how entries decode (all of it is in a cache role too). */
struct spt_format {
	unsigned esize;  /* 4 (32-bit paging) or 8 */
	unsigned maxphy; /* 32..52 */
	int nxe, pse;
	int pae;         /* PAE paging: bits 62:MAXPHYADDR of every entry are reserved */
	int amd;         /* bit 8 of a PML4E/PML5E is reserved */
	int no_1g;       /* PS in a 4/5-level PDPTE is reserved */
};

/* The levels of a mode, root first, and where its root table is. */
struct spt_geom {
	const struct spt_level *lv;
	unsigned n;
	struct spt_format fmt;
	uint64_t root; /* guest-physical address of the top table */
};

/* Fills @g for @cpu. -EINVAL: unknown mode or MAXPHYADDR out of 32..52. */
int vc__spt_geom(const struct vc_spt_cpu *cpu, struct spt_geom *g);

/* Is @gva an address of this mode? 1 yes; 0 non-canonical (#GP); -EINVAL above 4 GiB
 * in a 32-bit mode. Inline: the cache's warm path asks it on every translation. */
static inline int vc__spt_gva_ok(enum vc_spt_mode mode, uint64_t gva)
{
	if (mode == VC_SPT_MODE_32 || mode == VC_SPT_MODE_PAE)
		return gva > 0xffffffffull ? -22 /* -EINVAL */ : 1;
	const unsigned width = mode == VC_SPT_MODE_LONG5 ? 57 : 48;
	return (uint64_t)((int64_t)(gva << (64 - width)) >> (64 - width)) == gva;
}

enum spt_decoded {
	SPT_NOT_PRESENT, /* #PF without P */
	SPT_RESERVED,    /* #PF with P and RSVD */
	SPT_TABLE,       /* @base is the next table */
	SPT_LEAF,        /* @base maps a page of 2^lv->shift bytes (low bits clear) */
};

/* One guest entry @e at level @lv, decoded: its kind, the next table or page frame, and
 * the permissions it grants (SPT_PERM_*; PAE PDPTEs grant all, they restrict nothing). */
enum spt_decoded vc__spt_decode(const struct spt_format *f, const struct spt_level *lv,
				uint64_t e, uint64_t *base, unsigned *perm);

/* Reads the entry at @gpa (@size 4 or 8) with one atomic load, the guest may be writing
 * it. 0 and *ok = 0 outside guest memory. */
uint64_t vc__spt_read_entry(const vc_gmem *gm, uint64_t gpa, unsigned size, int *ok);

/* Is an access of kind @access (enum vc_spt_access) allowed on a path granting @perm,
 * under @cpu's CR0.WP, CR4.SMEP/SMAP and RFLAGS.AC (SDM vol. 3, 4.6)? */
int vc__spt_allowed(const struct vc_spt_cpu *cpu, unsigned perm, unsigned access);

/* The error code bits an access of kind @access carries in any #PF (W, U, I). */
uint32_t vc__spt_access_code(const struct vc_spt_cpu *cpu, unsigned access);

#endif /* VC_SPT_INTERNAL_H */
