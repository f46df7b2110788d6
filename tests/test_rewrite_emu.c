// SPDX-License-Identifier: MIT
// The freestanding sensitive-instruction emulator (virtcore/rewrite_emu.h): each class
// against expected virtual states, nothing changed on a fault or an unsupported form, and
// every site of the test objects (every encoding tests/rewrite/sensitive.S has) decoded to
// the length the rewriter found and emulated where its class is one the emulator covers.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/rewrite.h>
#include <virtcore/rewrite_emu.h>

#include "helpers.h"

/* Module memory: 64 KiB at MEM_BASE. */
#define MEM_BASE 0x7000000ull
static uint8_t mem[65536];
static uint64_t last_msr_write, tsc = 0x1122334455667788ull;
static uint32_t last_out, last_port, last_size;

static int mread(void *ctx, uint64_t a, void *buf, unsigned n)
{
	(void)ctx;
	if (a < MEM_BASE || a + n > MEM_BASE + sizeof(mem))
		return -1;
	memcpy(buf, mem + (a - MEM_BASE), n);
	return 0;
}

static int mwrite(void *ctx, uint64_t a, const void *buf, unsigned n)
{
	(void)ctx;
	if (a < MEM_BASE || a + n > MEM_BASE + sizeof(mem))
		return -1;
	memcpy(mem + (a - MEM_BASE), buf, n);
	return 0;
}

static int rdmsr(void *ctx, uint32_t msr, uint64_t *v)
{
	(void)ctx;
	if (msr != 0xc0000100) /* FS_BASE: the one this test knows */
		return -1;
	*v = 0xdeadbeefcafef00dull;
	return 0;
}

static int wrmsr(void *ctx, uint32_t msr, uint64_t v)
{
	(void)ctx;
	if (msr != 0xc0000100)
		return -1;
	last_msr_write = v;
	return 0;
}

static int in(void *ctx, uint16_t port, unsigned size, uint32_t *v)
{
	(void)ctx;
	*v = 0xa1b2c3d4u & (size == 1 ? 0xff : size == 2 ? 0xffff : ~0u);
	last_port = port;
	last_size = size;
	return 0;
}

static int out(void *ctx, uint16_t port, unsigned size, uint32_t v)
{
	(void)ctx;
	last_port = port;
	last_size = size;
	last_out = v;
	return 0;
}

static uint64_t rdtsc(void *ctx)
{
	(void)ctx;
	return tsc;
}

static void cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	(void)ctx;
	r[0] = leaf + 1;
	r[1] = sub + 2;
	r[2] = 3;
	r[3] = 4;
}

static const struct vc_rewrite_emu_ops ops = {
	.read = mread, .write = mwrite, .rdmsr = rdmsr, .wrmsr = wrmsr, .in = in, .out = out,
	.rdtsc = rdtsc, .cpuid = cpuid,
};

static struct vc_rewrite_emu_cpu cpu(void)
{
	struct vc_rewrite_emu_cpu c = {.rip = 0x400000, .rflags = 0x202, .vflags = 0x202,
				       .cr0 = 0x80050033, .cr3 = 0x1000, .cr4 = 0x20,
				       .gdt_base = 0xfffffe0000001000ull, .gdt_limit = 0x7f,
				       .idt_base = 0xfffffe0000000000ull, .idt_limit = 0xfff,
				       .tsc_aux = 3};
	for (unsigned i = 0; i < 16; i++)
		c.gpr[i] = 0x1000 * (i + 1);
	c.gpr[4] = MEM_BASE + 0x8000; /* rsp */
	return c;
}

#define STEP(c, ...)                                                                    \
	({                                                                              \
		static const uint8_t b_[] = {__VA_ARGS__};                              \
		vc_rewrite_emu_step(&(c), b_, sizeof(b_), &ops);                        \
	})

