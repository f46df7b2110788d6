// SPDX-License-Identifier: MIT
// The shadow cache seen from a vCPU: loading a root (recent roots, then the hash, else
// a new shadow), translating through shadow entries filled lazily from guest entries,
// and keeping them right when the guest reports a write or an INVLPG.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "cache.h"

static uint32_t make_role(const struct vc_spt_cpu *cpu, const struct spt_geom *g)
{
	return g->n | ((uint32_t)cpu->mode << ROLE_MODE_SHIFT) | (g->fmt.nxe ? ROLE_NXE : 0) |
	       (g->fmt.pse ? ROLE_PSE : 0) | (cpu->pke ? ROLE_PKE : 0) |
	       (cpu->mode == VC_SPT_MODE_LONG5 ? ROLE_LA57 : 0) | (g->fmt.amd ? ROLE_AMD : 0) |
	       (g->fmt.no_1g ? ROLE_NO_1G : 0) |
	       (SPT_PERM_ALL << ROLE_PERM_SHIFT) | (g->fmt.maxphy << ROLE_MAXPHY_SHIFT);
}

/* The state the per-access rules depend on. */
static uint32_t rules_of(const struct vc_spt_cpu *cpu)
{
	return cpu->mode | cpu->wp << 3 | cpu->nxe << 4 | cpu->smep << 5 | cpu->smap << 6 |
	       cpu->ac << 7;
}

static unsigned nent_at(const struct spt_geom *g, unsigned depth)
{
	return 1u << g->lv[depth].bits;
}

VC_API int vc_spt_vcpu_create(vc_spt_vcpu **out, vc_spt *spt)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!spt)
		return -EINVAL;
	struct vc_spt_vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->spt = spt;
	v->next_vcpu = spt->vcpus;
	spt->vcpus = v;
	*out = v;
	return 0;
}

/* The vCPU's current root stops being current (it stays among its recent roots). */
static void unpin_current(struct vc_spt *spt, struct vc_spt_vcpu *v)
{
	if (v->mru[0].page && v->mru[0].gen == spt->gen)
		v->mru[0].page->active--;
}

VC_API void vc_spt_vcpu_destroy(vc_spt_vcpu *v)
{
	if (!v)
		return;
	struct vc_spt *spt = v->spt;
	unpin_current(spt, v);
	struct vc_spt_vcpu **pp = &spt->vcpus;
	while (*pp != v)
		pp = &(*pp)->next_vcpu;
	*pp = v->next_vcpu;
	free(v);
}

/* Makes the shadow of the loaded root current: recent roots, the hash, or a new one. */
static int select_root(struct vc_spt_vcpu *v)
{
	struct vc_spt *spt = v->spt;
	const uint64_t gpa = v->g.root;
	struct spt_mru hit = {0};
	unsigned i;

	spt->st.root_loads++;
	for (i = 0; i < VC_SPT_MRU_ROOTS; i++) {
		struct spt_mru *m = &v->mru[i];
		if (m->page && m->gen == spt->gen && m->page->gpa == gpa &&
		    m->page->role == v->root_role) {
			hit = *m;
			break;
		}
	}
	if (hit.page) {
		spt->st.root_hits++;
		spt->st.root_mru_hits++;
		if (i) {
			unpin_current(spt, v);
			memmove(&v->mru[1], &v->mru[0], i * sizeof(v->mru[0]));
			v->mru[0] = hit;
			hit.page->active++;
		}
		vc__spt_touch_root(spt, hit.page);
		return 0;
	}
	/* The current root stays pinned until the new one is in place: making room for
	 * a new root must not evict the one in use. */
	struct spt_page *pg = vc__spt_find(spt, gpa, v->root_role);
	if (pg) {
		spt->st.root_hits++;
		vc__spt_touch_root(spt, pg);
	} else {
		pg = vc__spt_alloc(spt, gpa, v->root_role, nent_at(&v->g, 0), 1);
		if (!pg)
			return -ENOMEM;
		spt->st.root_misses++;
	}
	unpin_current(spt, v);
	memmove(&v->mru[1], &v->mru[0], (VC_SPT_MRU_ROOTS - 1) * sizeof(v->mru[0]));
	pg->active++;
	v->mru[0] = (struct spt_mru){pg, spt->gen};
	return 0;
}

