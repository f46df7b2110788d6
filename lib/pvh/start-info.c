// SPDX-License-Identifier: MIT
// PVH loader, the boot information: the start info, memory map, command line and boot
// modules, laid out in guest memory for the kernel vc_pvh_parse() accepted.
#include <errno.h>
#include <string.h>

#include <virtcore/pvh.h>

#include "pvh-internal.h"

VC_API int vc_pvh_setup(uint64_t *out, const vc_gmem *gm, const struct vc_pvh_ram *ram,
			const struct vc_pvh_image *img, const char *cmdline,
			const struct vc_pvh_module *mods, unsigned nmods)
{
	struct vc_pvh_memmap_entry map[4];
	if (!out || !gm || !ram || !img || !cmdline || (nmods && !mods))
		return -EINVAL;
	unsigned nmap = 0;
	size_t cmdlen = strlen(cmdline);

	if (cmdlen + 1 > VC_PVH_CMDLINE_MAX)
		return fail(-E2BIG, "command line longer than %d bytes", VC_PVH_CMDLINE_MAX - 1);
	if (nmods > VC_PVH_MAX_MODULES)
		return fail(-E2BIG, "more than %d modules", VC_PVH_MAX_MODULES);
	if (ram->low_end <= VC_PVH_KERNEL_MIN_GPA || img->end > ram->low_end)
		return fail(-ENOMEM, "too little memory: the kernel ends at %#llx",
			    (unsigned long long)img->end);

	map[nmap++] = (struct vc_pvh_memmap_entry){0, VC_PVH_LOW_RAM_END, VC_PVH_MEMMAP_RAM, 0};
	map[nmap++] = (struct vc_pvh_memmap_entry){VC_PVH_LOW_RAM_END, VC_PVH_KERNEL_MIN_GPA - VC_PVH_LOW_RAM_END,
						      VC_PVH_MEMMAP_RESERVED, 0};
	map[nmap++] = (struct vc_pvh_memmap_entry){VC_PVH_KERNEL_MIN_GPA, ram->low_end - VC_PVH_KERNEL_MIN_GPA,
						      VC_PVH_MEMMAP_RAM, 0};
	if (ram->high_size)
		map[nmap++] = (struct vc_pvh_memmap_entry){1ull << 32, ram->high_size, VC_PVH_MEMMAP_RAM, 0};

	/* Modules from the top of low RAM down, each page-aligned, never below the kernel. */
	struct vc_pvh_modlist_entry list[VC_PVH_MAX_MODULES];
	uint64_t top = ram->low_end, names = VC_PVH_MODNAMES_GPA;
	for (unsigned i = 0; i < nmods; i++) {
		uint64_t need = (mods[i].size + 0xfff) & ~0xfffull;
		if (mods[i].size > top || need > top || (top - need) < img->end)
			return fail(-ENOSPC,
				    "module %s (%llu bytes) does not fit in guest RAM above the kernel",
				    mods[i].name, (unsigned long long)mods[i].size);
		top -= need;
		if (vc_gmem_write(gm, top, mods[i].data, mods[i].size))
			return fail(-EFAULT, "cannot place module %s", mods[i].name);
		size_t nlen = strlen(mods[i].name) + 1;
		if (names + nlen > VC_PVH_MODNAMES_GPA + VC_PVH_MODNAMES_SIZE ||
		    vc_gmem_write(gm, names, mods[i].name, nlen))
			return fail(-E2BIG, "module names too long");
		list[i] = (struct vc_pvh_modlist_entry){top, mods[i].size, names, 0};
		names += nlen;
	}

	struct vc_pvh_start_info si = {
		.magic = VC_PVH_START_MAGIC,
		.version = 1,
		.nr_modules = nmods,
		.modlist_paddr = nmods ? VC_PVH_MODLIST_GPA : 0,
		.cmdline_paddr = VC_PVH_CMDLINE_GPA,
		.memmap_paddr = VC_PVH_MEMMAP_GPA,
		.memmap_entries = nmap,
	};
	if (vc_gmem_write(gm, VC_PVH_START_INFO_GPA, &si, sizeof(si)) ||
	    vc_gmem_write(gm, VC_PVH_MODLIST_GPA, list, nmods * sizeof(list[0])) ||
	    vc_gmem_write(gm, VC_PVH_MEMMAP_GPA, map, nmap * sizeof(map[0])) ||
	    vc_gmem_write(gm, VC_PVH_CMDLINE_GPA, cmdline, cmdlen + 1))
		return fail(-EFAULT, "guest RAM does not cover the boot information");
	*out = VC_PVH_START_INFO_GPA;
	return 0;
}
