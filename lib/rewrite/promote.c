// SPDX-License-Identifier: MIT
// Promotion: which sites a loader may later replace by a 5-byte `jmp` to a stub that
// does the same work without a trap (docs/rewrite.md, "Promotion"). A site of fewer than
// 5 bytes borrows the instructions after it; the stub runs them and jumps back. That is
// only sound when nothing enters those bytes except through the site's first byte, and
// when the borrowed instructions mean the same at the stub's address.
//
// What may enter, recorded while the object is read: every symbol and the start of each
// code section (scan.c), the target of each direct branch or call (scan.c), and what each
// relocation of loaded data or code points at (elf.c). Indirect jumps through tables are
// covered by their relocations; a computed jump the object does not describe is not.
#include <errno.h>
#include <stdlib.h>

#include "../util/grow.h"
#include "rewrite-internal.h"

/* The jump that replaces a promoted site: e9 rel32. */
#define JUMP_SIZE 5

static const char *const promote_names[] = {
	[VC_REWRITE_PROMOTE_YES] = "yes",
	[VC_REWRITE_PROMOTE_TARGET] = "branch-target",
	[VC_REWRITE_PROMOTE_TABLE] = "table",
	[VC_REWRITE_PROMOTE_UNMOVABLE] = "unmovable",
	[VC_REWRITE_PROMOTE_END] = "code-end",
};

VC_API const char *vc_rewrite_promote_name(enum vc_rewrite_promote p)
{
	if ((unsigned)p >= sizeof(promote_names) / sizeof(promote_names[0]))
		return "unknown";
	return promote_names[p];
}

int vc__rewrite_add_target(struct vc_rewrite *m, uint32_t section, uint64_t off)
{
	if (vc__grow((void **)&m->targets, &m->targets_cap, m->ntargets + 1, sizeof(*m->targets)))
		return -ENOMEM;
	m->targets[m->ntargets++] = (struct rw_start){section, off};
	return 0;
}

int vc__rewrite_relative_branch(const uint8_t *p, unsigned len, int64_t *rel)
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

static int cmp_target(const void *a, const void *b)
{
	const struct rw_start *x = a, *y = b;
	if (x->section != y->section)
		return x->section < y->section ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* 1 if a target lies in (@from, @to) of @section. */
static int entered(const struct vc_rewrite *m, uint32_t section, uint64_t from, uint64_t to)
{
	size_t lo = 0, hi = m->ntargets;
	while (lo < hi) { /* the first target after @from */
		size_t mid = lo + (hi - lo) / 2;
		const struct rw_start *t = &m->targets[mid];
		if (t->section < section || (t->section == section && t->offset <= from))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->ntargets && m->targets[lo].section == section && m->targets[lo].offset < to;
}

/* The verdict for site @s; *@displaced: the bytes after it that a jump would borrow. */
static enum vc_rewrite_promote judge(const struct vc_rewrite *m, const struct rw_decoder *d,
				     const struct vc_rewrite_site *s, unsigned *displaced)
{
	const struct rw_section *sec = &m->sec[s->section];
	const uint8_t *code = m->data + sec->offset;
	uint64_t end = s->offset + s->length;

	*displaced = 0;
	if (s->flags & (VC_REWRITE_SITE_EX_TABLE | VC_REWRITE_SITE_JUMP_TABLE))
		return VC_REWRITE_PROMOTE_TABLE;
	while (end < s->offset + JUMP_SIZE) {
		unsigned len;
		if (end >= sec->size)
			return VC_REWRITE_PROMOTE_END;
		int movable = vc__rewrite_movable(d, code + end, (size_t)(sec->size - end), &len);
		if (!len)
			return VC_REWRITE_PROMOTE_END;
		if (!movable || vc__rewrite_site_at(m, s->section, end) >= 0)
			return VC_REWRITE_PROMOTE_UNMOVABLE;
		end += len;
	}
	if (entered(m, s->section, s->offset, end))
		return VC_REWRITE_PROMOTE_TARGET;
	*displaced = (unsigned)(end - s->offset - s->length);
	return VC_REWRITE_PROMOTE_YES;
}

int vc__rewrite_promote(struct vc_rewrite *m)
{
	if (!m->nsites)
		return 0;
	struct rw_decoder *d = vc__rewrite_decoder_new();
	if (!d)
		return -ENOMEM;
	qsort(m->targets, m->ntargets, sizeof(*m->targets), cmp_target);
	for (size_t i = 0; i < m->nsites; i++) {
		struct vc_rewrite_site *s = &m->sites[i];
		s->promote = judge(m, d, s, &s->displaced);
	}
	vc__rewrite_decoder_free(d);
	return 0;
}
