// SPDX-License-Identifier: MIT
// spt cache: differential testing against the reference walker in every paging mode
// (random tables, root switches, reported writes, INVLPG, flushes, small budgets), the
// TLB-like window between a write and its INVLPG, the staleness the contract guards
// against, exact statistics, budget and eviction, hostile tables, bad arguments.
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/spt.h>

#include "spt_model.h"

static vc_gmem *gm;
static struct sm m;

static void setup(void)
{
	m.mem = aligned_alloc(4096, SM_MEM);
	cr_assert_not_null(m.mem);
	memset(m.mem, 0, SM_MEM);
	cr_assert_eq(vc_gmem_create(&gm), 0);
	cr_assert_eq(vc_gmem_add(gm, 0, SM_MEM, m.mem, 0), 0);
}

static void teardown(void)
{
	vc_gmem_destroy(gm);
	free(m.mem);
}

TestSuite(spt_cache, .init = setup, .fini = teardown);

static vc_spt *make_cache(uint64_t budget)
{
	vc_spt *spt;
	VC_OPTS(vc_spt_opts, o, .budget = budget);
	cr_assert_eq(vc_spt_create(&spt, gm, &o), 0);
	return spt;
}

/* The cache's answer must be the walker's, field by field. */
static void check_same(vc_spt_vcpu *v, const struct vc_spt_cpu *cpu, uint64_t gva,
		       unsigned access, const char *when)
{
	struct vc_spt_walk w;
	struct vc_spt_result r;
	int rw = vc_spt_walk(&w, gm, cpu, gva, access, 0);
	int rc = vc_spt_translate(&r, v, gva, access);

	cr_assert_eq(rc, rw, "%s: mode %d cr3 %#lx gva %#lx access %u: rc %d, walker %d", when,
		     cpu->mode, (unsigned long)cpu->cr3, (unsigned long)gva, access, rc, rw);
	if (rc)
		return;
	cr_assert(r.fault == w.fault && r.error_code == w.error_code &&
			  r.noncanonical == w.noncanonical,
		  "%s: mode %d cr3 %#lx gva %#lx access %u: fault %d/%#x vs walker %d/%#x", when,
		  cpu->mode, (unsigned long)cpu->cr3, (unsigned long)gva, access, r.fault,
		  r.error_code, w.fault, w.error_code);
	if (r.fault || r.noncanonical)
		return;
	cr_assert(r.gpa == w.gpa && r.page_size == w.page_size && r.writable == w.writable &&
			  r.user == w.user && r.executable == w.executable,
		  "%s: mode %d gva %#lx: gpa %#lx/%#lx size %#lx/%#lx", when, cpu->mode,
		  (unsigned long)gva, (unsigned long)r.gpa, (unsigned long)w.gpa,
		  (unsigned long)r.page_size, (unsigned long)w.page_size);
}

/* A random entry of a random table changes; the write is reported (or not). */
static void random_write(vc_spt *spt, int report)
{
	const unsigned es = sm_esize(m.mode);
	uint64_t table = sm_table(&m, (unsigned)(sm_rand(&m) % sm_levels(m.mode)));
	uint64_t gpa = table + sm_index(&m, 4096 / es) * es;
	sm_put(&m, gpa, sm_entry(&m, (unsigned)(sm_rand(&m) % sm_levels(m.mode))));
	if (report && sm_rand(&m) % 4)
		cr_assert_eq(vc_spt_guest_write(spt, gpa, es), 0);
	else if (report)
		cr_assert_eq(vc_spt_guest_write(spt, table, 4096), 0); /* a dirty-log harvest */
}

