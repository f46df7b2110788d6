// SPDX-License-Identifier: MIT
// Reading the object: the ELF header and section table checked by hand first (bounds,
// kind), then sections, symbols and relocations through libelf. Nothing in the file is
// trusted: every offset and size is checked against the file before it is used.
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "../util/grow.h"
#include "rewrite-internal.h"

static const char *compression(const uint8_t *p, size_t n)
{
	if (n >= 6 && !memcmp(p, "\xfd" "7zXZ\0", 6))
		return "xz";
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return "gzip";
	if (n >= 4 && !memcmp(p, "\x28\xb5\x2f\xfd", 4))
		return "zstd";
	return NULL;
}

/* The header's promises, before libelf reads anything. */
static int check_header(struct vc_rewrite *m)
{
	const uint8_t *p = m->data;
	const char *z = compression(p, m->size);

	if (z) {
		vc__err("rewrite: a %s-compressed file: decompress it first (this build reads "
			"plain ELF objects only)", z);
		return -ENOEXEC;
	}
	if (m->size < 4 || memcmp(p, ELFMAG, SELFMAG)) {
		vc__err("rewrite: not an ELF file");
		return -ENOEXEC;
	}
	if (m->size < EI_NIDENT || (m->size < sizeof(Elf64_Ehdr) && p[EI_CLASS] != ELFCLASS32)) {
		vc__err("rewrite: truncated: %zu bytes, shorter than an ELF header", m->size);
		return -EBADMSG;
	}
	if (p[EI_CLASS] != ELFCLASS64) {
		vc__err("rewrite: a %s ELF object: only 64-bit x86-64 objects are supported",
			p[EI_CLASS] == ELFCLASS32 ? "32-bit" : "bad-class");
		return -EPROTONOSUPPORT;
	}
	if (p[EI_DATA] != ELFDATA2LSB) {
		vc__err("rewrite: a big-endian ELF object: only x86-64 objects are supported");
		return -EPROTONOSUPPORT;
	}
	Elf64_Ehdr eh;
	memcpy(&eh, p, sizeof(eh));
	if (eh.e_machine != EM_X86_64) {
		vc__err("rewrite: an ELF object for machine %u, not x86-64 (%u)", eh.e_machine,
			EM_X86_64);
		return -EPROTONOSUPPORT;
	}
	if (eh.e_type != ET_REL) {
		vc__err("rewrite: ELF type %u, not a relocatable object (.o, .ko)", eh.e_type);
		return -EPROTONOSUPPORT;
	}
	if (eh.e_shoff && (eh.e_shnum == 0 || eh.e_shstrndx == SHN_XINDEX)) {
		vc__err("rewrite: extended section numbering (65280 sections or more) is not "
			"supported");
		return -EPROTONOSUPPORT;
	}
	if (!eh.e_shoff || eh.e_shnum < 2 || eh.e_shentsize != sizeof(Elf64_Shdr)) {
		vc__err("rewrite: no section headers, or headers of %u bytes", eh.e_shentsize);
		return -EBADMSG;
	}
	if (eh.e_shoff > m->size || (m->size - eh.e_shoff) / sizeof(Elf64_Shdr) < eh.e_shnum) {
		vc__err("rewrite: truncated: the section headers (%u at %llu) end past the file "
			"(%zu bytes)", eh.e_shnum, (unsigned long long)eh.e_shoff, m->size);
		return -EBADMSG;
	}
	if (eh.e_shstrndx == 0 || eh.e_shstrndx >= eh.e_shnum) {
		vc__err("rewrite: the section-name table index %u is not a section", eh.e_shstrndx);
		return -EBADMSG;
	}
	m->shnum = eh.e_shnum;
	m->shstrndx = eh.e_shstrndx;
	m->shoff = eh.e_shoff;
	return 0;
}

struct range {
	uint64_t start, end;
	size_t index; /* section, or 0 for the ELF header, shnum for the section headers */
	int code;
};

