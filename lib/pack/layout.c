// SPDX-License-Identifier: MIT
// The packed disk's index region, both ways: rendering it from an index and validating a
// disk's bytes into one. Everything a hostile disk can say is checked here, before any
// offset from it is used.
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pack-internal.h"
#include "util/crc32.h"
#include "util/log.h"

#define SECTOR VC_PACK_SECTOR
#define GPT_REVISION 0x00010000u
#define FIRST_USABLE_LBA (VC_PACK_INDEX_SIZE / SECTOR)
#define ARRAY_SECTORS (VC_PACK_GPT_ARRAY_SIZE / SECTOR)

static const uint8_t type_guid[16] = VC_PACK_TYPE_GUID_BYTES;

uint64_t vc__pack_span(uint64_t size, uint32_t align)
{
	uint64_t n = size ? size : 1;

	if (n > UINT64_MAX - align)
		return UINT64_MAX;
	return (n + align - 1) / align * align;
}

uint64_t vc__pack_min_disk(uint64_t data_end, uint32_t align)
{
	uint64_t n = data_end + VC_PACK_BACKUP_SIZE + SECTOR;

	if (data_end > UINT64_MAX / 2)
		return UINT64_MAX;
	return (n + align - 1) / align * align;
}

void vc__pack_guid_swap(const uint8_t in[16], uint8_t out[16])
{
	static const uint8_t order[16] = {3, 2, 1, 0, 5, 4, 7, 6,
					  8, 9, 10, 11, 12, 13, 14, 15};
	uint8_t tmp[16];

	for (int i = 0; i < 16; i++)
		tmp[i] = in[order[i]];
	memcpy(out, tmp, 16);
}

static uint64_t data_end_of(uint64_t disk_size)
{
	return disk_size - VC_PACK_BACKUP_SIZE;
}

void vc__pack_seal(struct vc__pack_meta *m, uint64_t disk_size, uint32_t align,
		   uint32_t count, const uint8_t disk_uuid[16])
{
	struct vc_pack_header *h = &m->hdr;

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, VC_PACK_MAGIC, sizeof(h->magic));
	h->version = VC_PACK_VERSION;
	h->header_size = sizeof(*h);
	h->entry_size = sizeof(m->ent[0]);
	h->max_entries = VC_PACK_MAX_IMAGES;
	h->count = count;
	h->align = align;
	h->disk_size = disk_size;
	h->index_size = VC_PACK_INDEX_SIZE;
	h->data_end = data_end_of(disk_size);
	memcpy(h->disk_uuid, disk_uuid, 16);
	memset(&m->ent[count], 0, (VC_PACK_MAX_IMAGES - count) * sizeof(m->ent[0]));
	h->entries_crc32 = vc__crc32(0, m->ent, sizeof(m->ent));
	h->header_crc32 = vc__crc32(0, h, sizeof(*h));
}

static void render_gpt_entries(const struct vc__pack_meta *m, struct vc_pack_gpt_entry *g)
{
	memset(g, 0, VC_PACK_GPT_ARRAY_SIZE);
	for (uint32_t i = 0; i < m->hdr.count; i++) {
		const struct vc_pack_entry *e = &m->ent[i];
		/* The whole aligned span: partitions then start and end on the alignment
		 * (sgdisk -v checks the end), and the exact size is in our entry. */
		uint64_t span = vc__pack_span(e->size, m->hdr.align);

		memcpy(g[i].type_guid, type_guid, 16);
		vc__pack_guid_swap(e->uuid, g[i].unique_guid);
		g[i].first_lba = e->offset / SECTOR;
		g[i].last_lba = g[i].first_lba + span / SECTOR - 1;
		vc__pack_gpt_name(e->name, e->name_len, g[i].name);
	}
}

