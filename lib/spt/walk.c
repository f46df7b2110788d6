// SPDX-License-Identifier: MIT
// The reference page walker (Intel SDM vol. 3, chapter 4): what the CPU would do with a
// guest-virtual address, entry by entry. Slow on purpose: every rule is spelled out, so
// the shadow cache can be tested against it.
#include <errno.h>
#include <string.h>

#include <virtcore/spt.h>

#define P_BIT (1ull << 0)
#define RW_BIT (1ull << 1)
#define US_BIT (1ull << 2)
#define A_BIT (1ull << 5)
#define D_BIT (1ull << 6)
#define PS_BIT (1ull << 7)
#define XD_BIT (1ull << 63)

/* One paging structure level. */
struct level {
	unsigned shift;     /* the virtual-address bits this level indexes start here */
	unsigned bits;      /* how many */
	int large_ok;       /* PS may map a page here */
	int pae_pdpte;      /* PAE PDPTE: no R/W, U/S, XD, A; its own reserved bits */
};

static const struct level levels_32[] = {{22, 10, 1, 0}, {12, 10, 0, 0}};
static const struct level levels_pae[] = {{30, 2, 0, 1}, {21, 9, 1, 0}, {12, 9, 0, 0}};
static const struct level levels_l4[] = {{39, 9, 0, 0}, {30, 9, 1, 0}, {21, 9, 1, 0},
					 {12, 9, 0, 0}};
static const struct level levels_l5[] = {{48, 9, 0, 0}, {39, 9, 0, 0}, {30, 9, 1, 0},
					 {21, 9, 1, 0}, {12, 9, 0, 0}};

static uint64_t read_entry(const vc_gmem_t *gm, uint64_t gpa, unsigned size, int *ok)
{
	const void *p = vc_gmem_ptr(gm, gpa, size, 0);

	*ok = p != NULL;
	if (!p)
		return 0;
	/* the guest may be writing it: one atomic load, never a torn value */
	return size == 4 ? __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED)
			 : __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
}

static void set_bits(const vc_gmem_t *gm, uint64_t gpa, unsigned size, uint64_t bits)
{
	void *p = vc_gmem_ptr(gm, gpa, size, 1);

	if (!p)
		return; /* read-only memory: the CPU's write would be dropped too */
	if (size == 4)
		__atomic_fetch_or((uint32_t *)p, (uint32_t)bits, __ATOMIC_RELAXED);
	else
		__atomic_fetch_or((uint64_t *)p, bits, __ATOMIC_RELAXED);
}

static int canonical(uint64_t gva, unsigned width)
{
	int64_t s = (int64_t)(gva << (64 - width)) >> (64 - width);
	return (uint64_t)s == gva;
}

/* Reserved bits of an entry at this level (for 8-byte formats). */
static uint64_t reserved_mask(const struct vc_spt_cpu *cpu, const struct level *lv,
			      uint64_t e, unsigned maxphy)
{
	uint64_t rsvd = maxphy < 52 ? (((1ull << 52) - 1) & ~((1ull << maxphy) - 1)) : 0;

	if (lv->pae_pdpte)
		return rsvd | (3ull << 1) | (0xfull << 5) | XD_BIT; /* bits 2:1, 8:5, 63 */
	if (!cpu->nxe)
		rsvd |= XD_BIT;
	if (e & PS_BIT) {
		if (!lv->large_ok)
			rsvd |= PS_BIT; /* PS in a PML4E/PML5E */
		else if (lv->shift == 30)
			rsvd |= ((1ull << 30) - 1) & ~((1ull << 13) - 1); /* 1 GiB: bits 29:13 */
		else
			rsvd |= ((1ull << 21) - 1) & ~((1ull << 13) - 1); /* 2 MiB: bits 20:13 */
	}
	return rsvd;
}

