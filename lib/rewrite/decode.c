// SPDX-License-Identifier: MIT
// The x86 decoder (Zydis) and the classifier: which instructions are sensitive, of what
// class, and how objdump spells them. Common instructions that cannot be sensitive are
// measured by length.c alone; the rest are decoded by Zydis in minimal mode (length and
// mnemonic), and the rare candidates again in full for operand size and opcode, which
// tell pushf from pushfw and a mov to CR3 from any other mov.
#include <stdlib.h>

#include <Zydis/Zydis.h>

#include "rewrite-internal.h"

struct rw_decoder {
	ZydisDecoder fast, full;
};

struct rw_decoder *vc__rewrite_decoder_new(void)
{
	struct rw_decoder *d = malloc(sizeof(*d));
	if (!d)
		return NULL;
	if (!ZYAN_SUCCESS(ZydisDecoderInit(&d->fast, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)) ||
	    !ZYAN_SUCCESS(ZydisDecoderEnableMode(&d->fast, ZYDIS_DECODER_MODE_MINIMAL, ZYAN_TRUE)) ||
	    !ZYAN_SUCCESS(ZydisDecoderInit(&d->full, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64))) {
		free(d);
		return NULL;
	}
	return d;
}

void vc__rewrite_decoder_free(struct rw_decoder *d)
{
	free(d);
}

/* Mnemonics that may be sensitive; MOV, PUSH and POP only with some opcodes. */
static int candidate(ZydisMnemonic mn)
{
	switch (mn) {
	case ZYDIS_MNEMONIC_CLI: case ZYDIS_MNEMONIC_STI:
	case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFD: case ZYDIS_MNEMONIC_PUSHFQ:
	case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_POPFD: case ZYDIS_MNEMONIC_POPFQ:
	case ZYDIS_MNEMONIC_HLT:
	case ZYDIS_MNEMONIC_IN: case ZYDIS_MNEMONIC_OUT:
	case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD:
	case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD:
	case ZYDIS_MNEMONIC_RDMSR: case ZYDIS_MNEMONIC_WRMSR:
	case ZYDIS_MNEMONIC_MOV:
	case ZYDIS_MNEMONIC_LGDT: case ZYDIS_MNEMONIC_SGDT: case ZYDIS_MNEMONIC_LIDT:
	case ZYDIS_MNEMONIC_SIDT: case ZYDIS_MNEMONIC_LLDT: case ZYDIS_MNEMONIC_SLDT:
	case ZYDIS_MNEMONIC_LTR: case ZYDIS_MNEMONIC_STR:
	case ZYDIS_MNEMONIC_SMSW: case ZYDIS_MNEMONIC_LMSW: case ZYDIS_MNEMONIC_CLTS:
	case ZYDIS_MNEMONIC_INVLPG: case ZYDIS_MNEMONIC_INVPCID:
	case ZYDIS_MNEMONIC_WBINVD: case ZYDIS_MNEMONIC_INVD:
	case ZYDIS_MNEMONIC_CPUID: case ZYDIS_MNEMONIC_RDTSC: case ZYDIS_MNEMONIC_RDTSCP:
	case ZYDIS_MNEMONIC_RDPMC: case ZYDIS_MNEMONIC_SWAPGS:
	case ZYDIS_MNEMONIC_SYSRET: case ZYDIS_MNEMONIC_SYSEXIT:
	case ZYDIS_MNEMONIC_IRET: case ZYDIS_MNEMONIC_IRETD: case ZYDIS_MNEMONIC_IRETQ:
	case ZYDIS_MNEMONIC_XSETBV:
	case ZYDIS_MNEMONIC_LAR: case ZYDIS_MNEMONIC_LSL: case ZYDIS_MNEMONIC_VERR:
	case ZYDIS_MNEMONIC_VERW:
	case ZYDIS_MNEMONIC_PUSH: case ZYDIS_MNEMONIC_POP:
		return 1;
	default:
		return 0;
	}
}

