/* SPDX-License-Identifier: MIT */
/* Names in messages and formats: UTF-8 decoding, and escaping what a terminal must not
 * get raw (a newline breaks a one-line message, an ESC sequence rewrites the screen). */
#ifndef VC_UTIL_TEXT_H
#define VC_UTIL_TEXT_H

#include <stddef.h>

/* Decodes one UTF-8 sequence at @s (@n > 0 bytes left): the code point, or -1 if the bytes
 * are not a shortest-form encoding of a Unicode scalar value. @used gets its length. */
long vc__utf8_next(const unsigned char *s, size_t n, size_t *used);

/* A C0 control, DEL or a C1 control (U+0080..U+009F). */
static inline int vc__is_control(long cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

/*
 * Copies @len bytes of @in to @out (@size > 0 bytes, always NUL-terminated) for printing:
 * valid UTF-8 other than controls as it is, everything else (controls, bytes that are not
 * UTF-8, and the backslash itself) as \xNN. What does not fit is cut at a character and
 * marked "...". Returns @out.
 */
const char *vc__escape(const char *in, size_t len, char *out, size_t size);

/* Big enough for vc__escape() of @n bytes, whole. */
#define VC__ESCAPED_SIZE(n) (4 * (n) + 1)

#endif /* VC_UTIL_TEXT_H */
