// SPDX-License-Identifier: MIT
// Everything on the disk that is not an image's data, checked by vc_pack_verify(): the
// disk must be byte for byte what its index renders to (the MBR beyond the protective
// entry, the GPT header sectors' reserved bytes, the gaps inside the index region) and
// zero wherever the index puts nothing (each image's padding up to its span, which a guest
// reading the partition sees, and any gap between spans). vc_pack_open() checks only what
// listing and extracting need, from the first 192 KiB and the last 33 KiB.
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pack-internal.h"
#include "util/log.h"

#define CHUNK (256u << 10)

/* What the byte at disk offset @at belongs to, for messages. */
static const char *region(uint64_t at, uint64_t disk_size)
{
	if (at < 446)
		return "the MBR's boot code area";
	if (at < VC_PACK_SECTOR)
		return "the MBR's partition table (a hybrid MBR?)";
	if (at < 2 * VC_PACK_SECTOR || at >= disk_size - VC_PACK_SECTOR)
		return "the reserved bytes of a GPT header sector";
	return "the index region between its structures";
}

/* The first byte where @got and @want (@len bytes at disk offset @base) differ. */
static int same_as_rendered(const uint8_t *got, const uint8_t *want, size_t len,
			    uint64_t base, uint64_t disk_size)
{
	for (size_t i = 0; i < len; i++) {
		if (got[i] != want[i]) {
			vc__err("pack: byte %#" PRIx64 " is not what vc-pack writes there: %s "
				"must be exactly the rendered index", base + i,
				region(base + i, disk_size));
			return -EBADMSG;
		}
	}
	return 0;
}

/* Bytes [@from, @to) of the disk are zero; holes are skipped without reading. @what names
 * them. */
static int zero_range(vc_pack *p, uint8_t *buf, uint64_t from, uint64_t to, const char *what,
		      const struct vc_pack_entry *e)
{
	while (from < to) {
		off_t data = lseek(p->fd, (off_t)from, SEEK_DATA);
		if (data < 0 || (uint64_t)data >= to)
			return 0; /* ENXIO: only a hole is left (other errors: read it all) */
		if ((uint64_t)data > from)
			from = (uint64_t)data;
		size_t n = to - from < CHUNK ? (size_t)(to - from) : CHUNK;
		int rc = vc__pack_pread_all(p->fd, buf, n, from);
		if (rc)
			return rc == -ENODATA ? -EBADMSG : rc;
		for (size_t i = 0; i < n; i++) {
			if (!buf[i])
				continue;
			if (e)
				vc__err("pack: byte %#" PRIx64 " is not zero: %s image %.*s (a guest "
					"reading its partition sees it)", from + i, what,
					(int)e->name_len, e->name);
			else
				vc__err("pack: byte %#" PRIx64 " is not zero: %s", from + i, what);
			return -EBADMSG;
		}
		from += n;
	}
	return 0;
}

int vc__pack_verify_layout(vc_pack *p, unsigned *bad_index)
{
	const struct vc__pack_meta *m = &p->meta;
	const uint64_t disk = m->hdr.disk_size;
	size_t both = VC__PACK_FRONT_SIZE + VC_PACK_BACKUP_SIZE;
	uint8_t *got = malloc(2 * both + CHUNK);
	if (!got)
		return -ENOMEM;
	uint8_t *want = got + both, *buf = want + both;

	/* The two ends, whole: parse() compared only the structures in them. */
	vc__pack_render(m, want, want + VC__PACK_FRONT_SIZE);
	int rc = vc__pack_pread_all(p->fd, got, VC__PACK_FRONT_SIZE, 0);
	if (!rc)
		rc = vc__pack_pread_all(p->fd, got + VC__PACK_FRONT_SIZE, VC_PACK_BACKUP_SIZE,
					disk - VC_PACK_BACKUP_SIZE);
	if (rc == -ENODATA)
		rc = -EBADMSG; /* shrank since it was opened */
	if (!rc)
		rc = same_as_rendered(got, want, VC__PACK_FRONT_SIZE, 0, disk);
	if (!rc)
		rc = same_as_rendered(got + VC__PACK_FRONT_SIZE, want + VC__PACK_FRONT_SIZE,
				      VC_PACK_BACKUP_SIZE, disk - VC_PACK_BACKUP_SIZE, disk);
	if (!rc)
		rc = zero_range(p, buf, VC__PACK_FRONT_SIZE, VC_PACK_INDEX_SIZE,
				"the index region past the entries", NULL);

	/* Each image's padding, then the gap up to the next image (or the backup GPT). */
	uint64_t end = VC_PACK_INDEX_SIZE;
	for (unsigned i = 0; !rc && i < m->hdr.count; i++) {
		const struct vc_pack_entry *e = &m->ent[i];
		rc = zero_range(p, buf, end, e->offset, "between images, before", e);
		uint64_t span_end = e->offset + vc__pack_span(e->size, m->hdr.align);
		if (!rc)
			rc = zero_range(p, buf, e->offset + e->size, span_end, "the padding after",
					e);
		if (rc && bad_index)
			*bad_index = i;
		end = span_end;
	}
	if (!rc)
		rc = zero_range(p, buf, end, m->hdr.data_end,
				"the data area after the last image", NULL);
	free(got);
	return rc;
}
