// SPDX-License-Identifier: MIT
// spt: every bit of every entry format, alone on an otherwise valid path, through the
// walker and the cache, against the SDM's tables (vol. 3, tables 4-8 to 4-11 for PAE,
// 4-14 to 4-20 for 4- and 5-level paging), restated here on their own. A bit is either
// reserved (the walk faults with P|RSVD) or harmless for a supervisor read (the same
// translation); bits that carry the frame address are left out. docs/spt.md has the table.
#include <stdbool.h>
#include <string.h>

#include <criterion/criterion.h>

#include <virtcore/spt.h>

#define MAXPHY 36
#define VA 0x12345678ull /* PML4 0, PDPT 0, PD 0x91, PT 0x145 */

enum kind {
	PML5E, PML4E, PDPTE_TABLE, PDPTE_1G, PDE_TABLE, PDE_2M, PTE, PAE_PDPTE,
};
static const char *const kind_name[] = {"PML5E", "PML4E", "PDPTE", "PDPTE (1 GiB)", "PDE",
					 "PDE (2 MiB)", "PTE", "PAE PDPTE"};

/* The SDM's statement: is @bit of an entry of @kind reserved? */
static bool sdm_reserved(enum vc_spt_mode mode, enum kind k, unsigned bit, bool nxe)
{
	if (bit == 63)
		return !nxe || k == PAE_PDPTE;
	if (bit >= 52)
		return mode == VC_SPT_MODE_PAE; /* 62:52: ignored or protection keys in IA-32e */
	if (bit >= MAXPHY)
		return true;
	if (k == PAE_PDPTE)
		return bit == 1 || bit == 2 || (bit >= 5 && bit <= 8);
	if ((k == PML4E || k == PML5E) && bit == 7)
		return true; /* PS must be 0 */
	if (k == PDE_2M)
		return bit >= 13 && bit <= 20;
	if (k == PDPTE_1G)
		return bit >= 13 && bit <= 29;
	return false; /* 4 KiB PTE bit 7 is PAT; bit 12 of a large page is PAT */
}

/* Bits that carry the frame address (changing them changes the answer, not its kind). */
static bool address_bit(enum kind k, unsigned bit)
{
	unsigned low = k == PDPTE_1G ? 30 : k == PDE_2M ? 21 : 12;
	return bit >= low && bit < MAXPHY;
}

static uint8_t mem[1 << 20];
static vc_gmem *gm;

static void put(uint64_t gpa, uint64_t v)
{
	memcpy(mem + gpa, &v, 8);
}

/* A path to VA in @mode ending in a page of kind @leaf; returns each level's entry
 * address in @where (root first) and the expected gpa. */
static uint64_t build(enum vc_spt_mode mode, enum kind leaf, uint64_t where[5], unsigned *n)
{
	memset(mem, 0, sizeof(mem));
	const uint64_t flags = 0x3; /* P, RW */
	unsigned i = 0;
	if (mode == VC_SPT_MODE_PAE) {
		where[i++] = 0x1000 + 8 * ((VA >> 30) & 3);
		put(where[0], 0x2000 | 1);
	} else {
		if (mode == VC_SPT_MODE_LONG5) {
			where[i++] = 0x1000 + 8 * ((VA >> 48) & 511);
			put(where[0], 0x6000 | flags);
		}
		uint64_t pml4 = mode == VC_SPT_MODE_LONG5 ? 0x6000 : 0x1000;
		where[i] = pml4 + 8 * ((VA >> 39) & 511);
		put(where[i++], 0x7000 | flags);
		where[i] = 0x7000 + 8 * ((VA >> 30) & 511);
		if (leaf == PDPTE_1G) {
			put(where[i++], 0x40000000 | flags | 0x80);
			*n = i;
			return 0x40000000 | (VA & 0x3fffffff);
		}
		put(where[i++], 0x2000 | flags);
	}
	where[i] = 0x2000 + 8 * ((VA >> 21) & 511);
	if (leaf == PDE_2M) {
		put(where[i++], 0x800000 | flags | 0x80);
		*n = i;
		return 0x800000 | (VA & 0x1fffff);
	}
	put(where[i++], 0x3000 | flags);
	where[i] = 0x3000 + 8 * ((VA >> 12) & 511);
	put(where[i++], 0x80000 | flags);
	*n = i;
	return 0x80000 | (VA & 0xfff);
}

