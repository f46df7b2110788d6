// SPDX-License-Identifier: MIT
// The x86 paging formats (Intel SDM vol. 3, chapter 4): levels of each mode, how one
// entry decodes, and the permission rules. The walker and the shadow cache both use
// these, so a guest entry means the same to both.
#include <errno.h>

#include "spt-internal.h"

static const struct spt_level levels_32[] = {{22, 10, 1, 0}, {12, 10, 0, 0}};
static const struct spt_level levels_pae[] = {{30, 2, 0, 1}, {21, 9, 1, 0}, {12, 9, 0, 0}};
static const struct spt_level levels_l4[] = {{39, 9, 0, 0}, {30, 9, 1, 0}, {21, 9, 1, 0},
					     {12, 9, 0, 0}};
static const struct spt_level levels_l5[] = {{48, 9, 0, 0}, {39, 9, 0, 0}, {30, 9, 1, 0},
					     {21, 9, 1, 0}, {12, 9, 0, 0}};

int vc__spt_geom(const struct vc_spt_cpu *cpu, struct spt_geom *g)
{
	unsigned maxphy = cpu->maxphyaddr ? cpu->maxphyaddr : 52;

	if (maxphy < 32 || maxphy > 52)
		return -EINVAL;
	g->fmt = (struct spt_format){.esize = 8, .maxphy = maxphy, .nxe = cpu->nxe,
				     .pse = cpu->pse, .amd = cpu->amd, .no_1g = cpu->no_1g};
	const uint64_t frame = ((1ull << maxphy) - 1) & ~0xfffull;
	switch (cpu->mode) {
	case VC_SPT_MODE_32:
		g->lv = levels_32, g->n = 2, g->fmt.esize = 4, g->fmt.nxe = 0;
		g->fmt.amd = g->fmt.no_1g = 0; /* no such entries here: one role either way */
		g->root = cpu->cr3 & 0xfffff000u;
		return 0;
	case VC_SPT_MODE_PAE:
		g->lv = levels_pae, g->n = 3, g->fmt.pse = 0, g->fmt.pae = 1;
		g->fmt.amd = g->fmt.no_1g = 0;
		g->root = cpu->cr3 & 0xffffffe0u;
		return 0;
	case VC_SPT_MODE_LONG4:
		g->lv = levels_l4, g->n = 4, g->fmt.pse = 0;
		g->root = cpu->cr3 & frame;
		return 0;
	case VC_SPT_MODE_LONG5:
		g->lv = levels_l5, g->n = 5, g->fmt.pse = 0;
		g->root = cpu->cr3 & frame;
		return 0;
	}
	return -EINVAL;
}

/*
 * Reserved bits of an 8-byte entry at this level (SDM vol. 3, tables 4-8 to 4-11 for
 * PAE, 4-15 to 4-20 for 4- and 5-level paging; docs/spt.md has the table):
 *  - the physical-address bits from MAXPHYADDR up: to bit 51 in 4- and 5-level paging
 *    (bits 62:52 are ignored there, 62:59 protection keys), to bit 62 in PAE paging;
 *  - bit 63 (XD) without EFER.NXE, and always in a PAE PDPTE, with bits 2:1 and 8:5;
 *  - PS (bit 7) where no large page exists (a PML4E or PML5E, and a PDPTE when the CPU
 *    has no 1 GiB pages); in a 4 KiB PTE bit 7 is PAT, never reserved;
 *  - on AMD, bit 8 of a PML4E or PML5E (Intel ignores it);
 *  - in a large-page entry, the frame bits below the page size above bit 12 (PAT).
 */
