/* SPDX-License-Identifier: MIT */
/**
 * @file rewrite.h
 * rewrite: finds the virtualization-sensitive instructions of an x86-64 ELF relocatable
 * object (`.o`, `.ko`), tables them, and writes a copy where each one is replaced by a
 * trap the VMM handles: `int3`, then `nop` up to the instruction's length (bytes that a
 * relocation fills at load time are left for it). The table goes into the copy as the
 * section `.vc.sensitive` (<virtcore/rewrite_format.h>); `vc_rewrite_restore()` gives
 * back the original object byte for byte.
 *
 * Each site also says whether it may be promoted: a loader that counts traps may replace
 * a hot site by a `jmp` to a stub that does the work in place (the `promote` and
 * `displaced` fields; in the table, VC_REWRITE_SITE_PROMOTABLE and
 * VC_REWRITE_SITE_DISPLACED()).
 *
 * Every executable section is decoded linearly (Zydis), restarting at each symbol that
 * starts inside it (as objdump does). Sites that a relocation reaches into, or that
 * `__ex_table` / `__jump_table` name, are reported with flags: the VMM must apply the
 * fixup (ex_table) or may find the bytes rewritten by the kernel (jump labels).
 *
 * The VMM side: the trap reaches the guest kernel as #BP with RIP one past the `int3`;
 * the site is the one whose section and offset hold RIP - 1 (vc_rewrite_abi_find()); the
 * VMM emulates the original instruction and resumes at the site's end.
 *
 * Thread safety: a module handle may be read from any number of threads.
 */
#ifndef VIRTCORE_REWRITE_H
#define VIRTCORE_REWRITE_H

#include <stddef.h>
#include <stdint.h>

#include <virtcore/common.h>
#include <virtcore/rewrite_format.h>

VC_BEGIN_DECLS

/** Opaque: a scanned module. */
typedef struct vc_rewrite vc_rewrite;

/** Whether a loader may replace a hot site by a 5-byte `jmp` to a stub that does the
 *  same work without a trap, and if not, why (docs/rewrite.md, "Promotion"). */
enum vc_rewrite_promote {
	VC_REWRITE_PROMOTE_YES = 0,   /**< it may: the site and the `displaced` bytes after
				       *   it are entered only at the site's first byte */
	VC_REWRITE_PROMOTE_TARGET,    /**< a symbol, direct branch or relocation points at
				       *   a byte the jump would cover, other than the first */
	VC_REWRITE_PROMOTE_TABLE,     /**< __ex_table or __jump_table names the site */
	VC_REWRITE_PROMOTE_UNMOVABLE, /**< an instruction the jump would displace cannot run
				       *   elsewhere: relative (branch, call, RIP-relative
				       *   operand), an interrupt or a system instruction (a
				       *   site among them is fine: the stub does its work) */
	VC_REWRITE_PROMOTE_END,       /**< the code ends (section end, undecodable bytes)
				       *   before 5 bytes */
};

/** One sensitive instruction. */
struct vc_rewrite_site {
	uint32_t section;      /**< ELF section index */
	const char *section_name; /**< its name (valid while the module is open) */
	uint64_t offset;       /**< in the section */
	unsigned length;       /**< 1..15 */
	enum vc_rewrite_class cls;
	unsigned flags;        /**< VC_REWRITE_SITE_* */
	unsigned reloc_mask;   /**< bit k set: byte k is filled by a relocation when the
				*   object is loaded (left as is in the rewritten object, so the
				*   loaded module holds the relocated value there) */
	const char *mnemonic;  /**< as objdump spells it ("insl", "iretq", "mov"), static */
	uint8_t bytes[15];     /**< the instruction */
	enum vc_rewrite_promote promote; /**< may it become a jump once hot */
	unsigned displaced;    /**< when it may: bytes after the site the jump borrows (the
				*   stub runs them before jumping back; 0 when the site has 5
				*   bytes or more) */
};