VC_API int vc_spt_load(vc_spt_vcpu *v, const struct vc_spt_cpu *cpu)
{
	struct spt_geom g;

	if (!v || !cpu || vc__spt_geom(cpu, &g)) {
		vc__err("spt: load: invalid CPU state (mode, MAXPHYADDR 32..52)");
		return -EINVAL;
	}
	v->cpu = *cpu;
	v->g = g;
	for (unsigned d = 0; d < g.n; d++) {
		v->shift[d] = (uint8_t)g.lv[d].shift;
		v->mask[d] = (uint16_t)((1u << g.lv[d].bits) - 1);
	}
	v->root_role = make_role(cpu, &g);
	uint32_t rules = rules_of(cpu);
	if (!v->loaded || rules != v->rules) {
		/* Precompute the per-access answers, so a translation tests one bit. */
		for (unsigned p = 0; p < 8; p++) {
			v->permit[p] = 0;
			for (unsigned a = 0; a < 16; a++)
				if (vc__spt_allowed(cpu, p, a))
					v->permit[p] |= (uint16_t)(1u << a);
		}
		for (unsigned a = 0; a < 16; a++)
			v->code[a] = vc__spt_access_code(cpu, a);
		v->rules = rules;
	}
	v->loaded = 1;
	int rc = select_root(v);
	if (rc)
		v->loaded = 0;
	return rc;
}

/* What guest entry @idx of shadow page @pg says now, in shadow terms. */
struct derived {
	enum spt_decoded kind;
	uint64_t leaf;     /* SPT_LEAF: the shadow entry */
	uint64_t child;    /* SPT_TABLE: the next guest table... */
	uint32_t role;     /* ...and its role */
};

static int derive(const struct vc_spt *spt, const struct spt_geom *g, const struct spt_page *pg,
		  unsigned depth, uint64_t idx, struct derived *d)
{
	const struct spt_level *lv = &g->lv[depth];
	int ok;
	uint64_t e = vc__spt_read_entry(spt->gm, pg->gpa + idx * g->fmt.esize, g->fmt.esize, &ok);
	if (!ok)
		return -EFAULT;
	uint64_t base = 0;
	unsigned perm = 0;
	d->kind = vc__spt_decode(&g->fmt, lv, e, &base, &perm);
	perm &= ROLE_PERM(pg->role);
	if (d->kind == SPT_LEAF)
		d->leaf = base | (uint64_t)perm << 1 | SE_LEAF;
	else if (d->kind == SPT_TABLE)
		d->child = base, d->role = ROLE_WITH(pg->role, ROLE_LEVEL(pg->role) - 1, perm);
	return 0;
}

/* Does shadow entry @e say what @d says? */
static int same(uint64_t e, const struct derived *d)
{
	if (d->kind == SPT_LEAF)
		return e == d->leaf;
	if (d->kind != SPT_TABLE || !SE_IS_CHILD(e))
		return 0;
	const struct spt_page *c = (const struct spt_page *)(uintptr_t)e;
	return c->gpa == d->child && c->role == d->role;
}

static void zap(struct vc_spt *spt, struct spt_page *pg, uint64_t idx)
{
	uint64_t e = pg->e[idx];

	if (!e)
		return;
	pg->e[idx] = 0;
	spt->st.invalidations++;
	if (SE_IS_CHILD(e))
		vc__spt_put(spt, (struct spt_page *)(uintptr_t)e);
}

static int fault(struct vc_spt_result *out, uint32_t code)
{
	memset(out, 0, sizeof(*out));
	out->fault = 1;
	out->error_code = code;
	return 0;
}

