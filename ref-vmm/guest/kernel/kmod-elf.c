// SPDX-License-Identifier: MIT
// Reading a module object: checks, layout, copy, relocation (kmod-elf.h). Every field
// of the object is read with a bounds check first; no pointer into the object is made
// from an unchecked offset. Own ELF declarations: no libc headers in the guest.
#include "kmod-elf.h"

#include "../fmt.h"

#define SHT_PROGBITS 1
#define SHT_SYMTAB 2
#define SHT_STRTAB 3
#define SHT_RELA 4
#define SHT_NOBITS 8
#define SHT_REL 9
#define SHF_ALLOC 0x2
#define SHF_EXECINSTR 0x4
#define SHN_UNDEF 0
#define SHN_LORESERVE 0xff00
#define SHN_ABS 0xfff1
#define SHN_COMMON 0xfff2
#define STB_GLOBAL 1
#define STT_FUNC 2
#define R_X86_64_NONE 0
#define R_X86_64_64 1
#define R_X86_64_PC32 2
#define R_X86_64_PLT32 4
#define R_X86_64_32 10
#define R_X86_64_32S 11
#define R_X86_64_PC64 24

struct ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct shdr {
	uint32_t name, type;
	uint64_t flags, addr, offset, size;
	uint32_t link, info;
	uint64_t addralign, entsize;
};

struct sym {
	uint32_t name;
	uint8_t info, other;
	uint16_t shndx;
	uint64_t value, size;
};

struct rela {
	uint64_t offset, info;
	int64_t addend;
};

_Static_assert(sizeof(struct ehdr) == 64 && sizeof(struct shdr) == 64, "ELF64 layout");
_Static_assert(sizeof(struct sym) == 24 && sizeof(struct rela) == 24, "ELF64 layout");

#define refuse(k, ...) (sfmt((k)->error, sizeof((k)->error), __VA_ARGS__), -1)

static struct shdr section(const struct kmod_elf *k, unsigned i)
{
	struct shdr sh;
	struct ehdr eh;
	__builtin_memcpy(&eh, k->obj, sizeof(eh));
	__builtin_memcpy(&sh, k->obj + eh.shoff + (uint64_t)i * sizeof(sh), sizeof(sh));
	return sh;
}

/* A NUL-terminated name at @off of string table @strtab, or NULL. */
static const char *string_at(const struct kmod_elf *k, unsigned strtab, uint32_t off)
{
	struct shdr sh = section(k, strtab);
	if (sh.type != SHT_STRTAB || off >= sh.size)
		return NULL;
	return (const char *)k->obj + sh.offset + off;
}

static int in_file(const struct kmod_elf *k, uint64_t off, uint64_t len)
{
	return off <= k->size && len <= k->size - off;
}

static int sorted_sites(struct kmod_elf *k, unsigned index, const struct shdr *sh)
{
	struct vc_rewrite_abi_header h;
	if (sh->size < sizeof(h))
		return refuse(k, "section %u (%s): too small for its header", index, VC_REWRITE_SECTION);
	__builtin_memcpy(&h, k->obj + sh->offset, sizeof(h));
	if (__builtin_memcmp(h.magic, VC_REWRITE_MAGIC, sizeof(h.magic)) ||
	    h.version != VC_REWRITE_VERSION || h.header_size != sizeof(h) ||
	    h.entry_size != sizeof(struct vc_rewrite_abi_entry) ||
	    h.count > (sh->size - sizeof(h)) / sizeof(struct vc_rewrite_abi_entry))
		return refuse(k, "%s: not a site table this loader reads (magic, version, sizes)",
			      VC_REWRITE_SECTION);
	const uint8_t *e = k->obj + sh->offset + sizeof(h);
	struct vc_rewrite_abi_entry prev = {0};
	for (uint32_t i = 0; i < h.count; i++) {
		struct vc_rewrite_abi_entry s;
		__builtin_memcpy(&s, e + (uint64_t)i * sizeof(s), sizeof(s));
		struct shdr code = s.section < k->shnum ? section(k, s.section) : (struct shdr){0};
		if (!(code.flags & SHF_EXECINSTR) || !(code.flags & SHF_ALLOC) || s.length < 1 ||
		    s.length > 15 || s.offset > code.size || s.length > code.size - s.offset ||
		    (i && (s.section < prev.section ||
			   (s.section == prev.section && s.offset < prev.offset + prev.length))))
			return refuse(k, "%s: site %u is outside loaded code, or out of order",
				      VC_REWRITE_SECTION, i);
		prev = s;
	}
	k->sites = e;
	k->nsites = h.count;
	return 0;
}

