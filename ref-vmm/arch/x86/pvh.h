/* SPDX-License-Identifier: MIT */
/*
 * PVH boot: parse an ELF kernel with a XEN_ELFNOTE_PHYS32_ENTRY note and lay
 * out the boot information (hvm_start_info, module list, memory map, command
 * line) in guest memory. Pure functions over buffers and a vc_gmem, so the
 * unit tests exercise them with hostile inputs and no /dev/kvm.
 */
#ifndef VC_REFVMM_PVH_H
#define VC_REFVMM_PVH_H

#include <stddef.h>
#include <stdint.h>

#include <virtcore/gmem.h>

#define PVH_MAX_SEGMENTS 16
#define PVH_MAX_MODULES 32
#define PVH_CMDLINE_MAX 4096

/* Guest-physical layout of the boot information (all below 1 MiB). */
#define PVH_START_INFO_GPA 0x6000
#define PVH_MODLIST_GPA 0x6040
#define PVH_MEMMAP_GPA 0x7000
#define PVH_CMDLINE_GPA 0x20000
#define PVH_MODNAMES_GPA 0x21000
#define PVH_MODNAMES_SIZE 0x7000
#define PVH_KERNEL_MIN_GPA 0x100000 /* kernels load at or above 1 MiB */
#define PVH_LOW_RAM_END 0x9fc00     /* the legacy hole starts here */

struct pvh_segment {
	uint64_t paddr, filesz, memsz, offset;
};

struct pvh_image {
	uint32_t entry;  /* 32-bit protected-mode entry point (physical) */
	unsigned nseg;
	struct pvh_segment seg[PVH_MAX_SEGMENTS];
	uint64_t lowest, end; /* physical span of the loaded segments */
};

/*
 * Parse @file (@size bytes): ELF32 or ELF64, little-endian, x86, with PT_LOAD
 * segments inside [PVH_KERNEL_MIN_GPA, @ram_end) that do not overlap, and a PVH
 * entry note inside a loaded segment. On error returns -errno and a sentence
 * in @err.
 */
int pvh_parse(const uint8_t *file, size_t size, uint64_t ram_end, struct pvh_image *img,
	      char *err, size_t errlen);

/* Copy the segments into guest memory (zero-filling memsz beyond filesz). */
int pvh_load(const struct pvh_image *img, const uint8_t *file, const vc_gmem *gm);

struct pvh_module {
	const char *name;  /* passed to the guest as the module's command line */
	const void *data;
	uint64_t size;
};

/* Guest RAM: [0, low_end) and, when high_size > 0, [4 GiB, 4 GiB + high_size). */
struct pvh_ram {
	uint64_t low_end;
	uint64_t high_size;
};

/*
 * Write the start info, memory map, command line and modules into guest
 * memory. Modules go at the top of low RAM, page-aligned, above the kernel.
 * Returns the start info's guest-physical address (>0) or -errno with @err.
 */
int64_t pvh_setup(const vc_gmem *gm, const struct pvh_ram *ram, const struct pvh_image *img,
		  const char *cmdline, const struct pvh_module *mods, unsigned nmods, char *err,
		  size_t errlen);

#endif