static int finish_leaf(const struct vc_spt_vcpu *v, unsigned depth, uint64_t e, uint64_t gva,
		       unsigned access, struct vc_spt_result *out)
{
	const unsigned perm = SE_PERM(e);

	if (!(v->permit[perm] >> access & 1))
		return fault(out, v->code[access] | VC_SPT_PF_P);
	const uint64_t size = 1ull << v->shift[depth];
	*out = (struct vc_spt_result){
		.gpa = SE_FRAME(e) | (gva & (size - 1)),
		.page_size = size,
		.writable = !!(perm & SPT_PERM_W),
		.user = !!(perm & SPT_PERM_U),
		.executable = !!(perm & SPT_PERM_X),
	};
	return 0;
}

/* The budget is full: answer with a full walk, caching nothing. */
static int uncached(struct vc_spt_vcpu *v, uint64_t gva, unsigned access,
		    struct vc_spt_result *out)
{
	struct vc_spt_walk w;

	v->spt->st.uncached++;
	int rc = vc_spt_walk(&w, v->spt->gm, &v->cpu, gva, access, 0);
	if (rc)
		return rc;
	*out = (struct vc_spt_result){w.fault, w.error_code, w.noncanonical, w.gpa, w.page_size,
				      w.writable, w.user, w.executable};
	return 0;
}

/*
 * The path of @gva from shadow page @pg at @depth down, filling empty entries from the
 * guest's. With @resync every entry on the way is checked against the guest's and
 * replaced if it changed (INVLPG), not only the empty ones.
 */
static int descend(struct vc_spt_vcpu *v, struct spt_page *pg, unsigned depth, uint64_t gva,
		   unsigned access, int resync, struct vc_spt_result *out)
{
	struct vc_spt *spt = v->spt;
	const struct spt_geom *g = &v->g;

	for (;; depth++) {
		const struct spt_level *lv = &g->lv[depth];
		const uint64_t idx = (gva >> lv->shift) & ((1ull << lv->bits) - 1);
		uint64_t e = pg->e[idx];
		struct derived d;

		if (e && !resync) {
			if (e & SE_LEAF)
				return finish_leaf(v, depth, e, gva, access, out);
			pg = (struct spt_page *)(uintptr_t)e;
			continue;
		}
		int rc = derive(spt, g, pg, depth, idx, &d);
		if (rc || d.kind == SPT_NOT_PRESENT || d.kind == SPT_RESERVED) {
			zap(spt, pg, idx); /* faults are not cached: read again next time */
			if (rc)
				return rc;
			return fault(out, v->code[access] |
						  (d.kind == SPT_RESERVED ? VC_SPT_PF_P | VC_SPT_PF_RSVD : 0));
		}
		if (e && same(e, &d)) {
			if (e & SE_LEAF)
				return finish_leaf(v, depth, e, gva, access, out);
			pg = (struct spt_page *)(uintptr_t)e;
			continue;
		}
		zap(spt, pg, idx);
		spt->st.fills++;
		if (d.kind == SPT_LEAF) {
			pg->e[idx] = d.leaf;
			return finish_leaf(v, depth, d.leaf, gva, access, out);
		}
		struct spt_page *child = vc__spt_find(spt, d.child, d.role);
		if (!child)
			child = vc__spt_alloc(spt, d.child, d.role, nent_at(g, depth + 1), 0);
		if (!child) /* INVLPG: nothing below is cached, so nothing is stale */
			return resync ? 0 : uncached(v, gva, access, out);
		child->refs++;
		pg->e[idx] = (uint64_t)(uintptr_t)child;
		pg = child;
	}
}

/* The current root's shadow, looked up again if a flush made it old. */
static struct spt_page *current_root(struct vc_spt_vcpu *v, int *rc)
{
	struct spt_mru *m = &v->mru[0];

	*rc = 0;
	if (m->page && m->gen == v->spt->gen)
		return m->page;
	*rc = select_root(v);
	return *rc ? NULL : m->page;
}