/* The kind of entry at level @lv of a path ending in @leaf. */
static enum kind kind_at(enum vc_spt_mode mode, enum kind leaf, unsigned lv, unsigned n)
{
	if (lv == n - 1)
		return leaf;
	if (mode == VC_SPT_MODE_PAE)
		return lv == 0 ? PAE_PDPTE : PDE_TABLE;
	unsigned from_bottom = n - 1 - lv; /* 1: the entry above the leaf */
	static const enum kind above_pte[] = {PTE, PDE_TABLE, PDPTE_TABLE, PML4E, PML5E};
	static const enum kind above_2m[] = {PDE_2M, PDPTE_TABLE, PML4E, PML5E};
	static const enum kind above_1g[] = {PDPTE_1G, PML4E, PML5E};
	return leaf == PTE ? above_pte[from_bottom] : leaf == PDE_2M ? above_2m[from_bottom]
							     : above_1g[from_bottom];
}

static void check_mode(enum vc_spt_mode mode, bool nxe)
{
	static const enum kind leaves[] = {PTE, PDE_2M, PDPTE_1G};
	struct vc_spt_cpu cpu = {.mode = mode, .cr3 = 0x1000, .wp = 1, .nxe = nxe,
				 .maxphyaddr = MAXPHY};
	unsigned checked = 0;
	for (unsigned l = 0; l < 3; l++) {
		if (mode == VC_SPT_MODE_PAE && leaves[l] == PDPTE_1G)
			continue;
		uint64_t where[5];
		unsigned n;
		uint64_t want = build(mode, leaves[l], where, &n);
		for (unsigned lv = 0; lv < n; lv++) {
			enum kind k = kind_at(mode, leaves[l], lv, n);
			for (unsigned bit = 1; bit < 64; bit++) {
				if (address_bit(k, bit) || (bit == 7 && k != PML4E && k != PML5E &&
							    k != PTE && k != PAE_PDPTE))
					continue; /* PS decides the kind of entry it is */
				uint64_t e;
				memcpy(&e, mem + where[lv], 8);
				put(where[lv], e ^ (1ull << bit));
				bool rsvd = sdm_reserved(mode, k, bit, nxe);
				struct vc_spt_walk w;
				cr_assert_eq(vc_spt_walk(&w, gm, &cpu, VA, VC_SPT_READ, 0), 0);
				/* A fresh cache each time: the path is built, not reported. */
				vc_spt *spt;
				vc_spt_vcpu *v;
				struct vc_spt_result r;
				cr_assert_eq(vc_spt_create(&spt, gm, NULL), 0);
				cr_assert_eq(vc_spt_vcpu_create(&v, spt), 0);
				cr_assert_eq(vc_spt_load(v, &cpu), 0);
				cr_assert_eq(vc_spt_translate(&r, v, VA, VC_SPT_READ), 0);
				vc_spt_destroy(spt);
				const char *what = rsvd ? "reserved" : "harmless";
				cr_assert_eq(w.fault, rsvd, "mode %d nxe %d %s bit %u (%s): walk fault %d",
					     mode, nxe, kind_name[k], bit, what, w.fault);
				cr_assert_eq(r.fault, rsvd, "mode %d nxe %d %s bit %u (%s): cache fault %d",
					     mode, nxe, kind_name[k], bit, what, r.fault);
				if (rsvd) {
					cr_assert_eq(w.error_code, VC_SPT_PF_P | VC_SPT_PF_RSVD,
						     "%s bit %u: error code %#x", kind_name[k], bit,
						     w.error_code);
					cr_assert_eq(r.error_code, w.error_code);
				} else {
					cr_assert_eq(w.gpa, want, "%s bit %u: gpa %#llx", kind_name[k],
						     bit, (unsigned long long)w.gpa);
					cr_assert_eq(r.gpa, want);
				}
				put(where[lv], e);
				checked++;
			}
		}
	}
	cr_assert_gt(checked, 100);
}

static void setup(void)
{
	cr_assert_eq(vc_gmem_create(&gm), 0);
	cr_assert_eq(vc_gmem_add(gm, 0, sizeof(mem), mem, 0), 0);
	/* The large pages' frames: 2 MiB at 8 MiB and 1 GiB at 1 GiB need no memory (a
	 * read translation reads no data). */
}

static void teardown(void)
{
	vc_gmem_destroy(gm);
}

TestSuite(spt_bits, .init = setup, .fini = teardown);

Test(spt_bits, four_level)
{
	check_mode(VC_SPT_MODE_LONG4, true);
	check_mode(VC_SPT_MODE_LONG4, false);
}

Test(spt_bits, five_level)
{
	check_mode(VC_SPT_MODE_LONG5, true);
	check_mode(VC_SPT_MODE_LONG5, false);
}

Test(spt_bits, pae)
{
	check_mode(VC_SPT_MODE_PAE, true);
	check_mode(VC_SPT_MODE_PAE, false);
}
