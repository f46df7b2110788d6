/* SPDX-License-Identifier: MIT */
/*
 * The packed disk's on-disk layout (docs/pack-format.md tells the whole story). One disk
 * image of fixed size: a fixed 1 MiB index region at the front, then the images, then the
 * backup GPT in the last 65 sectors. The index region is at the same time a valid GPT
 * (protective MBR, header, partition array: each image a partition named after it) and
 * libvirtcore's own index (full names, exact byte sizes, SHA-256 digests).
 *
 * Only fixed-width little-endian fields at fixed offsets, no pointers, no libc: a guest or
 * another implementation can read a packed disk from this header alone.
 */
#ifndef VIRTCORE_PACK_FORMAT_H
#define VIRTCORE_PACK_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/** Logical sector size the GPT is laid out for (virtio-blk's and every disk file's). */
#define VC_PACK_SECTOR 512u
/** Size of the index region at the front of every packed disk; images start here. */
#define VC_PACK_INDEX_SIZE (1024u * 1024u)
/**
 * GPT partition entries in each array. 256 because Linux shows at most 255 partitions of
 * a disk (DISK_MAX_PARTS), so every image a guest can see has its partition.
 */
#define VC_PACK_GPT_ENTRIES 256u
/** Images one disk holds: as many as a Linux guest can see as partitions. */
#define VC_PACK_MAX_IMAGES 255u
/** Longest image name, in bytes of UTF-8 (no NUL). */
#define VC_PACK_NAME_MAX 255u
/** Image alignments a disk may use (the header's @c align). */
#define VC_PACK_ALIGN_4K 4096u
#define VC_PACK_ALIGN_1M (1024u * 1024u)

/* Where things are, in bytes from the start of the disk. */
#define VC_PACK_MBR_OFFSET 0u
#define VC_PACK_GPT_HEADER_OFFSET 512u            /* LBA 1 */
#define VC_PACK_GPT_ARRAY_OFFSET 1024u            /* LBA 2 */
#define VC_PACK_GPT_ARRAY_SIZE (VC_PACK_GPT_ENTRIES * 128u)   /* 32 KiB: LBA 2..65 */
#define VC_PACK_HEADER_OFFSET (64u * 1024u)       /* our header */
#define VC_PACK_ENTRIES_OFFSET (VC_PACK_HEADER_OFFSET + 512u) /* our entries */
#define VC_PACK_ENTRIES_SIZE (VC_PACK_MAX_IMAGES * 512u)
/** The backup GPT (array, then header in the last sector) takes this much at the end. */
#define VC_PACK_BACKUP_SIZE (VC_PACK_GPT_ARRAY_SIZE + VC_PACK_SECTOR)

/** Our header's magic: the 8 bytes "VCPACKIX". */
#define VC_PACK_MAGIC "VCPACKIX"
/** Format version; a reader refuses any other. */
#define VC_PACK_VERSION 1u

/**
 * GPT partition type of every image, 1b12d3bb-8de0-4af0-88cd-d68f29e38bf9 ("libvirtcore
 * packed image"). Deliberately not "Linux filesystem": an image can be anything (a kernel,
 * an ELF module, a filesystem), and generators that mount by type must leave it alone.
 * As it is stored (GPT's mixed-endian GUID encoding):
 */
#define VC_PACK_TYPE_GUID_BYTES                                                    \
	{0xbb, 0xd3, 0x12, 0x1b, 0xe0, 0x8d, 0xf0, 0x4a,                           \
	 0x88, 0xcd, 0xd6, 0x8f, 0x29, 0xe3, 0x8b, 0xf9}

/**
 * Our header, at VC_PACK_HEADER_OFFSET. CRC32 is the GPT/zlib one (reflected 0xEDB88320,
 * initial and final XOR 0xFFFFFFFF).
 */
struct vc_pack_header {
	char magic[8];            /* 0: VC_PACK_MAGIC, not NUL-terminated */
	uint32_t version;         /* 8: VC_PACK_VERSION */
	uint32_t header_size;     /* 12: sizeof(struct vc_pack_header) */
	uint32_t entry_size;      /* 16: sizeof(struct vc_pack_entry) */
	uint32_t max_entries;     /* 20: VC_PACK_MAX_IMAGES */
	uint32_t count;           /* 24: images in use; entries [count, max) are all zero */
	uint32_t align;           /* 28: VC_PACK_ALIGN_4K or VC_PACK_ALIGN_1M */
	uint64_t disk_size;       /* 32: bytes; a multiple of VC_PACK_SECTOR */
	uint64_t index_size;      /* 40: VC_PACK_INDEX_SIZE: first byte images may use */
	uint64_t data_end;        /* 48: first byte past the area images may use (backup GPT) */
	uint8_t disk_uuid[16];    /* 56: RFC 4122 byte order; the GPT disk GUID */
	uint32_t entries_crc32;   /* 72: CRC32 of all max_entries entries */
	uint32_t header_crc32;    /* 76: CRC32 of header_size bytes, this field as zero */
	uint8_t reserved[432];    /* 80: zero */
};

