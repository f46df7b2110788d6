// SPDX-License-Identifier: MIT
// Guest memory map: a sorted array of non-overlapping regions, binary-searched, each
// with an optional bitmap of the 4 KiB pages written through the map.
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/gmem.h>

#include "../util/log.h"

#define PAGE_SHIFT 12

struct region {
	struct vc_gmem_region_info info;
	/* One bit per page written through the map since the last harvest; NULL while
	 * dirty tracking is off. Set with release after the bytes are written, taken with
	 * acquire by the harvest, so a harvester that sees a bit sees the write. */
	_Atomic uint64_t *dirty;
};

struct vc_gmem {
	struct region *regions; /* sorted by gpa, never overlapping */
	unsigned count;
	unsigned capacity;
	int tracking;           /* vc_gmem_dirty_enable() was called */
};

static size_t bitmap_words(uint64_t size)
{
	return (size_t)(((size + (1u << PAGE_SHIFT) - 1) >> PAGE_SHIFT) + 63) / 64;
}

VC_API int vc_gmem_create(vc_gmem **out)
{
	if (!out)
		return -EINVAL;
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

VC_API void vc_gmem_destroy(vc_gmem *gm)
{
	if (!gm)
		return;
	for (unsigned i = 0; i < gm->count; i++)
		free((void *)gm->regions[i].dirty);
	free(gm->regions);
	free(gm);
}

/* Index of the first region whose last byte is at or above gpa (count when
 * none). Regions are sorted and disjoint, so their last bytes are sorted too. */
static unsigned first_ending_above(const vc_gmem *gm, uint64_t gpa)
{
	unsigned lo = 0, hi = gm->count;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct vc_gmem_region_info *r = &gm->regions[mid].info;

		if (r->gpa + (r->size - 1) < gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct region *find(const vc_gmem *gm, uint64_t gpa)
{
	unsigned i = first_ending_above(gm, gpa);

	if (i < gm->count && gpa >= gm->regions[i].info.gpa)
		return &gm->regions[i];
	return NULL;
}

/* Marks the pages of [gpa, gpa + len) inside region @r (the caller checked the range). */
static void mark(const struct region *r, uint64_t gpa, uint64_t len)
{
	if (!r->dirty || !len)
		return;
	uint64_t first = (gpa - r->info.gpa) >> PAGE_SHIFT;
	uint64_t last = (gpa - r->info.gpa + len - 1) >> PAGE_SHIFT;
	for (uint64_t pg = first; pg <= last; pg++) {
		/* Pairs with the acquire exchange in vc_gmem_dirty_harvest(). */
		atomic_fetch_or_explicit(&r->dirty[pg / 64], 1ull << (pg % 64),
					 memory_order_release);
	}
}

VC_API int vc_gmem_add(vc_gmem *gm, uint64_t gpa, uint64_t size, void *hva, unsigned flags)
{
	if (!gm || !hva || size == 0 || (flags & ~(unsigned)VC_GMEM_READONLY))
		return -EINVAL;
	if (gpa + (size - 1) < gpa)
		return -EINVAL;

	unsigned i = first_ending_above(gm, gpa);
	if (i < gm->count && gm->regions[i].info.gpa <= gpa + (size - 1))
		return -EEXIST;
	_Atomic uint64_t *dirty = NULL;
	if (gm->tracking && !(dirty = calloc(bitmap_words(size), sizeof(*dirty))))
		return -ENOMEM;

	if (gm->count == gm->capacity) {
		unsigned cap = gm->capacity ? gm->capacity * 2 : 8;
		struct region *n = realloc(gm->regions, cap * sizeof(*n));
		if (!n) {
			free((void *)dirty);
			return -ENOMEM;
		}
		gm->regions = n;
		gm->capacity = cap;
	}
	memmove(&gm->regions[i + 1], &gm->regions[i], (gm->count - i) * sizeof(*gm->regions));
	gm->regions[i] = (struct region){{gpa, size, hva, flags}, dirty};
	gm->count++;
	return 0;
}

VC_API int vc_gmem_remove(vc_gmem *gm, uint64_t gpa)
{
	if (!gm)
		return -EINVAL;
	const struct region *r = find(gm, gpa);
	if (!r || r->info.gpa != gpa)
		return -ENOENT;
	unsigned i = (unsigned)(r - gm->regions);
	free((void *)r->dirty);
	memmove(&gm->regions[i], &gm->regions[i + 1], (gm->count - i - 1) * sizeof(*gm->regions));
	gm->count--;
	return 0;
}

VC_API void *vc_gmem_ptr(const vc_gmem *gm, uint64_t gpa, size_t len, int writable)
{
	if (!gm)
		return NULL;
	if (len == 0)
		len = 1;
	const struct region *r = find(gm, gpa);
	if (!r || (writable && (r->info.flags & VC_GMEM_READONLY)))
		return NULL;
	uint64_t off = gpa - r->info.gpa;
	if (len > r->info.size - off)
		return NULL;
	if (writable)
		mark(r, gpa, len);
	return (char *)r->info.hva + off;
}

/* Walks [gpa, gpa+len) region by region; checks everything before copying. */
static int copy(const vc_gmem *gm, uint64_t gpa, char *host, size_t len, int to_guest)
{
	if (!gm || (!host && len))
		return -EINVAL;
	if (len && gpa + (len - 1) < gpa)
		return -EFAULT;

	for (int pass = 0; pass < 2; pass++) {
		uint64_t at = gpa;
		size_t left = len, done = 0;

		while (left) {
			const struct region *r = find(gm, at);
			if (!r)
				return -EFAULT;
			if (to_guest && (r->info.flags & VC_GMEM_READONLY))
				return -EACCES;
			uint64_t off = at - r->info.gpa;
			size_t n = r->info.size - off < left ? (size_t)(r->info.size - off) : left;
			if (pass == 1) {
				char *g = (char *)r->info.hva + off;
				if (to_guest) {
					memcpy(g, host + done, n);
					mark(r, at, n);
				} else {
					memcpy(host + done, g, n);
				}
			}
			at += n;
			done += n;
			left -= n;
		}
	}
	return 0;
}

VC_API int vc_gmem_read(const vc_gmem *gm, uint64_t gpa, void *dst, size_t len)
{
	return copy(gm, gpa, dst, len, 0);
}

VC_API int vc_gmem_write(const vc_gmem *gm, uint64_t gpa, const void *src, size_t len)
{
	return copy(gm, gpa, (char *)(uintptr_t)src, len, 1);
}

VC_API int vc_gmem_region(struct vc_gmem_region_info *info, const vc_gmem *gm, unsigned index)
{
	if (!gm || !info)
		return -EINVAL;
	if (index >= gm->count)
		return -ENOENT;
	*info = gm->regions[index].info;
	return 0;
}

VC_API unsigned vc_gmem_region_count(const vc_gmem *gm)
{
	return gm ? gm->count : 0;
}

VC_API int vc_gmem_dirty_enable(vc_gmem *gm)
{
	if (!gm)
		return -EINVAL;
	if (gm->tracking)
		return 0;
	for (unsigned i = 0; i < gm->count; i++) {
		struct region *r = &gm->regions[i];
		if (!(r->dirty = calloc(bitmap_words(r->info.size), sizeof(*r->dirty)))) {
			while (i--) {
				free((void *)gm->regions[i].dirty);
				gm->regions[i].dirty = NULL;
			}
			return -ENOMEM;
		}
	}
	gm->tracking = 1;
	return 0;
}

VC_API int vc_gmem_mark_dirty(const vc_gmem *gm, uint64_t gpa, uint64_t len)
{
	if (!gm)
		return -EINVAL;
	if (len && gpa + (len - 1) < gpa)
		return -EFAULT;
	/* Checked whole first, so a range that is partly outside marks nothing. */
	for (int pass = 0; pass < 2; pass++) {
		for (uint64_t at = gpa, left = len; left;) {
			const struct region *r = find(gm, at);
			if (!r)
				return -EFAULT;
			uint64_t n = r->info.size - (at - r->info.gpa);
			if (n > left)
				n = left;
			if (pass == 1)
				mark(r, at, n);
			at += n;
			left -= n;
		}
	}
	return 0;
}

VC_API long vc_gmem_dirty_harvest(const vc_gmem *gm, uint64_t *bitmap, size_t words,
				  unsigned index)
{
	if (!gm || !bitmap)
		return -EINVAL;
	if (index >= gm->count)
		return -ENOENT;
	const struct region *r = &gm->regions[index];
	size_t need = bitmap_words(r->info.size);
	if (words < need) {
		vc__err("gmem: dirty bitmap of %zu words for a region of %zu pages: it needs %zu",
			words, (size_t)((r->info.size + 4095) >> PAGE_SHIFT), need);
		return -EINVAL;
	}
	long count = 0;
	for (size_t w = 0; w < need; w++) {
		if (r->dirty && atomic_load_explicit(&r->dirty[w], memory_order_relaxed))
			bitmap[w] |= atomic_exchange_explicit(&r->dirty[w], 0, memory_order_acquire);
		count += __builtin_popcountll(bitmap[w]);
	}
	return count;
}

VC_API int vc_gmem_dirty_tracking(const vc_gmem *gm)
{
	return gm ? gm->tracking : 0;
}
