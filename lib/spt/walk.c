// SPDX-License-Identifier: MIT
// The reference page walker (Intel SDM vol. 3, chapter 4): what the CPU would do with a
// guest-virtual address, entry by entry. Slow on purpose: every entry is read from guest
// memory and recorded, so the shadow cache can be tested against it.
#include <errno.h>
#include <string.h>

#include "spt-internal.h"

static void set_bits(const vc_gmem *gm, uint64_t gpa, unsigned size, uint64_t bits)
{
	void *p = vc_gmem_ptr(gm, gpa, size, 1);

	if (!p)
		return; /* read-only memory: the CPU's write would be dropped too */
	if (size == 4)
		__atomic_fetch_or((uint32_t *)p, (uint32_t)bits, __ATOMIC_RELAXED);
	else
		__atomic_fetch_or((uint64_t *)p, bits, __ATOMIC_RELAXED);
}

VC_API int vc_spt_walk(struct vc_spt_walk *out, const vc_gmem *gm,
		       const struct vc_spt_cpu *cpu, uint64_t gva, unsigned access,
		       unsigned flags)
{
	struct spt_geom g;

	if (!gm || !cpu || !out || (access & ~0xfu) || (flags & ~VC_SPT_WALK_SET_AD))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (vc__spt_geom(cpu, &g))
		return -EINVAL;
	int ok = vc__spt_gva_ok(cpu->mode, gva);
	if (ok < 0)
		return ok;
	if (!ok) {
		out->noncanonical = 1;
		return 0;
	}

	const uint32_t ec = vc__spt_access_code(cpu, access);
	const unsigned esize = g.fmt.esize;
	unsigned perm = SPT_PERM_ALL;
	uint64_t table = g.root;

	for (unsigned i = 0; i < g.n; i++) {
		const struct spt_level *lv = &g.lv[i];
		uint64_t egpa = table + ((gva >> lv->shift) & ((1ull << lv->bits) - 1)) * esize;
		uint64_t e = vc__spt_read_entry(gm, egpa, esize, &ok), base = 0;
		unsigned p = 0;

		out->entry_gpa[i] = egpa;
		out->levels = i + 1;
		if (!ok)
			return -EFAULT;
		out->entry[i] = e;
		switch (vc__spt_decode(&g.fmt, lv, e, &base, &p)) {
		case SPT_NOT_PRESENT:
			out->fault = 1;
			out->error_code = ec;
			return 0;
		case SPT_RESERVED:
			out->fault = 1;
			out->error_code = ec | VC_SPT_PF_P | VC_SPT_PF_RSVD;
			return 0;
		case SPT_TABLE:
			perm &= p;
			table = base;
			continue;
		case SPT_LEAF:
			perm &= p;
			out->page_size = 1ull << lv->shift;
			out->gpa = base | (gva & (out->page_size - 1));
			break;
		}
		break;
	}

	if (!vc__spt_allowed(cpu, perm, access)) {
		out->fault = 1;
		out->error_code = ec | VC_SPT_PF_P;
		return 0;
	}
	out->writable = !!(perm & SPT_PERM_W);
	out->user = !!(perm & SPT_PERM_U);
	out->executable = !!(perm & SPT_PERM_X);
	if (flags & VC_SPT_WALK_SET_AD) {
		for (unsigned i = 0; i < out->levels; i++) {
			if (g.lv[i].pae_pdpte)
				continue; /* PDPTEs have no accessed bit */
			uint64_t bits = SPT_A;
			if (i == out->levels - 1 && (access & VC_SPT_WRITE))
				bits |= SPT_D;
			set_bits(gm, out->entry_gpa[i], esize, bits);
		}
	}
	return 0;
}
