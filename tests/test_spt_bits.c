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

#include "spt_paths.h"

#define MAXPHY 36
#define VA SP_VA

/* The SDM's statement: is @bit of an entry of @kind reserved? */
static bool sdm_reserved(enum vc_spt_mode mode, enum sp_kind k, unsigned bit, bool nxe, bool amd)
{
	if (amd && (k == PML4E || k == PML5E) && bit == 8)
		return true; /* AMD APM vol. 2, 5.3.3: MBZ; Intel ignores it */
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

static uint8_t mem[SP_MEM];
static vc_gmem *gm;

/* Walk and cache on the path as built: the same answer, which is returned. */
static struct vc_spt_walk walk_both(const struct vc_spt_cpu *cpu, struct vc_spt_result *r)
{
	struct vc_spt_walk w;
	vc_spt *spt;
	vc_spt_vcpu *v;
	cr_assert_eq(vc_spt_walk(&w, gm, cpu, VA, VC_SPT_READ, 0), 0);
	/* A fresh cache each time: the path is built, not reported. */
	cr_assert_eq(vc_spt_create(&spt, gm, NULL), 0);
	cr_assert_eq(vc_spt_vcpu_create(&v, spt), 0);
	cr_assert_eq(vc_spt_load(v, cpu), 0);
	cr_assert_eq(vc_spt_translate(r, v, VA, VC_SPT_READ), 0);
	vc_spt_destroy(spt);
	return w;
}

static void check_mode(enum vc_spt_mode mode, bool nxe, bool amd, bool no_1g)
{
	static const enum sp_kind leaves[] = {PTE, PDE_2M, PDPTE_1G};
	struct vc_spt_cpu cpu = {.mode = mode, .cr3 = 0x1000, .wp = 1, .nxe = nxe,
				 .amd = amd, .no_1g = no_1g, .maxphyaddr = MAXPHY};
	unsigned checked = 0;
	for (unsigned l = 0; l < 3; l++) {
		if (mode == VC_SPT_MODE_PAE && leaves[l] == PDPTE_1G)
			continue;
		if (leaves[l] == PDPTE_1G && no_1g) {
			/* Without 1 GiB pages, PS in a PDPTE is a reserved bit. */
			uint64_t where[5];
			unsigned n;
			struct vc_spt_result r;
			sp_build(mem, mode, PDPTE_1G, where, &n);
			struct vc_spt_walk w = walk_both(&cpu, &r);
			cr_assert(w.fault && r.fault, "no 1 GiB pages: a 1 GiB PDPTE translates");
			cr_assert_eq(w.error_code, VC_SPT_PF_P | VC_SPT_PF_RSVD);
			cr_assert_eq(r.error_code, w.error_code);
			continue;
		}
		uint64_t where[5];
		unsigned n;
		uint64_t want = sp_build(mem, mode, leaves[l], where, &n);
		for (unsigned lv = 0; lv < n; lv++) {
			enum sp_kind k = sp_kind_at(mode, leaves[l], lv, n);
			for (unsigned bit = 1; bit < 64; bit++) {
				if (sp_address_bit(k, bit, MAXPHY) || (bit == 7 && k != PML4E && k != PML5E &&
							    k != PTE && k != PAE_PDPTE))
					continue; /* PS decides the kind of entry it is */
				uint64_t e;
				memcpy(&e, mem + where[lv], 8);
				sp_put(mem, where[lv], e ^ (1ull << bit));
				bool rsvd = sdm_reserved(mode, k, bit, nxe, amd);
				struct vc_spt_result r;
				struct vc_spt_walk w = walk_both(&cpu, &r);
				const char *what = rsvd ? "reserved" : "harmless";
				cr_assert_eq(w.fault, rsvd, "mode %d nxe %d %s bit %u (%s): walk fault %d",
					     mode, nxe, sp_kind_name[k], bit, what, w.fault);
				cr_assert_eq(r.fault, rsvd, "mode %d nxe %d %s bit %u (%s): cache fault %d",
					     mode, nxe, sp_kind_name[k], bit, what, r.fault);
				if (rsvd) {
					cr_assert_eq(w.error_code, VC_SPT_PF_P | VC_SPT_PF_RSVD,
						     "%s bit %u: error code %#x", sp_kind_name[k], bit,
						     w.error_code);
					cr_assert_eq(r.error_code, w.error_code);
				} else {
					cr_assert_eq(w.gpa, want, "%s bit %u: gpa %#llx", sp_kind_name[k],
						     bit, (unsigned long long)w.gpa);
					cr_assert_eq(r.gpa, want);
				}
				sp_put(mem, where[lv], e);
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
	check_mode(VC_SPT_MODE_LONG4, true, false, false);
	check_mode(VC_SPT_MODE_LONG4, false, false, false);
}

Test(spt_bits, five_level)
{
	check_mode(VC_SPT_MODE_LONG5, true, false, false);
	check_mode(VC_SPT_MODE_LONG5, false, false, false);
}

/* AMD's PML4E/PML5E bit 8, and a CPU without 1 GiB pages. */
Test(spt_bits, vendor_rules)
{
	check_mode(VC_SPT_MODE_LONG4, true, true, false);
	check_mode(VC_SPT_MODE_LONG5, false, true, true);
	check_mode(VC_SPT_MODE_LONG4, true, false, true);
}

Test(spt_bits, pae)
{
	check_mode(VC_SPT_MODE_PAE, true, false, false);
	check_mode(VC_SPT_MODE_PAE, false, false, false);
	check_mode(VC_SPT_MODE_PAE, true, true, true); /* neither rule applies to PAE */
}

/* ---- 32-bit paging (SDM vol. 3, tables 4-4 to 4-6): 4-byte entries ---- */

enum kind32 { PDE32_TABLE, PDE32_4M, PTE32 };
static const char *const kind32_name[] = {"32-bit PDE", "32-bit PDE (4 MiB)", "32-bit PTE"};

/* The SDM's statement for 32-bit paging: only a 4 MiB PDE has reserved bits: 21, and
 * the PSE-36 high-address bits (20:13 hold physical bits 39:32) at or above @maxphy. */
static bool sdm_reserved32(enum kind32 k, unsigned bit, unsigned maxphy)
{
	if (k != PDE32_4M)
		return false;
	unsigned m = maxphy > 40 ? 40 : maxphy;
	return bit == 21 || (bit >= 13 && bit <= 20 && bit - 13 + 32 >= m);
}

static bool address_bit32(enum kind32 k, unsigned bit, unsigned maxphy)
{
	if (k != PDE32_4M)
		return bit >= 12;
	unsigned m = maxphy > 40 ? 40 : maxphy;
	return bit >= 22 || (bit >= 13 && bit - 13 + 32 < m);
}

static void put32(uint64_t gpa, uint32_t v)
{
	memcpy(mem + gpa, &v, 4);
}

static void check_mode32(bool pse, unsigned maxphy)
{
	const uint64_t pde = 0x1000 + 4 * (VA >> 22), pte = 0x3000 + 4 * ((VA >> 12) & 1023);
	struct vc_spt_cpu cpu = {.mode = VC_SPT_MODE_32, .cr3 = 0x1000, .wp = 1, .pse = pse,
				 .maxphyaddr = maxphy};
	unsigned checked = 0;
	for (unsigned k = 0; k < 3; k++) {
		if (k == PDE32_4M && !pse)
			continue;
		memset(mem, 0, sizeof(mem));
		uint64_t want, where = k == PTE32 ? pte : pde;
		if (k == PDE32_4M) {
			put32(pde, 0x800000 | 0x83);
			want = 0x800000 | (VA & 0x3fffff);
		} else {
			put32(pde, 0x3000 | 0x3);
			put32(pte, 0x80000 | 0x3);
			want = 0x80000 | (VA & 0xfff);
		}
		for (unsigned bit = 1; bit < 32; bit++) {
			/* With CR4.PSE, PS decides what a PDE is; without it bit 7 is ignored. */
			if (address_bit32((enum kind32)k, bit, maxphy) || (bit == 7 && k != PTE32 && pse))
				continue;
			uint32_t e;
			memcpy(&e, mem + where, 4);
			put32(where, e ^ (1u << bit));
			bool rsvd = sdm_reserved32((enum kind32)k, bit, maxphy);
			struct vc_spt_result r;
			struct vc_spt_walk w = walk_both(&cpu, &r);
			cr_assert_eq(w.fault, rsvd, "pse %d M %u %s bit %u: walk fault %d", pse, maxphy,
				     kind32_name[k], bit, w.fault);
			cr_assert_eq(r.fault, rsvd, "pse %d M %u %s bit %u: cache fault %d", pse, maxphy,
				     kind32_name[k], bit, r.fault);
			if (rsvd) {
				cr_assert_eq(w.error_code, VC_SPT_PF_P | VC_SPT_PF_RSVD);
				cr_assert_eq(r.error_code, w.error_code);
			} else {
				cr_assert_eq(w.gpa, want, "%s bit %u: gpa %#llx", kind32_name[k], bit,
					     (unsigned long long)w.gpa);
				cr_assert_eq(r.gpa, want);
			}
			put32(where, e);
			checked++;
		}
	}
	cr_assert_gt(checked, 20);
}

Test(spt_bits, thirty_two_bit)
{
	check_mode32(false, 36);
	check_mode32(true, 36);
	check_mode32(true, 40);
	check_mode32(true, 52);
}
