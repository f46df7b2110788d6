// SPDX-License-Identifier: MIT
// Rewriting and restoring. The rewritten object is the original, byte for byte, with
// each site trapped, then (appended) the table, a copy of the section-name table with
// ".vc.sensitive" added, and a new section-header table with one more header; only the
// ELF header's e_shoff and e_shnum change up front. The original section headers stay
// where they were, so restoring is: cut the appended part, put the sites' bytes back,
// put e_shoff and e_shnum back (the table keeps them).
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "rewrite-internal.h"

#define ALIGN8(x) (((x) + 7) & ~(uint64_t)7)

/* What a site holds once trapped: int3, then nop, except bytes a relocation fills
 * (@code: the site's bytes as they are in the file). */
static int trapped_bytes(const struct vc_rewrite *m, const struct vc_rewrite_site *s,
			 const uint8_t *code, uint8_t *out)
{
	if (s->reloc_mask & 1) {
		vc__err("rewrite: the site at %s+%#llx: a relocation fills its first byte, where "
			"the trap goes", m->sec[s->section].name, (unsigned long long)s->offset);
		return -ENOTSUP;
	}
	for (unsigned k = 0; k < s->length; k++)
		out[k] = s->reloc_mask >> k & 1 ? code[k] : (uint8_t)(k ? VC_REWRITE_PAD : VC_REWRITE_TRAP);
	return 0;
}

VC_API long vc_rewrite_patch(const vc_rewrite *m, void *buf, size_t len)
{
	if (!m)
		return -EINVAL;
	if (m->table_section) {
		vc__err("rewrite: already rewritten (it has a %s section)", VC_REWRITE_SECTION);
		return -EEXIST;
	}
	const struct rw_section *names = &m->sec[m->shstrndx];
	const uint64_t table_off = ALIGN8((uint64_t)m->size);
	const uint64_t table_size = sizeof(struct vc_rewrite_abi_header) +
				    m->nsites * sizeof(struct vc_rewrite_abi_entry);
	const uint64_t names_off = table_off + table_size;
	const uint64_t names_size = names->size + sizeof(VC_REWRITE_SECTION);
	const uint64_t shdr_off = ALIGN8(names_off + names_size);
	const uint64_t total = shdr_off + (m->shnum + 1) * sizeof(Elf64_Shdr);
	if (m->shnum + 1 >= SHN_LORESERVE) {
		vc__err("rewrite: %zu sections: one more would need extended numbering", m->shnum);
		return -ENOTSUP;
	}
	/* Every site is checked before a byte is written: a refusal leaves @buf as it was,
	 * and a size query refuses what the rewrite would refuse. */
	for (size_t i = 0; i < m->nsites; i++) {
		const struct vc_rewrite_site *s = &m->sites[i];
		uint8_t trapped[15];
		int rc = trapped_bytes(m, s, m->data + m->sec[s->section].offset + s->offset,
				       trapped);
		if (rc)
			return rc;
	}
	if (!buf)
		return (long)total;
	if (len < total) {
		vc__err("rewrite: the rewritten object needs %llu bytes, the buffer has %zu",
			(unsigned long long)total, len);
		return -ENOSPC;
	}
	uint8_t *o = buf;
	memset(o, 0, (size_t)total);
	memcpy(o, m->data, m->size);

	struct vc_rewrite_abi_header h = {
		.magic = VC_REWRITE_MAGIC,
		.version = VC_REWRITE_VERSION,
		.header_size = sizeof(h),
		.entry_size = sizeof(struct vc_rewrite_abi_entry),
		.count = (uint32_t)m->nsites,
		.orig_size = m->size,
		.orig_shoff = m->shoff,
		.orig_shnum = (uint16_t)m->shnum,
		.orig_shstrndx = (uint16_t)m->shstrndx,
	};
	memcpy(o + table_off, &h, sizeof(h));
	for (size_t i = 0; i < m->nsites; i++) {
		const struct vc_rewrite_site *s = &m->sites[i];
		struct vc_rewrite_abi_entry e = {
			.offset = s->offset,
			.section = s->section,
			.length = (uint8_t)s->length,
			.cls = (uint8_t)s->cls,
			.flags = (uint16_t)(s->flags | (s->promote == VC_REWRITE_PROMOTE_YES
					? VC_REWRITE_SITE_PROMOTABLE |
					  s->displaced << VC_REWRITE_SITE_DISPLACED_SHIFT : 0)),
		};
		memcpy(e.original, s->bytes, s->length);
		memcpy(o + table_off + sizeof(h) + i * sizeof(e), &e, sizeof(e));
		uint8_t *code = o + m->sec[s->section].offset + s->offset;
		(void)trapped_bytes(m, s, code, code); /* checked above: cannot fail */
	}
	memcpy(o + names_off, m->data + names->offset, names->size);
	memcpy(o + names_off + names->size, VC_REWRITE_SECTION, sizeof(VC_REWRITE_SECTION));

	memcpy(o + shdr_off, m->data + m->shoff, m->shnum * sizeof(Elf64_Shdr));
	Elf64_Shdr sh;
	memcpy(&sh, o + shdr_off + m->shstrndx * sizeof(sh), sizeof(sh));
	sh.sh_offset = names_off;
	sh.sh_size = names_size;
	memcpy(o + shdr_off + m->shstrndx * sizeof(sh), &sh, sizeof(sh));
	sh = (Elf64_Shdr){
		.sh_name = (Elf64_Word)names->size,
		.sh_type = SHT_PROGBITS,
		.sh_offset = table_off,
		.sh_size = table_size,
		.sh_addralign = 8,
		.sh_entsize = sizeof(struct vc_rewrite_abi_entry),
	};
	memcpy(o + shdr_off + m->shnum * sizeof(sh), &sh, sizeof(sh));

	Elf64_Ehdr eh;
	memcpy(&eh, o, sizeof(eh));
	eh.e_shoff = shdr_off;
	eh.e_shnum = (Elf64_Half)(m->shnum + 1);
	memcpy(o, &eh, sizeof(eh));
	return (long)total;
}

