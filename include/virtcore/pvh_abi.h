/* SPDX-License-Identifier: MIT */
/*
 * pvh: the PVH boot protocol as the guest sees it (Xen's arch-x86/hvm/start_info.h,
 * version 1): the ELF note that names the 32-bit entry point, and the start info the
 * loader leaves in guest memory with %ebx pointing at it. Freestanding (fixed-width
 * types only, no libc), so a guest kernel includes it too; the macros are usable from
 * assembly.
 */
#ifndef VIRTCORE_PVH_ABI_H
#define VIRTCORE_PVH_ABI_H

/** ELF note type (owner "Xen") whose descriptor is the 32-bit physical entry point. */
#define VC_PVH_ELFNOTE_PHYS32_ENTRY 18
/** vc_pvh_start_info.magic. */
#define VC_PVH_START_MAGIC 0x336ec578u
/** vc_pvh_memmap_entry.type: usable RAM. */
#define VC_PVH_MEMMAP_RAM 1
/** vc_pvh_memmap_entry.type: reserved (the legacy hole below 1 MiB). */
#define VC_PVH_MEMMAP_RESERVED 2

#ifndef __ASSEMBLER__
#include <stdint.h>

#ifdef __cplusplus
#define VC_PVH_ASSERT(c, m) static_assert(c, m)
#else
#define VC_PVH_ASSERT(c, m) _Static_assert(c, m)
#endif

/** The start info: at the guest-physical address in %ebx at entry. */
struct vc_pvh_start_info {
	uint32_t magic;          /**< VC_PVH_START_MAGIC */
	uint32_t version;        /**< 1: the memory-map fields are valid */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;  /**< array of struct vc_pvh_modlist_entry */
	uint64_t cmdline_paddr;  /**< NUL-terminated */
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;   /**< array of struct vc_pvh_memmap_entry */
	uint32_t memmap_entries;
	uint32_t reserved;
};
VC_PVH_ASSERT(sizeof(struct vc_pvh_start_info) == 56, "vc_pvh_start_info layout");

/** One boot module. */
struct vc_pvh_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr; /**< NUL-terminated; the loader puts the module's name here */
	uint64_t reserved;
};
VC_PVH_ASSERT(sizeof(struct vc_pvh_modlist_entry) == 32, "vc_pvh_modlist_entry layout");

/** One range of the guest-physical memory map. */
struct vc_pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /**< VC_PVH_MEMMAP_* */
	uint32_t reserved;
};
VC_PVH_ASSERT(sizeof(struct vc_pvh_memmap_entry) == 24, "vc_pvh_memmap_entry layout");

#endif /* !__ASSEMBLER__ */

#endif /* VIRTCORE_PVH_ABI_H */