Test(rewrite_emu, interrupt_flag_and_flags_are_virtual)
{
	struct vc_rewrite_emu_cpu c = cpu();
	cr_assert_eq(STEP(c, 0xfa), VC_REWRITE_EMU_OK); /* cli */
	cr_assert_eq(c.vflags & VC_REWRITE_EMU_IF, 0);
	cr_assert_eq(c.rflags, 0x202, "the real IF is not the module's");
	cr_assert_eq(c.rip, 0x400001);

	/* pushf shows the virtual IF (clear) with the real arithmetic flags */
	c.rflags = 0x202 | 0x1 | 0x40; /* CF ZF */
	cr_assert_eq(STEP(c, 0x9c), VC_REWRITE_EMU_OK);
	cr_assert_eq(c.gpr[4], MEM_BASE + 0x8000 - 8);
	uint64_t img;
	memcpy(&img, mem + 0x8000 - 8, 8);
	cr_assert_eq(img, 0x2 | 0x1 | 0x40, "pushf image %#lx", (unsigned long)img);

	/* popf of an image with IF set: virtual IF set, real flags take CF only */
	img = 0x202 | 0x1 | (3ull << 12) | (1ull << 14); /* IF, CF, IOPL 3, NT */
	memcpy(mem + 0x8000 - 8, &img, 8);
	c.rflags = 0x202;
	cr_assert_eq(STEP(c, 0x9d), VC_REWRITE_EMU_OK);
	cr_assert_eq(c.gpr[4], MEM_BASE + 0x8000);
	cr_assert_eq(c.vflags & (VC_REWRITE_EMU_IF | VC_REWRITE_EMU_IOPL),
		     VC_REWRITE_EMU_IF | VC_REWRITE_EMU_IOPL);
	cr_assert_eq(c.rflags, 0x203, "CF taken, NT not: %#lx", (unsigned long)c.rflags);

	/* 16-bit forms move 2 bytes */
	cr_assert_eq(STEP(c, 0x66, 0x9c), VC_REWRITE_EMU_OK);
	cr_assert_eq(c.gpr[4], MEM_BASE + 0x8000 - 2);
	cr_assert_eq(STEP(c, 0x66, 0x9d), VC_REWRITE_EMU_OK);
	cr_assert_eq(c.gpr[4], MEM_BASE + 0x8000);
	cr_assert_eq(STEP(c, 0xfb), VC_REWRITE_EMU_OK); /* sti */
	cr_assert_eq(c.vflags & VC_REWRITE_EMU_IF, VC_REWRITE_EMU_IF);
	cr_assert_eq(STEP(c, 0xf4), VC_REWRITE_EMU_HALT); /* hlt */
	cr_assert_eq(c.rip, 0x400000 + 1 + 1 + 1 + 2 + 2 + 1 + 1);
}

Test(rewrite_emu, a_fault_changes_nothing)
{
	struct vc_rewrite_emu_cpu c = cpu(), before;
	c.gpr[4] = MEM_BASE; /* pushf would write below the module's memory */
	before = c;
	cr_assert_eq(STEP(c, 0x9c), VC_REWRITE_EMU_FAULT);
	cr_assert_eq(memcmp(&c, &before, sizeof(c)), 0);
	c.gpr[1] = 0x10; /* an MSR the callback does not know */
	before = c;
	cr_assert_eq(STEP(c, 0x0f, 0x32), VC_REWRITE_EMU_FAULT);
	cr_assert_eq(memcmp(&c, &before, sizeof(c)), 0);
	cr_assert_eq(STEP(c, 0x0f, 0x20, 0xc8), VC_REWRITE_EMU_UNSUPPORTED, "mov %%cr1");
	cr_assert_eq(STEP(c, 0x0f, 0x0b), VC_REWRITE_EMU_UNSUPPORTED, "ud2 is not ours");
	cr_assert_eq(STEP(c, 0x6c), VC_REWRITE_EMU_UNSUPPORTED, "insb");
	const uint8_t cli[] = {0xfa};
	cr_assert_eq(vc_rewrite_emu_step(&c, cli, 2, &ops), VC_REWRITE_EMU_UNSUPPORTED,
		     "a length that is not the instruction's");
	struct vc_rewrite_emu_ops none = {0};
	cr_assert_eq(vc_rewrite_emu_step(&c, (const uint8_t[]){0x0f, 0x31}, 2, &none),
		     VC_REWRITE_EMU_UNSUPPORTED, "no rdtsc callback");
	cr_assert_eq(memcmp(&c, &before, sizeof(c)), 0);
}