static void render_gpt_header(const struct vc__pack_meta *m, uint32_t array_crc,
			      bool primary, struct vc_pack_gpt_header *g)
{
	uint64_t last_lba = m->hdr.disk_size / SECTOR - 1;
	uint64_t backup_array_lba = data_end_of(m->hdr.disk_size) / SECTOR;

	memset(g, 0, sizeof(*g));
	memcpy(g->signature, "EFI PART", 8);
	g->revision = GPT_REVISION;
	g->header_size = sizeof(*g);
	g->my_lba = primary ? 1 : last_lba;
	g->alternate_lba = primary ? last_lba : 1;
	g->first_usable_lba = FIRST_USABLE_LBA;
	g->last_usable_lba = backup_array_lba - 1;
	vc__pack_guid_swap(m->hdr.disk_uuid, g->disk_guid);
	g->entries_lba = primary ? VC_PACK_GPT_ARRAY_OFFSET / SECTOR : backup_array_lba;
	g->num_entries = VC_PACK_GPT_ENTRIES;
	g->entry_size = sizeof(struct vc_pack_gpt_entry);
	g->entries_crc32 = array_crc;
	g->header_crc32 = vc__crc32(0, g, sizeof(*g));
}

static void render_mbr(uint64_t disk_size, uint8_t *mbr)
{
	uint64_t sectors = disk_size / SECTOR - 1;
	uint32_t n = sectors > UINT32_MAX ? UINT32_MAX : (uint32_t)sectors;
	uint8_t *p = mbr + 446;
	/* One partition of type 0xEE from LBA 1 over the whole disk (UEFI 5.2.3). */
	const uint8_t part[8] = {0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff};
	const uint32_t start = 1;

	memcpy(p, part, 8);
	memcpy(p + 8, &start, 4);
	memcpy(p + 12, &n, 4);
	mbr[510] = 0x55;
	mbr[511] = 0xaa;
}

void vc__pack_render(const struct vc__pack_meta *m, uint8_t *front, uint8_t *back)
{
	struct vc_pack_gpt_entry *array = (void *)(front + VC_PACK_GPT_ARRAY_OFFSET);
	struct vc_pack_gpt_header hdr;

	memset(front, 0, VC__PACK_FRONT_SIZE);
	render_mbr(m->hdr.disk_size, front);
	render_gpt_entries(m, array);
	uint32_t array_crc = vc__crc32(0, array, VC_PACK_GPT_ARRAY_SIZE);
	render_gpt_header(m, array_crc, true, &hdr);
	memcpy(front + VC_PACK_GPT_HEADER_OFFSET, &hdr, sizeof(hdr));
	memcpy(front + VC_PACK_HEADER_OFFSET, &m->hdr, sizeof(m->hdr));
	memcpy(front + VC_PACK_ENTRIES_OFFSET, m->ent, sizeof(m->ent));

	memset(back, 0, VC_PACK_BACKUP_SIZE);
	memcpy(back, array, VC_PACK_GPT_ARRAY_SIZE);
	render_gpt_header(m, array_crc, false, &hdr);
	memcpy(back + VC_PACK_GPT_ARRAY_SIZE, &hdr, sizeof(hdr));
}

/* ---- validation ---- */