/* File ranges of the sections with bytes may not overlap (the object is malformed). */
static int check_overlaps(struct kmod_elf *k)
{
	for (unsigned i = 1; i < k->shnum; i++) {
		struct shdr a = section(k, i);
		if (a.type == SHT_NOBITS || !a.size)
			continue;
		for (unsigned j = i + 1; j < k->shnum; j++) {
			struct shdr b = section(k, j);
			if (b.type != SHT_NOBITS && b.size && a.offset < b.offset + b.size &&
			    b.offset < a.offset + a.size)
				return refuse(k, "sections %u and %u overlap in the file", i, j);
		}
	}
	return 0;
}

int kmod_elf_check(struct kmod_elf *k, const uint8_t *obj, uint64_t size)
{
	struct ehdr eh;

	__builtin_memset(k, 0, sizeof(*k));
	k->obj = obj;
	k->size = size;
	if (size < sizeof(eh) || __builtin_memcmp(obj, "\177ELF", 4))
		return refuse(k, "not an ELF object");
	__builtin_memcpy(&eh, obj, sizeof(eh));
	if (eh.ident[4] != 2 || eh.ident[5] != 1 || eh.type != 1 || eh.machine != 62)
		return refuse(k, "not a 64-bit little-endian x86-64 relocatable object (.o)");
	if (eh.shentsize != sizeof(struct shdr) || eh.shnum < 2 || eh.shnum > KMOD_ELF_MAX_SECTIONS ||
	    eh.shstrndx >= eh.shnum || !in_file(k, eh.shoff, (uint64_t)eh.shnum * sizeof(struct shdr)))
		return refuse(k, "section headers: %u of %u bytes at %lu (at most %d, inside the file)",
			      eh.shnum, eh.shentsize, (unsigned long)eh.shoff, KMOD_ELF_MAX_SECTIONS);
	k->shnum = eh.shnum;

	uint64_t at = 0;
	for (unsigned i = 1; i < k->shnum; i++) {
		struct shdr sh = section(k, i);
		k->sec_off[i] = KMOD_ELF_NOT_LOADED;
		if (sh.type != SHT_NOBITS && !in_file(k, sh.offset, sh.size))
			return refuse(k, "section %u ends past the file", i);
		if (sh.addralign > 4096 || (sh.addralign & (sh.addralign - 1)))
			return refuse(k, "section %u: alignment %lu (a power of two up to 4096)", i,
				      (unsigned long)sh.addralign);
		if (sh.type == SHT_STRTAB && (!sh.size || k->obj[sh.offset + sh.size - 1]))
			return refuse(k, "section %u: a string table not ending in NUL", i);
		if (sh.type == SHT_SYMTAB) {
			if (k->symtab)
				return refuse(k, "two symbol tables");
			if (sh.entsize != sizeof(struct sym) || sh.link >= k->shnum ||
			    section(k, sh.link).type != SHT_STRTAB)
				return refuse(k, "section %u: a malformed symbol table", i);
			k->symtab = i;
		}
		if (sh.type == SHT_REL)
			return refuse(k, "section %u: REL relocations (x86-64 objects use RELA)", i);
		if (sh.type == SHT_RELA && (sh.entsize != sizeof(struct rela) || sh.info >= k->shnum ||
					    !sh.info))
			return refuse(k, "section %u: a malformed relocation section", i);
		if (!(sh.flags & SHF_ALLOC) || !sh.size)
			continue;
		if (sh.type != SHT_PROGBITS && sh.type != SHT_NOBITS)
			return refuse(k, "section %u: loaded, of type %u (code and data only)", i, sh.type);
		uint64_t align = sh.addralign ? sh.addralign : 1;
		at = (at + align - 1) & ~(align - 1);
		if (sh.size > (1ull << 32) || at + sh.size < at)
			return refuse(k, "section %u: %lu bytes", i, (unsigned long)sh.size);
		k->sec_off[i] = at;
		k->sec_size[i] = sh.size;
		k->sec_code[i] = (sh.flags & SHF_EXECINSTR) != 0;
		at += sh.size;
	}
	k->image_size = at;
	if (!k->symtab)
		return refuse(k, "no symbol table");
	struct shdr names = section(k, eh.shstrndx);
	if (names.type != SHT_STRTAB)
		return refuse(k, "the section-name table is not a string table");
	for (unsigned i = 1; i < k->shnum; i++) {
		struct shdr sh = section(k, i);
		const char *name = string_at(k, eh.shstrndx, sh.name);
		if (!name)
			return refuse(k, "section %u: its name is outside the name table", i);
		if (sh.type == SHT_RELA && sh.link != k->symtab)
			return refuse(k, "section %u: relocations against another symbol table", i);
		if (!__builtin_strcmp(name, VC_REWRITE_SECTION) && sorted_sites(k, i, &sh))
			return -1;
	}
	return check_overlaps(k);
}