static int by_start(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Code is rewritten in place, so no byte of an executable section may belong to
 * anything else in the file: another section, the ELF header, the section headers. */
static int check_code_overlaps(struct vc_rewrite *m)
{
	struct range *r = calloc(m->shnum + 1, sizeof(*r));
	size_t n = 0;
	int rc = 0;

	if (!r)
		return -ENOMEM;
	r[n++] = (struct range){0, sizeof(Elf64_Ehdr), 0, 0};
	r[n++] = (struct range){m->shoff, m->shoff + m->shnum * sizeof(Elf64_Shdr), m->shnum, 0};
	for (size_t i = 1; i < m->shnum; i++) {
		const struct rw_section *s = &m->sec[i];
		if (s->type != SHT_NOBITS && s->type != SHT_NULL && s->size)
			r[n++] = (struct range){s->offset, s->offset + s->size, i,
						s->type == SHT_PROGBITS && (s->flags & SHF_EXECINSTR)};
	}
	qsort(r, n, sizeof(*r), by_start);
	uint64_t end_any = 0, end_code = 0;
	size_t last_any = 0, last_code = 0;
	for (size_t k = 0; k < n && !rc; k++) {
		size_t other = r[k].code && r[k].start < end_any ? last_any
			       : !r[k].code && r[k].start < end_code ? last_code : SIZE_MAX;
		if (other != SIZE_MAX) {
			size_t a = r[k].code ? r[k].index : other, b = r[k].code ? other : r[k].index;
			vc__err("rewrite: code section %zu (%s) overlaps %s in the file", a,
				m->sec[a].name, b == 0 ? "the ELF header" : b == m->shnum ?
				"the section headers" : m->sec[b].name);
			rc = -EBADMSG;
		}
		if (r[k].end > end_any)
			end_any = r[k].end, last_any = r[k].index;
		if (r[k].code && r[k].end > end_code)
			end_code = r[k].end, last_code = r[k].index;
	}
	free(r);
	return rc;
}

static int section_headers(struct vc_rewrite *m)
{
	Elf64_Shdr sh;

	m->sec = calloc(m->shnum, sizeof(*m->sec));
	if (!m->sec)
		return -ENOMEM;
	/* the name table first, checked, so every name read stays inside it */
	memcpy(&sh, m->data + m->shoff + m->shstrndx * sizeof(sh), sizeof(sh));
	if (sh.sh_type != SHT_STRTAB || sh.sh_offset > m->size ||
	    sh.sh_size > m->size - sh.sh_offset || !sh.sh_size ||
	    m->data[sh.sh_offset + sh.sh_size - 1] != 0) {
		vc__err("rewrite: the section-name table is malformed or outside the file");
		return -EBADMSG;
	}
	const char *names = (const char *)m->data + sh.sh_offset;
	const uint64_t names_size = sh.sh_size;
	for (size_t i = 1; i < m->shnum; i++) {
		memcpy(&sh, m->data + m->shoff + i * sizeof(sh), sizeof(sh));
		struct rw_section *s = &m->sec[i];
		if (sh.sh_name >= names_size) {
			vc__err("rewrite: section %zu: its name is outside the name table", i);
			return -EBADMSG;
		}
		s->name = names + sh.sh_name;
		s->offset = sh.sh_offset;
		s->size = sh.sh_size;
		s->type = sh.sh_type;
		s->flags = sh.sh_flags;
		s->link = (int)sh.sh_link;
		s->info = (int)sh.sh_info;
		if (sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL &&
		    (sh.sh_offset > m->size || sh.sh_size > m->size - sh.sh_offset)) {
			vc__err("rewrite: section %zu (%s) ends past the file (offset %llu, size "
				"%llu, file %zu bytes)", i, s->name, (unsigned long long)sh.sh_offset,
				(unsigned long long)sh.sh_size, m->size);
			return -EBADMSG;
		}
		if ((sh.sh_type == SHT_RELA || sh.sh_type == SHT_REL || sh.sh_type == SHT_SYMTAB) &&
		    (sh.sh_link >= m->shnum || sh.sh_entsize == 0)) {
			vc__err("rewrite: section %zu (%s): bad link or entry size", i, s->name);
			return -EBADMSG;
		}
		if (!strcmp(s->name, VC_REWRITE_SECTION))
			m->table_section = (int)i;
	}
	m->sec[0].name = "";
	return check_code_overlaps(m);
}

static unsigned reloc_size(unsigned type)
{
	switch (type) {
	case R_X86_64_NONE:
		return 0;
	case R_X86_64_8: case R_X86_64_PC8:
		return 1;
	case R_X86_64_16: case R_X86_64_PC16:
		return 2;
	case R_X86_64_64: case R_X86_64_PC64: case R_X86_64_GOTOFF64: case R_X86_64_GOTPC64:
	case R_X86_64_GOT64: case R_X86_64_GOTPCREL64: case R_X86_64_GOTPLT64:
	case R_X86_64_PLTOFF64: case R_X86_64_SIZE64: case R_X86_64_DTPOFF64:
	case R_X86_64_TPOFF64: case R_X86_64_DTPMOD64:
		return 8;
	case R_X86_64_32: case R_X86_64_32S: case R_X86_64_PC32: case R_X86_64_PLT32:
	case R_X86_64_GOT32: case R_X86_64_GOTPCREL: case R_X86_64_GOTPCRELX:
	case R_X86_64_REX_GOTPCRELX: case R_X86_64_TLSGD: case R_X86_64_TLSLD:
	case R_X86_64_DTPOFF32: case R_X86_64_GOTTPOFF: case R_X86_64_TPOFF32:
	case R_X86_64_GOTPC32: case R_X86_64_SIZE32: case R_X86_64_GOTPC32_TLSDESC:
		return 4;
	default:
		return 8; /* unknown: assume the widest, so no site is patched under it */
	}
}


long vc__rewrite_site_at(const struct vc_rewrite *m, uint32_t section, uint64_t off)
{
	size_t lo = 0, hi = m->nsites;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct vc_rewrite_site *s = &m->sites[mid];
		if (s->section < section || (s->section == section && s->offset + s->length <= off))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < m->nsites && m->sites[lo].section == section && m->sites[lo].offset <= off)
		return (long)lo;
	return -1;
}

