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
	void *out, *back;
	size_t out_size, back_size;
	vc_rewrite_module_t *m;

	if (vc_rewrite_restore(data, size, &back, &back_size) == 0)
		free(back);
	if (vc_rewrite_open(data, size, &m) != 0)
		return 0;
	for (size_t i = 0; i < vc_rewrite_count(m); i++) {
		struct vc_rewrite_site s;
		if (vc_rewrite_get(m, i, &s) || s.length < 1 || s.length > 15 ||
		    vc_rewrite_find(m, s.section, s.offset + s.length - 1) != (long)i)
			abort();
	}
	int rc = vc_rewrite_patch(m, &out, &out_size);
	if (rc == 0) {
		vc_rewrite_module_t *again;
		if (vc_rewrite_open(out, out_size, &again) != 0 || !vc_rewrite_is_patched(again))
			abort(); /* what we write, we read */
		vc_rewrite_close(again);
		if (vc_rewrite_restore(out, out_size, &back, &back_size) != 0 || back_size != size ||
		    memcmp(back, data, size) != 0)
			abort(); /* restore(patch(x)) == x */
		free(back);
		free(out);
	} else if (rc != -17 /* EEXIST */ && rc != -95 /* ENOTSUP */ && rc != -12) {
		abort();
	}
	vc_rewrite_close(m);
	return 0;
}