/* The value of symbol @index, or -1 with k->error. */
static int symbol_value(struct kmod_elf *k, uint32_t index, uint64_t image_va, kmod_resolve_fn resolve,
			void *ctx, uint64_t *value)
{
	struct shdr st = section(k, k->symtab);
	struct sym s;
	if (!index || index >= st.size / sizeof(s))
		return refuse(k, "relocation against symbol %u of %lu", index,
			      (unsigned long)(st.size / sizeof(s)));
	__builtin_memcpy(&s, k->obj + st.offset + (uint64_t)index * sizeof(s), sizeof(s));
	const char *name = string_at(k, st.link, s.name);
	if (!name)
		return refuse(k, "symbol %u: its name is outside the string table", index);
	if (s.shndx == SHN_UNDEF) {
		if (!resolve || resolve(ctx, name, value))
			return refuse(k, "undefined symbol \"%.64s\": the kernel exports no such name", name);
		return 0;
	}
	if (s.shndx == SHN_ABS) {
		*value = s.value;
		return 0;
	}
	if (s.shndx == SHN_COMMON || s.shndx >= SHN_LORESERVE)
		return refuse(k, "symbol \"%.64s\": a common or reserved section (0x%x)", name, s.shndx);
	if (s.shndx >= k->shnum || k->sec_off[s.shndx] == KMOD_ELF_NOT_LOADED)
		return refuse(k, "symbol \"%.64s\" is in section %u, which is not loaded", name, s.shndx);
	*value = image_va + k->sec_off[s.shndx] + s.value;
	return 0;
}

/* Puts the relocated bytes [@off, +@len) of code section @sec back into the sites they
 * fall in (the rewriter left them for the loader: the emulator needs them). */
static void compose_sites(const struct kmod_elf *k, struct vc_rewrite_abi_entry *sites, unsigned sec,
			  uint64_t off, unsigned len, const uint8_t *bytes)
{
	for (unsigned b = 0; b < len; b++) {
		const struct vc_rewrite_abi_entry *e = vc_rewrite_abi_find(sites, k->nsites, sec, off + b);
		if (e)
			sites[e - sites].original[off + b - e->offset] = bytes[b];
	}
}