/* The table of a rewritten object, checked against the file it sits in. */
static int read_table(const struct vc_rewrite *m, struct vc_rewrite_abi_header *h,
		      const uint8_t **entries)
{
	const struct rw_section *t = &m->sec[m->table_section];
	if (t->type != SHT_PROGBITS || t->size < sizeof(*h)) {
		vc__err("rewrite: the %s section is too small for its header", VC_REWRITE_SECTION);
		return -EBADMSG;
	}
	memcpy(h, m->data + t->offset, sizeof(*h));
	if (memcmp(h->magic, VC_REWRITE_MAGIC, sizeof(h->magic)) || h->version != VC_REWRITE_VERSION ||
	    h->header_size != sizeof(*h) || h->entry_size != sizeof(struct vc_rewrite_abi_entry) ||
	    h->count > (t->size - sizeof(*h)) / sizeof(struct vc_rewrite_abi_entry)) {
		vc__err("rewrite: the %s table's header is not one this library wrote (magic, "
			"version, sizes or count)", VC_REWRITE_SECTION);
		return -EBADMSG;
	}
	if (h->orig_size < sizeof(Elf64_Ehdr) || h->orig_size > t->offset ||
	    h->orig_shnum < 2 || h->orig_shnum > m->shnum || h->orig_shstrndx >= h->orig_shnum ||
	    h->orig_shoff > h->orig_size ||
	    (h->orig_size - h->orig_shoff) / sizeof(Elf64_Shdr) < h->orig_shnum) {
		vc__err("rewrite: the %s table describes an original file that cannot be this "
			"one's (size %llu, section headers at %llu)", VC_REWRITE_SECTION,
			(unsigned long long)h->orig_size, (unsigned long long)h->orig_shoff);
		return -EBADMSG;
	}
	*entries = m->data + t->offset + sizeof(*h);
	return 0;
}

/* The table's entries as sites (checked: inside the original part of the file, in
 * order, not overlapping), marked with the relocations that reach into them. */
