// SPDX-License-Identifier: MIT
// A fast length decoder for the x86-64 instructions compilers emit most (the one-byte
// map and the common part of 0F), none of which can be sensitive. It answers "this many
// bytes, not sensitive" or 0: "ask Zydis". Every sensitive candidate, every VEX/EVEX/XOP
// or three-byte-map encoding, 3DNow!, every opcode invalid in 64-bit mode and anything
// unusual goes to Zydis, so the sweep stays exact while most bytes skip the full decoder.
// tests/test_rewrite.c checks its lengths against Zydis on every instruction of real
// code and on random bytes.
#include <stdint.h>

#include "rewrite-internal.h"

/* Per opcode: how it continues. */
enum {
	SLOW = 0,     /* Zydis decides (candidates, invalid in 64-bit, VEX/EVEX, rare) */
	NONE = 1,     /* no ModRM, no immediate */
	M = 2,        /* ModRM */
	I8 = 4,       /* an 8-bit immediate (or rel8) */
	IZ = 8,       /* a 16/32-bit immediate by operand size (rel32 for jumps) */
	MI8 = M | I8,
	MIZ = M | IZ,
	GRP3 = 16,    /* F6/F7: ModRM, and an immediate only for /0 and /1 */
	MOVI = 32,    /* B8-BF: imm16/32/64 by operand size and REX.W */
	MOFFS = 64,   /* A0-A3: an 8-byte address (4 with 67) */
	I16 = 128,    /* C2, CA: imm16 */
	ENTER = 256,  /* C8: imm16 + imm8 */
	REL32 = 512,  /* E8, E9, 0F 80-8F: rel32 (66 changes it: Zydis then) */
	/* ModRM forms that are invalid for some encodings: checked, else Zydis decides */
	MEM = 1024,   /* only with a memory operand (mod != 3): lea */
	REG01 = 2048, /* only /0 and /1: FE */
	REG0 = 4096,  /* only /0: C6, C7 (the rest is xabort/xbegin or invalid) */
	REGFF = 8192, /* FF: not /7; /3 and /5 (far) only with memory */
	REG47 = 16384, /* only /4../7: 0F BA */
};

/* The one-byte map in 64-bit mode. SLOW for the sensitive candidates (6C-6F, 8C, 8E,
 * 9C, 9D, CF, E4-E7, EC-EF, F4, FA, FB), the 0F escape, opcodes invalid in 64-bit mode,
 * VEX/EVEX/XOP escapes (C4, C5, 62, 8F) and prefixes (handled before the table). */
static const uint16_t one_byte[256] = {
	/* 00 */ M, M, M, M, I8, IZ, SLOW, SLOW, M, M, M, M, I8, IZ, SLOW, SLOW,
	/* 10 */ M, M, M, M, I8, IZ, SLOW, SLOW, M, M, M, M, I8, IZ, SLOW, SLOW,
	/* 20 */ M, M, M, M, I8, IZ, SLOW, SLOW, M, M, M, M, I8, IZ, SLOW, SLOW,
	/* 30 */ M, M, M, M, I8, IZ, SLOW, SLOW, M, M, M, M, I8, IZ, SLOW, SLOW,
	/* 40 */ SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW,
	/* 50 */ NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE,
	/* 60 */ SLOW, SLOW, SLOW, M, SLOW, SLOW, SLOW, SLOW, IZ, MIZ, I8, MI8, SLOW, SLOW, SLOW, SLOW,
	/* 70 */ I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8,
	/* 80 */ MI8, MIZ, SLOW, MI8, M, M, M, M, M, M, M, M, SLOW, M | MEM, SLOW, SLOW,
	/* 90 */ NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, SLOW, NONE, SLOW, SLOW, NONE, NONE,
	/* A0 */ MOFFS, MOFFS, MOFFS, MOFFS, NONE, NONE, NONE, NONE, I8, IZ, NONE, NONE, NONE, NONE, NONE, NONE,
	/* B0 */ I8, I8, I8, I8, I8, I8, I8, I8, MOVI, MOVI, MOVI, MOVI, MOVI, MOVI, MOVI, MOVI,
	/* C0 */ MI8, MI8, I16, NONE, SLOW, SLOW, MI8 | REG0, MIZ | REG0, ENTER, NONE, I16, NONE, NONE, I8, SLOW, SLOW,
	/* D0 */ M, M, M, M, SLOW, SLOW, SLOW, NONE, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW,
	/* E0 */ I8, I8, I8, I8, SLOW, SLOW, SLOW, SLOW, REL32, REL32, SLOW, I8, SLOW, SLOW, SLOW, SLOW,
	/* F0 */ SLOW, NONE, SLOW, SLOW, SLOW, NONE, GRP3, GRP3, NONE, NONE, SLOW, SLOW, NONE, NONE, M | REG01, M | REGFF,
};