/* A table section (__ex_table, __jump_table) naming code: where each entry points. */
static unsigned table_flag(const char *name)
{
	if (!strcmp(name, "__ex_table"))
		return VC_REWRITE_SITE_EX_TABLE;
	if (!strcmp(name, "__jump_table"))
		return VC_REWRITE_SITE_JUMP_TABLE;
	return 0;
}

/* Marks the bytes of sites that relocated field [off, off + size) of @section covers. */
static void mark_field(struct vc_rewrite *m, uint32_t section, uint64_t off, unsigned size)
{
	for (uint64_t b = off; b < off + size; b++) {
		long i = vc__rewrite_site_at(m, section, b);
		if (i >= 0) {
			struct vc_rewrite_site *s = &m->sites[i];
			s->reloc_mask |= 1u << (b - s->offset);
			s->flags |= VC_REWRITE_SITE_RELOC;
		}
	}
}

/* Checks the relocations of section @i and marks what they reach. */
static int mark_section(struct vc_rewrite *m, size_t i)
{
	const struct rw_section *s = &m->sec[i];
	if (s->info <= 0 || (size_t)s->info >= m->shnum) {
		vc__err("rewrite: section %zu (%s) relocates no valid section", i, s->name);
		return -EBADMSG;
	}
	const struct rw_section *target = &m->sec[s->info];
	const unsigned flag = table_flag(target->name);
	const int code = (target->flags & SHF_EXECINSTR) != 0;
	Elf_Data *d = elf_getdata(elf_getscn(m->elf, i), NULL);
	Elf_Data *sd = m->sec[s->link].type == SHT_SYMTAB
			       ? elf_getdata(elf_getscn(m->elf, (size_t)s->link), NULL) : NULL;
	if (!d || (flag && !sd)) {
		vc__err("rewrite: section %zu (%s): unreadable relocations: %s", i, s->name,
			elf_errmsg(-1));
		return -EBADMSG;
	}
	const size_t n = s->size / (s->type == SHT_RELA ? sizeof(Elf64_Rela) : sizeof(Elf64_Rel));
	for (size_t k = 0; k < n; k++) {
		GElf_Rela r;
		GElf_Rel rel;
		int ok = s->type == SHT_RELA ? gelf_getrela(d, (int)k, &r) != NULL
					     : gelf_getrel(d, (int)k, &rel) != NULL;
		if (!ok) {
			vc__err("rewrite: section %s: relocation %zu unreadable", s->name, k);
			return -EBADMSG;
		}
		if (s->type == SHT_REL)
			r = (GElf_Rela){rel.r_offset, rel.r_info, 0};
		unsigned size = reloc_size((unsigned)GELF_R_TYPE(r.r_info));
		if (target->type != SHT_NOBITS &&
		    (r.r_offset > target->size || size > target->size - r.r_offset)) {
			vc__err("rewrite: section %s: relocation %zu at %llu is outside %s (%llu "
				"bytes)", s->name, k, (unsigned long long)r.r_offset, target->name,
				(unsigned long long)target->size);
			return -EBADMSG;
		}
		if (code && size)
			mark_field(m, (uint32_t)s->info, r.r_offset, size);
		/* The symbol, only when something needs it: a table's entry, or a target
		 * that may fall near a site (promotion). */
		const int loaded = m->nsites && (target->flags & SHF_ALLOC);
		GElf_Sym sym;
		if (!sd || (!flag && !loaded) || !gelf_getsym(sd, (int)GELF_R_SYM(r.r_info), &sym) ||
		    sym.st_shndx == SHN_UNDEF || sym.st_shndx >= m->shnum)
			continue;
		const uint64_t where = sym.st_value + (uint64_t)r.r_addend;
		/* Loaded data or code pointing into code: control may arrive there. A table's
		 * pointer (absolute, or `.long x - .`) names S + A; a 32-bit relative field in
		 * code ends its instruction (a call, a jump, a RIP-relative lea), which names
		 * S + A + 4. Debugging sections are not loaded: they do not count. */
		const unsigned type = (unsigned)GELF_R_TYPE(r.r_info);
		const int at_end = code && (type == R_X86_64_PC32 || type == R_X86_64_PLT32);
		if (loaded && (m->sec[sym.st_shndx].flags & SHF_EXECINSTR)) {
			int rc = vc__rewrite_add_target(m, sym.st_shndx, where + (at_end ? 4 : 0));
			if (rc)
				return rc;
		}
		if (!flag)
			continue;
		long at = vc__rewrite_site_at(m, sym.st_shndx, where);
		if (at >= 0)
			m->sites[at].flags |= flag;
	}
	return 0;
}

