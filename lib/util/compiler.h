/* SPDX-License-Identifier: MIT */
/* Compiler helpers used across lib/ (private). */
#ifndef VC_UTIL_COMPILER_H
#define VC_UTIL_COMPILER_H

#include <stddef.h>

#define vc_likely(x) __builtin_expect(!!(x), 1)
#define vc_unlikely(x) __builtin_expect(!!(x), 0)

#define VC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define vc_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define VC_PRINTF(fmt_idx, first_arg) __attribute__((format(printf, fmt_idx, first_arg)))

#endif /* VC_UTIL_COMPILER_H */