/* The general-purpose 0F opcodes, whose validity depends on no mandatory prefix: syscall,
 * ud2, nopl (0F 1F /0), cmov, jcc, setcc, bit ops, shld/shrd, imul, cmpxchg, movzx/movsx,
 * bsf/bsr, xadd, bswap. SLOW for the rest: the candidates (00-09, 20-23, 30-35, A0-A2,
 * A8, A9), SSE/MMX (valid only with some prefixes or ModRM forms), the 38/3A maps,
 * 3DNow!, and forms that need a memory operand (lss/lfs/lgs, movnti, prefetch). */
static const uint16_t two_byte[256] = {
	/* 00 */ SLOW, SLOW, SLOW, SLOW, SLOW, NONE, SLOW, SLOW, SLOW, SLOW, SLOW, NONE, SLOW, SLOW, SLOW, SLOW,
	/* 10 */ SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, M | REG0,
	/* 20 */ SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW,
	/* 30 */ SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW,
	/* 40 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 50 */ SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW,
	/* 60 */ SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW,
	/* 70 */ SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW,
	/* 80 */ REL32, REL32, REL32, REL32, REL32, REL32, REL32, REL32, REL32, REL32, REL32, REL32, REL32, REL32, REL32, REL32,
	/* 90 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* A0 */ SLOW, SLOW, SLOW, M, MI8, M, SLOW, SLOW, SLOW, SLOW, SLOW, M, MI8, M, SLOW, M,
	/* B0 */ M, M, SLOW, M, SLOW, SLOW, M, M, SLOW, SLOW, MI8 | REG47, M, M, M, M, M,
	/* C0 */ M, M, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE,
	/* D0 */ SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW,
	/* E0 */ SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW,
	/* F0 */ SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW, SLOW,
};

/* Bytes of ModRM, SIB and displacement at @p (64-bit mode: 67 only narrows the
 * registers, the encoding is the same). 0 if they run past @avail. */
static unsigned modrm_len(const uint8_t *p, size_t avail)
{
	if (!avail)
		return 0;
	const unsigned mod = p[0] >> 6, rm = p[0] & 7;
	unsigned n = 1;
	if (mod == 3)
		return 1;
	if (rm == 4) {
		if (avail < 2)
			return 0;
		n = 2;
		if (mod == 0 && (p[1] & 7) == 5)
			n += 4; /* SIB with no base: disp32 */
	} else if (mod == 0 && rm == 5) {
		n += 4; /* RIP-relative */
	}
	n += mod == 1 ? 1 : mod == 2 ? 4 : 0;
	return n <= avail ? n : 0;
}

unsigned vc__rewrite_fast_length(const uint8_t *p, size_t avail)
{
	unsigned i = 0, opsize16 = 0, addr32 = 0, rexw = 0;
	size_t lim = avail < 15 ? avail : 15;

	/* legacy prefixes, then at most one REX right before the opcode */
	for (; i < lim; i++) {
		const uint8_t b = p[i];
		if (b == 0x66)
			opsize16 = 1;
		else if (b == 0x67)
			addr32 = 1;
		else if (b == 0x2e || b == 0x3e || b == 0x26 || b == 0x36 || b == 0x64 ||
			 b == 0x65 || b == 0xf2 || b == 0xf3)
			continue;
		else if (b == 0xf0)
			return 0; /* lock: Zydis knows which opcodes allow it */
		else
			break;
	}
	if (i < lim && (p[i] & 0xf0) == 0x40) {
		rexw = (p[i] >> 3) & 1;
		i++;
	}
	if (i >= lim)
		return 0;
	uint16_t kind;
	if (p[i] == 0x0f) {
		if (++i >= lim)
			return 0;
		kind = two_byte[p[i]];
	} else {
		kind = one_byte[p[i]];
	}
	if (kind == SLOW)
		return 0;
	const uint8_t op = p[i++];
	unsigned n = i;
	if (kind & (M | GRP3)) {
		unsigned m = modrm_len(p + n, lim - n);
		if (!m)
			return 0;
		const unsigned mod = p[n] >> 6, reg = (p[n] >> 3) & 7;
		if (((kind & MEM) && mod == 3) || ((kind & REG01) && reg > 1) ||
		    ((kind & REG0) && reg) || ((kind & REG47) && reg < 4) ||
		    ((kind & REGFF) && (reg == 7 || ((reg == 3 || reg == 5) && mod == 3))))
			return 0;
		if ((kind & GRP3) && reg < 2)
			kind |= op == 0xf6 ? I8 : IZ; /* test r/m, imm */
		n += m;
	}
	if (kind & I8)
		n += 1;
	if (kind & IZ)
		n += opsize16 && !rexw ? 2 : 4; /* REX.W wins over 66 */
	if (kind & I16)
		n += 2;
	if (kind & ENTER)
		n += 3;
	if (kind & MOVI)
		n += rexw ? 8 : opsize16 ? 2 : 4;
	if (kind & MOFFS)
		n += addr32 ? 4 : 8;
	if (kind & REL32) {
		if (opsize16)
			return 0; /* 66 with a near branch: decoders differ; Zydis decides */
		n += 4;
	}
	return n <= lim ? n : 0;
}