/* One differential run: @checks translations compared, the rest of the events random. */
static uint64_t run_differential(enum vc_spt_mode mode, uint64_t seed, unsigned checks,
				 uint64_t budget, int with_vcpus)
{
	vc_spt *spt = make_cache(budget);
	vc_spt_vcpu *v[2];
	struct vc_spt_cpu cpu[2];
	m = (struct sm){.mem = m.mem, .rng = seed, .mode = mode, .hostile = 20,
		      .wild = 40};
	sm_fill(&m);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(vc_spt_vcpu_create(&v[i], spt), 0);
		cpu[i] = sm_cpu(&m);
		cr_assert_eq(vc_spt_load(v[i], &cpu[i]), 0);
	}
	uint64_t done = 0;
	while (done < checks) {
		unsigned op = (unsigned)(sm_rand(&m) % 1000), i = with_vcpus ? (unsigned)(sm_rand(&m) & 1) : 0;
		if (op < 880) {
			m.mode = cpu[i].mode; /* an address of the vCPU's mode */
			uint64_t gva = sm_gva(&m);
			m.mode = mode;
			check_same(v[i], &cpu[i], gva, (unsigned)(sm_rand(&m) % 16), "differential");
			done++;
		} else if (op < 940) {
			/* a CR3 load, often with other CR0/CR4/EFER bits; now and then in
			 * another paging mode over the same memory */
			if (sm_rand(&m) % 8 == 0)
				m.mode = (enum vc_spt_mode)(1 + sm_rand(&m) % 4);
			cpu[i] = sm_cpu(&m);
			m.mode = mode;
			cr_assert_eq(vc_spt_load(v[i], &cpu[i]), 0);
		} else if (op < 990) {
			random_write(spt, 1);
		} else if (op < 999) {
			cr_assert_eq(vc_spt_invlpg(v[i], sm_gva(&m)), 0);
		} else {
			vc_spt_flush(spt);
		}
	}
	struct vc_spt_stats st;
	vc_spt_get_stats(spt, &st, sizeof st);
	cr_assert_eq(st.lookups, checks);
	cr_assert_gt(st.fills, 0);
	vc_spt_destroy(spt); /* with the vCPU handles */
	return st.invalidations;
}

Test(spt_cache, matches_the_walker_in_every_mode)
{
	/* 4 modes x 2 seeds x 160,000 = 1.28 million translations compared. */
	static const enum vc_spt_mode modes[] = {VC_SPT_MODE_32, VC_SPT_MODE_PAE, VC_SPT_MODE_LONG4,
						 VC_SPT_MODE_LONG5};
	for (unsigned i = 0; i < 4; i++)
		for (uint64_t seed = 1; seed <= 2; seed++)
			cr_assert_gt(run_differential(modes[i], seed * 7919 + i, 160000, 0, 1), 0,
				     "reported writes changed nothing: the test would miss bugs");
}

Test(spt_cache, matches_the_walker_under_a_small_budget)
{
	/* 40 KiB: a handful of shadow pages, so eviction and uncached walks happen. */
	static const enum vc_spt_mode modes[] = {VC_SPT_MODE_PAE, VC_SPT_MODE_LONG4};
	for (unsigned i = 0; i < 2; i++)
		run_differential(modes[i], 99 + i, 60000, 40 << 10, 1);
}

Test(spt_cache, matches_the_walker_on_tidy_tables)
{
	/* Trees without loops, as a real guest builds them. */
	for (enum vc_spt_mode mode = VC_SPT_MODE_32; mode <= VC_SPT_MODE_LONG5; mode++) {
		vc_spt *spt = make_cache(0);
		vc_spt_vcpu *v;
		m = (struct sm){.mem = m.mem, .rng = 4242 + mode, .mode = mode, .levelled = 1};
		sm_fill(&m);
		cr_assert_eq(vc_spt_vcpu_create(&v, spt), 0);
		for (unsigned k = 0; k < 40000; k++) {
			struct vc_spt_cpu cpu = sm_cpu(&m);
			cr_assert_eq(vc_spt_load(v, &cpu), 0);
			for (unsigned j = 0; j < 4; j++)
				check_same(v, &cpu, sm_gva(&m), (unsigned)(sm_rand(&m) % 16), "tidy");
			if (k % 16 == 0)
				random_write(spt, 1);
		}
		vc_spt_destroy(spt);
	}
}

