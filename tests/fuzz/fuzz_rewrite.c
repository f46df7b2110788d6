// SPDX-License-Identifier: MIT
// libFuzzer target over the rewrite module's ELF reader and table reader: any bytes are
// opened (never a crash, never a read outside them: ASan sees the exact buffer), and an
// object that opens must rewrite, reopen as rewritten, and restore to the same bytes;
// the bytes are also offered to vc_rewrite_restore() as they are.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/rewrite.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vc_rewrite *m;
	uint8_t *back = malloc(size ? size : 1);
	if (!back)
		abort();
	if (vc_rewrite_restore(data, size, back, size) > (long)size)
		abort(); /* the original is never larger than the rewritten object */
	if (vc_rewrite_load(&m, data, size) != 0) {
		free(back);
		return 0;
	}
	for (size_t i = 0; i < vc_rewrite_count(m); i++) {
		struct vc_rewrite_site s;
		if (vc_rewrite_get(&s, m, i) || s.length < 1 || s.length > 15 ||
		    vc_rewrite_find(m, s.section, s.offset + s.length - 1) != (long)i)
			abort();
	}
	long rc = vc_rewrite_patch(m, NULL, 0);
	if (rc > 0) {
		size_t out_size = (size_t)rc;
		uint8_t *out = malloc(out_size);
		if (!out || vc_rewrite_patch(m, out, out_size) != rc)
			abort(); /* the size query and the rewrite agree */
		vc_rewrite *again;
		if (vc_rewrite_load(&again, out, out_size) != 0 || !vc_rewrite_is_patched(again))
			abort(); /* what we write, we read */
		vc_rewrite_destroy(again);
		if (vc_rewrite_restore(out, out_size, back, size) != (long)size ||
		    memcmp(back, data, size) != 0)
			abort(); /* restore(patch(x)) == x */
		free(out);
	} else if (rc != -17 /* EEXIST */ && rc != -95 /* ENOTSUP */ && rc != -12) {
		abort();
	}
	free(back);
	vc_rewrite_destroy(m);
	return 0;
}
