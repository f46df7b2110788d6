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

int vc__rewrite_near_site(const struct vc_rewrite *m, uint32_t section, uint64_t off)
{
	size_t lo = 0, hi = m->nsites;
	uint64_t from = off > VC__REWRITE_WINDOW_MAX ? off - VC__REWRITE_WINDOW_MAX : 0;
	while (lo < hi) { /* the first site at or after (section, from) */
		size_t mid = lo + (hi - lo) / 2;
		const struct vc_rewrite_site *s = &m->sites[mid];
		if (s->section < section || (s->section == section && s->offset < from))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->nsites && m->sites[lo].section == section && m->sites[lo].offset < off;
}

int vc__rewrite_add_target(struct vc_rewrite *m, uint32_t section, uint64_t off)
{
	/* once the sites are final (mark and after), keep only what can matter */
	if (m->sites_final && !vc__rewrite_near_site(m, section, off))
		return 0;
	if (vc__grow((void **)&m->targets, &m->targets_cap, m->ntargets + 1, sizeof(*m->targets)))
		return -ENOMEM;
	m->targets[m->ntargets++] = (struct rw_start){section, off};
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
		long next = vc__rewrite_site_at(m, s->section, end);
		if (next >= 0) { /* another site: the stub does its work too, in turn */
			end += m->sites[next].length;
			continue;
		}
		int movable = vc__rewrite_movable(d, code + end, (size_t)(sec->size - end), &len);
		if (!len)
			return VC_REWRITE_PROMOTE_END;
		if (!movable)
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
	/* the scan recorded targets before it knew the sites: drop those far from any */
	size_t keep = 0;
	for (size_t i = 0; i < m->ntargets; i++)
		if (vc__rewrite_near_site(m, m->targets[i].section, m->targets[i].offset))
			m->targets[keep++] = m->targets[i];
	m->ntargets = keep;
	qsort(m->targets, m->ntargets, sizeof(*m->targets), cmp_target);
	for (size_t i = 0; i < m->nsites; i++) {
		struct vc_rewrite_site *s = &m->sites[i];
		s->promote = judge(m, d, s, &s->displaced);
	}
	vc__rewrite_decoder_free(d);
	return 0;
}