Test(spt_cache, old_or_new_until_invlpg_then_only_new)
{
	unsigned old_seen = 0, new_seen = 0;
	for (enum vc_spt_mode mode = VC_SPT_MODE_32; mode <= VC_SPT_MODE_LONG5; mode++) {
		vc_spt *spt = make_cache(0);
		vc_spt_vcpu *v;
		m = (struct sm){.mem = m.mem, .rng = 77 + mode, .mode = mode, .levelled = 1};
		sm_fill(&m);
		cr_assert_eq(vc_spt_vcpu_create(&v, spt), 0);
		struct vc_spt_cpu cpu = sm_cpu(&m);
		cr_assert_eq(vc_spt_load(v, &cpu), 0);
		for (unsigned k = 0; k < 20000; k++) {
			uint64_t gva = sm_gva(&m);
			unsigned access = (unsigned)(sm_rand(&m) % 16);
			struct vc_spt_walk before, after, path;
			struct vc_spt_result r;
			int rb = vc_spt_walk(&before, gm, &cpu, gva, access, 0);
			/* warm the cache for it, then change one entry on its path, unreported */
			check_same(v, &cpu, gva, access, "before the write");
			if (vc_spt_walk(&path, gm, &cpu, gva, VC_SPT_READ, 0) || path.noncanonical)
				continue;
			uint64_t gpa = path.entry_gpa[sm_rand(&m) % path.levels];
			uint64_t saved = sm_get(&m, gpa);
			unsigned depth = 0;
			while (depth < path.levels && path.entry_gpa[depth] != gpa)
				depth++;
			sm_put(&m, gpa, sm_entry(&m, depth));
			int ra = vc_spt_walk(&after, gm, &cpu, gva, access, 0);
			int rc = vc_spt_translate(&r, v, gva, access);
			int is_old = rc == rb && (rc || (r.fault == before.fault &&
							 r.error_code == before.error_code && (r.fault ||
							 r.gpa == before.gpa)));
			int is_new = rc == ra && (rc || (r.fault == after.fault &&
							 r.error_code == after.error_code && (r.fault ||
							 r.gpa == after.gpa)));
			cr_assert(is_old || is_new, "gva %#lx: neither the old nor the new translation",
				  (unsigned long)gva);
			old_seen += is_old && !is_new;
			new_seen += is_new && !is_old;
			cr_assert_eq(vc_spt_invlpg(v, gva), 0);
			check_same(v, &cpu, gva, access, "after INVLPG");
			/* report it, so the rest of the cache is right for the next round */
			cr_assert_eq(vc_spt_guest_write(spt, gpa, 8), 0);
			if (k % 8 == 0) {
				sm_put(&m, gpa, saved);
				cr_assert_eq(vc_spt_guest_write(spt, gpa, 8), 0);
			}
		}
		vc_spt_destroy(spt);
	}
	/* both outcomes happen: the test sees the window it describes */
	cr_assert_gt(old_seen, 100);
	cr_assert_gt(new_seen, 100);
}

/* A fixed 4-level mapping: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000. */
static void map4k(uint64_t gva, uint64_t page)
{
	m.mode = VC_SPT_MODE_LONG4;
	sm_put(&m, 0x1000 + 8 * ((gva >> 39) & 511), 0x2007);
	sm_put(&m, 0x2000 + 8 * ((gva >> 30) & 511), 0x3007);
	sm_put(&m, 0x3000 + 8 * ((gva >> 21) & 511), 0x4007);
	sm_put(&m, 0x4000 + 8 * ((gva >> 12) & 511), page | 7);
}

static const struct vc_spt_cpu long4 = {.mode = VC_SPT_MODE_LONG4, .cr3 = 0x1000, .wp = 1,
					.nxe = 1};

/* A cache and one vCPU in long4 mode whose tables map 0x400000 to 0x100000. */
static vc_spt *one_mapping(uint64_t budget, vc_spt_vcpu **v)
{
	vc_spt *spt = make_cache(budget);
	cr_assert_eq(vc_spt_vcpu_create(v, spt), 0);
	map4k(0x400000, 0x100000);
	cr_assert_eq(vc_spt_load(*v, &long4), 0);
	return spt;
}

static uint64_t xlate(vc_spt_vcpu *v, uint64_t gva)
{
	struct vc_spt_result r;
	cr_assert_eq(vc_spt_translate(&r, v, gva, VC_SPT_READ), 0);
	cr_assert(!r.fault);
	return r.gpa;
}