/**
 * One image, in the order of the images on the disk (ascending, non-overlapping offsets).
 * Entry i is also GPT partition i + 1.
 */
struct vc_pack_entry {
	uint8_t uuid[16];         /* 0: RFC 4122 byte order; the partition's unique GUID */
	uint64_t offset;          /* 16: bytes from the start of the disk, a multiple of align */
	uint64_t size;            /* 24: exact size of the image in bytes (may be 0) */
	uint8_t sha256[32];       /* 32: SHA-256 of the image's @c size bytes */
	uint16_t name_len;        /* 64: bytes of @c name in use, 1..VC_PACK_NAME_MAX */
	uint16_t flags;           /* 66: zero (reserved) */
	uint32_t reserved0;       /* 68: zero */
	char name[256];           /* 72: UTF-8, NUL-padded; no '/', no control characters */
	uint8_t reserved1[184];   /* 328: zero */
};

/** GPT header (UEFI 2.x, 5.3.2), at LBA 1 and in the disk's last sector. */
struct vc_pack_gpt_header {
	char signature[8];        /* 0: "EFI PART" */
	uint32_t revision;        /* 8: 0x00010000 */
	uint32_t header_size;     /* 12: 92 */
	uint32_t header_crc32;    /* 16 */
	uint32_t reserved;        /* 20 */
	uint64_t my_lba;          /* 24 */
	uint64_t alternate_lba;   /* 32 */
	uint64_t first_usable_lba; /* 40 */
	uint64_t last_usable_lba; /* 48 */
	uint8_t disk_guid[16];    /* 56: mixed-endian */
	uint64_t entries_lba;     /* 72 */
	uint32_t num_entries;     /* 80 */
	uint32_t entry_size;      /* 84: 128 */
	uint32_t entries_crc32;   /* 88 */
} __attribute__((packed));

/** GPT partition entry (UEFI 2.x, 5.3.3). */
struct vc_pack_gpt_entry {
	uint8_t type_guid[16];    /* 0: VC_PACK_TYPE_GUID_BYTES, or zero when unused */
	uint8_t unique_guid[16];  /* 16: the image's uuid, mixed-endian */
	uint64_t first_lba;       /* 32 */
	uint64_t last_lba;        /* 40: inclusive; the image's whole aligned span */
	uint64_t attributes;      /* 48: zero */
	uint16_t name[36];        /* 56: UTF-16LE, the name cut to 36 code units */
};

#ifndef __cplusplus
#define VC_PACK_ASSERT(c, m) _Static_assert(c, m)
#else
#define VC_PACK_ASSERT(c, m) static_assert(c, m)
#endif
VC_PACK_ASSERT(sizeof(struct vc_pack_header) == 512, "pack header is one sector");
VC_PACK_ASSERT(sizeof(struct vc_pack_entry) == 512, "pack entry is 512 bytes");
VC_PACK_ASSERT(offsetof(struct vc_pack_entry, name) == 72, "name at 72");
VC_PACK_ASSERT(sizeof(struct vc_pack_gpt_header) == 92, "GPT header is 92 bytes");
VC_PACK_ASSERT(sizeof(struct vc_pack_gpt_entry) == 128, "GPT entry is 128 bytes");
VC_PACK_ASSERT(VC_PACK_ENTRIES_OFFSET + VC_PACK_ENTRIES_SIZE <= VC_PACK_INDEX_SIZE,
	       "our index fits in the index region");
VC_PACK_ASSERT(VC_PACK_GPT_ARRAY_OFFSET + VC_PACK_GPT_ARRAY_SIZE <= VC_PACK_HEADER_OFFSET,
	       "the GPT array ends before our header");

