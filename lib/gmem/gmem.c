// SPDX-License-Identifier: MIT
// Guest memory map: a sorted array of non-overlapping regions, binary-searched.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/gmem.h>

struct vc_gmem {
	struct vc_gmem_region_info *regions; /* sorted by gpa, never overlapping */
	unsigned count;
	unsigned capacity;
};

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
		const struct vc_gmem_region_info *r = &gm->regions[mid];

		if (r->gpa + (r->size - 1) < gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct vc_gmem_region_info *find(const vc_gmem *gm, uint64_t gpa)
{
	unsigned i = first_ending_above(gm, gpa);

	if (i < gm->count && gpa >= gm->regions[i].gpa)
		return &gm->regions[i];
	return NULL;
}

VC_API int vc_gmem_add(vc_gmem *gm, uint64_t gpa, uint64_t size, void *hva, unsigned flags)
{
	if (!gm || !hva || size == 0 || (flags & ~(unsigned)VC_GMEM_READONLY))
		return -EINVAL;
	if (gpa + (size - 1) < gpa)
		return -EINVAL;

	unsigned i = first_ending_above(gm, gpa);
	if (i < gm->count && gm->regions[i].gpa <= gpa + (size - 1))
		return -EEXIST;

	if (gm->count == gm->capacity) {
		unsigned cap = gm->capacity ? gm->capacity * 2 : 8;
		struct vc_gmem_region_info *n = realloc(gm->regions, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		gm->regions = n;
		gm->capacity = cap;
	}
	memmove(&gm->regions[i + 1], &gm->regions[i], (gm->count - i) * sizeof(*gm->regions));
	gm->regions[i] = (struct vc_gmem_region_info){gpa, size, hva, flags};
	gm->count++;
	return 0;
}

VC_API int vc_gmem_remove(vc_gmem *gm, uint64_t gpa)
{
	if (!gm)
		return -EINVAL;
	const struct vc_gmem_region_info *r = find(gm, gpa);
	if (!r || r->gpa != gpa)
		return -ENOENT;
	unsigned i = (unsigned)(r - gm->regions);
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
	const struct vc_gmem_region_info *r = find(gm, gpa);
	if (!r || (writable && (r->flags & VC_GMEM_READONLY)))
		return NULL;
	uint64_t off = gpa - r->gpa;
	if (len > r->size - off)
		return NULL;
	return (char *)r->hva + off;
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
			const struct vc_gmem_region_info *r = find(gm, at);
			if (!r)
				return -EFAULT;
			if (to_guest && (r->flags & VC_GMEM_READONLY))
				return -EACCES;
			uint64_t off = at - r->gpa;
			size_t n = r->size - off < left ? (size_t)(r->size - off) : left;
			if (pass == 1) {
				char *g = (char *)r->hva + off;
				if (to_guest)
					memcpy(g, host + done, n);
				else
					memcpy(host + done, g, n);
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
	*info = gm->regions[index];
	return 0;
}

VC_API unsigned vc_gmem_region_count(const vc_gmem *gm)
{
	return gm ? gm->count : 0;
}
