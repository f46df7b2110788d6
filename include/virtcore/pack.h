/* SPDX-License-Identifier: MIT */
/*
 * pack: many images in one fixed-size disk, with a fixed-size index at the front that is
 * also a valid GPT (format: <virtcore/pack_format.h>, docs/pack-format.md). A host packs
 * the images once; a guest sees each image as a named partition
 * (/dev/disk/by-partlabel/NAME), and any program with this library extracts them by name,
 * with exact byte sizes and SHA-256 digests checked.
 *
 * Writing: vc_pack_writer_open(), vc_pack_writer_add_path() / vc_pack_writer_add_fd() per image,
 * vc_pack_writer_commit(). Reading: vc_pack_open(), vc_pack_count() / vc_pack_get() /
 * vc_pack_find(), vc_pack_extract_*(), vc_pack_verify(), vc_pack_close().
 *
 * Data never passes through memory as a whole: images are copied in chunks with
 * copy_file_range() (read/write where the kernel cannot), holes are kept (the disk and
 * extracted images stay sparse), and the SHA-256 is computed during the copy.
 *
 * Errors: the functions return a negative errno code; detail (which field, which image)
 * goes to the log callback (vc_set_log_fn()) at VC_LOG_ERROR.
 */
#ifndef VIRTCORE_PACK_H
#define VIRTCORE_PACK_H

#include <stdint.h>

#include <virtcore/common.h>
#include <virtcore/pack_format.h>

VC_BEGIN_DECLS

/** A disk being written (not thread-safe: one thread adds, commits and closes). */
typedef struct vc_pack_writer vc_pack_writer;
/** An open, validated packed disk (read-only). */
typedef struct vc_pack vc_pack;

/** vc_pack_writer_open() flags. */
enum vc_pack_create_flags {
	/** fsync() the disk before it gets its name, so a crash leaves the old file or the
	 *  whole new one. Without it the disk is complete but may still be in the page cache. */
	VC_PACK_CREATE_SYNC = 1u << 0,
	/** Copy with one thread. By default up to one image per online CPU (at most 4) is
	 *  copied and hashed at a time, in the background of the vc_pack_add_*() calls. */
	VC_PACK_CREATE_SERIAL = 1u << 1,
};

/** Options for vc_pack_writer_open(); declare with VC_OPTS(vc_pack_create_opts, o, ...). */
struct vc_pack_create_opts {
	size_t sz;          /**< sizeof(struct vc_pack_create_opts) */
	uint64_t disk_size; /**< bytes, a multiple of 512; 0 = the smallest disk that fits */
	uint32_t align;     /**< image alignment: VC_PACK_ALIGN_4K (0 = default) or _1M */
	uint32_t flags;     /**< enum vc_pack_create_flags */
	uint32_t mode;      /**< permission bits of the new disk; 0 = 0644 (before umask) */
	uint32_t pad;       /**< reserved, zero (no tail padding: every byte is a field) */
};

/**
 * @brief Starts a new packed disk at @p path.
 *
 * Everything is written to a temporary file in the directory of @p path (`.vcpack-XXXXXXXX.tmp`), which gets
 * the name @p path only in vc_pack_writer_commit(): a failure or vc_pack_writer_close() leaves no
 * half-written disk, and an existing file at @p path stays as it was until then.
 *
 * @param out receives the writer; close it with vc_pack_writer_close()
 * @param path the disk to create (replaced by vc_pack_writer_commit() if it exists)
 * @param opts NULL for defaults
 * @return 0; -EINVAL bad options (size not a multiple of 512, unknown alignment or flag);
 *         -ENOSPC @c disk_size below the smallest packed disk (1 MiB + 33,280 bytes);
 *         -E2BIG options this library does not know; -EISDIR / -EINVAL @p path is (or
 *         its symlinks lead to) a directory / a device node, FIFO or socket, which is
 *         never replaced (a symlink is followed: the file it names gets the disk); other
 *         -errno from creating the temporary file.
 */
VC_API int vc_pack_writer_open(vc_pack_writer **out, const char *path,
			  const struct vc_pack_create_opts *opts);

