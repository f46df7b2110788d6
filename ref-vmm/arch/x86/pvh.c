// SPDX-License-Identifier: MIT
// PVH loader: ELF parsing that trusts nothing in the file, and the start-info layout.
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../../guest/abi.h"
#include "pvh.h"

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

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
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && !memcmp(n + name_off, "Xen", 4)) {
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

int pvh_parse(const uint8_t *file, size_t size, uint64_t ram_end, struct pvh_image *img,
	      char *err, size_t errlen)
{
	struct ehdr eh = {0};

	memset(img, 0, sizeof(*img));
	if (size < EI_NIDENT || memcmp(file, ELFMAG, SELFMAG))
		return fail(err, errlen, -ENOEXEC, "not an ELF file");
	if (file[EI_DATA] != ELFDATA2LSB)
		return fail(err, errlen, -ENOEXEC, "not a little-endian ELF");
	if (file[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr h;
		if (size < sizeof(h))
			return fail(err, errlen, -ENOEXEC, "truncated ELF header");
		memcpy(&h, file, sizeof(h));
		if (h.e_machine != EM_X86_64)
			return fail(err, errlen, -ENOEXEC, "not an x86-64 ELF (machine %u)", h.e_machine);
		eh = (struct ehdr){1, h.e_phoff, h.e_phnum, h.e_phentsize};
		if (eh.phentsize != sizeof(Elf64_Phdr))
			return fail(err, errlen, -ENOEXEC, "bad program header size %u", eh.phentsize);
	} else if (file[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr h;
		if (size < sizeof(h))
			return fail(err, errlen, -ENOEXEC, "truncated ELF header");
		memcpy(&h, file, sizeof(h));
		if (h.e_machine != EM_386 && h.e_machine != EM_X86_64)
			return fail(err, errlen, -ENOEXEC, "not an x86 ELF (machine %u)", h.e_machine);
		eh = (struct ehdr){0, h.e_phoff, h.e_phnum, h.e_phentsize};
		if (eh.phentsize != sizeof(Elf32_Phdr))
			return fail(err, errlen, -ENOEXEC, "bad program header size %u", eh.phentsize);
	} else {
		return fail(err, errlen, -ENOEXEC, "unknown ELF class %u", file[EI_CLASS]);
	}
	if (eh.phnum == 0 || eh.phnum == PN_XNUM)
		return fail(err, errlen, -ENOEXEC, "no program headers");
	if (!in_file(eh.phoff, (uint64_t)eh.phnum * eh.phentsize, size))
		return fail(err, errlen, -ENOEXEC, "program headers lie outside the file");

	uint64_t entry = 0;
	int have_entry = 0;
	for (unsigned i = 0; i < eh.phnum; i++) {
		struct phdr ph;
		read_phdr(&eh, file + eh.phoff + (uint64_t)i * eh.phentsize, &ph);
		if (ph.type == PT_NOTE) {
			if (!in_file(ph.offset, ph.filesz, size))
				return fail(err, errlen, -ENOEXEC, "note segment %u lies outside the file", i);
			int rc = find_entry_note(file + ph.offset, ph.filesz, &entry);
			if (rc < 0)
				return fail(err, errlen, -ENOEXEC, "malformed note in segment %u", i);
			have_entry |= rc;
			continue;
		}
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		if (img->nseg == PVH_MAX_SEGMENTS)
			return fail(err, errlen, -E2BIG, "more than %d loadable segments", PVH_MAX_SEGMENTS);
		if (ph.filesz > ph.memsz)
			return fail(err, errlen, -ENOEXEC, "segment %u: file size above memory size", i);
		if (!in_file(ph.offset, ph.filesz, size))
			return fail(err, errlen, -ENOEXEC, "segment %u lies outside the file", i);
		if (ph.paddr < PVH_KERNEL_MIN_GPA || ph.paddr >= ram_end || ph.memsz > ram_end - ph.paddr)
			return fail(err, errlen, -EFBIG,
				    "segment %u at %#llx+%#llx is outside guest RAM [%#x, %#llx)", i,
				    (unsigned long long)ph.paddr, (unsigned long long)ph.memsz,
				    PVH_KERNEL_MIN_GPA, (unsigned long long)ram_end);
		for (unsigned j = 0; j < img->nseg; j++) {
			const struct pvh_segment *s = &img->seg[j];
			if (ph.paddr < s->paddr + s->memsz && s->paddr < ph.paddr + ph.memsz)
				return fail(err, errlen, -ENOEXEC, "segment %u overlaps an earlier segment", i);
		}
		img->seg[img->nseg++] = (struct pvh_segment){ph.paddr, ph.filesz, ph.memsz, ph.offset};
	}
	if (!img->nseg)
		return fail(err, errlen, -ENOEXEC, "no loadable segments");
	if (!have_entry)
		return fail(err, errlen, -ENOEXEC,
			    "no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): not a PVH kernel");
	img->lowest = UINT64_MAX;
	int entry_loaded = 0;
	for (unsigned j = 0; j < img->nseg; j++) {
		const struct pvh_segment *s = &img->seg[j];
		if (s->paddr < img->lowest)
			img->lowest = s->paddr;
		if (s->paddr + s->memsz > img->end)
			img->end = s->paddr + s->memsz;
		entry_loaded |= entry >= s->paddr && entry < s->paddr + s->memsz;
	}
	if (!entry_loaded || entry > UINT32_MAX)
		return fail(err, errlen, -ENOEXEC, "PVH entry %#llx is not inside a loaded segment",
			    (unsigned long long)entry);
	img->entry = (uint32_t)entry;
	return 0;
}

int pvh_load(const struct pvh_image *img, const uint8_t *file, const vc_gmem *gm)
{
	for (unsigned i = 0; i < img->nseg; i++) {
		const struct pvh_segment *s = &img->seg[i];
		uint8_t *dst = vc_gmem_ptr(gm, s->paddr, s->memsz, 1);
		if (!dst)
			return -EFAULT;
		memcpy(dst, file + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	return 0;
}

int64_t pvh_setup(const vc_gmem *gm, const struct pvh_ram *ram, const struct pvh_image *img,
		  const char *cmdline, const struct pvh_module *mods, unsigned nmods, char *err,
		  size_t errlen)
{
	struct hvm_memmap_table_entry map[4];
	unsigned nmap = 0;
	size_t cmdlen = strlen(cmdline);

	if (cmdlen + 1 > PVH_CMDLINE_MAX)
		return fail(err, errlen, -E2BIG, "command line longer than %d bytes", PVH_CMDLINE_MAX - 1);
	if (nmods > PVH_MAX_MODULES)
		return fail(err, errlen, -E2BIG, "more than %d modules", PVH_MAX_MODULES);
	if (ram->low_end <= PVH_KERNEL_MIN_GPA || img->end > ram->low_end)
		return fail(err, errlen, -ENOMEM, "too little memory: the kernel ends at %#llx",
			    (unsigned long long)img->end);

	map[nmap++] = (struct hvm_memmap_table_entry){0, PVH_LOW_RAM_END, HVM_MEMMAP_TYPE_RAM, 0};
	map[nmap++] = (struct hvm_memmap_table_entry){PVH_LOW_RAM_END, PVH_KERNEL_MIN_GPA - PVH_LOW_RAM_END,
						      HVM_MEMMAP_TYPE_RESERVED, 0};
	map[nmap++] = (struct hvm_memmap_table_entry){PVH_KERNEL_MIN_GPA, ram->low_end - PVH_KERNEL_MIN_GPA,
						      HVM_MEMMAP_TYPE_RAM, 0};
	if (ram->high_size)
		map[nmap++] = (struct hvm_memmap_table_entry){1ull << 32, ram->high_size, HVM_MEMMAP_TYPE_RAM, 0};

	/* Modules from the top of low RAM down, each page-aligned, never below the kernel. */
	struct hvm_modlist_entry list[PVH_MAX_MODULES];
	uint64_t top = ram->low_end, names = PVH_MODNAMES_GPA;
	for (unsigned i = 0; i < nmods; i++) {
		uint64_t need = (mods[i].size + 0xfff) & ~0xfffull;
		if (mods[i].size > top || need > top || (top - need) < img->end)
			return fail(err, errlen, -ENOSPC,
				    "module %s (%llu bytes) does not fit in guest RAM above the kernel",
				    mods[i].name, (unsigned long long)mods[i].size);
		top -= need;
		if (vc_gmem_write(gm, top, mods[i].data, mods[i].size))
			return fail(err, errlen, -EFAULT, "cannot place module %s", mods[i].name);
		size_t nlen = strlen(mods[i].name) + 1;
		if (names + nlen > PVH_MODNAMES_GPA + PVH_MODNAMES_SIZE ||
		    vc_gmem_write(gm, names, mods[i].name, nlen))
			return fail(err, errlen, -E2BIG, "module names too long");
		list[i] = (struct hvm_modlist_entry){top, mods[i].size, names, 0};
		names += nlen;
	}

	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC,
		.version = 1,
		.nr_modules = nmods,
		.modlist_paddr = nmods ? PVH_MODLIST_GPA : 0,
		.cmdline_paddr = PVH_CMDLINE_GPA,
		.memmap_paddr = PVH_MEMMAP_GPA,
		.memmap_entries = nmap,
	};
	if (vc_gmem_write(gm, PVH_START_INFO_GPA, &si, sizeof(si)) ||
	    vc_gmem_write(gm, PVH_MODLIST_GPA, list, nmods * sizeof(list[0])) ||
	    vc_gmem_write(gm, PVH_MEMMAP_GPA, map, nmap * sizeof(map[0])) ||
	    vc_gmem_write(gm, PVH_CMDLINE_GPA, cmdline, cmdlen + 1))
		return fail(err, errlen, -EFAULT, "guest RAM does not cover the boot information");
	return PVH_START_INFO_GPA;
}
