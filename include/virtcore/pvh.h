/* SPDX-License-Identifier: MIT */
/**
 * @file pvh.h
 * PVH boot loader: an x86 kernel ELF with a XEN_ELFNOTE_PHYS32_ENTRY note (Linux's
 * vmlinux, FreeBSD, our own guest) parsed, its segments copied into guest memory, and the
 * start info (memory map, command line, boot modules) laid out for it, all over a
 * vc_gmem map: the counterpart of rust-vmm's linux-loader for C VMMs.
 *
 * The parser trusts nothing in the file: every offset and size is bounds-checked,
 * segments must lie inside guest RAM above 1 MiB without overlapping, the entry point
 * must be inside a loaded segment. Everything it writes goes through the gmem map, so a
 * hostile ELF can only ever reach guest RAM. After a vc_pvh_setup(), the VMM enters the
 * guest in 32-bit protected mode, paging off, at vc_pvh_image.entry with %ebx = the start
 * info's address. Errors leave one line in vc_error_last(). Layout: pvh_abi.h.
 *
 * Thread safety: the functions share no state; calls on different maps may run
 * concurrently.
 */
#ifndef VIRTCORE_PVH_H
#define VIRTCORE_PVH_H

#include <stddef.h>
#include <stdint.h>

#include <virtcore/common.h>
#include <virtcore/gmem.h>
#include <virtcore/pvh_abi.h>

VC_BEGIN_DECLS

/** Loadable segments a kernel may have. */
#define VC_PVH_MAX_SEGMENTS 16
/** Boot modules in one start info. */
#define VC_PVH_MAX_MODULES 32
/** Command-line bytes, NUL included. */
#define VC_PVH_CMDLINE_MAX 4096

/** Where vc_pvh_setup() puts the boot information (guest-physical, below 1 MiB). */
#define VC_PVH_START_INFO_GPA 0x6000u
#define VC_PVH_MODLIST_GPA 0x6040u
#define VC_PVH_MEMMAP_GPA 0x7000u
#define VC_PVH_CMDLINE_GPA 0x20000u
#define VC_PVH_MODNAMES_GPA 0x21000u
#define VC_PVH_MODNAMES_SIZE 0x7000u
/** Kernels load at or above 1 MiB. */
#define VC_PVH_KERNEL_MIN_GPA 0x100000u
/** The legacy hole (EBDA, VGA, ROMs) starts here and ends at 1 MiB. */
#define VC_PVH_LOW_RAM_END 0x9fc00u

/** One PT_LOAD segment: file bytes [offset, offset + filesz) at paddr, zeroed to memsz. */
struct vc_pvh_segment {
	uint64_t paddr, filesz, memsz, offset;
};

/** A parsed kernel, from vc_pvh_parse(). */
struct vc_pvh_image {
	uint32_t entry;  /**< 32-bit protected-mode entry point (physical) */
	uint32_t nseg;
	struct vc_pvh_segment seg[VC_PVH_MAX_SEGMENTS];
	uint64_t lowest, end; /**< physical span of the loaded segments */
};

/** A boot module for vc_pvh_setup(). */
struct vc_pvh_module {
	const char *name; /**< the module's command line in the start info (its name) */
	const void *data;
	uint64_t size;
};

/** Guest RAM: [0, low_end) and, when high_size > 0, [4 GiB, 4 GiB + high_size). */
struct vc_pvh_ram {
	uint64_t low_end;
	uint64_t high_size;
};

/**
 * @brief Parses a kernel ELF: ELF32 or ELF64, little-endian, x86, PT_LOAD segments
 * inside [VC_PVH_KERNEL_MIN_GPA, @p ram_end) that do not overlap, and a PVH entry note
 * inside a loaded segment. Reads @p file only; @p out points into nothing of it.
 * @param out the image (zeroed on failure)
 * @param ram_end the end of the RAM the segments may use (UINT64_MAX: unchecked)
 * @return 0; -ENOEXEC not a PVH kernel (why in vc_error_last()); -EFBIG a segment
 *         outside RAM; -E2BIG more than VC_PVH_MAX_SEGMENTS segments; -EINVAL NULL
 */
VC_API int vc_pvh_parse(struct vc_pvh_image *out, const void *file, size_t size,
			uint64_t ram_end);

/**
 * @brief Copies the segments of @p img (parsed from @p file) into guest memory, zeroing
 * each one's memsz beyond its filesz. Nothing is written unless every segment fits.
 * @return 0; -EFAULT a segment is not inside one writable region of @p gm; -EINVAL NULL
 */
VC_API int vc_pvh_load(const vc_gmem *gm, const struct vc_pvh_image *img, const void *file);

/**
 * @brief Writes the start info, memory map, command line and modules into guest memory.
 * Modules go at the top of low RAM, page-aligned, downwards, never below the kernel.
 * @param out the start info's guest-physical address (the entry's %ebx)
 * @param ram the guest's RAM
 * @param cmdline NUL-terminated, shorter than VC_PVH_CMDLINE_MAX
 * @param mods @p nmods modules, NULL when none
 * @return 0; -E2BIG the command line, the module count or the names are too long;
 *         -ENOSPC a module does not fit above the kernel; -ENOMEM too little RAM for the
 *         kernel; -EFAULT guest RAM does not cover the boot information; -EINVAL NULL
 */
VC_API int vc_pvh_setup(uint64_t *out, const vc_gmem *gm, const struct vc_pvh_ram *ram,
			const struct vc_pvh_image *img, const char *cmdline,
			const struct vc_pvh_module *mods, unsigned nmods);

VC_END_DECLS

#endif /* VIRTCORE_PVH_H */