/**
 * @brief Reads an ELF object from @p data (copied) and scans it.
 * @return 0; -ENOEXEC not an ELF object (or compressed: .xz, .gz, .zst are named in the
 *         log); -EPROTONOSUPPORT an ELF object of another kind (32-bit, big-endian, not
 *         x86-64, not relocatable, extended section numbering); -EBADMSG malformed
 *         (truncated, a section or table outside the file, bad sizes); -EINVAL NULL
 *         arguments; -ENOMEM. The log
 *         callback gets the detail ("rewrite: section 7 (.text) ends past the file").
 */
VC_API int vc_rewrite_load(vc_rewrite **out, const void *data, size_t size);

/** Largest object file vc_rewrite_load_path() reads (1 GiB: Debian's largest kernel
 *  module is ~1% of it; a relocatable object with full debug information fits). */
#define VC_REWRITE_MAX_FILE (1ull << 30)

/** @brief vc_rewrite_load() on a file's contents, read into memory the handle owns (a file
 *  changed or truncated afterwards does not affect it).
 *  @return as vc_rewrite_load(); -EISDIR a directory; -EINVAL not a regular file (a FIFO,
 *          device or socket: refused without waiting for a FIFO's writer); -EFBIG larger
 *          than VC_REWRITE_MAX_FILE; -EIO the file shrank while it was read; -errno when
 *          the file cannot be read. The log callback names the file and the reason. */
VC_API int vc_rewrite_load_path(vc_rewrite **out, const char *path);

/** @brief Frees a module. NULL is accepted. */
VC_API void vc_rewrite_destroy(vc_rewrite *m);

/** @brief How many sites were found. */
VC_API size_t vc_rewrite_count(const vc_rewrite *m);

/** @brief Site @p i (sorted by section, then offset). 0, or -ENOENT past the end. */
VC_API int vc_rewrite_get(struct vc_rewrite_site *out, const vc_rewrite *m, size_t i);

/**
 * @brief The site covering byte @p offset of section @p section, O(log n).
 * @return its index, or -ENOENT.
 */
VC_API long vc_rewrite_find(const vc_rewrite *m, uint32_t section, uint64_t offset);

/** @brief Whether the object already carries a `.vc.sensitive` table (was rewritten).
 *  @return 1 or 0. */
VC_API int vc_rewrite_is_patched(const vc_rewrite *m);

/**
 * @brief Writes the rewritten object into @p buf: every site trapped, the table appended
 *        as `.vc.sensitive`, every other byte, relocation and symbol as they were.
 *
 * Call it with @p buf NULL to learn the size (the same checks run), then with a buffer
 * of that size. The caller owns the buffer; the library allocates nothing it keeps.
 *
 * @param buf NULL to ask for the size
 * @param len size of @p buf
 * @return the rewritten object's size in bytes; -EEXIST already rewritten; -ENOTSUP a
 *         relocation covers a site's first byte (where the trap goes; named in the
 *         detail); -ENOSPC @p len is too small (nothing written).
 */
VC_API long vc_rewrite_patch(const vc_rewrite *m, void *buf, size_t len);

/**
 * @brief Writes into @p buf the object a rewritten object @p data was made from, byte
 *        for byte. Call it with @p buf NULL to learn the size (the same checks run); it
 *        is never more than @p size, so a buffer of @p size bytes always suffices.
 * @param buf NULL to ask for the size; may be @p data itself (restored in place)
 * @param len size of @p buf
 * @return the restored object's size in bytes; -ENOENT no `.vc.sensitive` table;
 *         -EBADMSG the table is malformed, or a site no longer holds its trap (the file
 *         was changed after rewriting); the errors of vc_rewrite_load(); -ENOSPC @p len
 *         is too small (nothing written); -ENOMEM.
 */
VC_API long vc_rewrite_restore(const void *data, size_t size, void *buf, size_t len);

/** @brief The class's name as the JSON output spells it ("io", "control-register"...);
 *  "unknown" outside the enum. */
VC_API const char *vc_rewrite_class_name(enum vc_rewrite_class cls);

/** @brief The verdict's name as the JSON output spells it ("yes", "branch-target",
 *  "table", "unmovable", "code-end"); "unknown" outside the enum. */
VC_API const char *vc_rewrite_promote_name(enum vc_rewrite_promote p);

VC_END_DECLS

#endif /* VIRTCORE_REWRITE_H */