/**
 * @brief Adds the file at @p path as the next image.
 *
 * @param w the writer
 * @param name the image's name, or NULL for the base name of @p path. Valid UTF-8 of 1 to
 *        255 bytes, without '/', control characters, or the names "." and ".."
 * @param path a file to read (regular files are copied with holes kept; anything else,
 *        a pipe say, is read to its end)
 * @return 0; -EEXIST the name is taken; -EILSEQ the name is not valid UTF-8 or has a
 *         character names may not have; -ENAMETOOLONG name over 255 bytes; -E2BIG
 *         already VC_PACK_MAX_IMAGES images; -ENOSPC the image does not fit in the fixed
 *         disk size, or the filesystem holding the disk is full (the detail says which;
 *         -EDQUOT: over quota);
 *         -errno from opening or reading the file. After an error the writer
 *         can go on (the image is not added) unless the error came from writing the disk,
 *         in which case vc_pack_writer_commit() returns it.
 */
VC_API int vc_pack_writer_add_path(vc_pack_writer *w, const char *name, const char *path);

/**
 * @brief Adds the contents of @p fd as the next image.
 *
 * A regular file is copied from offset 0 to its size at the time of the call (the file
 * must not change until vc_pack_writer_commit()); anything else is read from its current position
 * to end of file before this returns. The writer keeps its own descriptor of a regular
 * file (reopened, so the caller's file offset never moves).
 *
 * @param w the writer
 * @param name the image's name (required; rules as in vc_pack_writer_add_path())
 * @param fd an open readable file descriptor
 * @return as vc_pack_writer_add_path(); -EBADF @p fd is not open for reading.
 */
VC_API int vc_pack_writer_add_fd(vc_pack_writer *w, const char *name, int fd);

/**
 * @brief Waits for the copies, writes the index (GPT + ours) and the backup GPT, and
 *        gives the disk its name.
 *
 * Whatever the result, the writer then takes nothing more (adds and a second commit are
 * -EINVAL) and still has to be closed with vc_pack_writer_close().
 *
 * @return 0; -ENOSPC the images do not fit in the fixed disk size; -EIO (or another
 *         -errno) a copy or write failed, or an image changed size while being packed. On
 *         failure the temporary file is removed and @c path is untouched.
 */
VC_API int vc_pack_writer_commit(vc_pack_writer *w);

/**
 * @brief Frees the writer. Before vc_pack_writer_commit() this abandons the disk (the
 *        temporary file is removed, @c path untouched). NULL is a no-op.
 */
VC_API void vc_pack_writer_close(vc_pack_writer *w);

/** One image of an open disk, as vc_pack_get() reports it. */
struct vc_pack_image {
	char name[VC_PACK_NAME_MAX + 1]; /**< NUL-terminated UTF-8 */
	uint64_t offset;                 /**< bytes from the start of the disk */
	uint64_t size;                   /**< exact size in bytes */
	uint8_t sha256[32];              /**< digest of the image, from the index */
	uint8_t uuid[16];                /**< RFC 4122 byte order (uuid_unparse() ready) */
	uint32_t index;                  /**< position; GPT partition number is index + 1 */
};

/** A whole disk's description, from vc_pack_info(). */
struct vc_pack_info {
	uint64_t disk_size;  /**< bytes */
	uint64_t data_start; /**< VC_PACK_INDEX_SIZE */
	uint64_t data_end;   /**< first byte of the backup GPT area */
	uint64_t used;       /**< bytes of images (sum of sizes) */
	uint32_t align;      /**< image alignment */
	uint32_t count;      /**< images */
	uint8_t disk_uuid[16]; /**< RFC 4122 byte order; also the GPT disk GUID */
};

/**
 * @brief Opens a packed disk read-only and validates all of its metadata.
 *
 * Checked: the protective MBR; the primary and backup GPT headers and arrays (signatures,
 * CRCs, positions, the two copies identical); our header and entries (magic, version,
 * CRCs, disk size equal to the file size); every image inside the data area, aligned, in
 * order and not overlapping; names valid, unique, safe as file names; each GPT entry
 * consistent with ours (GUIDs, sectors, name). Digests are checked by vc_pack_verify()
 * and by every extraction, since they need the data read.
 *
 * @param out receives the open disk; close it with vc_pack_close()
 * @param path the disk
 * @return 0; -EBADMSG the disk is not a valid packed disk (detail in the log); -EISDIR /
 *         -EINVAL @p path is a directory / a FIFO, socket or character device (refused
 *         without waiting for a FIFO's writer); -ENOMEM; -errno from open() or reading.
 */
VC_API int vc_pack_open(vc_pack **out, const char *path);

/**
 * @brief As vc_pack_open() on an open file descriptor (a regular file or a block device).
 *        The disk reopens it for itself: the caller keeps @p fd, whose file offset never
 *        moves.
 * @return as vc_pack_open(); -EBADF @p fd is not open for reading.
 */
VC_API int vc_pack_open_fd(vc_pack **out, int fd);

