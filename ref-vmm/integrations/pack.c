// SPDX-License-Identifier: MIT
// Where vc-vmm uses libvirtcore's pack module. --pack DISK: every image of a packed disk
// becomes a boot module, named after it, and the guest reads the disk through the block
// device. Through one descriptor from open to copy, the disk is read into a sealed memfd
// (input.c); its index is validated and every image checked against its SHA-256 on that
// copy, and the modules and the block device are served from it: the guest gets exactly
// the bytes that were verified, whatever happens to the file meanwhile.
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <virtcore/pack.h>

#include "../vmm.h"

struct pack_state {
	struct vmm_input disk; /* the verified copy: the modules point into it */
	bool held;
	char names[VMM_MAX_MODULES][VC_PACK_NAME_MAX + 1];
};

/* Opens the disk's index on @fd; refuses what cannot become boot modules of @vm. */
static int open_index(struct vm *vm, const char *disk, int fd, vc_pack **p,
		      struct vc_pack_info *info)
{
	int rc = vc_pack_open_fd(p, fd);
	if (rc) {
		vmm_err("--pack %s: %s", disk, vmm_lib_detail(rc, "pack: "));
		return rc;
	}
	vc_pack_info(info, *p);
	uint64_t total = 0;
	for (unsigned i = 0; i < info->count; i++) {
		struct vc_pack_image img;
		vc_pack_get(&img, *p, i);
		total += img.size;
	}
	rc = vm->nmods + info->count > VMM_MAX_MODULES ? -E2BIG :
	     total > vm->cfg->mem ? -EFBIG : 0;
	if (rc == -E2BIG)
		vmm_err("--pack %s: %u images, but at most %u boot modules in all", disk,
			info->count, VMM_MAX_MODULES);
	else if (rc)
		vmm_err("--pack %s: its images total %" PRIu64 " bytes, more than guest RAM "
			"(--mem, %" PRIu64 " bytes)", disk, total, (uint64_t)vm->cfg->mem);
	if (rc) {
		vc_pack_close(*p);
		*p = NULL;
	}
	return rc;
}

static int pack_prepare(struct vm *vm, void *st)
{
	struct pack_state *s = st;
	const char *disk = vm->cfg->pack_path;
	vc_pack *p = NULL;
	struct vc_pack_info info;
	unsigned bad = 0;

	s->disk = (struct vmm_input){.data = (const uint8_t *)"", .fd = -1};
	if (!disk)
		return 0;
	vc_error_clear();
	if (!vc_has_module("pack")) {
		vmm_err("--pack: %s", vc_error_last());
		return -EOPNOTSUPP;
	}
	/* The file's index says how much to copy (and refuses a disk too big to boot
	 * before any of it is read); the copy is then checked from scratch. */
	int fd = vmm_input_open("--pack", disk, VMM_INPUT_BLOCK);
	if (fd < 0)
		return -EINVAL;
	int rc = open_index(vm, disk, fd, &p, &info);
	if (rc == 0) {
		vc_pack_close(p);
		p = NULL;
		rc = vmm_input_copy(&s->disk, "--pack", disk, fd, info.disk_size) ? -EIO : 0;
	}
	close(fd);
	if (rc)
		return rc;
	s->held = true;
	rc = open_index(vm, disk, s->disk.fd, &p, &info);
	if (rc)
		return rc;
	rc = vc_pack_verify(&bad, p);
	if (rc) {
		vmm_err("--pack %s: %s", disk, vmm_lib_detail(rc, "pack: "));
		vc_pack_close(p);
		return rc;
	}
	for (unsigned i = 0; i < info.count; i++) {
		struct vc_pack_image img;
		char *name = s->names[vm->nmods];
		vc_pack_get(&img, p, i);
		memcpy(name, img.name, sizeof(img.name));
		vm->mods[vm->nmods++] = (struct vc_pvh_module){name, s->disk.data + img.offset,
							     img.size};
	}
	vc_pack_close(p);
	return 0;
}

static void pack_exit(struct vm *vm, void *st)
{
	struct pack_state *s = st;
	(void)vm;
	if (s->held)
		vmm_input_release(&s->disk);
	s->held = false;
}

int vm_pack_disk(const struct vm *vm, int *fd, uint64_t *size)
{
	const struct pack_state *s = vm->part[PART_PACK];
	if (!s || !s->held || s->disk.fd < 0)
		return -ENOENT;
	*fd = s->disk.fd;
	*size = s->disk.size;
	return 0;
}
const struct vmm_part pack_part = {
	.name = "pack",
	.state_size = sizeof(struct pack_state),
	.prepare = pack_prepare,
	.exit = pack_exit,
};