Test(spt_cache, a_write_not_reported_leaves_a_stale_translation)
{
	/* This is the contract: without vc_spt_guest_write() the old mapping stays. */
	vc_spt_vcpu *v;
	vc_spt *spt = one_mapping(0, &v);
	cr_assert_eq(xlate(v, 0x400123), 0x100123);
	sm_put(&m, 0x4000 + 8 * 0, 0x180000 | 7); /* the guest remaps the page */
	struct vc_spt_walk w;
	cr_assert_eq(vc_spt_walk(&w, gm, &long4, 0x400123, 0, 0), 0);
	cr_assert_eq(w.gpa, 0x180123);
	cr_assert_eq(xlate(v, 0x400123), 0x100123, "stale, as documented");
	cr_assert_eq(vc_spt_guest_write(spt, 0x1000, 7), 0);
	cr_assert_eq(xlate(v, 0x400123), 0x100123, "a report of other bytes changes nothing");
	cr_assert_eq(vc_spt_guest_write(spt, 0x4000, 8), 0);
	cr_assert_eq(xlate(v, 0x400123), 0x180123);
	struct vc_spt_stats st;
	vc_spt_get_stats(spt, &st, sizeof st);
	cr_assert_eq(st.invalidations, 1);
	/* a report spanning more frames than the hash has chains takes the other path */
	sm_put(&m, 0x4000 + 8 * 0, 0x1c0000 | 7);
	cr_assert_eq(vc_spt_guest_write(spt, 0, 1ull << 40), 0);
	cr_assert_eq(xlate(v, 0x400123), 0x1c0123);
	vc_spt_destroy(spt);
}

Test(spt_cache, reports_that_change_nothing_keep_the_entries)
{
	vc_spt_vcpu *v;
	vc_spt *spt = one_mapping(0, &v);
	xlate(v, 0x400000);
	/* the CPU sets accessed/dirty bits; a dirty-log harvest reports whole frames */
	sm_put(&m, 0x4000, 0x100000 | 7 | 0x60);
	sm_put(&m, 0x1000 + 8, 0x2007); /* a new entry beside the cached one */
	for (uint64_t f = 0; f < SM_MEM; f += 4096)
		cr_assert_eq(vc_spt_guest_write(spt, f, 4096), 0);
	struct vc_spt_stats st;
	vc_spt_get_stats(spt, &st, sizeof st);
	cr_assert_eq(st.invalidations, 0);
	cr_assert_eq(st.fills, 4);
	xlate(v, 0x400000);
	vc_spt_get_stats(spt, &st, sizeof st);
	cr_assert_eq(st.fills, 4, "still cached");
	vc_spt_destroy(spt);
}

Test(spt_cache, a_b_a_is_two_misses_then_one_hit)
{
	vc_spt *spt = make_cache(0);
	vc_spt_vcpu *v;
	cr_assert_eq(vc_spt_vcpu_create(&v, spt), 0);
	struct vc_spt_cpu a = long4, b = long4;
	b.cr3 = 0x5000;
	cr_assert_eq(vc_spt_load(v, &a), 0);
	cr_assert_eq(vc_spt_load(v, &b), 0);
	cr_assert_eq(vc_spt_load(v, &a), 0);
	struct vc_spt_stats st;
	vc_spt_get_stats(spt, &st, sizeof st);
	cr_assert_eq(st.root_loads, 3);
	cr_assert_eq(st.root_misses, 2);
	cr_assert_eq(st.root_hits, 1);
	cr_assert_eq(st.root_mru_hits, 1);
	cr_assert_eq(st.roots, 2);
	cr_assert_eq(st.pages, 2);
	cr_assert_eq(st.evictions, 0);
	vc_spt_destroy(spt);
}

