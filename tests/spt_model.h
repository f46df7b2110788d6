/* SPDX-License-Identifier: MIT */
/* Random guest page tables in a simulated guest memory, shared by the spt cache tests,
 * its fuzz target and its benchmark: every paging mode, tables that share subtrees,
 * point at themselves, hold reserved bits or point outside memory. */
#ifndef VC_TESTS_SPT_MODEL_H
#define VC_TESTS_SPT_MODEL_H

#include <stdint.h>
#include <string.h>

#include <virtcore/spt.h>

#define SM_FRAMES 512u          /* 2 MiB of guest memory */
#define SM_MEM (SM_FRAMES * 4096u)
#define SM_TABLES 48u           /* frames 1..48 hold tables; the rest is data */
#define SM_LEVELS 5u

struct sm {
	uint8_t *mem;
	uint64_t rng;
	enum vc_spt_mode mode;
	int levelled;       /* tables of depth d point only at tables of depth d + 1 */
	unsigned hostile;   /* per mille of entries with reserved bits or outside memory */
	unsigned wild;      /* per mille of entries with random bits flipped, each bit drawn
			     * on its own (1 in 16): the bits no rule here knows about too */
};

static inline uint64_t sm_rand(struct sm *m)
{
	/* xorshift64*: deterministic from the seed, so a failure is reproducible */
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * 0x2545f4914f6cdd1dull;
}

static inline unsigned sm_esize(enum vc_spt_mode mode)
{
	return mode == VC_SPT_MODE_32 ? 4 : 8;
}

static inline unsigned sm_levels(enum vc_spt_mode mode)
{
	return mode == VC_SPT_MODE_32 ? 2 : mode == VC_SPT_MODE_PAE ? 3 : mode == VC_SPT_MODE_LONG4 ? 4 : 5;
}

/* The few indexes each level uses, so random addresses meet filled entries. */
static inline unsigned sm_index(struct sm *m, unsigned entries)
{
	static const unsigned pick[8] = {0, 1, 2, 3, 0, 1, 0, 0};
	unsigned r = (unsigned)(sm_rand(m) % 10);
	if (entries == 4)
		return r & 3;
	return r < 8 ? pick[r] : r == 8 ? entries / 2 : entries - 1;
}

/* A table frame for depth @depth (the levelled pools are disjoint per depth). */
static inline uint64_t sm_table(struct sm *m, unsigned depth)
{
	unsigned per = SM_TABLES / SM_LEVELS;
	unsigned f = m->levelled ? 1 + depth * per + (unsigned)(sm_rand(m) % per)
				 : 1 + (unsigned)(sm_rand(m) % SM_TABLES);
	return (uint64_t)f << 12;
}

static inline uint64_t sm_entry_ruled(struct sm *m, unsigned depth);

/* A random entry for a table at @depth. */
static inline uint64_t sm_entry(struct sm *m, unsigned depth)
{
	uint64_t e = sm_entry_ruled(m, depth);
	if (m->wild && sm_rand(m) % 1000 < m->wild) { /* no draw without: same tables */
		uint64_t flip = sm_rand(m) & sm_rand(m) & sm_rand(m) & sm_rand(m);
		e ^= flip & ~1ull & (m->mode == VC_SPT_MODE_32 ? 0xffffffffull : ~0ull);
	}
	return e;
}

/* An entry drawn by the rules the model knows: kinds, flags, PS, XD, reserved bits. */
static inline uint64_t sm_entry_ruled(struct sm *m, unsigned depth)
{
	const unsigned nl = sm_levels(m->mode);
	uint64_t r = sm_rand(m), e;
	unsigned kind = (unsigned)(r % 100);

	if (kind < 8)
		return r & ~1ull & (m->mode == VC_SPT_MODE_32 ? 0xffffffffull : ~0ull); /* not present */
	if (kind < 65 && depth + 1 < nl)
		e = sm_table(m, depth + 1);
	else
		e = (uint64_t)(SM_TABLES + 1 + (sm_rand(m) % (SM_FRAMES - SM_TABLES - 1))) << 12;
	e |= 1 | (r >> 8 & 0x7e); /* P, and random RW, US, PWT, PCD, A, D */
	if ((r >> 20) % 4 == 0)
		e |= 0x80; /* PS: a large page where one is allowed, reserved elsewhere */
	if (m->mode == VC_SPT_MODE_32) {
		if (((r >> 24) % 1000) < m->hostile)
			e |= 1u << 21; /* reserved in a 4 MiB PDE */
		return e & 0xffffffffull;
	}
	if ((r >> 30) % 3 == 0)
		e |= 1ull << 63; /* XD */
	if (((r >> 34) % 1000) < m->hostile)
		e |= (r >> 44) % 2 ? 1ull << 51                          /* reserved */
				   : (uint64_t)(SM_FRAMES + (r >> 50) % 64) << 12; /* outside */
	if (m->mode == VC_SPT_MODE_PAE && depth == 0)
		e &= ~0x1e6ull & ~(1ull << 63); /* PDPTEs: keep their reserved bits clear */
	return e;
}

