/* SPDX-License-Identifier: MIT */
/**
 * @file rewrite_emu.h
 * Emulation of one sensitive instruction of a deprivileged module against a virtual CPU
 * (docs/rewrite.md, "Running a rewritten module"). A module rewritten by
 * vc_rewrite_patch() runs at CPL3; each site traps (int3); its handler finds the site
 * (vc_rewrite_abi_find()), gives this emulator the instruction's bytes and the trapped
 * registers, and resumes after it. The virtual state is what the module believes: its
 * own interrupt flag and IOPL, control registers, descriptor-table registers; MSRs, port
 * I/O, the TSC and CPUID go to the caller's callbacks.
 *
 * Freestanding and header-only (no libc, no allocation) so a guest kernel and a VMM use
 * the same code. Decodes only the sensitive instructions it emulates, from their bytes:
 * legacy prefixes, REX, ModRM/SIB with every addressing form (RIP-relative included).
 * What it does not emulate it says so (VC_REWRITE_EMU_UNSUPPORTED) and changes nothing.
 */
#ifndef VIRTCORE_REWRITE_EMU_H
#define VIRTCORE_REWRITE_EMU_H

#include <stddef.h>
#include <stdint.h>

#include <virtcore/rewrite_format.h>

/** vc_rewrite_emu_step() results. */
#define VC_REWRITE_EMU_OK 0           /**< emulated; rip is past the instruction */
#define VC_REWRITE_EMU_HALT 1         /**< hlt: rip is past it; wait for an interrupt */
#define VC_REWRITE_EMU_FAULT (-1)     /**< the CPU would raise #GP (or a callback refused);
				       *   nothing changed: deliver the fault to the module */
#define VC_REWRITE_EMU_UNSUPPORTED (-2) /**< not an instruction this emulator handles;
					 *   nothing changed */

#define VC_REWRITE_EMU_IF (1ull << 9)     /**< rflags.IF */
#define VC_REWRITE_EMU_IOPL (3ull << 12)  /**< rflags.IOPL */

/** The trapped context and the virtual CPU state a deprivileged module sees. */
struct vc_rewrite_emu_cpu {
	uint64_t gpr[16];  /**< rax rcx rdx rbx rsp rbp rsi rdi r8..r15, as trapped */
	uint64_t rip;      /**< the instruction's address: advanced past it on success */
	uint64_t rflags;   /**< the real flags (arithmetic ones are the module's) */
	uint64_t vflags;   /**< the virtual IF and IOPL (only those bits are used) */
	uint64_t cr0, cr2, cr3, cr4, cr8; /**< virtual control registers */
	uint64_t gdt_base, idt_base;      /**< what sgdt / sidt report */
	uint16_t gdt_limit, idt_limit;
	uint32_t tsc_aux;                 /**< rdtscp's ecx */
};

/** What the emulator cannot decide itself. Every callback is optional: a missing one makes
 *  its instructions VC_REWRITE_EMU_UNSUPPORTED. Nonzero returns mean "fault". */
