/* SPDX-License-Identifier: MIT */
/* Builds small x86 ELF kernels in memory for the PVH loader tests, with knobs
 * for every field a hostile file could get wrong. Header-only: used by the unit
 * and the integration tests. */
#ifndef VC_TESTS_ELF_BUILDER_H
#define VC_TESTS_ELF_BUILDER_H

#include <elf.h>
#include <stdint.h>
#include <string.h>

#define EB_MAX_SEG 20

struct eb_seg {
	uint64_t paddr, filesz, memsz;
	int64_t offset; /* -1: placed by the builder */
	uint32_t type;  /* 0: PT_LOAD */
};

struct eb_opts {
	int elf32;
	uint16_t machine;  /* 0: EM_X86_64 (or EM_386 for elf32) */
	unsigned nseg;
	struct eb_seg seg[EB_MAX_SEG];
	int no_note;
	uint64_t entry;    /* PVH entry; 0: first segment's paddr */
	uint32_t note_descsz; /* 0: 4 */
	uint32_t note_type;   /* 0: XEN_ELFNOTE_PHYS32_ENTRY */
	uint64_t phoff;       /* 0: right after the header */
};

/* Writes the file into @buf (zeroed first); returns its size. @cap must hold
 * the header, program headers, note and segment data (64 KiB is plenty). */
static inline size_t eb_build(uint8_t *buf, size_t cap, const struct eb_opts *o)
{
	memset(buf, 0, cap);
	size_t ehsz = o->elf32 ? sizeof(Elf32_Ehdr) : sizeof(Elf64_Ehdr);
	size_t phsz = o->elf32 ? sizeof(Elf32_Phdr) : sizeof(Elf64_Phdr);
	unsigned nph = o->nseg + !o->no_note;
	size_t phoff = o->phoff ? o->phoff : ehsz;
	size_t note_off = ehsz + nph * phsz;
	size_t note_len = 12 + 4 + ((o->note_descsz ? o->note_descsz : 4) + 3) / 4 * 4;
	size_t data = (note_off + note_len + 15) & ~(size_t)15;

	memcpy(buf, ELFMAG, SELFMAG);
	buf[EI_CLASS] = o->elf32 ? ELFCLASS32 : ELFCLASS64;
	buf[EI_DATA] = ELFDATA2LSB;
	buf[EI_VERSION] = EV_CURRENT;
	uint16_t machine = o->machine ? o->machine : (o->elf32 ? EM_386 : EM_X86_64);
	if (o->elf32) {
		Elf32_Ehdr h;
		memcpy(&h, buf, sizeof(h));
		h.e_type = ET_EXEC;
		h.e_machine = machine;
		h.e_phoff = (uint32_t)phoff;
		h.e_phnum = (uint16_t)nph;
		h.e_phentsize = (uint16_t)phsz;
		h.e_ehsize = (uint16_t)ehsz;
		memcpy(buf, &h, sizeof(h));
	} else {
		Elf64_Ehdr h;
		memcpy(&h, buf, sizeof(h));
		h.e_type = ET_EXEC;
		h.e_machine = machine;
		h.e_phoff = phoff;
		h.e_phnum = (uint16_t)nph;
		h.e_phentsize = (uint16_t)phsz;
		h.e_ehsize = (uint16_t)ehsz;
		memcpy(buf, &h, sizeof(h));
	}
	for (unsigned i = 0; i < nph; i++) {
		uint32_t type = PT_NOTE;
		uint64_t off = note_off, paddr = 0, filesz = note_len, memsz = 0;
		if (i < o->nseg) {
			const struct eb_seg *s = &o->seg[i];
			type = s->type ? s->type : PT_LOAD;
			paddr = s->paddr;
			filesz = s->filesz;
			memsz = s->memsz;
			off = s->offset >= 0 ? (uint64_t)s->offset : data;
			if (s->offset < 0) {
				for (uint64_t k = 0; k < filesz && data + k < cap; k++)
					buf[data + k] = (uint8_t)(0x90 + i); /* recognisable contents */
				data += (filesz + 15) & ~15ull;
			}
		}
		/* A hostile phoff points outside the buffer: the header then says so, and
		 * no program header is written (written without overflowing). */
		if (phoff > cap || (i + 1) * phsz > cap - phoff)
			break;
		uint8_t *p = buf + phoff + i * phsz;
		if (o->elf32) {
			Elf32_Phdr ph = {.p_type = type, .p_offset = (uint32_t)off, .p_vaddr = (uint32_t)paddr,
					 .p_paddr = (uint32_t)paddr, .p_filesz = (uint32_t)filesz,
					 .p_memsz = (uint32_t)memsz, .p_flags = PF_R | PF_X};
			memcpy(p, &ph, sizeof(ph));
		} else {
			Elf64_Phdr ph = {.p_type = type, .p_offset = off, .p_vaddr = paddr, .p_paddr = paddr,
					 .p_filesz = filesz, .p_memsz = memsz, .p_flags = PF_R | PF_X};
			memcpy(p, &ph, sizeof(ph));
		}
	}
	if (!o->no_note) {
		uint32_t descsz = o->note_descsz ? o->note_descsz : 4;
		uint32_t type = o->note_type ? o->note_type : 18;
		uint32_t hdr[3] = {4, descsz, type};
		uint64_t entry = o->entry ? o->entry : (o->nseg ? o->seg[0].paddr : 0);
		memcpy(buf + note_off, hdr, 12);
		memcpy(buf + note_off + 12, "Xen", 4);
		memcpy(buf + note_off + 16, &entry, descsz >= 8 ? 8 : 4);
	}
	return data;
}

#endif