VC_API int vc_spt_walk(const vc_gmem_t *gm, const struct vc_spt_cpu *cpu, uint64_t gva,
		       unsigned access, unsigned flags, struct vc_spt_walk *out)
{
	const struct level *lv;
	unsigned nlevels, esize = 8;
	uint64_t table;

	if (!gm || !cpu || !out || (access & ~0xfu) || (flags & ~VC_SPT_WALK_SET_AD))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	unsigned maxphy = cpu->maxphyaddr ? cpu->maxphyaddr : 52;
	if (maxphy < 32 || maxphy > 52)
		return -EINVAL;
	switch (cpu->mode) {
	case VC_SPT_MODE_32:
		lv = levels_32, nlevels = 2, esize = 4;
		table = cpu->cr3 & 0xfffff000u;
		break;
	case VC_SPT_MODE_PAE:
		lv = levels_pae, nlevels = 3;
		table = cpu->cr3 & 0xffffffe0u;
		break;
	case VC_SPT_MODE_LONG4:
		lv = levels_l4, nlevels = 4;
		table = cpu->cr3 & ((1ull << maxphy) - 1) & ~0xfffull;
		break;
	case VC_SPT_MODE_LONG5:
		lv = levels_l5, nlevels = 5;
		table = cpu->cr3 & ((1ull << maxphy) - 1) & ~0xfffull;
		break;
	default:
		return -EINVAL;
	}
	if (esize == 4 || cpu->mode == VC_SPT_MODE_PAE) {
		if (gva > 0xffffffffull)
			return -EINVAL;
	} else if (!canonical(gva, cpu->mode == VC_SPT_MODE_LONG5 ? 57 : 48)) {
		out->noncanonical = 1;
		return 0;
	}

	const int write = !!(access & VC_SPT_WRITE), user = !!(access & VC_SPT_USER);
	const int fetch = !!(access & VC_SPT_FETCH);
	uint32_t ec = (write ? VC_SPT_PF_W : 0) | (user ? VC_SPT_PF_U : 0) |
		      (fetch && ((cpu->mode != VC_SPT_MODE_32 && cpu->nxe) || cpu->smep)
			       ? VC_SPT_PF_I : 0);
	int rw_all = 1, us_all = 1, xd_any = 0;
	const uint64_t addr_mask = ((1ull << maxphy) - 1) & ~0xfffull;

	for (unsigned i = 0; i < nlevels; i++) {
		uint64_t idx = (gva >> lv[i].shift) & ((1ull << lv[i].bits) - 1);
		uint64_t egpa = table + idx * esize;
		int ok;
		uint64_t e = read_entry(gm, egpa, esize, &ok);

		out->entry_gpa[i] = egpa;
		out->levels = i + 1;
		if (!ok)
			return -EFAULT;
		out->entry[i] = e;
		if (!(e & P_BIT)) {
			out->fault = 1;
			out->error_code = ec;
			return 0;
		}
		int large = lv[i].large_ok && (e & PS_BIT) && (esize == 8 || cpu->pse);
		if (esize == 8 && (e & reserved_mask(cpu, &lv[i], e, maxphy))) {
			out->fault = 1;
			out->error_code = ec | VC_SPT_PF_P | VC_SPT_PF_RSVD;
			return 0;
		}
		uint64_t base;
		if (esize == 4 && large) {
			/* 4 MiB page: bits 31:22, and bits 20:13 give physical bits 39:32
			 * (PSE-36/40); bit 21 is reserved, as are bits past MAXPHYADDR. */
			uint64_t high = (e >> 13) & 0xff;
			base = (e & 0xffc00000u) | (high << 32);
			if ((e & (1u << 21)) || (maxphy < 40 && (high >> (maxphy - 32)))) {
				out->fault = 1;
				out->error_code = ec | VC_SPT_PF_P | VC_SPT_PF_RSVD;
				return 0;
			}
		} else {
			base = e & (esize == 4 ? 0xfffff000u : addr_mask);
		}
		if (!lv[i].pae_pdpte) {
			rw_all &= !!(e & RW_BIT);
			us_all &= !!(e & US_BIT);
			xd_any |= cpu->nxe && esize == 8 && (e & XD_BIT);
		}
		if (large || i == nlevels - 1) {
			uint64_t size = 1ull << lv[i].shift;
			out->page_size = size;
			out->gpa = (large ? base & ~(size - 1) : base) | (gva & (size - 1));
			break;
		}
		table = base;
	}

	/* Permissions (SDM 4.6), on the whole path. */
	int deny;
	if (user)
		deny = !us_all || (write && !rw_all) || (fetch && xd_any);
	else if (fetch)
		deny = xd_any || (cpu->smep && us_all);
	else
		deny = (cpu->smap && us_all && ((access & VC_SPT_IMPLICIT) || !cpu->ac)) ||
		       (write && cpu->wp && !rw_all);
	if (deny) {
		out->fault = 1;
		out->error_code = ec | VC_SPT_PF_P;
		return 0;
	}
	out->writable = rw_all;
	out->user = us_all;
	out->executable = !xd_any;
	if (flags & VC_SPT_WALK_SET_AD) {
		for (unsigned i = 0; i < out->levels; i++) {
			if (cpu->mode == VC_SPT_MODE_PAE && i == 0)
				continue; /* PDPTEs have no accessed bit */
			uint64_t bits = A_BIT;
			if (i == out->levels - 1 && write)
				bits |= D_BIT;
			set_bits(gm, out->entry_gpa[i], esize, bits);
		}
	}
	return 0;
}