struct vc_rewrite_emu_ops {
	void *ctx;
	/** The module's memory (a stack for pushf/popf, a memory operand). */
	int (*read)(void *ctx, uint64_t addr, void *buf, unsigned len);
	int (*write)(void *ctx, uint64_t addr, const void *buf, unsigned len);
	int (*rdmsr)(void *ctx, uint32_t msr, uint64_t *value);
	int (*wrmsr)(void *ctx, uint32_t msr, uint64_t value);
	/** Port I/O of @p size bytes (1, 2, 4). */
	int (*in)(void *ctx, uint16_t port, unsigned size, uint32_t *value);
	int (*out)(void *ctx, uint16_t port, unsigned size, uint32_t value);
	uint64_t (*rdtsc)(void *ctx);
	void (*cpuid)(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
};

/* ---- decoding ---- */

/** One decoded instruction (only what the emulated instructions need). */
struct vc__emu_insn {
	unsigned len;      /* prefixes + opcode + ModRM/SIB/disp/imm */
	unsigned opsize;   /* 2, 4 or 8 */
	int addr32;        /* 0x67 */
	int lock;          /* 0xf0 */
	int segment;       /* 0x64 / 0x65 override (fs/gs): memory operands unsupported */
	unsigned rex;      /* 0x40..0x4f, or 0 */
	unsigned op;       /* the opcode byte; two-byte opcodes as 0x0f00 | byte */
	int has_modrm;
	unsigned mod, reg, rm; /* reg and rm with REX.R / REX.B added */
	int64_t disp;
	int rip_relative;
	int base, index;   /* gpr numbers, -1 none */
	unsigned scale;
	uint8_t imm8;
};

/* Opcodes with a ModRM byte among those we decode: 0f 00, 0f 01, 0f 20..23. */
static inline int vc__emu_decode(const uint8_t *b, unsigned n, struct vc__emu_insn *d)
{
	unsigned i = 0;
	d->len = 0, d->opsize = 4, d->addr32 = d->lock = d->segment = 0;
	d->rex = d->op = 0, d->has_modrm = 0, d->mod = d->reg = d->rm = 0;
	d->disp = 0, d->rip_relative = 0, d->base = d->index = -1, d->scale = 1, d->imm8 = 0;
	for (; i < n; i++) {
		uint8_t p = b[i];
		if (p == 0x66)
			d->opsize = 2;
		else if (p == 0x67)
			d->addr32 = 1;
		else if (p == 0xf0)
			d->lock = 1;
		else if (p == 0x64 || p == 0x65)
			d->segment = p;
		else if (p == 0xf2 || p == 0xf3 || p == 0x2e || p == 0x36 || p == 0x3e || p == 0x26)
			;
		else
			break;
	}
	if (i < n && (b[i] & 0xf0) == 0x40)
		d->rex = b[i++];
	if (d->rex & 8)
		d->opsize = 8;
	if (i >= n)
		return -1;
	d->op = b[i++];
	if (d->op == 0x0f) {
		if (i >= n)
			return -1;
		d->op = 0x0f00 | b[i++];
		d->has_modrm = d->op == 0x0f00 || d->op == 0x0f01 || (d->op >= 0x0f20 && d->op <= 0x0f23);
	} else if (d->op == 0xe4 || d->op == 0xe5 || d->op == 0xe6 || d->op == 0xe7) {
		if (i >= n)
			return -1;
		d->imm8 = b[i++];
	}
	if (d->has_modrm) {
		if (i >= n)
			return -1;
		uint8_t m = b[i++];
		d->mod = m >> 6;
		d->reg = ((m >> 3) & 7) | ((d->rex & 4) ? 8 : 0);
		d->rm = (m & 7) | ((d->rex & 1) ? 8 : 0);
		/* mov to/from a control or debug register is always register-direct */
		if (d->op >= 0x0f20 && d->op <= 0x0f23)
			d->mod = 3;
		if (d->mod != 3) {
			unsigned rm = m & 7;
			if (rm == 4) { /* SIB */
				if (i >= n)
					return -1;
				uint8_t s = b[i++];
				d->scale = 1u << (s >> 6);
				unsigned idx = ((s >> 3) & 7) | ((d->rex & 2) ? 8 : 0);
				d->index = idx == 4 ? -1 : (int)idx; /* rsp: no index */
				unsigned base = (s & 7) | ((d->rex & 1) ? 8 : 0);
				d->base = (s & 7) == 5 && d->mod == 0 ? -1 : (int)base;
				if ((s & 7) == 5 && d->mod == 0)
					d->mod = 2 | 4; /* disp32, no base (marked with bit 2) */
			} else if (rm == 5 && d->mod == 0) {
				d->rip_relative = 1;
			} else {
				d->base = (int)d->rm;
			}
			unsigned dlen = (d->mod & 3) == 1 ? 1 : ((d->mod & 3) == 2 || d->rip_relative ||
				(d->mod & 4)) ? 4 : 0;
			if (i + dlen > n)
				return -1;
			int64_t disp = 0;
			if (dlen == 1)
				disp = (int8_t)b[i];
			else if (dlen == 4)
				disp = (int32_t)((uint32_t)b[i] | (uint32_t)b[i + 1] << 8 |
						 (uint32_t)b[i + 2] << 16 | (uint32_t)b[i + 3] << 24);
			d->disp = disp;
			d->mod &= 3;
			i += dlen;
		}
	}
	d->len = i;
	return 0;
}

/* The memory operand's address (after the instruction: RIP-relative needs its end). */
static inline uint64_t vc__emu_ea(const struct vc_rewrite_emu_cpu *c, const struct vc__emu_insn *d)
{
	uint64_t a = (uint64_t)d->disp;
	if (d->rip_relative)
		a += c->rip + d->len;
	if (d->base >= 0)
		a += c->gpr[d->base];
	if (d->index >= 0)
		a += c->gpr[d->index] * d->scale;
	return d->addr32 ? (uint32_t)a : a;
}

/* Writes @v to gpr @r with @size's x86-64 rules: 32-bit writes zero the upper half, 8-
 * and 16-bit writes keep the rest. */
static inline void vc__emu_set(struct vc_rewrite_emu_cpu *c, unsigned r, unsigned size, uint64_t v)
{
	if (size == 8)
		c->gpr[r] = v;
	else if (size == 4)
		c->gpr[r] = (uint32_t)v;
	else if (size == 2)
		c->gpr[r] = (c->gpr[r] & ~0xffffull) | (v & 0xffff);
	else
		c->gpr[r] = (c->gpr[r] & ~0xffull) | (v & 0xff);
}

/* ---- the instructions ---- */

/* The flags image pushf shows: the real arithmetic flags with the virtual IF and IOPL
 * (VM and RF read as zero, as the CPU's own image has them). */
static inline uint64_t vc__emu_flags_image(const struct vc_rewrite_emu_cpu *c)
{
	uint64_t mask = VC_REWRITE_EMU_IF | VC_REWRITE_EMU_IOPL;
	return ((c->rflags & ~mask) | (c->vflags & mask)) & ~((1ull << 16) | (1ull << 17));
}

/* popf: arithmetic and control flags the module may set go to the real flags, IF and IOPL
 * to the virtual ones (at CPL3 the CPU would ignore both silently). */
static inline void vc__emu_load_flags(struct vc_rewrite_emu_cpu *c, uint64_t v, unsigned size)
{
	/* CF PF AF ZF SF TF DF OF, AC ID (not NT, RF, VM, VIF, VIP) */
	uint64_t user = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 |
			(1ull << 18) | (1ull << 21);
	uint64_t virt = VC_REWRITE_EMU_IF | VC_REWRITE_EMU_IOPL;
	if (size == 2) {
		user &= 0xffff;
		v &= 0xffff;
	}
	c->rflags = (c->rflags & ~user) | (v & user);
	c->vflags = (c->vflags & ~virt) | (v & virt);
}

static inline int vc__emu_cr(struct vc_rewrite_emu_cpu *c, unsigned n, uint64_t **out)
{
	switch (n) {
	case 0: *out = &c->cr0; return 0;
	case 2: *out = &c->cr2; return 0;
	case 3: *out = &c->cr3; return 0;
	case 4: *out = &c->cr4; return 0;
	case 8: *out = &c->cr8; return 0;
	default: return -1; /* #UD on hardware: not ours to invent */
	}
}

static inline int vc__emu_port(struct vc_rewrite_emu_cpu *c, const struct vc__emu_insn *d,
			       const struct vc_rewrite_emu_ops *ops)
{
	unsigned op = d->op, size = (op & 1) ? (d->opsize == 2 ? 2 : 4) : 1;
	uint16_t port = (op & 8) ? (uint16_t)c->gpr[2] : d->imm8;
	if (op == 0xe4 || op == 0xe5 || op == 0xec || op == 0xed) {
		uint32_t v = 0;
		if (!ops->in)
			return VC_REWRITE_EMU_UNSUPPORTED;
		if (ops->in(ops->ctx, port, size, &v))
			return VC_REWRITE_EMU_FAULT;
		vc__emu_set(c, 0, size, v);
		return VC_REWRITE_EMU_OK;
	}
	if (!ops->out)
		return VC_REWRITE_EMU_UNSUPPORTED;
	uint32_t v = (uint32_t)c->gpr[0] & (size == 1 ? 0xffu : size == 2 ? 0xffffu : ~0u);
	return ops->out(ops->ctx, port, size, v) ? VC_REWRITE_EMU_FAULT : VC_REWRITE_EMU_OK;
}

/* 0f 01 with a ModRM: sgdt /0, sidt /1, smsw /4, lmsw /6, invlpg /7; rdtscp is 0f 01 f9. */
static inline int vc__emu_group7(struct vc_rewrite_emu_cpu *c, const struct vc__emu_insn *d,
				 const struct vc_rewrite_emu_ops *ops)
{
	unsigned sub = d->reg & 7;
	if (d->mod == 3 && sub == 7 && (d->rm & 7) == 1) { /* rdtscp */
		if (!ops->rdtsc)
			return VC_REWRITE_EMU_UNSUPPORTED;
		uint64_t t = ops->rdtsc(ops->ctx);
		vc__emu_set(c, 0, 4, t);
		vc__emu_set(c, 2, 4, t >> 32);
		vc__emu_set(c, 1, 4, c->tsc_aux);
		return VC_REWRITE_EMU_OK;
	}
	if (d->mod == 3 && (sub == 0 || sub == 1 || sub == 7))
		return VC_REWRITE_EMU_UNSUPPORTED; /* vmcall, monitor, swapgs...: other classes */
	if (d->mod != 3 && d->segment)
		return VC_REWRITE_EMU_UNSUPPORTED; /* an fs/gs-relative operand: base unknown */
	if (d->mod != 3 && (!ops->read || !ops->write))
		return VC_REWRITE_EMU_UNSUPPORTED;
	uint64_t ea = d->mod != 3 ? vc__emu_ea(c, d) : 0;
	switch (sub) {
	case 0: case 1: { /* sgdt / sidt: 2-byte limit, 8-byte base */
		uint8_t m[10];
		uint16_t lim = sub ? c->idt_limit : c->gdt_limit;
		uint64_t base = sub ? c->idt_base : c->gdt_base;
		for (unsigned k = 0; k < 2; k++)
			m[k] = (uint8_t)(lim >> (8 * k));
		for (unsigned k = 0; k < 8; k++)
			m[2 + k] = (uint8_t)(base >> (8 * k));
		return ops->write(ops->ctx, ea, m, 10) ? VC_REWRITE_EMU_FAULT : VC_REWRITE_EMU_OK;
	}
	case 4: /* smsw: a register gets CR0 at the operand size, memory 16 bits */
		if (d->mod == 3) {
			vc__emu_set(c, d->rm, d->opsize, c->cr0);
			return VC_REWRITE_EMU_OK;
		} else {
			uint8_t m[2] = {(uint8_t)c->cr0, (uint8_t)(c->cr0 >> 8)};
			return ops->write(ops->ctx, ea, m, 2) ? VC_REWRITE_EMU_FAULT : VC_REWRITE_EMU_OK;
		}
	case 6: { /* lmsw: CR0's PE MP EM TS from 16 bits; PE cannot be cleared */
		uint16_t v;
		if (d->mod == 3) {
			v = (uint16_t)c->gpr[d->rm];
		} else {
			uint8_t m[2];
			if (ops->read(ops->ctx, ea, m, 2))
				return VC_REWRITE_EMU_FAULT;
			v = (uint16_t)(m[0] | m[1] << 8);
		}
		c->cr0 = (c->cr0 & ~0xeull) | (v & 0xe) | ((c->cr0 | v) & 1);
		return VC_REWRITE_EMU_OK;
	}
	case 7: /* invlpg: the module's TLB is not ours to flush; a no-op */
		return VC_REWRITE_EMU_OK;
	default:
		return VC_REWRITE_EMU_UNSUPPORTED;
	}
}

static inline int vc__emu_exec(struct vc_rewrite_emu_cpu *c, const struct vc__emu_insn *d,
			       const struct vc_rewrite_emu_ops *ops)
{
	uint64_t *cr;
	switch (d->op) {
	case 0xfa: /* cli */
		c->vflags &= ~VC_REWRITE_EMU_IF;
		return VC_REWRITE_EMU_OK;
	case 0xfb: /* sti */
		c->vflags |= VC_REWRITE_EMU_IF;
		return VC_REWRITE_EMU_OK;
	case 0xf4: /* hlt */
		return VC_REWRITE_EMU_HALT;
	case 0x9c: { /* pushf: 8 bytes (pushfq), 2 with 0x66 */
		unsigned size = d->opsize == 2 ? 2 : 8;
		uint64_t v = vc__emu_flags_image(c);
		uint8_t m[8];
		for (unsigned k = 0; k < size; k++)
			m[k] = (uint8_t)(v >> (8 * k));
		if (!ops->write)
			return VC_REWRITE_EMU_UNSUPPORTED;
		if (ops->write(ops->ctx, c->gpr[4] - size, m, size))
			return VC_REWRITE_EMU_FAULT;
		c->gpr[4] -= size;
		return VC_REWRITE_EMU_OK;
	}
	case 0x9d: { /* popf */
		unsigned size = d->opsize == 2 ? 2 : 8;
		uint8_t m[8];
		uint64_t v = 0;
		if (!ops->read)
			return VC_REWRITE_EMU_UNSUPPORTED;
		if (ops->read(ops->ctx, c->gpr[4], m, size))
			return VC_REWRITE_EMU_FAULT;
		for (unsigned k = 0; k < size; k++)
			v |= (uint64_t)m[k] << (8 * k);
		c->gpr[4] += size;
		vc__emu_load_flags(c, v, size);
		return VC_REWRITE_EMU_OK;
	}
	case 0xe4: case 0xe5: case 0xe6: case 0xe7:
	case 0xec: case 0xed: case 0xee: case 0xef:
		return vc__emu_port(c, d, ops);
	case 0x0f20: /* mov reg, crN (lock: CR8, AMD's alias) */
		if (vc__emu_cr(c, d->lock ? 8 : d->reg, &cr))
			return VC_REWRITE_EMU_UNSUPPORTED;
		c->gpr[d->rm] = *cr;
		return VC_REWRITE_EMU_OK;
	case 0x0f22: /* mov crN, reg */
		if (vc__emu_cr(c, d->lock ? 8 : d->reg, &cr))
			return VC_REWRITE_EMU_UNSUPPORTED;
		*cr = c->gpr[d->rm];
		return VC_REWRITE_EMU_OK;
	case 0x0f06: /* clts */
		c->cr0 &= ~8ull;
		return VC_REWRITE_EMU_OK;
	case 0x0f08: case 0x0f09: /* invd, wbinvd: no caches of the module's to manage */
		return VC_REWRITE_EMU_OK;
	case 0x0f01:
		return vc__emu_group7(c, d, ops);
	case 0x0f30: case 0x0f32: { /* wrmsr, rdmsr */
		uint32_t msr = (uint32_t)c->gpr[1];
		if (d->op == 0x0f30) {
			if (!ops->wrmsr)
				return VC_REWRITE_EMU_UNSUPPORTED;
			uint64_t v = (uint32_t)c->gpr[0] | (uint64_t)(uint32_t)c->gpr[2] << 32;
			return ops->wrmsr(ops->ctx, msr, v) ? VC_REWRITE_EMU_FAULT : VC_REWRITE_EMU_OK;
		}
		uint64_t v;
		if (!ops->rdmsr)
			return VC_REWRITE_EMU_UNSUPPORTED;
		if (ops->rdmsr(ops->ctx, msr, &v))
			return VC_REWRITE_EMU_FAULT;
		vc__emu_set(c, 0, 4, v);
		vc__emu_set(c, 2, 4, v >> 32);
		return VC_REWRITE_EMU_OK;
	}
	case 0x0f31: /* rdtsc */
		if (!ops->rdtsc)
			return VC_REWRITE_EMU_UNSUPPORTED;
		{
			uint64_t t = ops->rdtsc(ops->ctx);
			vc__emu_set(c, 0, 4, t);
			vc__emu_set(c, 2, 4, t >> 32);
		}
		return VC_REWRITE_EMU_OK;
	case 0x0fa2: { /* cpuid */
		uint32_t r[4];
		if (!ops->cpuid)
			return VC_REWRITE_EMU_UNSUPPORTED;
		ops->cpuid(ops->ctx, (uint32_t)c->gpr[0], (uint32_t)c->gpr[1], r);
		vc__emu_set(c, 0, 4, r[0]);
		vc__emu_set(c, 3, 4, r[1]);
		vc__emu_set(c, 1, 4, r[2]);
		vc__emu_set(c, 2, 4, r[3]);
		return VC_REWRITE_EMU_OK;
	}
	default:
		return VC_REWRITE_EMU_UNSUPPORTED;
	}
}

/**
 * @brief Emulates the sensitive instruction in @p insn (its @p len bytes, as the loaded
 *        module holds them: the site table's original bytes with any bytes a relocation
 *        filled taken from the loaded code) at @p c->rip, against @p c and @p ops.
 * @return VC_REWRITE_EMU_OK or VC_REWRITE_EMU_HALT (rip advanced by @p len);
 *         VC_REWRITE_EMU_FAULT or VC_REWRITE_EMU_UNSUPPORTED (nothing changed: a faulting
 *         callback must not have had side effects). The decoded length must be @p len.
 */
static inline int vc_rewrite_emu_step(struct vc_rewrite_emu_cpu *c, const uint8_t *insn,
				      unsigned len, const struct vc_rewrite_emu_ops *ops)
{
	struct vc__emu_insn d;
	if (!c || !insn || !ops || len == 0 || len > 15 || vc__emu_decode(insn, len, &d) ||
	    d.len != len)
		return VC_REWRITE_EMU_UNSUPPORTED;
	struct vc_rewrite_emu_cpu before = *c;
	int rc = vc__emu_exec(c, &d, ops);
	if (rc == VC_REWRITE_EMU_OK || rc == VC_REWRITE_EMU_HALT)
		c->rip += len;
	else
		*c = before;
	return rc;
}

#endif /* VIRTCORE_REWRITE_EMU_H */
