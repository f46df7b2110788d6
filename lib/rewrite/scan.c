// SPDX-License-Identifier: MIT
// The sweep: every executable section decoded linearly, restarting at each symbol that
// starts inside it (as objdump does: code after data or padding resynchronises there);
// an undecodable byte is skipped. Each sensitive instruction becomes a site, in order;
// each direct branch's target is recorded for promote.c.
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../util/grow.h"
#include "rewrite-internal.h"

static int add_site(struct vc_rewrite *m, size_t *cap, uint32_t section, uint64_t off,
		    unsigned len, enum vc_rewrite_class cls, const char *mnemonic)
{
	if (vc__grow((void **)&m->sites, cap, m->nsites + 1, sizeof(*m->sites)))
		return -ENOMEM;
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

/* Decodes section @i from each of its @n restart points @st. */
static int scan_section(struct vc_rewrite *m, const struct rw_decoder *d, uint32_t i,
			const struct rw_start *st, size_t n, size_t *cap)
{
	const struct rw_section *s = &m->sec[i];
	const uint8_t *code = m->data + s->offset;
	int rc = 0;

	for (size_t k = 0; k < n && !rc; k++) {
		const uint64_t end = k + 1 < n ? st[k + 1].offset : s->size;
		for (uint64_t at = st[k].offset; at < end && !rc;) {
			enum vc_rewrite_class cls;
			const char *mn;
			unsigned len = vc__rewrite_decode(d, code + at, (size_t)(end - at), &cls, &mn);
			if (!len) {
				at++; /* not an instruction: data or padding */
				continue;
			}
			if (cls)
				rc = add_site(m, cap, i, at, len, cls, mn);
			int64_t rel;
			if (!rc && vc__rewrite_relative_branch(code + at, len, &rel)) {
				const int64_t to = (int64_t)(at + len) + rel;
				/* behind us every site is known: keep only targets near one */
				if (to >= 0 && (uint64_t)to < s->size &&
				    ((uint64_t)to > at || vc__rewrite_near_site(m, i, (uint64_t)to)))
					rc = vc__rewrite_add_target(m, i, (uint64_t)to);
			}
			at += len;
		}
	}
	return rc;
}

int vc__rewrite_scan(struct vc_rewrite *m)
{
	struct rw_decoder *d = vc__rewrite_decoder_new();
	struct rw_start *st = NULL;
	size_t nst = 0, cap = 0;
	int rc = d ? vc__rewrite_symbol_starts(m, &st, &nst) : -ENOMEM;

	/* every restart point is somewhere control may arrive (promote.c) */
	for (size_t k = 0; !rc && k < nst; k++)
		rc = vc__rewrite_add_target(m, st[k].section, st[k].offset);

	/* the starts come grouped by section, in section order */
	for (size_t k = 0; !rc && k < nst;) {
		size_t e = k;
		while (e < nst && st[e].section == st[k].section)
			e++;
		const struct rw_section *s = &m->sec[st[k].section];
		if (s->type == SHT_PROGBITS && s->size)
			rc = scan_section(m, d, st[k].section, st + k, e - k, &cap);
		k = e;
	}
	free(st);
	vc__rewrite_decoder_free(d);
	return rc;
}
