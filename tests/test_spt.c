// SPDX-License-Identifier: MIT
// spt: the reference page walker in every paging mode, large pages, reserved bits, the
// error codes, every permission combination against an independent statement of the
// rules, accessed/dirty updates, and hostile tables (outside memory, self-referencing).
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/spt.h>

#define MEM_SIZE (8u << 20)

static vc_gmem *gm;
static uint8_t *mem;

static void setup(void)
{
	mem = aligned_alloc(4096, MEM_SIZE);
	cr_assert_not_null(mem);
	memset(mem, 0, MEM_SIZE);
	cr_assert_eq(vc_gmem_create(&gm), 0);
	cr_assert_eq(vc_gmem_add(gm, 0, MEM_SIZE, mem, 0), 0);
}

static void teardown(void)
{
	vc_gmem_destroy(gm);
	free(mem);
}

TestSuite(spt, .init = setup, .fini = teardown);

static void put64(uint64_t gpa, uint64_t v) { memcpy(mem + gpa, &v, 8); }
static void put32(uint64_t gpa, uint32_t v) { memcpy(mem + gpa, &v, 4); }
static uint64_t get64(uint64_t gpa) { uint64_t v; memcpy(&v, mem + gpa, 8); return v; }

#define P 1ull
#define RW 2ull
#define US 4ull
#define A 0x20ull
#define D 0x40ull
#define PS 0x80ull
#define XD (1ull << 63)

static unsigned idx(uint64_t gva, unsigned shift) { return (unsigned)((gva >> shift) & 511); }

/* A 4-level mapping of @gva to @page with the given flags at every level. */
static void map4(uint64_t gva, uint64_t page, uint64_t flags[4])
{
	put64(0x1000 + 8 * idx(gva, 39), 0x2000 | flags[0]);
	put64(0x2000 + 8 * idx(gva, 30), 0x3000 | flags[1]);
	put64(0x3000 + 8 * idx(gva, 21), 0x4000 | flags[2]);
	put64(0x4000 + 8 * idx(gva, 12), page | flags[3]);
}

static struct vc_spt_cpu long4(void)
{
	return (struct vc_spt_cpu){.mode = VC_SPT_MODE_LONG4, .cr3 = 0x1000, .wp = 1, .nxe = 1};
}

Test(spt, long4_4k_page)
{
	const uint64_t gva = 0x00007f1234567abcull;
	uint64_t f[4] = {P | RW | US, P | RW | US, P | RW | US, P | RW | US};
	map4(gva, 0x300000, f);
	struct vc_spt_cpu cpu = long4();
	struct vc_spt_walk w;
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_READ, 0), 0);
	cr_assert(!w.fault && !w.noncanonical);
	cr_assert_eq(w.gpa, 0x300000 | 0xabc);
	cr_assert_eq(w.page_size, 4096);
	cr_assert_eq(w.levels, 4);
	cr_assert_eq(w.entry_gpa[0], 0x1000 + 8 * idx(gva, 39));
	cr_assert_eq(w.entry_gpa[3], 0x4000 + 8 * idx(gva, 12));
	cr_assert(w.writable && w.user && w.executable);
	/* not present at each level: error code has no P bit, says write+user */
	for (int lvl = 0; lvl < 4; lvl++) {
		uint64_t g[4] = {P | RW | US, P | RW | US, P | RW | US, P | RW | US};
		g[lvl] &= ~P;
		map4(gva, 0x300000, g);
		cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_WRITE | VC_SPT_USER, 0), 0);
		cr_assert(w.fault, "level %d", lvl);
		cr_assert_eq(w.error_code, VC_SPT_PF_W | VC_SPT_PF_U);
		cr_assert_eq(w.levels, (unsigned)lvl + 1);
	}
	/* a fetch reports I/D */
	map4(gva, 0x300000, (uint64_t[4]){P | RW | US, P | RW | US, P | RW | US, P | RW | US | XD});
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_FETCH | VC_SPT_USER, 0), 0);
	cr_assert(w.fault);
	cr_assert_eq(w.error_code, VC_SPT_PF_P | VC_SPT_PF_U | VC_SPT_PF_I);
}

