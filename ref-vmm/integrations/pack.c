// SPDX-License-Identifier: MIT
// Where vc-vmm uses libvirtcore's pack module. --pack DISK: every image of a packed disk
// becomes a boot module, named after it. The disk's index is validated and every image
// checked against its SHA-256 before the guest sees a byte of it; the images are then
// passed straight out of one read-only mapping.
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <virtcore/pack.h>

#include "../vmm.h"

struct pack_state {
	void *base;       /* the disk, mapped read-only: the modules point into it */
	size_t size;
	int fd;           /* the same open file, for the block device (-1: none) */
	char names[VMM_MAX_MODULES][VC_PACK_NAME_MAX + 1];
};

static int pack_prepare(struct vm *vm, void *st)
{
	struct pack_state *s = st;
	const char *disk = vm->cfg->pack_path;
	vc_pack *p = NULL;
	struct vc_pack_info info;
	unsigned bad = 0;

	s->fd = -1;
	if (!disk)
		return 0;
	vc_error_clear();
	if (!vc_has_module("pack")) {
		vmm_err("--pack: %s", vc_error_last());
		return -EOPNOTSUPP;
	}
	int rc = vc_pack_open(&p, disk);
	if (rc == 0) {
		rc = vc_pack_verify(&bad, p);
		vc_pack_info(&info, p);
	}
	if (rc) {
		vmm_err("--pack %s: %s", disk, vmm_lib_detail(rc, "pack: "));
		vc_pack_close(p);
		return rc;
	}
	if (vm->nmods + info.count > VMM_MAX_MODULES) {
		vmm_err("--pack %s: %u images, but at most %u boot modules in all", disk,
			info.count, VMM_MAX_MODULES);
		vc_pack_close(p);
		return -E2BIG;
	}

	/* Offsets and sizes were validated against the disk size by vc_pack_open(). */
	int fd = open(disk, O_RDONLY | O_CLOEXEC);
	void *base = fd < 0 ? MAP_FAILED
			    : mmap(NULL, info.disk_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (base == MAP_FAILED) {
		int e = errno;
		vmm_err("--pack %s: cannot map it: %s", disk, strerror(e));
		if (fd >= 0)
			close(fd);
		vc_pack_close(p);
		return -e;
	}
	s->fd = fd;
	s->base = base;
	s->size = info.disk_size;
	for (unsigned i = 0; i < info.count; i++) {
		struct vc_pack_image img;
		char *name = s->names[vm->nmods];
		vc_pack_get(&img, p, i);
		memcpy(name, img.name, sizeof(img.name));
		vm->mods[vm->nmods++] = (struct vc_pvh_module){name, (const uint8_t *)base + img.offset,
							     img.size};
	}
	vc_pack_close(p);
	return 0;
}

static void pack_exit(struct vm *vm, void *st)
{
	struct pack_state *s = st;
	(void)vm;
	if (s->base) { /* the mapping and the descriptor come together */
		munmap(s->base, s->size);
		close(s->fd);
	}
	s->base = NULL;
	s->fd = -1;
}

int vm_pack_disk(const struct vm *vm, int *fd, uint64_t *size)
{
	const struct pack_state *s = vm->part[PART_PACK];
	if (!s || !s->base || s->fd < 0)
		return -ENOENT;
	*fd = s->fd;
	*size = s->size;
	return 0;
}

const struct vmm_part pack_part = {
	.name = "pack",
	.state_size = sizeof(struct pack_state),
	.prepare = pack_prepare,
	.exit = pack_exit,
};