#define BAD(...)                                                                   \
	do {                                                                       \
		vc__err("pack: " __VA_ARGS__);                                     \
		return -EBADMSG;                                                   \
	} while (0)

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static int parse_header(const uint8_t *front, uint64_t disk_size, struct vc__pack_meta *m)
{
	struct vc_pack_header *h = &m->hdr;

	memcpy(h, front + VC_PACK_HEADER_OFFSET, sizeof(*h));
	if (memcmp(h->magic, VC_PACK_MAGIC, sizeof(h->magic)) != 0)
		BAD("no packed-disk index (bad magic): not made by vc-pack, or overwritten");
	if (h->version != VC_PACK_VERSION)
		BAD("index version %" PRIu32 ", this library reads version %u", h->version,
		    VC_PACK_VERSION);
	if (h->header_size != sizeof(*h) || h->entry_size != sizeof(m->ent[0]) ||
	    h->max_entries != VC_PACK_MAX_IMAGES || h->index_size != VC_PACK_INDEX_SIZE)
		BAD("index header has an unexpected geometry");
	uint32_t want = h->header_crc32;
	h->header_crc32 = 0;
	uint32_t got = vc__crc32(0, h, sizeof(*h));
	h->header_crc32 = want;
	if (got != want)
		BAD("index header CRC mismatch (stored %08" PRIx32 ", computed %08" PRIx32 ")",
		    want, got);
	if (!all_zero(h->reserved, sizeof(h->reserved)))
		BAD("index header reserved bytes are not zero");
	if (h->count > VC_PACK_MAX_IMAGES)
		BAD("index claims %" PRIu32 " images, at most %u fit", h->count,
		    VC_PACK_MAX_IMAGES);
	if (h->align != VC_PACK_ALIGN_4K && h->align != VC_PACK_ALIGN_1M)
		BAD("index alignment %" PRIu32 " is not 4 KiB or 1 MiB", h->align);
	if (h->disk_size != disk_size)
		BAD("disk is %" PRIu64 " bytes but its index says %" PRIu64 " (%s)", disk_size,
		    h->disk_size, disk_size < h->disk_size ? "truncated" : "extended");
	if (disk_size % SECTOR || disk_size < VC_PACK_INDEX_SIZE + VC_PACK_BACKUP_SIZE + SECTOR)
		BAD("disk size %" PRIu64 " is not a whole number of sectors past the index",
		    disk_size);
	if (h->data_end != data_end_of(disk_size))
		BAD("index data end %" PRIu64 " does not match the disk size", h->data_end);

	memcpy(m->ent, front + VC_PACK_ENTRIES_OFFSET, sizeof(m->ent));
	got = vc__crc32(0, m->ent, sizeof(m->ent));
	if (got != h->entries_crc32)
		BAD("index entries CRC mismatch (stored %08" PRIx32 ", computed %08" PRIx32 ")",
		    h->entries_crc32, got);
	return 0;
}

static int name_cmp(const struct vc_pack_entry *a, const struct vc_pack_entry *b)
{
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
	int c = memcmp(a->name, b->name, n);

	return c ? c : (int)a->name_len - (int)b->name_len;
}

static int parse_entries(struct vc__pack_meta *m)
{
	const struct vc_pack_header *h = &m->hdr;
	uint64_t prev_end = VC_PACK_INDEX_SIZE;

	for (uint32_t i = 0; i < h->count; i++) {
		const struct vc_pack_entry *e = &m->ent[i];
		const char *why;

		if (e->name_len > VC_PACK_NAME_MAX ||
		    vc__pack_check_name(e->name, e->name_len, &why) != 0)
			BAD("image %" PRIu32 ": bad name: %s", i,
			    e->name_len > VC_PACK_NAME_MAX ? "too long" : why);
		if (!all_zero(e->name + e->name_len, sizeof(e->name) - e->name_len) ||
		    e->flags || e->reserved0 || !all_zero(e->reserved1, sizeof(e->reserved1)))
			BAD("image %" PRIu32 " (%.*s): reserved bytes are not zero", i,
			    (int)e->name_len, e->name);
		uint64_t span = vc__pack_span(e->size, h->align);
		if (e->offset % h->align)
			BAD("image %" PRIu32 " (%.*s): offset %" PRIu64 " is not aligned", i,
			    (int)e->name_len, e->name, e->offset);
		if (e->offset < prev_end)
			BAD("image %" PRIu32 " (%.*s): offset %" PRIu64 " overlaps %s", i,
			    (int)e->name_len, e->name, e->offset,
			    i ? "the image before it" : "the index");
		if (span > h->data_end || e->offset > h->data_end - span)
			BAD("image %" PRIu32 " (%.*s): %" PRIu64 " bytes at %" PRIu64
			    " run past the end of the data area (%" PRIu64 ")", i,
			    (int)e->name_len, e->name, e->size, e->offset, h->data_end);
		prev_end = e->offset + span;
		for (uint32_t j = 0; j < i; j++)
			if (name_cmp(&m->ent[j], e) == 0)
				BAD("images %" PRIu32 " and %" PRIu32 " are both named %.*s", j, i,
				    (int)e->name_len, e->name);
	}
	return 0;
}