Test(spt, large_pages_and_their_reserved_bits)
{
	struct vc_spt_cpu cpu = long4();
	struct vc_spt_walk w;
	const uint64_t gva = 0x0000004012345678ull;
	/* 1 GiB page */
	put64(0x1000 + 8 * idx(gva, 39), 0x2000 | P | RW);
	put64(0x2000 + 8 * idx(gva, 30), 0x40000000ull | P | RW | PS);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_READ, 0), 0);
	cr_assert(!w.fault);
	cr_assert_eq(w.page_size, 1ull << 30);
	cr_assert_eq(w.gpa, 0x40000000ull | (gva & ((1ull << 30) - 1)));
	put64(0x2000 + 8 * idx(gva, 30), 0x40000000ull | (1ull << 13) | P | RW | PS);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_READ, 0), 0);
	cr_assert(w.fault);
	cr_assert_eq(w.error_code, VC_SPT_PF_P | VC_SPT_PF_RSVD);
	/* 2 MiB page */
	put64(0x2000 + 8 * idx(gva, 30), 0x3000 | P | RW);
	put64(0x3000 + 8 * idx(gva, 21), 0x600000ull | P | RW | PS);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_READ, 0), 0);
	cr_assert_eq(w.page_size, 2u << 20);
	cr_assert_eq(w.gpa, 0x600000ull | (gva & ((2u << 20) - 1)));
	put64(0x3000 + 8 * idx(gva, 21), 0x600000ull | (1ull << 20) | P | RW | PS);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_READ, 0), 0);
	cr_assert(w.fault && (w.error_code & VC_SPT_PF_RSVD));
	/* PS in a PML4E is reserved; XD without NXE is reserved; bits past MAXPHYADDR too */
	put64(0x3000 + 8 * idx(gva, 21), 0x600000ull | P | RW | PS);
	put64(0x1000 + 8 * idx(gva, 39), 0x2000 | P | RW | PS);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_READ, 0), 0);
	cr_assert(w.fault && (w.error_code & VC_SPT_PF_RSVD));
	put64(0x1000 + 8 * idx(gva, 39), 0x2000 | P | RW | XD);
	cpu.nxe = 0;
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_READ, 0), 0);
	cr_assert(w.fault && (w.error_code & VC_SPT_PF_RSVD));
	cpu.nxe = 1;
	cpu.maxphyaddr = 39;
	put64(0x1000 + 8 * idx(gva, 39), 0x2000 | (1ull << 40) | P | RW);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_READ, 0), 0);
	cr_assert(w.fault && (w.error_code & VC_SPT_PF_RSVD));
}

Test(spt, five_levels_and_canonical_addresses)
{
	struct vc_spt_cpu cpu = {.mode = VC_SPT_MODE_LONG5, .cr3 = 0x5000, .wp = 1, .nxe = 1};
	struct vc_spt_walk w;
	const uint64_t gva = 0xff12345678901000ull; /* canonical for 57 bits */
	put64(0x5000 + 8 * ((gva >> 48) & 511), 0x1000 | P | RW);
	map4(gva, 0x123000, (uint64_t[4]){P | RW, P | RW, P | RW, P | RW});
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_WRITE, 0), 0);
	cr_assert(!w.fault && !w.noncanonical);
	cr_assert_eq(w.levels, 5);
	cr_assert_eq(w.gpa, 0x123000);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, 0x0100000000000000ull, VC_SPT_READ, 0), 0);
	cr_assert(w.noncanonical);
	struct vc_spt_cpu c4 = long4();
	cr_assert_eq(vc_spt_walk(&w, gm, &c4, 0x0000800000000000ull, VC_SPT_READ, 0), 0);
	cr_assert(w.noncanonical, "bit 47 set without the upper bits: not canonical in 4-level");
	cr_assert_eq(vc_spt_walk(&w, gm, &c4, 0xffff800000000000ull, VC_SPT_READ, 0), 0);
	cr_assert(!w.noncanonical);
}

