/* SPDX-License-Identifier: MIT */
/* Reading the caller's size-prefixed options structs (see VC_OPTS in common.h). */
#ifndef VC_UTIL_OPTS_H
#define VC_UTIL_OPTS_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

/*
 * Copies the caller's options into @dst (the library's own struct, zeroed first, of
 * @dst_sz bytes). The caller's struct says its size in its first field: fields it lacks
 * stay zero (defaults); bytes past the fields this library knows must be zero, so an
 * option the library cannot honour is refused instead of ignored. NULL means defaults.
 */
static inline int vc__opts_copy(void *dst, size_t dst_sz, const void *src)
{
	memset(dst, 0, dst_sz);
	if (!src)
		return 0;
	size_t src_sz;
	memcpy(&src_sz, src, sizeof(src_sz));
	if (src_sz < sizeof(size_t) || src_sz > 4096)
		return -EINVAL;
	const unsigned char *extra = (const unsigned char *)src + dst_sz;
	for (size_t i = dst_sz; i < src_sz; i++)
		if (*extra++)
			return -EINVAL;
	memcpy(dst, src, src_sz < dst_sz ? src_sz : dst_sz);
	memcpy(dst, &dst_sz, sizeof(dst_sz)); /* from here on it describes dst */
	return 0;
}

/*
 * Copies the library's statistics (@src, @src_sz bytes) into the caller's struct of
 * @dst_sz bytes: an older caller gets the fields it knows, a newer one zeros for the
 * fields this library does not have yet.
 */
static inline int vc__stats_copy(void *dst, size_t dst_sz, const void *src, size_t src_sz)
{
	if (!dst || !dst_sz)
		return -EINVAL;
	size_t n = dst_sz < src_sz ? dst_sz : src_sz;
	memcpy(dst, src, n);
	memset((unsigned char *)dst + n, 0, dst_sz - n);
	return 0;
}

#endif /* VC_UTIL_OPTS_H */
