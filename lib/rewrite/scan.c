// SPDX-License-Identifier: MIT
// The sweep: every executable section decoded linearly, restarting at each symbol that
// starts inside it (as objdump does: code after data or padding resynchronises there);
// an undecodable byte is skipped. Each sensitive instruction becomes a site, in order.
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rewrite-internal.h"

static int add_site(struct vc_rewrite_module *m, size_t *cap, uint32_t section, uint64_t off,
		    unsigned len, enum vc_rewrite_class cls, const char *mnemonic)
{
	if (m->nsites == *cap) {
		size_t n = *cap ? *cap * 2 : 32;
		struct vc_rewrite_site *p = realloc(m->sites, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		m->sites = p;
		*cap = n;
	}
	struct vc_rewrite_site *s = &m->sites[m->nsites++];
	memset(s, 0, sizeof(*s));
	s->section = section;
	s->section_name = m->sec[section].name;
	s->offset = off;
	s->length = len;
	s->cls = cls;
	s->mnemonic = mnemonic;
	memcpy(s->bytes, m->data + m->sec[section].offset + off, len);
	return 0; /* flags come from vc__rewrite_mark() */
}

static int scan_section(struct vc_rewrite_module *m, const struct rw_decoder *d, uint32_t i,
			size_t *cap)
{
	const struct rw_section *s = &m->sec[i];
	const uint8_t *code = m->data + s->offset;
	uint64_t *starts;
	size_t nstarts;
	int rc = vc__rewrite_symbol_starts(m, i, &starts, &nstarts);
	if (rc)
		return rc;
	for (size_t k = 0; k < nstarts && !rc; k++) {
		const uint64_t end = k + 1 < nstarts ? starts[k + 1] : s->size;
		for (uint64_t at = starts[k]; at < end && !rc;) {
			enum vc_rewrite_class cls;
			const char *mn;
			unsigned len = vc__rewrite_decode(d, code + at, (size_t)(end - at), &cls, &mn);
			if (!len) {
				at++; /* not an instruction: data or padding */
				continue;
			}
			if (cls)
				rc = add_site(m, cap, i, at, len, cls, mn);
			at += len;
		}
	}
	free(starts);
	return rc;
}

int vc__rewrite_scan(struct vc_rewrite_module *m)
{
	struct rw_decoder *d = vc__rewrite_decoder_new();
	size_t cap = 0;
	int rc = 0;

	if (!d)
		return -ENOMEM;
	for (uint32_t i = 1; i < m->shnum && !rc; i++)
		if (m->sec[i].type == SHT_PROGBITS && (m->sec[i].flags & SHF_EXECINSTR) && m->sec[i].size)
			rc = scan_section(m, d, i, &cap);
	vc__rewrite_decoder_free(d);
	return rc;
}
