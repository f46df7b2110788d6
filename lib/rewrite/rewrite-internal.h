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
	int sites_final; /* set by mark: targets far from every site are not kept */
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
/* A window ends at most this far past its site's first byte: under 5 bytes, then one
 * more instruction of at most 15. Only targets that close after a site matter. */
#define VC__REWRITE_WINDOW_MAX (5 - 1 + 15)
/* 1 if a site of @section starts in [@off - VC__REWRITE_WINDOW_MAX, @off). */
int vc__rewrite_near_site(const struct vc_rewrite *m, uint32_t section, uint64_t off);
/* Records that control may arrive at byte @off of code section @section. */
int vc__rewrite_add_target(struct vc_rewrite *m, uint32_t section, uint64_t off);
/* The target of the direct (relative) branch or call of @len bytes at @p, as a distance
 * from its end: 1 and *@rel, or 0 when it is not one. Inline: the scan asks it of every
 * instruction. */
static inline int vc__rewrite_relative_branch(const uint8_t *p, unsigned len, int64_t *rel)
{
	unsigned i = 0;
	/* legacy prefixes, then REX */
	while (i < len && (p[i] == 0x66 || p[i] == 0x67 || p[i] == 0xf0 || p[i] == 0xf2 ||
			   p[i] == 0xf3 || p[i] == 0x2e || p[i] == 0x3e || p[i] == 0x26 ||
			   p[i] == 0x36 || p[i] == 0x64 || p[i] == 0x65))
		i++;
	if (i < len && (p[i] & 0xf0) == 0x40)
		i++;
	if (i >= len)
		return 0;
	const uint8_t op = p[i];
	int rel8 = (op >= 0x70 && op <= 0x7f) || (op >= 0xe0 && op <= 0xe3) || op == 0xeb;
	int rel32 = op == 0xe8 || op == 0xe9 ||
		    (op == 0x0f && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x8f);
	if (rel8 && len == i + 2) {
		*rel = (int8_t)p[i + 1];
		return 1;
	}
	if (rel32 && len == i + 1 + (op == 0x0f) + 4) {
		const uint8_t *f = p + len - 4;
		*rel = (int32_t)((uint32_t)f[0] | (uint32_t)f[1] << 8 | (uint32_t)f[2] << 16 |
				 (uint32_t)f[3] << 24);
		return 1;
	}
	return 0;
}

/* After scan and mark (which record the targets): each site's promote and displaced. */
int vc__rewrite_promote(struct vc_rewrite *m);

#endif /* VC_REWRITE_INTERNAL_H */
