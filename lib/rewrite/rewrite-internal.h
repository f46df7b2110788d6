/* SPDX-License-Identifier: MIT */
/* rewrite internals: the opened object (sections, relocated byte ranges, the code that
 * __ex_table and __jump_table name) and the instruction classifier. */
#ifndef VC_REWRITE_INTERNAL_H
#define VC_REWRITE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <virtcore/rewrite.h>

struct rw_section {
	const char *name;
	uint64_t offset, size; /* in the file */
	uint32_t type;
	uint64_t flags;
	int link, info;
};

/* A relocated field: section, where, how many bytes the loader writes. Sorted. */
struct rw_reloc {
	uint32_t section;
	uint64_t offset;
	uint32_t size;
};

/* Code that a table section names: section, offset, VC_REWRITE_SITE_* flag. Sorted. */
struct rw_ref {
	uint32_t section;
	uint64_t offset;
	unsigned flag;
};

struct vc_rewrite_module {
	uint8_t *data; /* our copy of the object */
	size_t size;
	void *elf;     /* libelf's handle over @data */
	size_t shnum, shstrndx;
	uint64_t shoff;
	struct rw_section *sec;
	struct rw_reloc *relocs;
	size_t nrelocs;
	struct rw_ref *refs;
	size_t nrefs;
	struct vc_rewrite_site *sites;
	size_t nsites;
	int table_section; /* index of .vc.sensitive, or 0 */
};

/* elf.c: reads and checks the object, fills sections, relocations and references. */
int vc__rewrite_load(struct vc_rewrite_module *m);
void vc__rewrite_unload(struct vc_rewrite_module *m);
/* The relocated field overlapping [off, off + len) of @section, or NULL. */
const struct rw_reloc *vc__rewrite_reloc_in(const struct vc_rewrite_module *m, uint32_t section,
					    uint64_t off, uint64_t len);
/* Symbol starts in @section (sorted, unique, inside it), for decoding restarts. */
int vc__rewrite_symbol_starts(const struct vc_rewrite_module *m, uint32_t section,
			      uint64_t **out, size_t *n);

/* scan.c: decodes every executable section and fills m->sites. */
int vc__rewrite_scan(struct vc_rewrite_module *m);

/* decode.c: a decoder over x86-64 code; classifies the instruction at @p.
 * Returns its length (0: undecodable), *cls 0 when it is not sensitive. */
struct rw_decoder;
struct rw_decoder *vc__rewrite_decoder_new(void);
void vc__rewrite_decoder_free(struct rw_decoder *d);
unsigned vc__rewrite_decode(const struct rw_decoder *d, const uint8_t *p, size_t avail,
			    enum vc_rewrite_class *cls, const char **mnemonic);

#endif /* VC_REWRITE_INTERNAL_H */
