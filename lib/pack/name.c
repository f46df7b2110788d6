// SPDX-License-Identifier: MIT
// Image names: which are allowed (safe as file names on extraction, on any terminal) and
// their GPT form (UTF-16LE, 36 code units).
#include <errno.h>
#include <string.h>

#include "../util/text.h"
#include "pack-internal.h"

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
		long cp = vc__utf8_next(s + i, len - i, &used);

		if (cp < 0) {
			*why = "the name is not valid UTF-8";
			return -EILSEQ;
		}
		/* C0, DEL and C1 controls: a name is printed by tools and becomes a file name. */
		if (vc__is_control(cp)) {
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
		long cp = vc__utf8_next(s + i, len - i, &used);

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