static int relocate(struct kmod_elf *k, unsigned i, uint8_t *image, uint64_t image_va,
		    kmod_resolve_fn resolve, void *ctx, struct vc_rewrite_abi_entry *sites)
{
	struct shdr rs = section(k, i), target = section(k, rs.info);
	if (k->sec_off[rs.info] == KMOD_ELF_NOT_LOADED)
		return 0; /* debugging information and the like: not loaded, not relocated */
	for (uint64_t n = 0; n < rs.size / sizeof(struct rela); n++) {
		struct rela r;
		__builtin_memcpy(&r, k->obj + rs.offset + n * sizeof(r), sizeof(r));
		const unsigned type = (unsigned)r.info;
		const unsigned width = type == R_X86_64_64 || type == R_X86_64_PC64 ? 8
				       : type == R_X86_64_NONE ? 0 : 4;
		if (type != R_X86_64_NONE && type != R_X86_64_64 && type != R_X86_64_PC32 &&
		    type != R_X86_64_PLT32 && type != R_X86_64_32 && type != R_X86_64_32S &&
		    type != R_X86_64_PC64)
			return refuse(k, "section %u: relocation %lu of type %u, which this loader "
				      "does not apply", i, (unsigned long)n, type);
		if (r.offset > target.size || width > target.size - r.offset)
			return refuse(k, "section %u: relocation %lu at %lu is outside its section "
				      "(%lu bytes)", i, (unsigned long)n, (unsigned long)r.offset,
				      (unsigned long)target.size);
		if (!width)
			continue;
		uint64_t s;
		if (symbol_value(k, (uint32_t)(r.info >> 32), image_va, resolve, ctx, &s))
			return -1;
		const uint64_t p = image_va + k->sec_off[rs.info] + r.offset;
		uint64_t v = s + (uint64_t)r.addend;
		int64_t sv;
		switch (type) {
		case R_X86_64_PC32: case R_X86_64_PLT32: case R_X86_64_PC64:
			v -= p;
			break;
		}
		sv = (int64_t)v;
		if ((type == R_X86_64_32 && v > 0xffffffffull) ||
		    ((type == R_X86_64_32S || type == R_X86_64_PC32 || type == R_X86_64_PLT32) &&
		     (sv < -2147483648ll || sv > 2147483647ll)))
			return refuse(k, "section %u: relocation %lu (type %u) out of range: 0x%lx does "
				      "not fit 32 bits", i, (unsigned long)n, type, (unsigned long)v);
		uint8_t *field = image + k->sec_off[rs.info] + r.offset;
		__builtin_memcpy(field, &v, width); /* little-endian: the low bytes */
		if (sites && (target.flags & SHF_EXECINSTR))
			compose_sites(k, sites, rs.info, r.offset, width, field);
	}
	return 0;
}

int kmod_elf_place(struct kmod_elf *k, uint8_t *image, uint64_t image_va, kmod_resolve_fn resolve,
		   void *ctx, struct vc_rewrite_abi_entry *sites)
{
	for (unsigned i = 1; i < k->shnum; i++) {
		struct shdr sh = section(k, i);
		if (k->sec_off[i] == KMOD_ELF_NOT_LOADED)
			continue;
		if (sh.type == SHT_NOBITS)
			__builtin_memset(image + k->sec_off[i], 0, sh.size);
		else
			__builtin_memcpy(image + k->sec_off[i], k->obj + sh.offset, sh.size);
	}
	if (sites && k->nsites)
		__builtin_memcpy(sites, k->sites, (uint64_t)k->nsites * sizeof(*sites));
	for (unsigned i = 1; i < k->shnum; i++)
		if (section(k, i).type == SHT_RELA &&
		    relocate(k, i, image, image_va, resolve, ctx, sites && k->nsites ? sites : NULL))
			return -1;
	return 0;
}

int kmod_elf_symbol(const struct kmod_elf *k, uint64_t image_va, const char *name, uint64_t *addr)
{
	struct shdr st = section(k, k->symtab);
	for (uint64_t i = 1; i < st.size / sizeof(struct sym); i++) {
		struct sym s;
		__builtin_memcpy(&s, k->obj + st.offset + i * sizeof(s), sizeof(s));
		const char *n = string_at(k, st.link, s.name);
		if (n && (s.info >> 4) == STB_GLOBAL && (s.info & 15) == STT_FUNC && s.shndx &&
		    s.shndx < k->shnum && k->sec_off[s.shndx] != KMOD_ELF_NOT_LOADED &&
		    (section(k, s.shndx).flags & SHF_EXECINSTR) && s.value < section(k, s.shndx).size &&
		    !__builtin_strcmp(n, name)) {
			*addr = image_va + k->sec_off[s.shndx] + s.value;
			return 0;
		}
	}
	return -1;
}
