/* SPDX-License-Identifier: MIT */
/* Reading the caller's size-prefixed options structs (see VC_OPTS in common.h). */
#ifndef VC_UTIL_OPTS_H
#define VC_UTIL_OPTS_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "log.h"

/*
 * Copies the caller's options into @dst (the library's own struct, zeroed first, of
 * @dst_sz bytes), of which this library reads the first @known bytes (up to the end of
 * its last real field). The caller's struct says its size in its first field: fields it
 * lacks stay zero (defaults). Every byte from @known to the caller's size must be zero:
 * reserved fields, padding and fields of a newer header alike, so an option this library
 * cannot honour is refused (-E2BIG, as libbpf's OPTS_VALID) instead of ignored.
 * NULL means defaults.
 */
static inline int vc__opts_copy(void *dst, size_t dst_sz, size_t known, const void *src,
				const char *name)
{
	memset(dst, 0, dst_sz);
	if (!src)
		return 0;
	size_t src_sz;
	memcpy(&src_sz, src, sizeof(src_sz));
	if (src_sz < sizeof(size_t) || src_sz > 4096) {
		vc__err("%s: sz is %zu: not the size of an options struct (use VC_OPTS)", name,
			src_sz);
		return -EINVAL;
	}
	const unsigned char *p = (const unsigned char *)src;
	for (size_t i = known; i < src_sz; i++)
		if (p[i]) {
			vc__err("%s: byte %zu of %zu is set, but this library (%s) knows only "
				"the first %zu: an option it cannot honour", name, i, src_sz,
				VC_VERSION_STRING, known);
			return -E2BIG;
		}
	memcpy(dst, src, src_sz < dst_sz ? src_sz : dst_sz);
	memcpy(dst, &dst_sz, sizeof(dst_sz)); /* from here on it describes dst */
	return 0;
}

/* vc__opts_copy() into the struct @dst, whose last field this library reads is @last. */
#define VC__OPTS_COPY(dst, src, type, last)                                            \
	vc__opts_copy(&(dst), sizeof(dst), offsetof(struct type, last) + sizeof((dst).last), \
		      (src), "struct " #type)

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