Test(rewrite_emu, msrs_ports_tsc_and_cpuid_go_to_the_callbacks)
{
	struct vc_rewrite_emu_cpu c = cpu();
	c.gpr[1] = 0xc0000100;
	c.gpr[0] = 0xffffffff00000000ull;
	cr_assert_eq(STEP(c, 0x0f, 0x32), VC_REWRITE_EMU_OK); /* rdmsr */
	cr_assert_eq(c.gpr[0], 0xcafef00d);
	cr_assert_eq(c.gpr[2], 0xdeadbeef);
	c.gpr[0] = 0x11111111;
	c.gpr[2] = 0x22222222;
	cr_assert_eq(STEP(c, 0x0f, 0x30), VC_REWRITE_EMU_OK); /* wrmsr */
	cr_assert_eq(last_msr_write, 0x2222222211111111ull);

	c.gpr[0] = 0xffffffffffffffffull;
	cr_assert_eq(STEP(c, 0xe4, 0x60), VC_REWRITE_EMU_OK); /* in $0x60, %al */
	cr_assert(last_port == 0x60 && last_size == 1);
	cr_assert_eq(c.gpr[0], 0xffffffffffffffd4ull, "al only");
	cr_assert_eq(STEP(c, 0x66, 0xe5, 0x60), VC_REWRITE_EMU_OK); /* in $0x60, %ax */
	cr_assert_eq(c.gpr[0], 0xffffffffffffc3d4ull, "ax only");
	c.gpr[2] = 0x3f8;
	cr_assert_eq(STEP(c, 0xed), VC_REWRITE_EMU_OK); /* in %dx, %eax */
	cr_assert(last_port == 0x3f8 && last_size == 4);
	cr_assert_eq(c.gpr[0], 0xa1b2c3d4, "eax zero-extends");
	cr_assert_eq(STEP(c, 0xe6, 0x80), VC_REWRITE_EMU_OK); /* out %al, $0x80 */
	cr_assert(last_port == 0x80 && last_size == 1 && last_out == 0xd4);
	cr_assert_eq(STEP(c, 0x66, 0xef), VC_REWRITE_EMU_OK); /* out %ax, %dx */
	cr_assert(last_port == 0x3f8 && last_size == 2 && last_out == 0xc3d4);

	cr_assert_eq(STEP(c, 0x0f, 0x31), VC_REWRITE_EMU_OK); /* rdtsc */
	cr_assert(c.gpr[0] == 0x55667788 && c.gpr[2] == 0x11223344);
	c.gpr[1] = 0;
	cr_assert_eq(STEP(c, 0x0f, 0x01, 0xf9), VC_REWRITE_EMU_OK); /* rdtscp */
	cr_assert(c.gpr[0] == 0x55667788 && c.gpr[2] == 0x11223344 && c.gpr[1] == 3);
	c.gpr[0] = 7;
	c.gpr[1] = 1;
	cr_assert_eq(STEP(c, 0x0f, 0xa2), VC_REWRITE_EMU_OK); /* cpuid */
	cr_assert(c.gpr[0] == 8 && c.gpr[3] == 3 && c.gpr[1] == 3 && c.gpr[2] == 4);
}