static inline void sm_put(struct sm *m, uint64_t gpa, uint64_t v)
{
	memcpy(m->mem + gpa, &v, sm_esize(m->mode));
}

static inline uint64_t sm_get(struct sm *m, uint64_t gpa)
{
	uint64_t v = 0;
	memcpy(&v, m->mem + gpa, sm_esize(m->mode));
	return v;
}

/* Fills every table frame: the entries random addresses use, at every depth. */
static inline void sm_fill(struct sm *m)
{
	const unsigned es = sm_esize(m->mode), nl = sm_levels(m->mode);
	memset(m->mem, 0, SM_MEM);
	for (unsigned f = 1; f <= SM_TABLES; f++) {
		unsigned per = SM_TABLES / SM_LEVELS;
		unsigned depth = m->levelled ? (f - 1) / per : (unsigned)(sm_rand(m) % nl);
		if (depth >= nl)
			continue;
		for (unsigned k = 0; k < 12; k++) {
			unsigned entries = 4096 / es;
			unsigned idx = sm_index(m, entries);
			sm_put(m, ((uint64_t)f << 12) + idx * es, sm_entry(m, depth));
		}
	}
}

/* A random address whose indexes are the ones tables use; now and then not canonical. */
static inline uint64_t sm_gva(struct sm *m)
{
	static const unsigned shifts[4][5] = {{22, 12}, {30, 21, 12}, {39, 30, 21, 12},
					      {48, 39, 30, 21, 12}};
	static const unsigned bits[4][5] = {{10, 10}, {2, 9, 9}, {9, 9, 9, 9}, {9, 9, 9, 9, 9}};
	const unsigned mi = (unsigned)m->mode - 1, nl = sm_levels(m->mode);
	uint64_t gva = sm_rand(m) & 0xfff;
	for (unsigned i = 0; i < nl; i++)
		gva |= (uint64_t)sm_index(m, 1u << bits[mi][i]) << shifts[mi][i];
	if (sm_rand(m) % 4 == 0)
		gva |= sm_rand(m) & 0x1fffff; /* inside large pages */
	if (m->mode == VC_SPT_MODE_LONG4 || m->mode == VC_SPT_MODE_LONG5) {
		unsigned width = m->mode == VC_SPT_MODE_LONG5 ? 57 : 48;
		if (gva >> (width - 1) & 1)
			gva |= ~0ull << width; /* sign-extend */
		if (sm_rand(m) % 64 == 0)
			gva ^= 1ull << 60; /* non-canonical */
	}
	return gva;
}

/* A random root and CPU state for @mode. */
static inline struct vc_spt_cpu sm_cpu(struct sm *m)
{
	static const unsigned maxphy[4] = {0, 36, 40, 46};
	uint64_t r = sm_rand(m);
	struct vc_spt_cpu c = {.mode = m->mode, .cr3 = sm_table(m, 0)};
	if (m->mode == VC_SPT_MODE_PAE)
		c.cr3 |= (r & 3) << 5; /* 32-byte aligned PDPTs */
	c.wp = (r >> 2) % 4 != 0;
	c.nxe = (r >> 4) % 4 != 0;
	c.pse = (r >> 6) % 4 != 0;
	c.smep = (r >> 8) % 2;
	c.smap = (r >> 9) % 2;
	c.ac = (r >> 10) % 4 == 0;
	c.pke = (r >> 12) % 8 == 0;
	c.maxphyaddr = maxphy[(r >> 13) % 4];
	c.amd = (r >> 16) % 2;
	c.no_1g = (r >> 17) % 4 == 0;
	return c;
}

#endif /* VC_TESTS_SPT_MODEL_H */
