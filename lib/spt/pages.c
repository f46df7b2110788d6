// SPDX-License-Identifier: MIT
// Shadow pages: allocation within the budget, the hash by guest frame (also the reverse
// map from a guest table frame to the shadows made of it), root LRU and eviction,
// generations (an O(1) flush; old pages freed a few at a time), counters.
#include <errno.h>
#include <stdlib.h>

#include "../util/log.h"
#include "../util/opts.h"
#include "cache.h"

#define DEFAULT_BUDGET (64ull << 20)
#define MIN_BUCKETS 256u
#define RECLAIM_PER_CALL 4u

static void list_init(struct spt_link *h)
{
	h->prev = h->next = h;
}

static void list_del(struct spt_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
}

static void list_add_front(struct spt_link *h, struct spt_link *l)
{
	l->next = h->next;
	l->prev = h;
	h->next->prev = l;
	h->next = l;
}

/* Moves every element of @from to the front of @to, in O(1). */
static void list_splice(struct spt_link *to, struct spt_link *from)
{
	if (from->next == from)
		return;
	from->prev->next = to->next;
	to->next->prev = from->prev;
	to->next = from->next;
	from->next->prev = to;
	list_init(from);
}

static uint64_t page_bytes(uint32_t nent)
{
	return sizeof(struct spt_page) + (uint64_t)nent * sizeof(uint64_t);
}

static uint64_t bucket_of(const struct vc_spt *spt, uint64_t gpa)
{
	/* Fibonacci hashing of the frame number: consecutive frames spread out. */
	return ((gpa >> 12) * 0x9e3779b97f4a7c15ull) >> (64 - __builtin_ctzll(spt->nbuckets));
}

struct spt_page **vc__spt_chain(struct vc_spt *spt, uint64_t gpa)
{
	return &spt->buckets[bucket_of(spt, gpa)];
}

void vc__spt_role_geom(uint32_t role, struct spt_geom *g)
{
	struct vc_spt_cpu cpu = {
		.mode = (enum vc_spt_mode)((role >> ROLE_MODE_SHIFT) & 7),
		.nxe = !!(role & ROLE_NXE),
		.pse = !!(role & ROLE_PSE),
		.amd = !!(role & ROLE_AMD),
		.no_1g = !!(role & ROLE_NO_1G),
		.maxphyaddr = (role >> ROLE_MAXPHY_SHIFT) & 63,
	};
	(void)vc__spt_geom(&cpu, g); /* roles are made from validated states */
}

struct spt_page *vc__spt_find(struct vc_spt *spt, uint64_t gpa, uint32_t role)
{
	for (struct spt_page *p = *vc__spt_chain(spt, gpa); p; p = p->hnext)
		if (p->gpa == gpa && p->role == role && p->gen == spt->gen)
			return p;
	return NULL;
}

static void hash_unlink(struct vc_spt *spt, struct spt_page *pg)
{
	struct spt_page **pp = vc__spt_chain(spt, pg->gpa);

	while (*pp != pg)
		pp = &(*pp)->hnext;
	*pp = pg->hnext;
	spt->hashed--;
}

/* Doubles the buckets when there are more pages than buckets; keeps going with longer
 * chains if the memory is not there. */
static void hash_grow(struct vc_spt *spt)
{
	uint64_t n = spt->nbuckets * 2;
	struct spt_page **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return;
	struct spt_page **old = spt->buckets;
	uint64_t oldn = spt->nbuckets;
	spt->buckets = nb;
	spt->nbuckets = n;
	for (uint64_t i = 0; i < oldn; i++) {
		for (struct spt_page *p = old[i], *next; p; p = next) {
			next = p->hnext;
			uint64_t b = bucket_of(spt, p->gpa);
			p->hnext = nb[b];
			nb[b] = p;
		}
	}
	free(old);
	spt->st.bytes += (n - oldn) * sizeof(*nb);
}

static void page_free(struct vc_spt *spt, struct spt_page *pg)
{
	hash_unlink(spt, pg);
	list_del(&pg->link);
	spt->st.pages--;
	spt->st.bytes -= page_bytes(pg->nent);
	free(pg);
}

void vc__spt_put(struct vc_spt *spt, struct spt_page *pg)
{
	if (--pg->refs)
		return;
	for (uint32_t i = 0; i < pg->nent; i++)
		if (SE_IS_CHILD(pg->e[i]))
			vc__spt_put(spt, (struct spt_page *)(uintptr_t)pg->e[i]);
	page_free(spt, pg);
}