Test(rewrite_emu, control_and_descriptor_registers_are_the_virtual_ones)
{
	struct vc_rewrite_emu_cpu c = cpu();
	cr_assert_eq(STEP(c, 0x0f, 0x20, 0xc0), VC_REWRITE_EMU_OK); /* mov %cr0, %rax */
	cr_assert_eq(c.gpr[0], 0x80050033);
	/* REX.R with reg 4 is CR12, which does not exist: refused, nothing changed */
	struct vc_rewrite_emu_cpu before = c;
	cr_assert_eq(STEP(c, 0x44, 0x0f, 0x20, 0xe1), VC_REWRITE_EMU_UNSUPPORTED);
	cr_assert_eq(memcmp(&c, &before, sizeof(c)), 0);
	cr_assert_eq(STEP(c, 0x41, 0x0f, 0x20, 0xe1), VC_REWRITE_EMU_OK); /* mov %cr4, %r9 */
	cr_assert_eq(c.gpr[9], 0x20);
	c.gpr[10] = 0xf;
	cr_assert_eq(STEP(c, 0x44, 0x0f, 0x22, 0xc2), VC_REWRITE_EMU_OK); /* mov %rdx, %cr8 */
	cr_assert_eq(c.cr8, c.gpr[2]);
	cr_assert_eq(STEP(c, 0x45, 0x0f, 0x22, 0xc2), VC_REWRITE_EMU_OK); /* mov %r10, %cr8 */
	cr_assert_eq(c.cr8, 0xf);
	c.gpr[0] = 0x5000;
	cr_assert_eq(STEP(c, 0x0f, 0x22, 0xd8), VC_REWRITE_EMU_OK); /* mov %rax, %cr3 */
	cr_assert_eq(c.cr3, 0x5000);
	cr_assert_eq(STEP(c, 0xf0, 0x0f, 0x20, 0xc3), VC_REWRITE_EMU_OK); /* lock mov %cr0: CR8 */
	cr_assert_eq(c.gpr[3], 0xf);

	c.gpr[0] = 0xffffffffffffffffull;
	cr_assert_eq(STEP(c, 0x66, 0x0f, 0x01, 0xe0), VC_REWRITE_EMU_OK); /* smsw %ax */
	cr_assert_eq(c.gpr[0], 0xffffffffffff0033ull);
	cr_assert_eq(STEP(c, 0x48, 0x0f, 0x01, 0xe0), VC_REWRITE_EMU_OK); /* smsw %rax */
	cr_assert_eq(c.gpr[0], 0x80050033);
	c.gpr[3] = MEM_BASE + 0x100;
	cr_assert_eq(STEP(c, 0x0f, 0x01, 0x03), VC_REWRITE_EMU_OK); /* sgdt (%rbx) */
	uint16_t lim;
	uint64_t base;
	memcpy(&lim, mem + 0x100, 2);
	memcpy(&base, mem + 0x102, 8);
	cr_assert(lim == 0x7f && base == 0xfffffe0000001000ull);
	c.gpr[1] = 0x10;
	cr_assert_eq(STEP(c, 0x0f, 0x01, 0x4c, 0x4b, 0x10), VC_REWRITE_EMU_OK); /* sidt 0x10(%rbx,%rcx,2) */
	memcpy(&lim, mem + 0x100 + 0x10 + 0x20, 2);
	cr_assert_eq(lim, 0xfff);
	/* RIP-relative: the operand is after the instruction's end */
	c.rip = MEM_BASE + 0x1000;
	cr_assert_eq(STEP(c, 0x0f, 0x01, 0x25, 0x00, 0x02, 0x00, 0x00), VC_REWRITE_EMU_OK); /* smsw 0x200(%rip) */
	uint16_t msw;
	memcpy(&msw, mem + 0x1000 + 7 + 0x200, 2);
	cr_assert_eq(msw, 0x0033);

	c.cr0 = 0x80050033 | 8; /* TS */
	cr_assert_eq(STEP(c, 0x0f, 0x06), VC_REWRITE_EMU_OK); /* clts */
	cr_assert_eq(c.cr0 & 8, 0);
	c.gpr[0] = 0xe; /* MP EM TS, PE clear: PE stays */
	cr_assert_eq(STEP(c, 0x0f, 0x01, 0xf0), VC_REWRITE_EMU_OK); /* lmsw %ax */
	cr_assert_eq(c.cr0 & 0xf, 0xf);
	c.gpr[6] = MEM_BASE; /* fs-relative operand: its base is not known here */
	cr_assert_eq(STEP(c, 0x64, 0x0f, 0x01, 0x06), VC_REWRITE_EMU_UNSUPPORTED);
}

