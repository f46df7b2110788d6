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

struct vc_rewrite {
	uint8_t *data; /* our copy of the object (malloc'd) */
	size_t size;
	void *elf;     /* libelf's handle over @data */
	size_t shnum, shstrndx;
	uint64_t shoff;
	struct rw_section *sec;
	struct vc_rewrite_site *sites; /* sorted by section, then offset */
	size_t nsites;
	int table_section; /* index of .vc.sensitive, or 0 */
	struct rw_start *targets; /* where control may arrive in code (promote.c) */
	size_t ntargets, targets_cap;
};

struct rw_start {
	uint32_t section;
	uint64_t offset;
};

/* elf.c: reads and checks the object's headers and sections. */
int vc__rewrite_load(struct vc_rewrite *m);
void vc__rewrite_unload(struct vc_rewrite *m);
/* Walks every relocation once: checks it lies inside its section, sets the reloc_mask
 * and RELOC flag of the sites it reaches into, and the EX_TABLE / JUMP_TABLE flags of
 * the sites an __ex_table / __jump_table entry names. The sites must be sorted. */
int vc__rewrite_mark(struct vc_rewrite *m);
/* The index of the site covering byte @off of @section, or -1. */
long vc__rewrite_site_at(const struct vc_rewrite *m, uint32_t section, uint64_t off);
/* Where decoding restarts: offset 0 of every code section and every symbol inside one,
 * sorted by section then offset, unique. Read once per object. */
int vc__rewrite_symbol_starts(const struct vc_rewrite *m, struct rw_start **out, size_t *n);

/* scan.c: decodes every executable section and fills m->sites. */
int vc__rewrite_scan(struct vc_rewrite *m);

/* length.c: the length of a common instruction that cannot be sensitive, or 0 (then
 * the full decoder must look). */
unsigned vc__rewrite_fast_length(const uint8_t *p, size_t avail);

/* decode.c: a decoder over x86-64 code; classifies the instruction at @p.
 * Returns its length (0: undecodable), *cls 0 when it is not sensitive. */
struct rw_decoder;
struct rw_decoder *vc__rewrite_decoder_new(void);
void vc__rewrite_decoder_free(struct rw_decoder *d);
unsigned vc__rewrite_decode(const struct rw_decoder *d, const uint8_t *p, size_t avail,
			    enum vc_rewrite_class *cls, const char **mnemonic);

/* decode.c: 1 if the instruction at @p (of *@len bytes) still means the same when it runs
 * at another address: no relative operand (branch, RIP-relative memory), no call, no
 * branch, no interrupt; 0 otherwise or when it does not decode. */
int vc__rewrite_movable(const struct rw_decoder *d, const uint8_t *p, size_t avail,
			unsigned *len);

/* promote.c: where a 5-byte jump may replace a site once it is hot. */
/* Records that control may arrive at byte @off of code section @section. */
int vc__rewrite_add_target(struct vc_rewrite *m, uint32_t section, uint64_t off);
/* The target of the direct (relative) branch or call of @len bytes at @p, as a distance
 * from its end: 1 and *@rel, or 0 when it is not one. */
int vc__rewrite_relative_branch(const uint8_t *p, unsigned len, int64_t *rel);
/* After scan and mark (which record the targets): each site's promote and displaced. */
int vc__rewrite_promote(struct vc_rewrite *m);

#endif /* VC_REWRITE_INTERNAL_H */