void vc__spt_reclaim(struct vc_spt *spt, unsigned n)
{
	/* Old generations link to each other and may be freed in any order, so their
	 * entries are never followed: every page of a generation is on this list. */
	while (n-- && spt->stale.next != &spt->stale)
		page_free(spt, SPT_PAGE_OF(spt->stale.prev));
}

void vc__spt_touch_root(struct vc_spt *spt, struct spt_page *pg)
{
	list_del(&pg->link);
	list_add_front(&spt->roots, &pg->link);
}

/* Evicts the least recently used root that is no vCPU's current one (and drops it
 * from the vCPUs' recent roots). 0, or -ENOSPC if there is none. */
static int evict_root(struct vc_spt *spt)
{
	for (struct spt_link *l = spt->roots.prev; l != &spt->roots; l = l->prev) {
		struct spt_page *pg = SPT_PAGE_OF(l);
		if (pg->active)
			continue;
		for (struct vc_spt_vcpu *v = spt->vcpus; v; v = v->next_vcpu)
			for (unsigned i = 1; i < VC_SPT_MRU_ROOTS; i++)
				if (v->mru[i].page == pg)
					v->mru[i].page = NULL;
		spt->st.evictions++;
		spt->st.roots--;
		vc__spt_put(spt, pg); /* the cache's reference: with it go the pages only it reached */
		return 0;
	}
	return -ENOSPC;
}

/* Makes room for @bytes more within the budget: old generations first, then roots. */
static int make_room(struct vc_spt *spt, uint64_t bytes)
{
	while (spt->st.bytes + bytes > spt->budget) {
		if (spt->stale.next != &spt->stale)
			vc__spt_reclaim(spt, 1);
		else if (evict_root(spt))
			return -ENOSPC;
	}
	return 0;
}

struct spt_page *vc__spt_alloc(struct vc_spt *spt, uint64_t gpa, uint32_t role, uint32_t nent,
			   int root)
{
	vc__spt_reclaim(spt, RECLAIM_PER_CALL);
	if (make_room(spt, page_bytes(nent)) && !root)
		return NULL;
	struct spt_page *pg = calloc(1, page_bytes(nent));
	if (!pg)
		return NULL;
	pg->gpa = gpa;
	pg->gen = spt->gen;
	pg->role = role;
	pg->nent = nent;
	uint64_t b = bucket_of(spt, gpa);
	pg->hnext = spt->buckets[b];
	spt->buckets[b] = pg;
	spt->hashed++;
	list_add_front(root ? &spt->roots : &spt->inner, &pg->link);
	if (root) {
		pg->refs = 1;
		spt->st.roots++;
	}
	spt->st.pages++;
	spt->st.bytes += page_bytes(nent);
	if (spt->hashed > spt->nbuckets)
		hash_grow(spt);
	return pg;
}

VC_API int vc_spt_create(vc_spt **out, vc_gmem *gm, const struct vc_spt_opts *opts)
{
	struct vc_spt_opts o;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!gm) {
		vc__err("spt: create: no guest memory map");
		return -EINVAL;
	}
	int rc = VC__OPTS_COPY(o, opts, vc_spt_opts, budget);
	if (rc)
		return rc;
	struct vc_spt *spt = calloc(1, sizeof(*spt));
	if (!spt)
		return -ENOMEM;
	spt->buckets = calloc(MIN_BUCKETS, sizeof(*spt->buckets));
	if (!spt->buckets) {
		free(spt);
		return -ENOMEM;
	}
	spt->gm = gm;
	spt->budget = o.budget ? o.budget : DEFAULT_BUDGET;
	spt->nbuckets = MIN_BUCKETS;
	spt->gen = 1;
	list_init(&spt->roots);
	list_init(&spt->inner);
	list_init(&spt->stale);
	spt->st.bytes = sizeof(*spt) + MIN_BUCKETS * sizeof(*spt->buckets);
	*out = spt;
	return 0;
}

VC_API void vc_spt_flush(vc_spt *spt)
{
	if (!spt)
		return;
	spt->gen++;
	list_splice(&spt->stale, &spt->roots);
	list_splice(&spt->stale, &spt->inner);
	spt->st.roots = 0;
	spt->st.flushes++;
}

VC_API void vc_spt_destroy(vc_spt *spt)
{
	if (!spt)
		return;
	while (spt->vcpus)
		vc_spt_vcpu_destroy(spt->vcpus);
	vc_spt_flush(spt);
	vc__spt_reclaim(spt, ~0u);
	free(spt->buckets);
	free(spt);
}

VC_API int vc_spt_get_stats(const vc_spt *spt, struct vc_spt_stats *stats, size_t size)
{
	if (!spt)
		return -EINVAL;
	return vc__stats_copy(stats, size, &spt->st, sizeof(spt->st));
}
