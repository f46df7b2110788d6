// SPDX-License-Identifier: MIT
// Learned register prefetch: an open-addressed table from exit kind to the sets the
// following exit's handlers read, with per-set idle counters that let a set go again.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/prefetch.h>

#include "../util/log.h"
#include "../util/opts.h"

#define DEFAULT_CAPACITY 64
#define MAX_CAPACITY 65536
#define DEFAULT_KEEP 4
#define ALL_SETS ((1u << VC_PREFETCH_SETS) - 1)

struct entry {
	uint64_t kind;
	uint8_t used;  /* slot holds a kind */
	uint8_t mask;  /* sets to request after an exit of this kind */
	uint8_t idle[VC_PREFETCH_SETS]; /* exits a requested set went unread, in a row */
};

struct vc_prefetch {
	struct entry *slots;
	uint32_t capacity, keep, sets;

	/* The exit being handled. */
	int pending;         /* an exit not learned from yet */
	uint64_t from_kind;  /* the kind whose entry made the request for this exit */
	int have_from;       /* from_kind is valid (not the first exit) */
	uint64_t kind;       /* this exit's kind */
	uint32_t delivered, needed, fetched;

	struct vc_prefetch_stats st;
};

static uint32_t round_pow2(uint32_t v)
{
	uint32_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

VC_API int vc_prefetch_create(vc_prefetch **out, const struct vc_prefetch_opts *opts)
{
	struct vc_prefetch_opts o;
	if (!out)
		return -EINVAL;
	*out = NULL;
	int rc = VC__OPTS_COPY(o, opts, vc_prefetch_opts, sets);
	if (rc)
		return rc;
	if (o.capacity > MAX_CAPACITY || o.keep > 255 || (o.sets & ~ALL_SETS)) {
		vc__err("prefetch: capacity %u (max %u), keep %u (max 255) or sets %#x (bits "
			"0-%d) out of range", o.capacity, MAX_CAPACITY, o.keep, o.sets,
			VC_PREFETCH_SETS - 1);
		return -EINVAL;
	}
	vc_prefetch *pf = calloc(1, sizeof(*pf));
	if (!pf)
		return -ENOMEM;
	pf->capacity = round_pow2(o.capacity ? o.capacity : DEFAULT_CAPACITY);
	pf->keep = o.keep ? o.keep : DEFAULT_KEEP;
	pf->sets = o.sets ? o.sets : ALL_SETS;
	pf->slots = calloc(pf->capacity, sizeof(*pf->slots));
	if (!pf->slots) {
		free(pf);
		return -ENOMEM;
	}
	*out = pf;
	return 0;
}

VC_API void vc_prefetch_destroy(vc_prefetch *pf)
{
	if (!pf)
		return;
	free(pf->slots);
	free(pf);
}

VC_API uint64_t vc_prefetch_kind(uint32_t reason, uint64_t addr)
{
	/* Addresses are below 2^57 on x86 and ports below 2^16: the reason goes on top. */
	return ((uint64_t)reason << 56) ^ addr;
}

static uint32_t slot_of(const vc_prefetch *pf, uint64_t kind)
{
	uint64_t h = (kind ^ (kind >> 29)) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32) & (pf->capacity - 1);
}

/* The entry of @kind, or NULL. Probes a few slots: a kind lives near its home. */
#define PROBES 4
static struct entry *find(const vc_prefetch *pf, uint64_t kind)
{
	uint32_t at = slot_of(pf, kind);
	for (unsigned i = 0; i < PROBES && i < pf->capacity; i++) {
		struct entry *e = &pf->slots[(at + i) & (pf->capacity - 1)];
		if (!e->used)
			return NULL;
		if (e->kind == kind)
			return e;
	}
	return NULL;
}

/* The entry of @kind, made when missing (replacing the home slot's kind when the
 * probe window is full). */
