// SPDX-License-Identifier: MIT
// PVH loader, the kernel: ELF parsing that trusts nothing in the file, and the copy of
// its segments into guest memory.
#include <elf.h>
#include <errno.h>
#include <string.h>

#include <virtcore/pvh.h>

#include "pvh-internal.h"

/* The fields we need from either ELF class, read with bounds checks. */
struct ehdr {
	int is64;
	uint64_t phoff;
	unsigned phnum, phentsize;
};

struct phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

static int in_file(uint64_t off, uint64_t len, size_t size)
{
	return off <= size && len <= size - off;
}

static void read_phdr(const struct ehdr *eh, const uint8_t *p, struct phdr *ph)
{
	if (eh->is64) {
		Elf64_Phdr h;
		memcpy(&h, p, sizeof(h));
		*ph = (struct phdr){h.p_type, h.p_offset, h.p_paddr, h.p_filesz, h.p_memsz};
	} else {
		Elf32_Phdr h;
		memcpy(&h, p, sizeof(h));
		*ph = (struct phdr){h.p_type, h.p_offset, h.p_paddr, h.p_filesz, h.p_memsz};
	}
}

/* Look for the Xen PHYS32_ENTRY note in one PT_NOTE segment. */
static int find_entry_note(const uint8_t *n, uint64_t len, uint64_t *entry)
{
	uint64_t pos = 0;
	while (len - pos >= 12) {
		uint32_t namesz, descsz, type;
		memcpy(&namesz, n + pos, 4);
		memcpy(&descsz, n + pos + 4, 4);
		memcpy(&type, n + pos + 8, 4);
		uint64_t name_off = pos + 12;
		uint64_t desc_off = name_off + (((uint64_t)namesz + 3) & ~3ull);
		uint64_t next = desc_off + (((uint64_t)descsz + 3) & ~3ull);
		if (desc_off > len || next > len || descsz > len)
			return -EBADMSG;
		if (type == VC_PVH_ELFNOTE_PHYS32_ENTRY && namesz == 4 && !memcmp(n + name_off, "Xen", 4)) {
			if (descsz == 4) {
				uint32_t v;
				memcpy(&v, n + desc_off, 4);
				*entry = v;
			} else if (descsz == 8) {
				memcpy(entry, n + desc_off, 8);
			} else {
				return -EBADMSG;
			}
			return 1;
		}
		pos = next;
	}
	return 0;
}