/*
 * A freestanding reader of the index, for a guest that gets the disk as raw bytes (vc-vmm's
 * block device) and has no libvirtcore: read VC_PACK_HEADER_OFFSET's 512 bytes and the
 * VC_PACK_ENTRIES_SIZE bytes of entries into private memory, check them here, then find
 * images by name. It checks what a reader needs to stay inside the disk and to trust the
 * index it read (magic, version, geometry, both CRCs, each image's place); the image bytes
 * themselves are the caller's to check (SHA-256 against a reference list: trust_abi.h).
 * The library's vc_pack_open() checks more (the GPT, names' characters, reserved bytes).
 */
#define VC_PACK_ABI_ERR_BADMSG (-74) /**< -EBADMSG: not a valid index */
#define VC_PACK_ABI_ERR_NOENT (-2)   /**< -ENOENT: no image of that name */

/** CRC32 (reflected 0xEDB88320) of @p n bytes, continuing from @p crc (0 to start). */
static inline uint32_t vc_pack_abi_crc32(uint32_t crc, const void *p, uint64_t n)
{
	const unsigned char *b = (const unsigned char *)p;
	crc = ~crc;
	for (uint64_t i = 0; i < n; i++) {
		crc ^= b[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/**
 * Checks a private copy of the header of a disk of @p disk_size bytes: magic, version,
 * geometry, CRC, image count, alignment, sizes. 0 or VC_PACK_ABI_ERR_BADMSG.
 */
static inline int vc_pack_abi_header(const struct vc_pack_header *h, uint64_t disk_size)
{
	struct vc_pack_header zeroed = *h;
	zeroed.header_crc32 = 0;
	for (int i = 0; i < 8; i++)
		if (h->magic[i] != VC_PACK_MAGIC[i])
			return VC_PACK_ABI_ERR_BADMSG;
	if (h->version != VC_PACK_VERSION || h->header_size != sizeof(*h) ||
	    h->entry_size != sizeof(struct vc_pack_entry) || h->max_entries != VC_PACK_MAX_IMAGES ||
	    h->index_size != VC_PACK_INDEX_SIZE || h->count > VC_PACK_MAX_IMAGES ||
	    (h->align != VC_PACK_ALIGN_4K && h->align != VC_PACK_ALIGN_1M) ||
	    h->disk_size != disk_size || disk_size % VC_PACK_SECTOR ||
	    disk_size < VC_PACK_INDEX_SIZE + VC_PACK_BACKUP_SIZE + VC_PACK_SECTOR ||
	    h->data_end != disk_size - VC_PACK_BACKUP_SIZE ||
	    vc_pack_abi_crc32(0, &zeroed, sizeof(zeroed)) != h->header_crc32)
		return VC_PACK_ABI_ERR_BADMSG;
	return 0;
}

/**
 * Checks a private copy of all VC_PACK_MAX_IMAGES entries against a checked header: the
 * entries' CRC, then each image in use: a name of 1..255 bytes, an aligned offset after
 * the one before it, its aligned span inside the data area. 0 or VC_PACK_ABI_ERR_BADMSG.
 */
static inline int vc_pack_abi_entries(const struct vc_pack_header *h,
				      const struct vc_pack_entry *ent)
{
	if (vc_pack_abi_crc32(0, ent, VC_PACK_ENTRIES_SIZE) != h->entries_crc32)
		return VC_PACK_ABI_ERR_BADMSG;
	uint64_t prev_end = VC_PACK_INDEX_SIZE;
	for (uint32_t i = 0; i < h->count; i++) {
		const struct vc_pack_entry *e = &ent[i];
		if (e->name_len == 0 || e->name_len > VC_PACK_NAME_MAX || e->offset % h->align ||
		    e->offset < prev_end || e->size > h->data_end)
			return VC_PACK_ABI_ERR_BADMSG;
		uint64_t span = (e->size + h->align - 1) / h->align * h->align;
		if (span > h->data_end || e->offset > h->data_end - span)
			return VC_PACK_ABI_ERR_BADMSG;
		prev_end = e->offset + span;
	}
	return 0;
}

/**
 * The index of the image named @p name (@p len bytes, no NUL needed) among the checked
 * entries, or VC_PACK_ABI_ERR_NOENT.
 */
static inline int vc_pack_abi_find(const struct vc_pack_header *h,
				   const struct vc_pack_entry *ent, const char *name, uint64_t len)
{
	for (uint32_t i = 0; i < h->count; i++) {
		if (ent[i].name_len != len)
			continue;
		uint64_t k = 0;
		while (k < len && ent[i].name[k] == name[k])
			k++;
		if (k == len)
			return (int)i;
	}
	return VC_PACK_ABI_ERR_NOENT;
}

#endif /* VIRTCORE_PACK_FORMAT_H */