int vc__rewrite_mark(struct vc_rewrite *m)
{
	m->sites_final = 1;
	for (size_t i = 1; i < m->shnum; i++) {
		if (m->sec[i].type != SHT_RELA && m->sec[i].type != SHT_REL)
			continue;
		int rc = mark_section(m, i);
		if (rc)
			return rc;
	}
	return 0;
}

int vc__rewrite_load(struct vc_rewrite *m)
{
	int rc = check_header(m);
	if (rc || (rc = section_headers(m)))
		return rc;
	elf_version(EV_CURRENT);
	m->elf = elf_memory((char *)m->data, m->size);
	if (!m->elf || elf_kind(m->elf) != ELF_K_ELF) {
		vc__err("rewrite: libelf cannot read it: %s", elf_errmsg(-1));
		return -EBADMSG;
	}
	return 0;
}

void vc__rewrite_unload(struct vc_rewrite *m)
{
	if (m->elf)
		elf_end(m->elf);
	free(m->sec);
	free(m->targets);
}

static int cmp_start(const void *a, const void *b)
{
	const struct rw_start *x = a, *y = b;
	if (x->section != y->section)
		return x->section < y->section ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int vc__rewrite_symbol_starts(const struct vc_rewrite *m, struct rw_start **out, size_t *n)
{
	size_t cap = 0, count = 0;
	struct rw_start *st = NULL;

	/* each code section starts at 0, whatever its symbols say */
	for (size_t i = 1; i < m->shnum; i++) {
		if (!(m->sec[i].flags & SHF_EXECINSTR))
			continue;
		if (vc__grow((void **)&st, &cap, count + 1, sizeof(*st)))
			goto nomem;
		st[count++] = (struct rw_start){(uint32_t)i, 0};
	}
	for (size_t i = 1; i < m->shnum; i++) {
		if (m->sec[i].type != SHT_SYMTAB)
			continue;
		Elf_Data *d = elf_getdata(elf_getscn(m->elf, i), NULL);
		for (size_t k = 0; d && k < m->sec[i].size / sizeof(Elf64_Sym); k++) {
			GElf_Sym sym;
			if (!gelf_getsym(d, (int)k, &sym) || sym.st_shndx == SHN_UNDEF ||
			    sym.st_shndx >= m->shnum || !(m->sec[sym.st_shndx].flags & SHF_EXECINSTR) ||
			    GELF_ST_TYPE(sym.st_info) == STT_SECTION ||
			    sym.st_value >= m->sec[sym.st_shndx].size)
				continue;
			if (vc__grow((void **)&st, &cap, count + 1, sizeof(*st)))
				goto nomem;
			st[count++] = (struct rw_start){sym.st_shndx, sym.st_value};
		}
	}
	if (count) /* no code section at all: st is NULL */
		qsort(st, count, sizeof(*st), cmp_start);
	size_t u = 0;
	for (size_t i = 0; i < count; i++)
		if (!u || cmp_start(&st[u - 1], &st[i]))
			st[u++] = st[i];
	*out = st;
	*n = u;
	return 0;
nomem:
	free(st);
	return -ENOMEM;
}