static struct entry *find_or_add(vc_prefetch *pf, uint64_t kind)
{
	uint32_t at = slot_of(pf, kind);
	for (unsigned i = 0; i < PROBES && i < pf->capacity; i++) {
		struct entry *e = &pf->slots[(at + i) & (pf->capacity - 1)];
		if (e->used && e->kind == kind)
			return e;
		if (!e->used) {
			*e = (struct entry){.kind = kind, .used = 1};
			pf->st.kinds++;
			return e;
		}
	}
	struct entry *e = &pf->slots[at];
	*e = (struct entry){.kind = kind, .used = 1};
	pf->st.replaced++;
	return e;
}

/* What the exit just handled teaches the entry that made its request. */
static void learn(vc_prefetch *pf)
{
	uint32_t needed = pf->needed & ALL_SETS;
	uint32_t unused = pf->delivered & ~needed & ALL_SETS;

	pf->st.unused += (uint64_t)__builtin_popcount(unused);
	if (!pf->have_from)
		return;
	struct entry *e = find_or_add(pf, pf->from_kind);
	e->mask |= (uint8_t)(needed & pf->sets);
	for (unsigned s = 0; s < VC_PREFETCH_SETS; s++) {
		uint32_t bit = 1u << s;
		if (needed & bit)
			e->idle[s] = 0;
		else if ((unused & bit) && ++e->idle[s] >= pf->keep) {
			e->mask &= (uint8_t)~bit;
			e->idle[s] = 0;
		}
	}
}

VC_API uint32_t vc_prefetch_predict(vc_prefetch *pf)
{
	if (!pf)
		return 0;
	if (pf->pending) {
		learn(pf);
		pf->pending = 0;
		pf->from_kind = pf->kind;
		pf->have_from = 1;
	}
	if (!pf->have_from)
		return 0;
	const struct entry *e = find(pf, pf->from_kind);
	return e ? e->mask & pf->sets : 0;
}

VC_API void vc_prefetch_exit(vc_prefetch *pf, uint64_t kind, uint32_t delivered)
{
	if (!pf)
		return;
	if (pf->pending) { /* no predict() since the last exit: learn from it now */
		learn(pf);
		pf->from_kind = pf->kind;
		pf->have_from = 1;
	}
	pf->pending = 1;
	pf->kind = kind;
	pf->delivered = delivered;
	pf->needed = pf->fetched = 0;
	pf->st.exits++;
	pf->st.delivered += (uint64_t)__builtin_popcount(delivered & ALL_SETS);
}

/* Records @sets as needed once per exit; returns those not present. */
static uint32_t use(vc_prefetch *pf, uint32_t sets)
{
	uint32_t present = pf->delivered | pf->fetched;
	uint32_t fresh = sets & ~pf->needed;
	pf->st.hits += (uint64_t)__builtin_popcount(fresh & pf->delivered);
	pf->st.misses += (uint64_t)__builtin_popcount(fresh & ~pf->delivered);
	pf->needed |= sets;
	return sets & ~present;
}

VC_API uint32_t vc_prefetch_need(vc_prefetch *pf, uint32_t sets)
{
	return pf ? use(pf, sets) : sets;
}

VC_API void vc_prefetch_fetched(vc_prefetch *pf, uint32_t sets)
{
	if (pf)
		pf->fetched |= sets;
}

VC_API uint32_t vc_prefetch_write(vc_prefetch *pf, uint32_t sets)
{
	return pf ? use(pf, sets) : sets;
}

VC_API uint32_t vc_prefetch_lookup(const vc_prefetch *pf, uint64_t kind)
{
	const struct entry *e = pf ? find(pf, kind) : NULL;
	return e ? e->mask & pf->sets : 0;
}

VC_API int vc_prefetch_get_stats(const vc_prefetch *pf, struct vc_prefetch_stats *stats,
				 size_t size)
{
	if (!pf)
		return -EINVAL;
	return vc__stats_copy(stats, size, &pf->st, sizeof(pf->st));
}
