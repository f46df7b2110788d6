/* SPDX-License-Identifier: MIT */
/* What the pack sources share: the in-memory index, name rules, layout, copying. */
#ifndef VC_PACK_INTERNAL_H
#define VC_PACK_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <virtcore/pack.h>

/* The on-disk structs are read and written as they are in memory. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "pack needs a little-endian host");

/* Bytes at the front that hold metadata: MBR, GPT header and array, our header and entries. */
#define VC__PACK_FRONT_SIZE (VC_PACK_ENTRIES_OFFSET + VC_PACK_ENTRIES_SIZE)

/* A whole index as it is in memory: the writer fills one, the reader parses one. */
struct vc__pack_meta {
	struct vc_pack_header hdr;
	struct vc_pack_entry ent[VC_PACK_MAX_IMAGES];
};

/* --- name.c --- */

/* 0 if @name (of @len bytes) may name an image; -EINVAL empty, -ENAMETOOLONG over 255
 * bytes, -EILSEQ not UTF-8 (overlong forms and surrogates included), a control character,
 * '/', or "." / "..". @why gets a short reason for the log. */
int vc__pack_check_name(const char *name, size_t len, const char **why);

/* The GPT partition name: @name as UTF-16LE cut to 36 code units (never inside a
 * surrogate pair), zero-padded. @name must have passed vc__pack_check_name(). */
void vc__pack_gpt_name(const char *name, size_t len, uint16_t out[36]);

/* --- layout.c --- */

/* Bytes an image of @size takes on the disk: at least one sector (GPT has no empty
 * partitions), rounded up to @align. UINT64_MAX if that overflows. */
uint64_t vc__pack_span(uint64_t size, uint32_t align);

/* The smallest disk holding images up to @data_end (the end of the last image's span). */
uint64_t vc__pack_min_disk(uint64_t data_end, uint32_t align);

/* Fills @m's header for @count images on a disk of @disk_size and seals both CRCs. The
 * entries must be complete. */
void vc__pack_seal(struct vc__pack_meta *m, uint64_t disk_size, uint32_t align,
		   uint32_t count, const uint8_t disk_uuid[16]);

/* Renders @m: @front gets VC__PACK_FRONT_SIZE bytes (MBR, primary GPT, our index), @back
 * VC_PACK_BACKUP_SIZE bytes (backup array, then backup header). */
void vc__pack_render(const struct vc__pack_meta *m, uint8_t *front, uint8_t *back);

/* Validates a disk of @disk_size bytes whose first VC__PACK_FRONT_SIZE bytes are @front
 * and last VC_PACK_BACKUP_SIZE bytes are @back; fills @m. 0, or -EBADMSG with the reason
 * logged. Pure: no I/O, so it is also what the fuzz target drives. */
int vc__pack_parse(const uint8_t *front, const uint8_t *back, uint64_t disk_size,
		   struct vc__pack_meta *m);

/* GUID byte orders: RFC 4122 (uuid_t) <-> GPT's mixed-endian. Its own inverse. */
void vc__pack_guid_swap(const uint8_t in[16], uint8_t out[16]);

/* --- copy.c --- */

/* Copies @len bytes from @src at @src_off to @dst at @dst_off, keeping holes when both
 * are regular files, and gives their SHA-256. @dst_off < 0: @dst is written sequentially
 * (a pipe). @stop, if not NULL, is polled between chunks (returns -ECANCELED when set).
 * -ENODATA if @src ends before @len bytes. */
int vc__pack_copy(int src, uint64_t src_off, int dst, int64_t dst_off, uint64_t len,
		  uint8_t sha256[32], const atomic_bool *stop);

/* Reads @src to its end and writes it to @dst at @dst_off; at most @max bytes (-ENOSPC
 * beyond). Gives the length and SHA-256. */
int vc__pack_copy_stream(int src, int dst, uint64_t dst_off, uint64_t max, uint64_t *len,
			 uint8_t sha256[32]); /* -EFBIG: more than @max bytes */

/* A read-only descriptor of the same file with its own file offset (reopened through
 * /proc/self/fd), so that seeking for holes never moves the caller's offset. */
int vc__pack_private_fd(int fd);

/* Writes all of @buf at @off, retrying short writes and EINTR. */
int vc__pack_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* Reads all of @len bytes at @off; -ENODATA at end of file. */
int vc__pack_pread_all(int fd, void *buf, size_t len, uint64_t off);

/* --- verify.c --- */

/* Checks everything of open disk @p that is not image data (the whole front and back
 * against the rendered index, zeros in every gap and padding): 0, or -EBADMSG (logged;
 * @bad_index gets the image whose padding or preceding gap is wrong) or -errno. */
struct vc_pack;
int vc__pack_verify_layout(struct vc_pack *p, unsigned *bad_index);

/* --- tempfile.c --- */

#include "../util/output.h"

/* vc__output_begin() for a disk or an extracted image at @path (relative to @dirfd), with
 * @mode (umask applies); errors reported. -EINVAL / -EISDIR when @path leads to something
 * other than a regular file or nothing (a device node, FIFO, socket, directory). */
int vc__pack_output_begin(struct vc__output *o, int dirfd, const char *path, unsigned mode);

/* --- reader.c --- */

struct vc_pack {
	int fd;
	uint64_t disk_size;
	struct vc__pack_meta meta;
};

#endif /* VC_PACK_INTERNAL_H */
