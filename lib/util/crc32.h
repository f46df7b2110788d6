/* SPDX-License-Identifier: MIT */
/* CRC32 as GPT, zlib and gzip define it (reflected 0xEDB88320, pre- and post-inverted). */
#ifndef VC_UTIL_CRC32_H
#define VC_UTIL_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: start with crc = 0; vc__crc32(vc__crc32(0, a, n), b, m) is the CRC of
 * a followed by b. Thread-safe. */
uint32_t vc__crc32(uint32_t crc, const void *buf, size_t len);

#endif /* VC_UTIL_CRC32_H */