/* The parse proper; vc_pvh_parse() zeroes the image again when this fails. */
static int parse(struct vc_pvh_image *img, const uint8_t *file, size_t size, uint64_t ram_end)
{
	struct ehdr eh = {0};

	if (size < EI_NIDENT || memcmp(file, ELFMAG, SELFMAG))
		return fail(-ENOEXEC, "not an ELF file");
	if (file[EI_DATA] != ELFDATA2LSB)
		return fail(-ENOEXEC, "not a little-endian ELF");
	if (file[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr h;
		if (size < sizeof(h))
			return fail(-ENOEXEC, "truncated ELF header");
		memcpy(&h, file, sizeof(h));
		if (h.e_machine != EM_X86_64)
			return fail(-ENOEXEC, "not an x86-64 ELF (machine %u)", h.e_machine);
		eh = (struct ehdr){1, h.e_phoff, h.e_phnum, h.e_phentsize};
		if (eh.phentsize != sizeof(Elf64_Phdr))
			return fail(-ENOEXEC, "bad program header size %u", eh.phentsize);
	} else if (file[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr h;
		if (size < sizeof(h))
			return fail(-ENOEXEC, "truncated ELF header");
		memcpy(&h, file, sizeof(h));
		if (h.e_machine != EM_386 && h.e_machine != EM_X86_64)
			return fail(-ENOEXEC, "not an x86 ELF (machine %u)", h.e_machine);
		eh = (struct ehdr){0, h.e_phoff, h.e_phnum, h.e_phentsize};
		if (eh.phentsize != sizeof(Elf32_Phdr))
			return fail(-ENOEXEC, "bad program header size %u", eh.phentsize);
	} else {
		return fail(-ENOEXEC, "unknown ELF class %u", file[EI_CLASS]);
	}
	if (eh.phnum == 0 || eh.phnum == PN_XNUM)
		return fail(-ENOEXEC, "no program headers");
	if (!in_file(eh.phoff, (uint64_t)eh.phnum * eh.phentsize, size))
		return fail(-ENOEXEC, "program headers lie outside the file");

	/* The note first: an ELF that is not a PVH kernel (a program, a Linux bzImage's
	 * vmlinux without the note) is refused as that, not for where its segments are. */
	uint64_t entry = 0;
	int have_entry = 0;
	for (unsigned i = 0; i < eh.phnum; i++) {
		struct phdr ph;
		read_phdr(&eh, file + eh.phoff + (uint64_t)i * eh.phentsize, &ph);
		if (ph.type != PT_NOTE)
			continue;
		if (!in_file(ph.offset, ph.filesz, size))
			return fail(-ENOEXEC, "note segment %u lies outside the file", i);
		int rc = find_entry_note(file + ph.offset, ph.filesz, &entry);
		if (rc < 0)
			return fail(-ENOEXEC, "malformed note in segment %u", i);
		have_entry |= rc;
	}
	if (!have_entry)
		return fail(-ENOEXEC,
			    "no PVH entry note (VC_PVH_ELFNOTE_PHYS32_ENTRY): not a PVH kernel");
	for (unsigned i = 0; i < eh.phnum; i++) {
		struct phdr ph;
		read_phdr(&eh, file + eh.phoff + (uint64_t)i * eh.phentsize, &ph);
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		if (img->nseg == VC_PVH_MAX_SEGMENTS)
			return fail(-E2BIG, "more than %d loadable segments", VC_PVH_MAX_SEGMENTS);
		if (ph.filesz > ph.memsz)
			return fail(-ENOEXEC, "segment %u: file size above memory size", i);
		if (!in_file(ph.offset, ph.filesz, size))
			return fail(-ENOEXEC, "segment %u lies outside the file", i);
		if (ph.paddr < VC_PVH_KERNEL_MIN_GPA)
			return fail(-EFBIG, "segment %u at %#llx is below %#x, where a PVH kernel's "
				    "memory starts", i, (unsigned long long)ph.paddr,
				    VC_PVH_KERNEL_MIN_GPA);
		if (ph.paddr >= ram_end || ph.memsz > ram_end - ph.paddr)
			return fail(-EFBIG,
				    "segment %u at %#llx+%#llx is outside guest RAM [%#x, %#llx)", i,
				    (unsigned long long)ph.paddr, (unsigned long long)ph.memsz,
				    VC_PVH_KERNEL_MIN_GPA, (unsigned long long)ram_end);
		for (unsigned j = 0; j < img->nseg; j++) {
			const struct vc_pvh_segment *s = &img->seg[j];
			if (ph.paddr < s->paddr + s->memsz && s->paddr < ph.paddr + ph.memsz)
				return fail(-ENOEXEC, "segment %u overlaps an earlier segment", i);
		}
		img->seg[img->nseg++] = (struct vc_pvh_segment){ph.paddr, ph.filesz, ph.memsz, ph.offset};
	}
	if (!img->nseg)
		return fail(-ENOEXEC, "no loadable segments");
	img->lowest = UINT64_MAX;
	int entry_loaded = 0;
	for (unsigned j = 0; j < img->nseg; j++) {
		const struct vc_pvh_segment *s = &img->seg[j];
		if (s->paddr < img->lowest)
			img->lowest = s->paddr;
		if (s->paddr + s->memsz > img->end)
			img->end = s->paddr + s->memsz;
		entry_loaded |= entry >= s->paddr && entry < s->paddr + s->memsz;
	}
	if (!entry_loaded || entry > UINT32_MAX)
		return fail(-ENOEXEC, "PVH entry %#llx is not inside a loaded segment",
			    (unsigned long long)entry);
	img->entry = (uint32_t)entry;
	return 0;
}

VC_API int vc_pvh_parse(struct vc_pvh_image *out, const void *file, size_t size,
			uint64_t ram_end)
{
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!file)
		return -EINVAL;
	int rc = parse(out, file, size, ram_end);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

VC_API int vc_pvh_load(const vc_gmem *gm, const struct vc_pvh_image *img, const void *file)
{
	if (!gm || !img || !file || img->nseg > VC_PVH_MAX_SEGMENTS)
		return -EINVAL;
	/* Every segment checked before any byte is written. */
	for (unsigned i = 0; i < img->nseg; i++) {
		const struct vc_pvh_segment *s = &img->seg[i];
		if (s->filesz > s->memsz || !vc_gmem_ptr(gm, s->paddr, s->memsz, 0))
			return fail(-EFAULT, "segment %u at %#llx+%#llx is not inside guest RAM", i,
				    (unsigned long long)s->paddr, (unsigned long long)s->memsz);
	}
	for (unsigned i = 0; i < img->nseg; i++) {
		const struct vc_pvh_segment *s = &img->seg[i];
		uint8_t *dst = vc_gmem_ptr(gm, s->paddr, s->memsz, 1);
		if (!dst)
			return fail(-EFAULT, "segment %u lands in read-only guest memory", i);
		memcpy(dst, (const uint8_t *)file + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	return 0;
}

