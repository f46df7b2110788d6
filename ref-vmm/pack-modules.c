// SPDX-License-Identifier: MIT
// --pack DISK: every image of a packed disk becomes a boot module, named after it. The
// disk's index is validated and every image checked against its SHA-256 before the guest
// sees a byte of it; the images are then passed straight out of one read-only mapping.
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <virtcore/pack.h>

#include "arch/x86/pvh.h"
#include "vmm.h"

int pack_load_modules(const char *disk, struct pvh_module *mods, unsigned max, unsigned *n)
{
	vc_pack *p = NULL;
	struct vc_pack_info info;
	unsigned bad = 0;

	vc_error_clear();
	int rc = vc_pack_open(&p, disk);
	if (rc == 0) {
		rc = vc_pack_verify(&bad, p);
		vc_pack_info(&info, p);
	}
	if (rc) {
		vmm_err("--pack %s: %s", disk, vmm_lib_detail(rc, "pack: "));
		vc_pack_close(p);
		return -1;
	}
	if (*n + info.count > max) {
		vmm_err("--pack %s: %u images, but at most %u boot modules in all", disk,
			info.count, max);
		vc_pack_close(p);
		return -1;
	}

	/* Offsets and sizes were validated against the disk size by vc_pack_open(). */
	int fd = open(disk, O_RDONLY | O_CLOEXEC);
	void *base = fd < 0 ? MAP_FAILED
			    : mmap(NULL, info.disk_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (fd >= 0)
		close(fd);
	if (base == MAP_FAILED) {
		vmm_err("--pack %s: cannot map it: %s", disk, strerror(errno));
		vc_pack_close(p);
		return -1;
	}
	/* The names must outlive this call (the start info is written later). */
	static char names[PVH_MAX_MODULES][VC_PACK_NAME_MAX + 1];
	for (unsigned i = 0; i < info.count && *n < PVH_MAX_MODULES; i++) {
		struct vc_pack_image img;
		vc_pack_get(&img, p, i);
		memcpy(names[*n], img.name, sizeof(img.name));
		mods[*n] = (struct pvh_module){names[*n], (const uint8_t *)base + img.offset,
					       img.size};
		(*n)++;
	}
	vc_pack_close(p);
	return 0;
}
