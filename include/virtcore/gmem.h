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
 * Thread safety: lookups (vc_gmem_ptr, vc_gmem_read, vc_gmem_write,
 * vc_gmem_region) may run concurrently from any number of threads. Adding or
 * removing regions must not run concurrently with anything else on the same map
 * (a VMM changes its memory map with its vCPUs stopped).
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

VC_END_DECLS

#endif /* VIRTCORE_GMEM_H */