Test(spt, thirty_two_bit_paging)
{
	struct vc_spt_cpu cpu = {.mode = VC_SPT_MODE_32, .cr3 = 0x1000, .wp = 1};
	struct vc_spt_walk w;
	const uint32_t gva = 0x80403123u;
	put32(0x1000 + 4 * (gva >> 22), 0x2000 | P | RW | US);
	put32(0x2000 + 4 * ((gva >> 12) & 1023), 0x345000 | P | RW | US);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_WRITE | VC_SPT_USER, 0), 0);
	cr_assert(!w.fault);
	cr_assert_eq(w.gpa, 0x345123);
	cr_assert_eq(w.page_size, 4096);
	/* PS without CR4.PSE is ignored: still a page table */
	put32(0x1000 + 4 * (gva >> 22), 0x2000 | P | RW | US | PS);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_READ, 0), 0);
	cr_assert_eq(w.gpa, 0x345123);
	/* with PSE: a 4 MiB page, and PSE-36 high bits */
	cpu.pse = 1;
	put32(0x1000 + 4 * (gva >> 22), 0x00c00000u | (0x3u << 13) | P | RW | PS);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_READ, 0), 0);
	cr_assert(!w.fault);
	cr_assert_eq(w.page_size, 4u << 20);
	cr_assert_eq(w.gpa, (3ull << 32) | 0x00c00000u | (gva & ((4u << 20) - 1)));
	put32(0x1000 + 4 * (gva >> 22), 0x00c00000u | (1u << 21) | P | RW | PS);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_READ, 0), 0);
	cr_assert(w.fault && (w.error_code & VC_SPT_PF_RSVD), "bit 21 of a 4 MiB PDE is reserved");
	/* a fetch has no I/D bit in 32-bit paging without SMEP */
	put32(0x1000 + 4 * (gva >> 22), 0);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_FETCH, 0), 0);
	cr_assert_eq(w.error_code, 0);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, 0x100000000ull, VC_SPT_READ, 0), -EINVAL);
}

Test(spt, pae_paging)
{
	struct vc_spt_cpu cpu = {.mode = VC_SPT_MODE_PAE, .cr3 = 0x1020, .wp = 1, .nxe = 1};
	struct vc_spt_walk w;
	const uint32_t gva = 0xc0201234u;
	put64(0x1020 + 8 * (gva >> 30), 0x2000 | P);
	put64(0x2000 + 8 * ((gva >> 21) & 511), 0x3000 | P | RW | US);
	put64(0x3000 + 8 * ((gva >> 12) & 511), 0x456000 | P | RW | US);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_WRITE | VC_SPT_USER, VC_SPT_WALK_SET_AD), 0);
	cr_assert(!w.fault, "PDPTEs have no R/W or U/S bits: they do not restrict");
	cr_assert_eq(w.gpa, 0x456234);
	cr_assert_eq(get64(0x1020 + 8 * (gva >> 30)) & A, 0, "no accessed bit in a PDPTE");
	/* PDPTE reserved bits (R/W here) */
	put64(0x1020 + 8 * (gva >> 30), 0x2000 | P | RW);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_READ, 0), 0);
	cr_assert(w.fault && (w.error_code & VC_SPT_PF_RSVD));
	put64(0x1020 + 8 * (gva >> 30), 0x2000 | P);
	/* 2 MiB page with XD */
	put64(0x2000 + 8 * ((gva >> 21) & 511), 0xa00000 | P | RW | PS | XD);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_READ, 0), 0);
	cr_assert_eq(w.gpa, 0xa00000 | (gva & ((2u << 20) - 1)));
	cr_assert(!w.executable);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_FETCH, 0), 0);
	cr_assert(w.fault);
	cr_assert_eq(w.error_code, VC_SPT_PF_P | VC_SPT_PF_I);
}

/* The rules of SDM 4.6, stated per kind of access, independently of the walker. */
static int expect_allowed(int us_all, int rw_all, int xd, struct vc_spt_cpu c, unsigned acc)
{
	int user = acc & VC_SPT_USER, write = acc & VC_SPT_WRITE, fetch = acc & VC_SPT_FETCH;
	if (user) {
		if (!us_all)
			return 0; /* supervisor-mode address */
		if (fetch)
			return !xd;
		if (write)
			return rw_all;
		return 1;
	}
	if (fetch) {
		if (xd)
			return 0;
		if (us_all && c.smep)
			return 0;
		return 1;
	}
	if (us_all && c.smap && (!c.ac || (acc & VC_SPT_IMPLICIT)))
		return 0;
	if (write && c.wp)
		return rw_all;
	return 1;
}

