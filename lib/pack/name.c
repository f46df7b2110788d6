// SPDX-License-Identifier: MIT
// Image names: which are allowed (safe as file names on extraction, on any terminal) and
// their GPT form (UTF-16LE, 36 code units).
#include <errno.h>
#include <string.h>

#include "pack-internal.h"

/* Decodes one UTF-8 sequence at @s (@n bytes left): the code point, or -1 if the bytes
 * are not a shortest-form encoding of a Unicode scalar value. @used gets its length. */
static long utf8_next(const unsigned char *s, size_t n, size_t *used)
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

int vc__pack_check_name(const char *name, size_t len, const char **why)
{
	const unsigned char *s = (const unsigned char *)name;

	*why = NULL;
	if (len == 0) {
		*why = "the name is empty";
		return -EINVAL;
	}
	if (len > VC_PACK_NAME_MAX) {
		*why = "the name is longer than 255 bytes";
		return -ENAMETOOLONG;
	}
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) {
		*why = "\".\" and \"..\" cannot name an image";
		return -EILSEQ;
	}
	for (size_t i = 0; i < len;) {
		size_t used;
		long cp = utf8_next(s + i, len - i, &used);

		if (cp < 0) {
			*why = "the name is not valid UTF-8";
			return -EILSEQ;
		}
		/* C0, DEL and C1 controls: a name is printed by tools and becomes a file name. */
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			*why = "the name has a control character";
			return -EILSEQ;
		}
		if (cp == '/') {
			*why = "the name has a '/'";
			return -EILSEQ;
		}
		i += used;
	}
	return 0;
}

void vc__pack_gpt_name(const char *name, size_t len, uint16_t out[36])
{
	const unsigned char *s = (const unsigned char *)name;
	size_t units = 0;

	memset(out, 0, 36 * sizeof(out[0]));
	for (size_t i = 0; i < len;) {
		size_t used;
		long cp = utf8_next(s + i, len - i, &used);

		if (cp < 0)
			return; /* checked names only; stop rather than guess */
		if (cp >= 0x10000) {
			if (units + 2 > 36)
				return;
			cp -= 0x10000;
			out[units++] = (uint16_t)(0xd800 | (cp >> 10));
			out[units++] = (uint16_t)(0xdc00 | (cp & 0x3ff));
		} else {
			if (units + 1 > 36)
				return;
			out[units++] = (uint16_t)cp;
		}
		i += used;
	}
}