/** @brief Closes the disk. NULL is a no-op. */
VC_API void vc_pack_close(vc_pack *p);

/** @brief Describes the disk into @p out. @return 0; -EINVAL a NULL argument. */
VC_API int vc_pack_info(struct vc_pack_info *out, const vc_pack *p);

/** @brief The number of images. Thread-safe (the disk is read-only). */
VC_API unsigned vc_pack_count(const vc_pack *p);

/**
 * @brief Describes image @p index (in disk order) into @p out.
 * @return 0; -ENOENT @p index >= vc_pack_count(); -EINVAL a NULL argument.
 */
VC_API int vc_pack_get(struct vc_pack_image *out, const vc_pack *p, unsigned index);

/**
 * @brief Finds an image by its exact name (bytewise, case-sensitive).
 * @param out receives the image's description; may be NULL
 * @return the image's index; -ENOENT no image has that name.
 */
VC_API int vc_pack_find(struct vc_pack_image *out, const vc_pack *p, const char *name);

/**
 * @brief Writes image @p index to @p fd (a regular file: from offset 0, truncated to the
 *        image's size; anything else, a pipe say: from its current position), checking the
 *        digest.
 *
 * Costs time proportional to that image only. Holes of the disk stay holes when @p fd is
 * a regular file. Extractions (and vc_pack_verify()) may run concurrently on one disk
 * from several threads: they only pread() it.
 *
 * @return 0; -EBADMSG the data does not match the digest in the index (what was written
 *         is not the image); -ENOENT no such image; -errno from writing.
 */
VC_API int vc_pack_extract_fd(vc_pack *p, unsigned index, int fd);

/**
 * @brief Writes image @p index to the file @p path, through a new file renamed at the
 *        end: on any failure (digest mismatch included) @p path is left untouched. The new
 *        file is unnamed (O_TMPFILE) until then where the filesystem allows, so a process
 *        killed meanwhile leaves nothing; elsewhere a hidden ".vcpack-XXXXXXXX.tmp" beside
 *        @p path is removed on every failure.
 * @param mode permission bits for a new file; 0 = 0644 (before umask)
 * @return as vc_pack_extract_fd(); -EISDIR / -EINVAL as vc_pack_writer_open() for a
 *         @p path that is not a regular file or nothing (symlinks are followed); -EINVAL
 *         an empty @p path.
 */
VC_API int vc_pack_extract_path(vc_pack *p, unsigned index, const char *path,
				unsigned mode);

/**
 * @brief As vc_pack_extract_path() with a relative @p path taken relative to the open
 *        directory @p dirfd (AT_FDCWD: the working directory), as openat() does: a caller
 *        extracting into a directory it opened once never builds "DIR/NAME" strings.
 * @return as vc_pack_extract_path().
 */
VC_API int vc_pack_extract_at(vc_pack *p, unsigned index, int dirfd, const char *path,
			      unsigned mode);

/**
 * @brief Extracts every image as DIR/NAME (as vc_pack_extract_path() each), several at a
 *        time (one per CPU, at most 4).
 *
 * Stops at the first failure; images already written stay (each is complete and checked),
 * the failed one leaves no file.
 *
 * @param dir an existing directory, opened once: every image is written relative to it
 *        (vc_pack_extract_at()); "" is refused (an unset shell variable is not "/")
 * @param mode as vc_pack_extract_path()
 * @return 0; the first error of vc_pack_extract_path(); -errno opening @p dir; -EINVAL a
 *         NULL argument or an empty @p dir.
 */
VC_API int vc_pack_extract_all(vc_pack *p, const char *dir, unsigned mode);

/**
 * @brief Checks the whole disk: every image against its digest, and every other byte
 *        against what the index renders to (the protective MBR whole, so a hybrid MBR is
 *        refused; the GPT header sectors' reserved bytes; the index region's gaps) or
 *        zero (each image's padding up to its span, which a guest reading the partition
 *        sees, and any space between images). vc_pack_open() checked the structures.
 * @param out_bad if not NULL, receives the image that failed, digest or padding
 *        (unchanged when none did, or when the failure is not an image's)
 * @return 0 all of it is right; -EBADMSG something is not (the byte and what it belongs
 *         to in the log); -errno from reading.
 */
VC_API int vc_pack_verify(unsigned *out_bad, vc_pack *p);

/**
 * @brief Formats a digest as 64 lowercase hex digits.
 * @param out at least 65 bytes
 */
VC_API void vc_pack_hex(char out[65], const uint8_t sha256[32]);

VC_END_DECLS

#endif /* VIRTCORE_PACK_H */