/* Class and objdump spelling of a fully decoded instruction; 0 if not sensitive. */
static enum vc_rewrite_class classify(const ZydisDecodedInstruction *in, const char **name)
{
	const int w16 = in->operand_width == 16, w64 = in->operand_width == 64;
	const int map0f = in->opcode_map == ZYDIS_OPCODE_MAP_0F;

#define IS(mn, text, cls) \
	case ZYDIS_MNEMONIC_##mn: *name = text; return VC_REWRITE_##cls
	switch (in->mnemonic) {
	IS(CLI, "cli", INTERRUPT_FLAG);
	IS(STI, "sti", INTERRUPT_FLAG);
	case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFD: case ZYDIS_MNEMONIC_PUSHFQ:
		*name = w16 ? "pushfw" : "pushf";
		return VC_REWRITE_FLAGS;
	case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_POPFD: case ZYDIS_MNEMONIC_POPFQ:
		*name = w16 ? "popfw" : "popf";
		return VC_REWRITE_FLAGS;
	IS(HLT, "hlt", HALT);
	IS(IN, "in", IO);
	IS(OUT, "out", IO);
	IS(INSB, "insb", IO);
	IS(INSW, "insw", IO);
	IS(INSD, "insl", IO);
	IS(OUTSB, "outsb", IO);
	IS(OUTSW, "outsw", IO);
	IS(OUTSD, "outsl", IO);
	IS(RDMSR, "rdmsr", MSR);
	IS(WRMSR, "wrmsr", MSR);
	IS(LGDT, "lgdt", DESCRIPTOR_TABLE);
	IS(SGDT, "sgdt", DESCRIPTOR_TABLE);
	IS(LIDT, "lidt", DESCRIPTOR_TABLE);
	IS(SIDT, "sidt", DESCRIPTOR_TABLE);
	IS(LLDT, "lldt", DESCRIPTOR_TABLE);
	IS(SLDT, "sldt", DESCRIPTOR_TABLE);
	IS(LTR, "ltr", DESCRIPTOR_TABLE);
	IS(STR, "str", DESCRIPTOR_TABLE);
	IS(SMSW, "smsw", MACHINE_STATUS);
	IS(LMSW, "lmsw", MACHINE_STATUS);
	IS(CLTS, "clts", MACHINE_STATUS);
	IS(INVLPG, "invlpg", TLB);
	IS(INVPCID, "invpcid", TLB);
	IS(WBINVD, "wbinvd", CACHE);
	IS(INVD, "invd", CACHE);
	IS(CPUID, "cpuid", CPUID);
	IS(RDTSC, "rdtsc", TIMESTAMP);
	IS(RDTSCP, "rdtscp", TIMESTAMP);
	IS(RDPMC, "rdpmc", PERF_COUNTER);
	IS(SWAPGS, "swapgs", SWAPGS);
	IS(IRET, "iretw", SYSTEM_RETURN);
	IS(IRETD, "iret", SYSTEM_RETURN);
	IS(IRETQ, "iretq", SYSTEM_RETURN);
	IS(XSETBV, "xsetbv", XCR);
	IS(LAR, "lar", SEGMENT_CHECK);
	IS(LSL, "lsl", SEGMENT_CHECK);
	IS(VERR, "verr", SEGMENT_CHECK);
	IS(VERW, "verw", SEGMENT_CHECK);
	case ZYDIS_MNEMONIC_SYSRET:
		*name = w64 ? "sysretq" : "sysretl";
		return VC_REWRITE_SYSTEM_RETURN;
	case ZYDIS_MNEMONIC_SYSEXIT:
		*name = w64 ? "sysexitq" : "sysexitl";
		return VC_REWRITE_SYSTEM_RETURN;
	case ZYDIS_MNEMONIC_MOV:
		*name = "mov";
		if (map0f && (in->opcode == 0x20 || in->opcode == 0x22))
			return VC_REWRITE_CONTROL_REG;
		if (map0f && (in->opcode == 0x21 || in->opcode == 0x23))
			return VC_REWRITE_DEBUG_REG;
		if (in->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT &&
		    (in->opcode == 0x8c || in->opcode == 0x8e))
			return VC_REWRITE_SEGMENT_REG;
		return 0;
	case ZYDIS_MNEMONIC_PUSH: /* 0f a0 push %fs, 0f a8 push %gs */
		*name = w16 ? "pushw" : "push";
		return map0f && (in->opcode == 0xa0 || in->opcode == 0xa8) ? VC_REWRITE_SEGMENT_REG : 0;
	case ZYDIS_MNEMONIC_POP: /* 0f a1 pop %fs, 0f a9 pop %gs */
		*name = w16 ? "popw" : "pop";
		return map0f && (in->opcode == 0xa1 || in->opcode == 0xa9) ? VC_REWRITE_SEGMENT_REG : 0;
	default:
		return 0;
	}
#undef IS
}

int vc__rewrite_movable(const struct rw_decoder *d, const uint8_t *p, size_t avail,
			unsigned *len)
{
	ZydisDecodedInstruction in;
	if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&d->full, NULL, p, avail, &in))) {
		*len = 0;
		return 0;
	}
	*len = in.length;
	if (in.attributes & ZYDIS_ATTRIB_IS_RELATIVE)
		return 0;
	switch (in.meta.category) {
	case ZYDIS_CATEGORY_CALL: case ZYDIS_CATEGORY_COND_BR: case ZYDIS_CATEGORY_UNCOND_BR:
	case ZYDIS_CATEGORY_INTERRUPT: case ZYDIS_CATEGORY_SYSCALL: case ZYDIS_CATEGORY_SYSTEM:
		return 0;
	default:
		return 1;
	}
}

unsigned vc__rewrite_decode(const struct rw_decoder *d, const uint8_t *p, size_t avail,
			    enum vc_rewrite_class *cls, const char **mnemonic)
{
	ZydisDecodedInstruction in;

	*cls = 0;
	unsigned n = vc__rewrite_fast_length(p, avail);
	if (n)
		return n;
	if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&d->fast, NULL, p, avail, &in)))
		return 0;
	if (!candidate(in.mnemonic))
		return in.length;
	/* Plain MOV, PUSH and POP are everywhere: look at the opcode before decoding more. */
	if ((in.mnemonic == ZYDIS_MNEMONIC_MOV || in.mnemonic == ZYDIS_MNEMONIC_PUSH ||
	     in.mnemonic == ZYDIS_MNEMONIC_POP) &&
	    !(in.opcode_map == ZYDIS_OPCODE_MAP_0F ||
	      (in.mnemonic == ZYDIS_MNEMONIC_MOV && (in.opcode == 0x8c || in.opcode == 0x8e))))
		return in.length;
	ZydisDecodedInstruction full;
	if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&d->full, NULL, p, avail, &full)))
		return in.length;
	*cls = classify(&full, mnemonic);
	return in.length;
}
