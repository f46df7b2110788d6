/* SPDX-License-Identifier: MIT */
/* The shadow cache's internals: shadow pages, the hash by guest frame, the lists that
 * order roots for eviction and hold old generations until they are freed. */
#ifndef VC_SPT_CACHE_H
#define VC_SPT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "spt-internal.h"

/*
 * A shadow entry is one word: 0 = not filled; bit 0 set = a leaf (guest page frame in
 * bits 12+, effective permissions SPT_PERM_* in bits 3:1); otherwise a pointer to the
 * child shadow page (malloc alignment keeps bit 0 clear).
 */
#define SE_LEAF 1ull
#define SE_PERM(e) ((unsigned)((e) >> 1) & SPT_PERM_ALL)
#define SE_FRAME(e) ((e) & ~0xfffull)
#define SE_IS_CHILD(e) ((e) && !((e)&SE_LEAF))

/*
 * Role: everything that changes what a shadow of a given guest table means, compared
 * as one word. CR0.WP, CR4.SMEP/SMAP and RFLAGS.AC are not in it: leaves keep the
 * guest's permissions and each vCPU applies those rules per access, so toggling them
 * reuses the same shadows.
 */
#define ROLE_LEVEL(r) ((r)&7u)              /* 1 = the last level; the root is n */
#define ROLE_MODE_SHIFT 3                   /* enum vc_spt_mode, 3 bits */
#define ROLE_NXE (1u << 6)
#define ROLE_PSE (1u << 7)
#define ROLE_PKE (1u << 8)
#define ROLE_LA57 (1u << 9)
#define ROLE_PERM_SHIFT 10                  /* permissions of the path above, 3 bits */
#define ROLE_MAXPHY_SHIFT 13                /* 6 bits */
#define ROLE_AMD (1u << 19)
#define ROLE_NO_1G (1u << 20)
#define ROLE_PERM(r) (((r) >> ROLE_PERM_SHIFT) & SPT_PERM_ALL)
#define ROLE_WITH(r, level, perm)                                                       \
	(((r) & ~(7u | (SPT_PERM_ALL << ROLE_PERM_SHIFT))) | (level) |                  \
	 ((unsigned)(perm) << ROLE_PERM_SHIFT))

struct spt_page {
	uint64_t gpa;   /* the guest table this shadows */
	uint64_t gen;   /* the cache generation it belongs to */
	uint32_t role;
	uint32_t nent;  /* entries: 4 (PAE root), 512 or 1024 (32-bit) */
	uint32_t refs;   /* parent entries linking it, plus 1 for a root the cache holds */
	uint32_t active; /* vCPUs whose current root it is: pinned, never evicted */
	struct spt_page *hnext; /* hash chain */
	struct spt_link {
		struct spt_link *prev, *next;
	} link;                 /* its list: roots (LRU order), inner, or stale */
	uint64_t e[];
};

#define SPT_PAGE_OF(l) ((struct spt_page *)((char *)(l)-offsetof(struct spt_page, link)))

#define SPT_MAX_LEVELS 5

struct spt_mru {
	struct spt_page *page;
	uint64_t gen; /* valid only while equal to the cache's generation */
};

struct vc_spt_vcpu {
	struct vc_spt *spt;
	struct vc_spt_vcpu *next_vcpu; /* the cache's list of handles */
	int loaded;
	struct vc_spt_cpu cpu;
	struct spt_geom g;
	uint8_t shift[SPT_MAX_LEVELS];  /* per depth: where its index starts in an address */
	uint16_t mask[SPT_MAX_LEVELS];  /* ...and its width, as a mask */
	uint32_t root_role;
	uint32_t rules;           /* the bits permit[] and code[] were computed from */
	struct spt_mru mru[VC_SPT_MRU_ROOTS]; /* [0] is the current root */
	uint16_t permit[8];       /* per path permission: bit `access` set = allowed */
	uint32_t code[16];        /* per access: its #PF error code bits (W, U, I) */
};

struct vc_spt {
	vc_gmem *gm;
	uint64_t budget;
	uint64_t gen;
	struct spt_page **buckets;
	uint64_t nbuckets; /* a power of two */
	uint64_t hashed;   /* pages in the hash (all generations) */
	struct spt_link roots, inner, stale; /* circular, with these heads */
	struct vc_spt_vcpu *vcpus;
	struct vc_spt_stats st;
};

/* Geometry of the mode in @role: levels root first, entry format. */
void vc__spt_role_geom(uint32_t role, struct spt_geom *g);

/* The hash chain of the shadows of tables in @gpa's 4 KiB frame (any generation): the
 * reverse map from a guest frame to the shadow entries made from it. */
struct spt_page **vc__spt_chain(struct vc_spt *spt, uint64_t gpa);
/* The current-generation shadow of (@gpa, @role), or NULL. */
struct spt_page *vc__spt_find(struct vc_spt *spt, uint64_t gpa, uint32_t role);
/* A new empty shadow of (@gpa, @role) with @nent entries, hashed and listed (as a root
 * held by the cache when @root). NULL when out of memory, or when the budget cannot be
 * met and !@root. */
struct spt_page *vc__spt_alloc(struct vc_spt *spt, uint64_t gpa, uint32_t role, uint32_t nent,
			   int root);
/* Drops one reference; at zero the page goes, with the references it holds. */
void vc__spt_put(struct vc_spt *spt, struct spt_page *pg);
/* A root became the most recently used. */
void vc__spt_touch_root(struct vc_spt *spt, struct spt_page *pg);
/* Frees up to @n pages of old generations. */
void vc__spt_reclaim(struct vc_spt *spt, unsigned n);

#endif /* VC_SPT_CACHE_H */
