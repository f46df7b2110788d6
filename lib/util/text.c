// SPDX-License-Identifier: MIT
// UTF-8 decoding and escaping for messages (text.h).
#include <stdio.h>
#include <string.h>

#include "text.h"

long vc__utf8_next(const unsigned char *s, size_t n, size_t *used)
{
	unsigned char c = s[0];
	size_t len;
	long cp, min;

	if (c < 0x80) {
		*used = 1;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return -1; /* continuation byte, 0xc0/0xc1 (overlong) or 0xf5.. */
	}
	if (n < len)
		return -1;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*used = len;
	return cp;
}

/* The next piece of @s (@left > 0 bytes) as printed: into @piece, its length returned;
 * @used gets the input bytes it stands for. */
static size_t next_piece(const unsigned char *s, size_t left, char piece[8], size_t *used)
{
	long cp = vc__utf8_next(s, left, used);
	if (cp < 0 || vc__is_control(cp) || cp == '\\') {
		*used = 1; /* one byte at a time: \xNN per byte */
		return (size_t)snprintf(piece, 8, "\\x%02x", s[0]);
	}
	memcpy(piece, s, *used);
	return *used;
}

const char *vc__escape(const char *in, size_t len, char *out, size_t size)
{
	const unsigned char *s = (const unsigned char *)in;
	char piece[8];
	size_t at = 0, used, whole = 0;

	for (size_t i = 0; i < len; i += used)
		whole += next_piece(s + i, len - i, piece, &used);
	/* When it must be cut, room is kept for "..." after every piece, so a cut never
	 * splits a character or an escape. */
	size_t keep = whole + 1 <= size ? 1 : 4;
	for (size_t i = 0; i < len; i += used) {
		size_t n = next_piece(s + i, len - i, piece, &used);
		if (at + n + keep > size) {
			if (at + 4 <= size) {
				memcpy(out + at, "...", 3);
				at += 3;
			}
			break;
		}
		memcpy(out + at, piece, n);
		at += n;
	}
	out[at] = '\0';
	return out;
}