Test(spt_cache, a_cycle_longer_than_the_mru_still_hits)
{
	vc_spt *spt = make_cache(0);
	vc_spt_vcpu *v;
	cr_assert_eq(vc_spt_vcpu_create(&v, spt), 0);
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned i = 0; i < 10; i++) {
			struct vc_spt_cpu c = long4;
			c.cr3 = 0x10000 + i * 0x1000;
			cr_assert_eq(vc_spt_load(v, &c), 0);
		}
	}
	struct vc_spt_stats st;
	vc_spt_get_stats(spt, &st, sizeof st);
	cr_assert_eq(st.root_misses, 10);
	cr_assert_eq(st.root_hits, 20);
	cr_assert_eq(st.root_mru_hits, 0, "10 roots cycle through 4 MRU slots");
	cr_assert_eq(st.roots, 10);
	vc_spt_destroy(spt);
}

Test(spt_cache, a_mode_change_is_a_miss_not_an_invalidation)
{
	vc_spt *spt = make_cache(0);
	vc_spt_vcpu *v;
	cr_assert_eq(vc_spt_vcpu_create(&v, spt), 0);
	map4k(0x400000, 0x100000);
	struct vc_spt_cpu c = long4;
	cr_assert_eq(vc_spt_load(v, &c), 0);
	xlate(v, 0x400000);
	c.nxe = 0; /* EFER.NXE changes how entries decode: other shadows */
	cr_assert_eq(vc_spt_load(v, &c), 0);
	xlate(v, 0x400000);
	c.wp = 0, c.smep = 1, c.smap = 1, c.ac = 1; /* checked per access: same shadows */
	cr_assert_eq(vc_spt_load(v, &c), 0);
	c.nxe = 1;
	cr_assert_eq(vc_spt_load(v, &c), 0);
	struct vc_spt_stats st;
	vc_spt_get_stats(spt, &st, sizeof st);
	cr_assert_eq(st.root_misses, 2);
	cr_assert_eq(st.root_hits, 2);
	cr_assert_eq(st.invalidations, 0);
	cr_assert_eq(st.pages, 8);
	/* and the rules follow the loaded state: a supervisor read of a user page */
	struct vc_spt_result r;
	cr_assert_eq(vc_spt_translate(&r, v, 0x400000, VC_SPT_READ), 0);
	cr_assert(!r.fault, "SMAP with RFLAGS.AC set allows it");
	c.ac = 0;
	cr_assert_eq(vc_spt_load(v, &c), 0);
	cr_assert_eq(vc_spt_translate(&r, v, 0x400000, VC_SPT_READ), 0);
	cr_assert(r.fault && r.error_code == VC_SPT_PF_P);
	vc_spt_destroy(spt);
}

Test(spt_cache, every_permission_combination_matches_the_walker)
{
	/* U/S and R/W at four levels, XD at the leaf, under every WP, NXE, SMEP, SMAP and
	 * AC, for the 16 kinds of access: as kvm-unit-tests' access.c, against the walker. */
	vc_spt *spt = make_cache(0);
	vc_spt_vcpu *v;
	cr_assert_eq(vc_spt_vcpu_create(&v, spt), 0);
	const uint64_t gva = 0x7f0000400000ull;
	unsigned checks = 0;
	for (unsigned flags = 0; flags < 512; flags++) {
		m.mode = VC_SPT_MODE_LONG4;
		uint64_t f[4];
		for (int l = 0; l < 4; l++)
			f[l] = 1 | (flags >> (2 * l) & 1 ? 2 : 0) | (flags >> (2 * l + 1) & 1 ? 4 : 0);
		if (flags & 256)
			f[3] |= 1ull << 63;
		sm_put(&m, 0x1000 + 8 * ((gva >> 39) & 511), 0x2000 | f[0]);
		sm_put(&m, 0x2000 + 8 * ((gva >> 30) & 511), 0x3000 | f[1]);
		sm_put(&m, 0x3000 + 8 * ((gva >> 21) & 511), 0x4000 | f[2]);
		sm_put(&m, 0x4000 + 8 * ((gva >> 12) & 511), 0x100000 | f[3]);
		cr_assert_eq(vc_spt_guest_write(spt, 0x1000, 0x4000), 0);
		for (unsigned rules = 0; rules < 32; rules++) {
			struct vc_spt_cpu c = long4;
			c.wp = rules & 1, c.nxe = rules >> 1 & 1, c.smep = rules >> 2 & 1;
			c.smap = rules >> 3 & 1, c.ac = rules >> 4 & 1;
			cr_assert_eq(vc_spt_load(v, &c), 0);
			for (unsigned access = 0; access < 16; access++, checks++)
				check_same(v, &c, gva, access, "permissions");
		}
	}
	cr_assert_eq(checks, 512 * 32 * 16);
	vc_spt_destroy(spt);
}