VC_API int vc_spt_translate(struct vc_spt_result *out, vc_spt_vcpu *v, uint64_t gva,
			    unsigned access)
{
	if (!v || !out || !v->loaded || (access & ~0xfu))
		return -EINVAL;
	struct vc_spt *spt = v->spt;
	spt->st.lookups++;
	int ok = vc__spt_gva_ok(v->cpu.mode, gva);
	if (__builtin_expect(ok <= 0, 0)) {
		if (ok < 0)
			return ok;
		memset(out, 0, sizeof(*out));
		out->noncanonical = 1;
		return 0;
	}
	struct spt_page *pg = v->mru[0].page;
	if (__builtin_expect(!pg || v->mru[0].gen != spt->gen, 0)) {
		int rc;
		if (!(pg = current_root(v, &rc)))
			return rc;
	}
	/* The warm path: follow filled entries down to a leaf. */
	for (unsigned depth = 0;; depth++) {
		uint64_t e = pg->e[(gva >> v->shift[depth]) & v->mask[depth]];
		if (__builtin_expect(!e, 0))
			return descend(v, pg, depth, gva, access, 0, out);
		if (e & SE_LEAF)
			return finish_leaf(v, depth, e, gva, access, out);
		pg = (struct spt_page *)(uintptr_t)e;
	}
}

VC_API int vc_spt_invlpg(vc_spt_vcpu *v, uint64_t gva)
{
	struct vc_spt_result r;

	if (!v || !v->loaded)
		return -EINVAL;
	if (vc__spt_gva_ok(v->cpu.mode, gva) <= 0)
		return 0; /* no translation to drop */
	int rc;
	struct spt_page *pg = current_root(v, &rc);
	if (!pg)
		return rc;
	rc = descend(v, pg, 0, gva, VC_SPT_READ, 1, &r);
	return rc == -EFAULT ? 0 : rc; /* the path is gone from the cache either way */
}

/* Checks the entries of @pg that guest bytes [lo, hi) hold. */
static void resync_range(struct vc_spt *spt, struct spt_page *pg, uint64_t lo, uint64_t hi)
{
	struct spt_geom g;
	struct derived d;

	vc__spt_role_geom(pg->role, &g);
	const unsigned esize = g.fmt.esize, depth = g.n - ROLE_LEVEL(pg->role);
	const uint64_t start = pg->gpa, end = pg->gpa + (uint64_t)pg->nent * esize;
	if (lo < start)
		lo = start;
	if (hi > end)
		hi = end;
	if (lo >= hi)
		return;
	for (uint64_t idx = (lo - start) / esize; idx <= (hi - 1 - start) / esize; idx++) {
		uint64_t e = pg->e[idx];
		if (e && (derive(spt, &g, pg, depth, idx, &d) || !same(e, &d)))
			zap(spt, pg, idx);
	}
}

/*
 * Checks the shadows in one hash chain whose guest table lies in frames [@first, @last].
 * Dropping an entry may free pages of this chain: the chain is walked again when it
 * did (the pages already checked have nothing left to drop, so this ends).
 */
static void resync_chain(struct vc_spt *spt, struct spt_page **chain, uint64_t first,
			 uint64_t last, uint64_t gpa, uint64_t end)
{
again:
	for (struct spt_page *p = *chain; p; p = p->hnext) {
		if (p->gen != spt->gen || (p->gpa >> 12) < first || (p->gpa >> 12) > last)
			continue;
		uint64_t pages = spt->st.pages;
		resync_range(spt, p, gpa, end);
		if (spt->st.pages != pages)
			goto again;
	}
}

VC_API int vc_spt_guest_write(vc_spt *spt, uint64_t gpa, uint64_t len)
{
	if (!spt || (len && gpa + (len - 1) < gpa))
		return -EINVAL;
	if (!len)
		return 0;
	const uint64_t end = gpa + len ? gpa + len : UINT64_MAX;
	const uint64_t first = gpa >> 12, last = (gpa + (len - 1)) >> 12;
	/* Every shadow of a table in a frame is in that frame's chain (tables are keyed by
	 * their address, PAE roots too). A range of more frames than there are chains is
	 * cheaper to check chain by chain. */
	if (last - first >= spt->nbuckets) {
		for (uint64_t b = 0; b < spt->nbuckets; b++)
			resync_chain(spt, &spt->buckets[b], first, last, gpa, end);
		return 0;
	}
	for (uint64_t frame = first;; frame++) {
		resync_chain(spt, vc__spt_chain(spt, frame << 12), frame, frame, gpa, end);
		if (frame == last)
			break;
	}
	return 0;
}