static int sites_from_table(struct vc_rewrite *m, const struct vc_rewrite_abi_header *h,
			    const uint8_t *entries)
{
	if (!(m->sites = calloc(h->count ? h->count : 1, sizeof(*m->sites))))
		return -ENOMEM;
	for (uint32_t i = 0; i < h->count; i++) {
		struct vc_rewrite_abi_entry e;
		memcpy(&e, entries + i * sizeof(e), sizeof(e));
		const struct rw_section *s = e.section && e.section < h->orig_shnum ? &m->sec[e.section] : NULL;
		const struct vc_rewrite_site *prev = i ? &m->sites[i - 1] : NULL;
		if (!s || s->type != SHT_PROGBITS || e.length < 1 || e.length > 15 ||
		    e.offset > s->size || e.length > s->size - e.offset ||
		    s->offset + s->size > h->orig_size ||
		    (prev && (e.section < prev->section ||
			      (e.section == prev->section && e.offset < prev->offset + prev->length)))) {
			vc__err("rewrite: table entry %u names bytes outside its section, or out of "
				"order", i);
			return -EBADMSG;
		}
		struct vc_rewrite_site *site = &m->sites[m->nsites++];
		site->section = e.section;
		site->offset = e.offset;
		site->length = e.length;
		memcpy(site->bytes, e.original, e.length);
	}
	return vc__rewrite_mark(m);
}

/* Restores into @o, a scratch copy of the rewritten bytes (at least orig_size of them). */
static long restore_from(struct vc_rewrite *m, uint8_t *o, void *buf, size_t len)
{
	struct vc_rewrite_abi_header h;
	const uint8_t *entries;
	int rc = read_table(m, &h, &entries);
	if (rc || (rc = sites_from_table(m, &h, entries)))
		return rc;
	for (size_t i = 0; i < m->nsites && !rc; i++) {
		const struct vc_rewrite_site *s = &m->sites[i];
		uint8_t *code = o + m->sec[s->section].offset + s->offset, trapped[15];
		if ((rc = trapped_bytes(m, s, code, trapped)))
			break;
		if (memcmp(code, trapped, s->length)) {
			vc__err("rewrite: the site at %s+%#llx no longer holds its trap: the file "
				"was changed after it was rewritten", m->sec[s->section].name,
				(unsigned long long)s->offset);
			rc = -EBADMSG;
			break;
		}
		memcpy(code, s->bytes, s->length);
	}
	if (rc)
		return rc;
	Elf64_Ehdr eh;
	memcpy(&eh, o, sizeof(eh));
	eh.e_shoff = h.orig_shoff;
	eh.e_shnum = h.orig_shnum;
	eh.e_shstrndx = h.orig_shstrndx;
	memcpy(o, &eh, sizeof(eh));
	if (!buf)
		return (long)h.orig_size;
	if (len < h.orig_size) {
		vc__err("rewrite: the restored object needs %llu bytes, the buffer has %zu",
			(unsigned long long)h.orig_size, len);
		return -ENOSPC;
	}
	memcpy(buf, o, (size_t)h.orig_size);
	return (long)h.orig_size;
}

VC_API long vc_rewrite_restore(const void *data, size_t size, void *buf, size_t len)
{
	struct vc_rewrite m = {0};

	if (!data)
		return -EINVAL;
	/* two copies: one the loader reads (and keeps pointers into), one restored in place */
	uint8_t *scratch = malloc(size ? size : 1);
	if (!scratch || !(m.data = malloc(size ? size : 1))) {
		free(scratch);
		return -ENOMEM;
	}
	memcpy(m.data, data, size);
	memcpy(scratch, data, size);
	m.size = size;
	long rc = vc__rewrite_load(&m);
	if (!rc && !m.table_section) {
		vc__err("rewrite: no %s section: not rewritten by vc_rewrite_patch()",
			VC_REWRITE_SECTION);
		rc = -ENOENT;
	}
	if (!rc)
		rc = restore_from(&m, scratch, buf, len);
	vc__rewrite_unload(&m);
	free(m.sites);
	free(m.data);
	free(scratch);
	return rc;
}