Test(spt_cache, budget_evicts_the_least_recently_used_roots)
{
	/* Each root maps one page through its own 4 tables: 5 pages per address space. */
	const uint64_t page = sizeof(uint64_t) * 512 + 256;
	vc_spt *spt = make_cache(13 * page);
	vc_spt_vcpu *v;
	cr_assert_eq(vc_spt_vcpu_create(&v, spt), 0);
	m.mode = VC_SPT_MODE_LONG4;
	for (unsigned i = 0; i < 8; i++) {
		uint64_t t = 0x10000 + i * 0x4000;
		sm_put(&m, t, (t + 0x1000) | 7);
		sm_put(&m, t + 0x1000, (t + 0x2000) | 7);
		sm_put(&m, t + 0x2000, (t + 0x3000) | 7);
		sm_put(&m, t + 0x3000, (0x100000 + i * 0x1000) | 7);
	}
	struct vc_spt_stats st;
	for (unsigned i = 0; i < 8; i++) {
		struct vc_spt_cpu c = long4;
		c.cr3 = 0x10000 + i * 0x4000;
		cr_assert_eq(vc_spt_load(v, &c), 0);
		cr_assert_eq(xlate(v, 0x123), 0x100123 + i * 0x1000);
		vc_spt_get_stats(spt, &st, sizeof st);
		cr_assert_leq(st.bytes, 13 * page, "over budget after root %u: %lu bytes", i,
			      (unsigned long)st.bytes);
	}
	vc_spt_get_stats(spt, &st, sizeof st);
	cr_assert_gt(st.evictions, 0);
	cr_assert_eq(st.uncached, 0);
	/* the most recent root is cached, the first one was evicted */
	uint64_t misses = st.root_misses;
	struct vc_spt_cpu c = long4;
	c.cr3 = 0x10000 + 6 * 0x4000;
	cr_assert_eq(vc_spt_load(v, &c), 0);
	c.cr3 = 0x10000;
	cr_assert_eq(vc_spt_load(v, &c), 0);
	vc_spt_get_stats(spt, &st, sizeof st);
	cr_assert_eq(st.root_misses, misses + 1);
	vc_spt_destroy(spt);
}

Test(spt_cache, a_budget_too_small_for_one_path_walks_instead)
{
	vc_spt_vcpu *v;
	vc_spt *spt = one_mapping(1, &v); /* a held root may pass the budget */
	cr_assert_eq(xlate(v, 0x400000), 0x100000);
	cr_assert_eq(xlate(v, 0x400000), 0x100000);
	struct vc_spt_stats st;
	vc_spt_get_stats(spt, &st, sizeof st);
	cr_assert_eq(st.uncached, 2);
	cr_assert_eq(st.pages, 1);
	vc_spt_destroy(spt);
}

Test(spt_cache, flush_is_lazy_and_complete)
{
	vc_spt_vcpu *v;
	vc_spt *spt = one_mapping(0, &v);
	xlate(v, 0x400000);
	sm_put(&m, 0x4000 + 8 * 0, 0x180000 | 7); /* unreported... */
	vc_spt_flush(spt);                       /* ...but a flush forgets everything */
	struct vc_spt_stats st;
	vc_spt_get_stats(spt, &st, sizeof st);
	cr_assert_eq(st.pages, 4, "old pages are freed later, not by the flush");
	cr_assert_eq(st.roots, 0);
	cr_assert_eq(xlate(v, 0x400000), 0x180000);
	vc_spt_get_stats(spt, &st, sizeof st);
	cr_assert_eq(st.root_misses, 2);
	cr_assert_eq(st.flushes, 1);
	cr_assert_eq(st.pages, 4, "the 4 new ones, the 4 old ones reclaimed on the way");
	vc_spt_destroy(spt);
}

