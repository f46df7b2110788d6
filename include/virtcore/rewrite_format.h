/* SPDX-License-Identifier: MIT */
/**
 * @file rewrite_format.h
 * The sensitive-instruction table that `vc_rewrite_patch()` adds to an x86-64 ELF
 * relocatable object as the section `.vc.sensitive` (docs/rewrite-format.md).
 *
 * Freestanding (no libc, no allocation): a VMM, or a guest loader, reads the table from
 * the rewritten object to find the site behind a trapping address, with the original
 * bytes and length at hand. All fields little-endian.
 *
 * Layout: a 64-byte header, then `count` 32-byte entries sorted by (section, offset), so
 * a site is found by binary search (vc_rewrite_abi_find()).
 */
#ifndef VIRTCORE_REWRITE_FORMAT_H
#define VIRTCORE_REWRITE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define VC_REWRITE_SECTION ".vc.sensitive"
#define VC_REWRITE_MAGIC "VCSENSI"       /* 8 bytes with the NUL */
#define VC_REWRITE_VERSION 1u
#define VC_REWRITE_TRAP 0xccu             /* int3: each site starts with it */
#define VC_REWRITE_PAD 0x90u              /* nop: the rest of a site, unless relocated */

/** Classes of sensitive instructions (docs/rewrite.md lists every opcode). */
enum vc_rewrite_class {
	VC_REWRITE_INTERRUPT_FLAG = 1, /**< cli, sti */
	VC_REWRITE_FLAGS,              /**< pushf, popf (IF and IOPL) */
	VC_REWRITE_HALT,               /**< hlt */
	VC_REWRITE_IO,                 /**< in, out, ins, outs: every form and prefix */
	VC_REWRITE_MSR,                /**< rdmsr, wrmsr */
	VC_REWRITE_CONTROL_REG,        /**< mov to/from CR0..CR15 */
	VC_REWRITE_DEBUG_REG,          /**< mov to/from DR0..DR7 */
	VC_REWRITE_DESCRIPTOR_TABLE,   /**< lgdt, sgdt, lidt, sidt, lldt, sldt, ltr, str */
	VC_REWRITE_MACHINE_STATUS,     /**< smsw, lmsw, clts (CR0 through the back door) */
	VC_REWRITE_TLB,                /**< invlpg, invpcid */
	VC_REWRITE_CACHE,              /**< wbinvd, invd */
	VC_REWRITE_CPUID,              /**< cpuid */
	VC_REWRITE_TIMESTAMP,          /**< rdtsc, rdtscp */
	VC_REWRITE_PERF_COUNTER,       /**< rdpmc */
	VC_REWRITE_SWAPGS,             /**< swapgs */
	VC_REWRITE_SYSTEM_RETURN,      /**< sysret, sysexit, iret */
	VC_REWRITE_XCR,                /**< xsetbv */
	VC_REWRITE_SEGMENT_CHECK,      /**< lar, lsl, verr, verw */
	VC_REWRITE_SEGMENT_REG,        /**< push/pop %fs/%gs, mov to/from a segment register */
	VC_REWRITE_CLASS_COUNT
};

/** Site flags: what else refers to a site's bytes. */
#define VC_REWRITE_SITE_RELOC (1u << 0)      /**< a relocation patches bytes inside it */
#define VC_REWRITE_SITE_EX_TABLE (1u << 1)   /**< __ex_table names it (a fixup on fault) */
#define VC_REWRITE_SITE_JUMP_TABLE (1u << 2) /**< __jump_table names it (a static key) */
/** A loader may replace the site's first 5 bytes by `jmp rel32` to a stub that does the
 *  work of the site, then the work of the VC_REWRITE_SITE_DISPLACED() bytes that followed
 *  it (no symbol, branch, relocation or table enters them; none is relative or a branch;
 *  sites among them are emulated in turn, the rest run as they are) and jumps back to the
 *  end of those bytes. Objects rewritten before this flag existed
 *  never carry it: their sites stay traps. */
#define VC_REWRITE_SITE_PROMOTABLE (1u << 3)
/** Bytes after a promotable site that its jump covers (bits 8-12 of the flags, 0-18). */
#define VC_REWRITE_SITE_DISPLACED(flags) (((unsigned)(flags) >> 8) & 0x1fu)
#define VC_REWRITE_SITE_DISPLACED_SHIFT 8

/** The table's header. */
struct vc_rewrite_abi_header {
	char magic[8];           /**< VC_REWRITE_MAGIC */
	uint32_t version;        /**< VC_REWRITE_VERSION */
	uint32_t header_size;    /**< 64 */
	uint32_t entry_size;     /**< 32 */
	uint32_t count;          /**< entries that follow */
	uint64_t orig_size;      /**< the object's size before it was rewritten */
	uint64_t orig_shoff;     /**< its e_shoff (its section headers are still there) */
	uint16_t orig_shnum;     /**< its e_shnum */
	uint16_t orig_shstrndx;  /**< its e_shstrndx */
	uint32_t reserved0;
	uint8_t reserved[16];    /**< zero */
};

/** One site. */
struct vc_rewrite_abi_entry {
	uint64_t offset;      /**< of the instruction in its section */
	uint32_t section;     /**< ELF section index */
	uint8_t length;       /**< 1..15 bytes */
	uint8_t cls;          /**< enum vc_rewrite_class */
	uint16_t flags;       /**< VC_REWRITE_SITE_* */
	uint8_t original[16]; /**< the instruction's bytes (length of them; the rest zero) */
};

#ifdef __cplusplus
#define VC_REWRITE_ASSERT static_assert
#else
#define VC_REWRITE_ASSERT _Static_assert
#endif
VC_REWRITE_ASSERT(sizeof(struct vc_rewrite_abi_header) == 64, "header layout");
VC_REWRITE_ASSERT(sizeof(struct vc_rewrite_abi_entry) == 32, "entry layout");

/**
 * @brief The entry of the site at (@p section, @p offset) in @p n sorted entries: the
 *        trap at a site's first byte, or any byte inside it. NULL when there is none.
 *        O(log n).
 */
static inline const struct vc_rewrite_abi_entry *
vc_rewrite_abi_find(const struct vc_rewrite_abi_entry *e, uint32_t n, uint32_t section,
		    uint64_t offset)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (e[mid].section < section ||
		    (e[mid].section == section && e[mid].offset + e[mid].length <= offset))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n && e[lo].section == section && e[lo].offset <= offset)
		return &e[lo];
	return NULL;
}

#endif /* VIRTCORE_REWRITE_FORMAT_H */
