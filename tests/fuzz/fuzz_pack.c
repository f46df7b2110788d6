// SPDX-License-Identifier: MIT
// libFuzzer target over the packed-disk reader: vc_pack_open_fd() and everything an
// opened disk offers (get, find, extract, verify), on disks built from the input.
//
// Input: one flags byte, then our 512-byte header, then up to 255 entries of 512 bytes
// (short input is zero-padded). A whole disk would be a megabyte of mostly zeros, which
// fuzzes badly, so the harness builds the disk around the index:
//   flags & 1: recompute our two CRCs (so mutations reach the checks behind them)
//   flags & 2: render MBR + both GPTs from the index (else they stay zero)
//   flags & 4: then XOR the input's last byte into the rendered metadata at the offset
//              given by the three bytes before it (primary vs backup disagreements)
// The disk size is the header's when it is sane and small, else derived from it.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <virtcore/pack.h>

#include "pack/pack-internal.h"
#include "util/crc32.h"

#define MAX_DISK (16u << 20)

static uint64_t disk_size_for(uint64_t claimed)
{
	const uint64_t min = VC_PACK_INDEX_SIZE + VC_PACK_BACKUP_SIZE + VC_PACK_SECTOR;

	if (claimed >= min && claimed <= MAX_DISK && claimed % VC_PACK_SECTOR == 0)
		return claimed;
	return min + (claimed % (MAX_DISK - min)) / VC_PACK_SECTOR * VC_PACK_SECTOR;
}

static void exercise(vc_pack *p)
{
	unsigned n = vc_pack_count(p);
	struct vc_pack_info info;
	int out = memfd_create("fuzz-out", 0);

	vc_pack_info(&info, p);
	for (unsigned i = 0; i < n; i++) {
		struct vc_pack_image img;
		if (vc_pack_get(&img, p, i) != 0)
			abort();
		if (vc_pack_find(NULL, p, img.name) != (int)i)
			abort(); /* names are unique, so find must land on this one */
		if (img.offset < VC_PACK_INDEX_SIZE || img.offset + img.size > info.data_end)
			abort(); /* open let an image outside the data area through */
		if (out >= 0)
			vc_pack_extract_fd(p, i, out);
	}
	vc_pack_verify(NULL, p);
	if (out >= 0)
		close(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vc__pack_meta m;
	static uint8_t front[VC__PACK_FRONT_SIZE], back[VC_PACK_BACKUP_SIZE];

	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	memset(&m, 0, sizeof(m));
	size_t n = size - 1 < sizeof(m) ? size - 1 : sizeof(m);
	memcpy(&m, data + 1, n);

	uint64_t disk_size = disk_size_for(m.hdr.disk_size);
	if (flags & 1) {
		m.hdr.entries_crc32 = vc__crc32(0, m.ent, sizeof(m.ent));
		m.hdr.header_crc32 = 0;
		m.hdr.header_crc32 = vc__crc32(0, &m.hdr, sizeof(m.hdr));
	}
	memset(front, 0, sizeof(front));
	memset(back, 0, sizeof(back));
	if (flags & 2) {
		/* render() trusts its input: give it a bounded copy, then put ours back */
		static struct vc__pack_meta r;
		r = m;
		if (r.hdr.count > VC_PACK_MAX_IMAGES)
			r.hdr.count = VC_PACK_MAX_IMAGES;
		if (r.hdr.align != VC_PACK_ALIGN_4K && r.hdr.align != VC_PACK_ALIGN_1M)
			r.hdr.align = VC_PACK_ALIGN_4K;
		for (uint32_t i = 0; i < r.hdr.count; i++)
			if (r.ent[i].name_len > VC_PACK_NAME_MAX)
				r.ent[i].name_len = VC_PACK_NAME_MAX;
		r.hdr.disk_size = disk_size;
		vc__pack_render(&r, front, back);
	}
	memcpy(front + VC_PACK_HEADER_OFFSET, &m.hdr, sizeof(m.hdr));
	memcpy(front + VC_PACK_ENTRIES_OFFSET, m.ent, sizeof(m.ent));
	if ((flags & 4) && size >= 5) {
		const uint8_t *t = data + size - 4;
		uint32_t off = (t[0] | t[1] << 8 | (uint32_t)t[2] << 16) %
			       (sizeof(front) + sizeof(back));
		if (off < sizeof(front))
			front[off] ^= t[3];
		else
			back[off - sizeof(front)] ^= t[3];
	}

	int fd = memfd_create("fuzz-disk", 0);
	if (fd < 0)
		return 0;
	if (ftruncate(fd, (off_t)disk_size) == 0 &&
	    vc__pack_pwrite_all(fd, front, sizeof(front), 0) == 0 &&
	    vc__pack_pwrite_all(fd, back, sizeof(back), disk_size - sizeof(back)) == 0) {
		vc_pack *p;
		if (vc_pack_open_fd(&p, fd) == 0) {
			exercise(p);
			vc_pack_close(p);
		}
	}
	close(fd);
	return 0;
}
