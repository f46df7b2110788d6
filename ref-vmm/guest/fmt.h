/* SPDX-License-Identifier: MIT */
/* A small vsnprintf shared by the guest kernel and the user library. */
#ifndef VCG_FMT_H
#define VCG_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* Formats like vsnprintf: %d %i %u %x %X %s %c %p %%, a precision for %s (%.*s), the l/ll/z length
 * modifiers, a width and the 0 and - flags. Returns the full length. */
int vfmt(char *buf, size_t size, const char *fmt, va_list ap);
int sfmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