Test(spt_cache, hostile_tables_give_errors_not_host_faults)
{
	vc_spt *spt = make_cache(0);
	vc_spt_vcpu *v;
	struct vc_spt_result r;
	cr_assert_eq(vc_spt_vcpu_create(&v, spt), 0);
	/* a root outside guest memory */
	struct vc_spt_cpu c = long4;
	c.cr3 = 64ull << 30;
	cr_assert_eq(vc_spt_load(v, &c), 0);
	cr_assert_eq(vc_spt_translate(&r, v, 0x1000, 0), -EFAULT);
	cr_assert_eq(vc_spt_invlpg(v, 0x1000), 0);
	/* an entry pointing outside, then a PML4 that maps itself at every level */
	m.mode = VC_SPT_MODE_LONG4;
	sm_put(&m, 0x1000, (64ull << 30) | 7);
	sm_put(&m, 0x1000 + 8 * 511, 0x1000 | 7);
	cr_assert_eq(vc_spt_load(v, &long4), 0);
	cr_assert_eq(vc_spt_translate(&r, v, 0x1000, 0), -EFAULT);
	const uint64_t self = 0xfffffffffffff000ull; /* indexes 511, 511, 511, 511 */
	check_same(v, &long4, self + 8, 0, "self-map");
	cr_assert_eq(xlate(v, self + 8), 0x1008, "the self-map reaches the PML4 itself");
	/* guest memory disappears: reported as a flush, translations fail cleanly */
	vc_spt_flush(spt);
	cr_assert_eq(vc_gmem_remove(gm, 0), 0);
	cr_assert_eq(vc_spt_translate(&r, v, self, 0), -EFAULT);
	cr_assert_eq(vc_spt_guest_write(spt, 0, SM_MEM), 0);
	cr_assert_eq(vc_gmem_add(gm, 0, SM_MEM, m.mem, 0), 0);
	vc_spt_destroy(spt);
}

Test(spt_cache, bad_arguments)
{
	vc_spt *spt;
	vc_spt_vcpu *v;
	struct vc_spt_result r;
	cr_assert_eq(vc_spt_create(&spt, NULL, NULL), -EINVAL);
	cr_assert_eq(vc_spt_create(NULL, gm, NULL), -EINVAL);
	struct {
		struct vc_spt_opts o;
		uint64_t future;
	} big = {{.sz = sizeof(big)}, 1};
	cr_assert_eq(vc_spt_create(&spt, gm, &big.o), -E2BIG);
	cr_assert_eq(vc_spt_create(&spt, gm, NULL), 0);
	cr_assert_eq(vc_spt_vcpu_create(&v, spt), 0);
	cr_assert_eq(vc_spt_translate(&r, v, 0, 0), -EINVAL, "nothing loaded yet");
	cr_assert_eq(vc_spt_invlpg(v, 0), -EINVAL);
	struct vc_spt_cpu c = long4;
	c.mode = 9;
	cr_assert_eq(vc_spt_load(v, &c), -EINVAL);
	c = long4;
	c.maxphyaddr = 60;
	cr_assert_eq(vc_spt_load(v, &c), -EINVAL);
	cr_assert_eq(vc_spt_load(v, &long4), 0);
	cr_assert_eq(vc_spt_translate(&r, v, 0, 16), -EINVAL);
	cr_assert_eq(vc_spt_guest_write(spt, ~0ull, 2), -EINVAL);
	cr_assert_eq(vc_spt_guest_write(spt, ~0ull, 1), 0);
	cr_assert_eq(vc_spt_guest_write(spt, 5, 0), 0);
	cr_assert_eq(vc_spt_guest_write(spt, 0, ~0ull), 0, "the whole address space, quickly");
	c = long4;
	c.mode = VC_SPT_MODE_32;
	cr_assert_eq(vc_spt_load(v, &c), 0);
	cr_assert_eq(vc_spt_translate(&r, v, 1ull << 32, 0), -EINVAL);
	vc_spt_vcpu_destroy(v);
	vc_spt_vcpu_destroy(NULL);
	vc_spt_destroy(spt);
	vc_spt_destroy(NULL);
}
