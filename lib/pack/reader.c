// SPDX-License-Identifier: MIT
// Opening a packed disk: read the index region and the backup GPT, validate, keep the
// index in memory. Lookups never touch the disk again.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pack-internal.h"
#include "util/input.h"
#include "util/log.h"

static int load(vc_pack *p)
{
	struct stat st;
	uint8_t *buf;
	int rc;

	if (fstat(p->fd, &st) != 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(p->fd, BLKGETSIZE64, &p->disk_size) != 0)
			return -errno;
	} else if (S_ISREG(st.st_mode)) {
		p->disk_size = (uint64_t)st.st_size;
	} else {
		vc__err("pack: not a regular file or block device");
		return -EBADMSG;
	}
	if (p->disk_size < VC_PACK_INDEX_SIZE + VC_PACK_BACKUP_SIZE + VC_PACK_SECTOR) {
		vc__err("pack: %llu bytes is too small for a packed disk (truncated?)",
			(unsigned long long)p->disk_size);
		return -EBADMSG;
	}
	buf = malloc(VC__PACK_FRONT_SIZE + VC_PACK_BACKUP_SIZE);
	if (!buf)
		return -ENOMEM;
	rc = vc__pack_pread_all(p->fd, buf, VC__PACK_FRONT_SIZE, 0);
	if (!rc)
		rc = vc__pack_pread_all(p->fd, buf + VC__PACK_FRONT_SIZE, VC_PACK_BACKUP_SIZE,
					p->disk_size - VC_PACK_BACKUP_SIZE);
	if (rc == -ENODATA)
		rc = -EBADMSG; /* shrank under us */
	if (!rc)
		rc = vc__pack_parse(buf, buf + VC__PACK_FRONT_SIZE, p->disk_size, &p->meta);
	free(buf);
	return rc;
}

VC_API int vc_pack_open_fd(vc_pack **out, int fd)
{
	vc_pack *p;
	int rc;

	if (!out)
		return -EINVAL;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fd = vc__pack_private_fd(fd);
	if (p->fd < 0) {
		rc = p->fd;
		free(p);
		return rc;
	}
	rc = load(p);
	if (rc) {
		vc_pack_close(p);
		return rc;
	}
	*out = p;
	return 0;
}

VC_API int vc_pack_open(vc_pack **out, const char *path)
{
	int fd, rc;

	if (!path || !out)
		return -EINVAL;
	const char *what;
	fd = vc__input_open(path, VC__INPUT_BLOCK, &what);
	if (fd < 0) {
		if (what)
			vc__err("pack: %s, not a regular file or block device", what);
		else
			vc__err("pack: cannot open %s: %s", path, vc_strerror(fd));
		return fd;
	}
	rc = vc_pack_open_fd(out, fd);
	close(fd);
	return rc;
}

VC_API void vc_pack_close(vc_pack *p)
{
	if (!p)
		return;
	close(p->fd);
	free(p);
}

VC_API int vc_pack_info(struct vc_pack_info *info, const vc_pack *p)
{
	if (!p || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->disk_size = p->disk_size;
	info->data_start = p->meta.hdr.index_size;
	info->data_end = p->meta.hdr.data_end;
	info->align = p->meta.hdr.align;
	info->count = p->meta.hdr.count;
	memcpy(info->disk_uuid, p->meta.hdr.disk_uuid, 16);
	for (uint32_t i = 0; i < info->count; i++)
		info->used += p->meta.ent[i].size;
	return 0;
}

VC_API unsigned vc_pack_count(const vc_pack *p)
{
	return p ? p->meta.hdr.count : 0;
}

VC_API int vc_pack_get(struct vc_pack_image *img, const vc_pack *p, unsigned index)
{
	if (!p || !img)
		return -EINVAL;
	if (index >= p->meta.hdr.count)
		return -ENOENT;
	const struct vc_pack_entry *e = &p->meta.ent[index];
	memset(img, 0, sizeof(*img));
	memcpy(img->name, e->name, e->name_len);
	img->offset = e->offset;
	img->size = e->size;
	memcpy(img->sha256, e->sha256, 32);
	memcpy(img->uuid, e->uuid, 16);
	img->index = index;
	return 0;
}

VC_API int vc_pack_find(struct vc_pack_image *img, const vc_pack *p, const char *name)
{
	if (!p || !name)
		return -EINVAL;
	size_t len = strlen(name);
	for (uint32_t i = 0; i < p->meta.hdr.count; i++) {
		const struct vc_pack_entry *e = &p->meta.ent[i];
		if (e->name_len == len && memcmp(e->name, name, len) == 0) {
			if (img)
				vc_pack_get(img, p, i);
			return (int)i;
		}
	}
	return -ENOENT;
}

VC_API void vc_pack_hex(char out[65], const uint8_t sha256[32])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[sha256[i] >> 4];
		out[2 * i + 1] = digits[sha256[i] & 15];
	}
	out[64] = '\0';
}