static uint64_t reserved_mask(const struct spt_format *f, const struct spt_level *lv, uint64_t e)
{
	const unsigned top = f->pae ? 63 : 52; /* first bit above the reserved range */
	uint64_t rsvd = f->maxphy < top ? (((1ull << top) - 1) & ~((1ull << f->maxphy) - 1)) : 0;

	if (lv->pae_pdpte)
		return rsvd | (3ull << 1) | (0xfull << 5) | SPT_XD; /* bits 2:1, 8:5, 63 */
	if (!f->nxe)
		rsvd |= SPT_XD;
	if (f->amd && lv->shift >= 39)
		rsvd |= 1ull << 8;
	if (lv->shift != 12 && (e & SPT_PS)) {
		if (!lv->large_ok || (lv->shift == 30 && f->no_1g))
			rsvd |= SPT_PS; /* PS in a PML4E/PML5E, or a 1 GiB page the CPU lacks */
		else if (lv->shift == 30)
			rsvd |= ((1ull << 30) - 1) & ~((1ull << 13) - 1); /* 1 GiB: bits 29:13 */
		else
			rsvd |= ((1ull << 21) - 1) & ~((1ull << 13) - 1); /* 2 MiB: bits 20:13 */
	}
	return rsvd;
}

enum spt_decoded vc__spt_decode(const struct spt_format *f, const struct spt_level *lv,
				uint64_t e, uint64_t *base, unsigned *perm)
{
	if (!(e & SPT_P))
		return SPT_NOT_PRESENT;
	const int large = lv->large_ok && (e & SPT_PS) && (f->esize == 8 || f->pse);
	if (f->esize == 8 && (e & reserved_mask(f, lv, e)))
		return SPT_RESERVED;
	if (f->esize == 4 && large) {
		/* 4 MiB page: bits 31:22, and bits 20:13 give physical bits 39:32
		 * (PSE-36/40); bit 21 is reserved, as are bits past MAXPHYADDR. */
		uint64_t high = (e >> 13) & 0xff;
		if ((e & (1u << 21)) || (f->maxphy < 40 && (high >> (f->maxphy - 32))))
			return SPT_RESERVED;
		*base = (e & 0xffc00000u) | (high << 32);
	} else if (f->esize == 4) {
		*base = e & 0xfffff000u;
	} else {
		*base = e & ((1ull << f->maxphy) - 1) & ~0xfffull;
	}
	*perm = SPT_PERM_ALL;
	if (!lv->pae_pdpte)
		*perm = (e & SPT_RW ? SPT_PERM_W : 0) | (e & SPT_US ? SPT_PERM_U : 0) |
			(f->nxe && f->esize == 8 && (e & SPT_XD) ? 0 : SPT_PERM_X);
	if (!large && lv->shift != 12)
		return SPT_TABLE;
	*base &= ~((1ull << lv->shift) - 1);
	return SPT_LEAF;
}

uint64_t vc__spt_read_entry(const vc_gmem *gm, uint64_t gpa, unsigned size, int *ok)
{
	const void *p = vc_gmem_ptr(gm, gpa, size, 0);

	*ok = p != NULL;
	if (!p)
		return 0;
	return size == 4 ? __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED)
			 : __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
}

int vc__spt_allowed(const struct vc_spt_cpu *cpu, unsigned perm, unsigned access)
{
	const int w = !!(perm & SPT_PERM_W), u = !!(perm & SPT_PERM_U), x = !!(perm & SPT_PERM_X);
	const int write = !!(access & VC_SPT_WRITE);

	if (access & VC_SPT_USER)
		return u && (!write || w) && (!(access & VC_SPT_FETCH) || x);
	if (access & VC_SPT_FETCH)
		return x && !(cpu->smep && u);
	return !(cpu->smap && u && ((access & VC_SPT_IMPLICIT) || !cpu->ac)) &&
	       !(write && cpu->wp && !w);
}

uint32_t vc__spt_access_code(const struct vc_spt_cpu *cpu, unsigned access)
{
	const int i_bit = (cpu->mode != VC_SPT_MODE_32 && cpu->nxe) || cpu->smep;

	return (access & VC_SPT_WRITE ? VC_SPT_PF_W : 0) | (access & VC_SPT_USER ? VC_SPT_PF_U : 0) |
	       (access & VC_SPT_FETCH && i_bit ? VC_SPT_PF_I : 0);
}
