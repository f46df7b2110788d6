/* SPDX-License-Identifier: MIT */
/**
 * @file gmem.h
 * Guest memory map: guest-physical ranges -> host memory, with bounds checks.
 *
 * One map describes a guest's RAM (and any other guest-physical ranges the VMM
 * backs with host memory). Every module that reads or writes guest memory on
 * the VMM side goes through it, so a guest-supplied address can only ever reach
 * memory the VMM registered: an address outside every region is -EFAULT, never
 * a host fault.
 *
 * Dirty tracking: after vc_gmem_dirty_enable(), every write the VMM makes through
 * the map (vc_gmem_write(), a writable vc_gmem_ptr(), vc_gmem_mark_dirty()) marks its
 * 4 KiB pages, and vc_gmem_dirty_harvest() collects the marks into a bitmap laid out
 * like KVM's dirty log of the same region. KVM's log sees only the guest's writes; the
 * union sees both, which is what a cache of guest state (the spt module's shadow
 * tables), a snapshot or a migration needs.
 *
 * Thread safety: lookups (vc_gmem_ptr, vc_gmem_read, vc_gmem_write,
 * vc_gmem_region), marking and harvesting may run concurrently from any number of
 * threads. Adding or removing regions and vc_gmem_dirty_enable() must not run
 * concurrently with anything else on the same map (a VMM changes its memory map with
 * its vCPUs stopped).
 */
#ifndef VIRTCORE_GMEM_H
#define VIRTCORE_GMEM_H

#include <stddef.h>
#include <stdint.h>

#include <virtcore/common.h>

VC_BEGIN_DECLS

/** Opaque guest memory map. */
typedef struct vc_gmem vc_gmem;

/** Region flags. */
enum vc_gmem_flags {
	/** vc_gmem_write() and writable vc_gmem_ptr() lookups refuse this region. */
	VC_GMEM_READONLY = 1u << 0,
};

/** Description of one region, as returned by vc_gmem_region(). */
struct vc_gmem_region_info {
	uint64_t gpa;   /**< first guest-physical address */
	uint64_t size;  /**< length in bytes */
	void *hva;      /**< host address of @c gpa */
	unsigned flags; /**< enum vc_gmem_flags */
};

/**
 * Create an empty map.
 * @return 0, -EINVAL if @p out is NULL, -ENOMEM.
 */
VC_API int vc_gmem_create(vc_gmem **out);

/** Destroy a map (not the host memory it points to). NULL is accepted. */
VC_API void vc_gmem_destroy(vc_gmem *gm);

/**
 * Map guest-physical [@p gpa, @p gpa + @p size) to host memory at @p hva.
 * The caller keeps ownership of the host memory and must keep it mapped until
 * the region is removed or the map destroyed.
 * @return 0; -EINVAL on a zero size, a NULL @p hva, unknown flags or a range that
 *         wraps around 2^64; -EEXIST if it overlaps a region already mapped;
 *         -ENOMEM.
 */
VC_API int vc_gmem_add(vc_gmem *gm, uint64_t gpa, uint64_t size, void *hva, unsigned flags);

/**
 * Remove the region that starts exactly at @p gpa.
 * @return 0, -ENOENT if no region starts there.
 */
VC_API int vc_gmem_remove(vc_gmem *gm, uint64_t gpa);

/**
 * Host pointer for guest-physical [@p gpa, @p gpa + @p len), or NULL when the
 * range is not entirely inside one region (or, with @p writable, the region is
 * read-only). @p len 0 is treated as 1. O(log regions).
 *
 * With dirty tracking on, a @p writable lookup marks the range dirty when it is made,
 * before the caller writes: a harvest on another thread between the lookup and the
 * write would miss it, so such a caller calls vc_gmem_mark_dirty() after writing.
 */
VC_API void *vc_gmem_ptr(const vc_gmem *gm, uint64_t gpa, size_t len, int writable);

/**
 * Copy @p len bytes at guest-physical @p gpa to @p dst. The range may span
 * adjacent regions. Nothing is copied unless the whole range is mapped.
 * @return 0, -EFAULT if any byte is unmapped, -EINVAL on NULL arguments.
 */
VC_API int vc_gmem_read(const vc_gmem *gm, uint64_t gpa, void *dst, size_t len);

/**
 * Copy @p len bytes from @p src to guest-physical @p gpa (may span adjacent
 * regions). Nothing is written unless the whole range is mapped and writable.
 * With dirty tracking on, the pages are marked after the bytes are written.
 * @return 0, -EFAULT if any byte is unmapped, -EACCES if any region is read-only,
 *         -EINVAL on NULL arguments.
 */
VC_API int vc_gmem_write(const vc_gmem *gm, uint64_t gpa, const void *src, size_t len);

/**
 * Describe region @p index (0-based, in ascending guest-physical order).
 * @param out receives the description
 * @return 0, -ENOENT when @p index is past the last region, -EINVAL on NULL.
 */
VC_API int vc_gmem_region(struct vc_gmem_region_info *out, const vc_gmem *gm, unsigned index);

/** Number of regions in the map. */
VC_API unsigned vc_gmem_region_count(const vc_gmem *gm);

/**
 * Start dirty tracking: every region, present and added later, gets a bitmap of its
 * 4 KiB pages (one bit each: 32 KiB per GiB of guest memory). Calling it again does
 * nothing. Tracking stays on until the map is destroyed.
 * @return 0, -ENOMEM (nothing changed), -EINVAL on NULL.
 */
VC_API int vc_gmem_dirty_enable(vc_gmem *gm);

/**
 * Whether dirty tracking is on.
 * @return 1 when vc_gmem_dirty_enable() was called on @p gm, else 0 (also for NULL).
 */
VC_API int vc_gmem_dirty_tracking(const vc_gmem *gm);

/**
 * Mark guest-physical [@p gpa, @p gpa + @p len) written, for a write the caller made
 * through a pointer (vc_gmem_ptr()) after a harvest may have run. The range may span
 * adjacent regions. Without tracking this only checks the range.
 * @return 0; -EFAULT if any byte is unmapped (nothing marked); -EINVAL on NULL.
 */
VC_API int vc_gmem_mark_dirty(const vc_gmem *gm, uint64_t gpa, uint64_t len);

/**
 * Collect region @p index's marks into @p bitmap and clear them: bit i of word w is
 * page 64 * w + i of the region, the layout of KVM_GET_DIRTY_LOG for a memory slot
 * over the same range, so a VMM fills @p bitmap from KVM first and gets the union of
 * the guest's and its own writes. Bits already set stay set.
 * @param bitmap at least (pages + 63) / 64 words, pages = the region's size / 4 KiB
 *        rounded up
 * @param words the capacity of @p bitmap
 * @param index the region, as in vc_gmem_region()
 * @return the number of bits set in @p bitmap afterwards (dirty pages of the union);
 *         -ENOENT for an @p index past the last region; -EINVAL for NULL or a
 *         @p bitmap too small (nothing cleared).
 */
VC_API long vc_gmem_dirty_harvest(const vc_gmem *gm, uint64_t *bitmap, size_t words,
				  unsigned index);

VC_END_DECLS

#endif /* VIRTCORE_GMEM_H */