/* Classes the emulator covers (string I/O, lgdt/lidt/lldt/ltr/sldt/str, swapgs, iret,
 * sysret, debug registers, xsetbv, segment instructions are refused, not guessed). */
static bool covered(const struct vc_rewrite_site *s)
{
	const char *m = s->mnemonic;
	switch (s->cls) {
	case VC_REWRITE_INTERRUPT_FLAG: case VC_REWRITE_FLAGS: case VC_REWRITE_HALT:
	case VC_REWRITE_MSR: case VC_REWRITE_CONTROL_REG: case VC_REWRITE_MACHINE_STATUS:
	case VC_REWRITE_TIMESTAMP: case VC_REWRITE_CPUID: case VC_REWRITE_CACHE:
		return true;
	case VC_REWRITE_IO:
		return !strncmp(m, "in", 2) ? strlen(m) == 2 || !strcmp(m, "inb") ||
					      !strcmp(m, "inw") || !strcmp(m, "inl")
					    : strcmp(m, "out") == 0;
	case VC_REWRITE_DESCRIPTOR_TABLE:
		return !strcmp(m, "sgdt") || !strcmp(m, "sidt");
	case VC_REWRITE_TLB:
		return !strcmp(m, "invlpg");
	default:
		return false;
	}
}

static int zero_read(void *ctx, uint64_t a, void *buf, unsigned n)
{
	(void)ctx, (void)a;
	memset(buf, 0, n);
	return 0;
}

static int any_write(void *ctx, uint64_t a, const void *buf, unsigned n)
{
	(void)ctx, (void)a, (void)buf, (void)n;
	return 0;
}

static int any_msr(void *ctx, uint32_t msr, uint64_t *v)
{
	(void)ctx, (void)msr;
	*v = 0;
	return 0;
}

Test(rewrite_emu, every_covered_site_of_the_test_objects_emulates)
{
	const char *src = getenv("VC_REWRITE_SRC");
	cr_assert_not_null(src, "VC_REWRITE_SRC (tests/rewrite) is not set: run through meson");
	th_scratch_begin("rewrite-emu");
	static const char *const files[] = {"sensitive.S", "driver.c", "tables.S"};
	struct vc_rewrite_emu_ops all = ops;
	all.read = zero_read;
	all.write = any_write;
	all.rdmsr = any_msr;
	unsigned done = 0, refused = 0;
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		char cmd[4096];
		snprintf(cmd, sizeof(cmd), "gcc -c -O2 -o '%s' '%s/%s'", th_path("o.o"), src, files[f]);
		cr_assert_eq(system(cmd), 0, "%s", cmd);
		vc_rewrite *m;
		cr_assert_eq(vc_rewrite_load_path(&m, th_path("o.o")), 0);
		for (size_t i = 0; i < vc_rewrite_count(m); i++) {
			struct vc_rewrite_site s;
			vc_rewrite_get(&s, m, i);
			struct vc_rewrite_emu_cpu c = cpu();
			c.gpr[1] = 0xc0000100;
			int rc = vc_rewrite_emu_step(&c, s.bytes, s.length, &all);
			if (covered(&s)) {
				cr_assert(rc == VC_REWRITE_EMU_OK || rc == VC_REWRITE_EMU_HALT,
					  "%s: %s at %s+%#lx (%u bytes) not emulated: %d", files[f],
					  s.mnemonic, s.section_name, (unsigned long)s.offset, s.length, rc);
				cr_assert_eq(c.rip, 0x400000 + s.length);
				done++;
			} else {
				refused += rc == VC_REWRITE_EMU_UNSUPPORTED;
			}
		}
		vc_rewrite_destroy(m);
	}
	cr_log_info("%u sites emulated, %u refused as not covered", done, refused);
	cr_assert_gt(done, 60);
	th_scratch_end();
}