Test(spt, every_permission_combination)
{
	const uint64_t gva = 0x0000001122334000ull;
	static const unsigned accesses[] = {
		VC_SPT_READ, VC_SPT_WRITE, VC_SPT_FETCH, VC_SPT_USER, VC_SPT_USER | VC_SPT_WRITE,
		VC_SPT_USER | VC_SPT_FETCH, VC_SPT_IMPLICIT, VC_SPT_IMPLICIT | VC_SPT_WRITE,
	};
	unsigned checks = 0;
	for (unsigned us = 0; us < 16; us++)
		for (unsigned rw = 0; rw < 16; rw++)
			for (unsigned xdl = 0; xdl < 16; xdl += 5) { /* XD at no level, or some */
				uint64_t f[4];
				for (int l = 0; l < 4; l++)
					f[l] = P | ((us >> l) & 1 ? US : 0) | ((rw >> l) & 1 ? RW : 0) |
					       ((xdl >> l) & 1 ? XD : 0);
				map4(gva, 0x500000, f);
				for (unsigned cfg = 0; cfg < 32; cfg++) {
					struct vc_spt_cpu c = long4();
					c.wp = cfg & 1, c.nxe = !!(cfg & 2), c.smep = !!(cfg & 4);
					c.smap = !!(cfg & 8), c.ac = !!(cfg & 16);
					int xd = c.nxe && xdl;
					for (size_t a = 0; a < sizeof(accesses) / sizeof(accesses[0]); a++) {
						struct vc_spt_walk w;
						cr_assert_eq(vc_spt_walk(&w, gm, &c, gva, accesses[a], 0), 0);
						if (!c.nxe && xdl) { /* XD without NXE: reserved */
							cr_assert(w.fault && (w.error_code & VC_SPT_PF_RSVD));
							continue;
						}
						int ok = expect_allowed(us == 15, rw == 15, xd, c, accesses[a]);
						cr_assert_eq(!w.fault, ok, "us %x rw %x xd %x cfg %x access %x",
							     us, rw, xdl, cfg, accesses[a]);
						if (w.fault)
							cr_assert(w.error_code & VC_SPT_PF_P);
						checks++;
					}
				}
			}
	cr_log_info("%u permission checks", checks);
	cr_assert_gt(checks, 100000);
}

Test(spt, accessed_and_dirty_bits)
{
	const uint64_t gva = 0x0000000040201000ull;
	map4(gva, 0x700000, (uint64_t[4]){P | RW, P | RW, P | RW, P | RW});
	struct vc_spt_cpu cpu = long4();
	struct vc_spt_walk w;
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_READ, 0), 0);
	cr_assert_eq(get64(w.entry_gpa[3]) & (A | D), 0, "no update without the flag");
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_READ, VC_SPT_WALK_SET_AD), 0);
	for (int l = 0; l < 4; l++)
		cr_assert_eq(get64(w.entry_gpa[l]) & (A | D), A, "level %d", l);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, gva, VC_SPT_WRITE, VC_SPT_WALK_SET_AD), 0);
	cr_assert_eq(get64(w.entry_gpa[3]) & D, D);
	cr_assert_eq(get64(w.entry_gpa[2]) & D, 0, "dirty only in the leaf");
}

Test(spt, hostile_tables)
{
	struct vc_spt_cpu cpu = long4();
	struct vc_spt_walk w;
	/* a root outside guest memory */
	cpu.cr3 = 0x100000000ull;
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, 0x1000, VC_SPT_READ, 0), -EFAULT);
	cr_assert_eq(w.levels, 1);
	/* an entry pointing outside guest memory */
	cpu = long4();
	put64(0x1000, 0x7ffff000000ull | P | RW);
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, 0x1000, VC_SPT_READ, 0), -EFAULT);
	cr_assert_eq(w.levels, 2);
	/* a table that points at itself (the classic self-map): the walk ends after four
	 * reads and the translation is the table itself */
	put64(0x1000 + 8 * 511, 0x1000 | P | RW);
	const uint64_t self = 0xfffffffffffff000ull; /* index 511 at every level */
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, self, VC_SPT_READ, 0), 0);
	cr_assert(!w.fault);
	cr_assert_eq(w.levels, 4);
	cr_assert_eq(w.gpa, 0x1000);
	/* bad arguments */
	cpu.mode = (enum vc_spt_mode)9;
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, 0, VC_SPT_READ, 0), -EINVAL);
	cpu = long4();
	cr_assert_eq(vc_spt_walk(&w, gm, &cpu, 0, 1u << 7, 0), -EINVAL);
	cr_assert_eq(vc_spt_walk(&w, NULL, &cpu, 0, 0, 0), -EINVAL);
}