static int check_gpt_header(const struct vc_pack_gpt_header *g, const char *which,
			    const struct vc_pack_gpt_header *want)
{
	if (memcmp(g->signature, "EFI PART", 8) != 0)
		BAD("%s GPT header: no \"EFI PART\" signature", which);
	struct vc_pack_gpt_header tmp = *g;
	tmp.header_crc32 = 0;
	if (g->header_size != sizeof(*g) || vc__crc32(0, &tmp, sizeof(tmp)) != g->header_crc32)
		BAD("%s GPT header: CRC mismatch", which);
	if (memcmp(g, want, sizeof(*g)) != 0)
		BAD("%s GPT header does not match the index (positions, disk GUID or array CRC)",
		    which);
	return 0;
}

/* The GPT must be exactly what the index renders to: the two views cannot disagree, and
 * a tool that edited the partition table is caught. */
static int compare_gpt(const uint8_t *front, const uint8_t *back, const uint8_t *want_front,
		       const uint8_t *want_back)
{
	int rc;

	const struct vc_pack_gpt_header *want_primary =
		(const void *)(want_front + VC_PACK_GPT_HEADER_OFFSET);
	const struct vc_pack_gpt_header *want_backup =
		(const void *)(want_back + VC_PACK_GPT_ARRAY_SIZE);
	rc = check_gpt_header((const void *)(front + VC_PACK_GPT_HEADER_OFFSET), "primary",
			      want_primary);
	if (rc)
		return rc;
	rc = check_gpt_header((const void *)(back + VC_PACK_GPT_ARRAY_SIZE), "backup",
			      want_backup);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < VC_PACK_GPT_ENTRIES; i++) {
		size_t off = i * sizeof(struct vc_pack_gpt_entry);
		bool primary_ok = memcmp(front + VC_PACK_GPT_ARRAY_OFFSET + off,
					 want_front + VC_PACK_GPT_ARRAY_OFFSET + off,
					 sizeof(struct vc_pack_gpt_entry)) == 0;
		bool backup_ok = memcmp(back + off, want_back + off,
					sizeof(struct vc_pack_gpt_entry)) == 0;
		if (!primary_ok || !backup_ok)
			BAD("%s GPT partition %" PRIu32 " does not match the index",
			    !primary_ok ? "primary" : "backup", i + 1);
	}
	return 0;
}

int vc__pack_parse(const uint8_t *front, const uint8_t *back, uint64_t disk_size,
		   struct vc__pack_meta *m)
{
	int rc;

	if (disk_size < VC_PACK_INDEX_SIZE + VC_PACK_BACKUP_SIZE + SECTOR)
		BAD("%" PRIu64 " bytes is too small for a packed disk (truncated?)", disk_size);
	if (front[510] != 0x55 || front[511] != 0xaa || front[446 + 4] != 0xee)
		BAD("no protective MBR (a GPT disk has one in sector 0)");

	rc = parse_header(front, disk_size, m);
	if (rc)
		return rc;
	rc = parse_entries(m);
	if (rc)
		return rc;

	uint8_t *want_front = malloc(VC__PACK_FRONT_SIZE + VC_PACK_BACKUP_SIZE);
	if (!want_front)
		return -ENOMEM;
	uint8_t *want_back = want_front + VC__PACK_FRONT_SIZE;
	vc__pack_render(m, want_front, want_back);
	rc = compare_gpt(front, back, want_front, want_back);
	free(want_front);
	return rc;
}

