// SPDX-License-Identifier: MIT
// kmod:N[:promote=T][:bench=ITER][:again] — runs boot module N, an ELF object built like a
// kernel module, deprivileged: the kernel loads it into this task's module area
// (SYS_KMOD_LOAD), binds its imports to the functions below, and this task calls its
// init_module() (or, with bench=, kmod_bench(ITER)) at CPL3. A site vc-rewrite trapped
// is emulated by the kernel when it traps; after T traps (default 16, 0: never) the
// kernel promotes it to a jump into a stub, whose work this program's segment entry
// finishes at CPL3 with the same emulator. At the end: the trap, promotion and stub
// counts per class, read from the state page the kernel and the stubs share. With
// `again`, asks for a second module first, which the kernel must refuse (one per task).
#include "../kmod_abi.h"
#include "../user/ulib.h"

static struct kmod_state *state(void)
{
	return (struct kmod_state *)(uintptr_t)KMOD_STATE_VA;
}

/* ---- what a module may call (its "kernel" API) ---- */

/* printk is the program library's printf (same contract: a format, the console). */

/* The virtual CR0 and GDTR this module's CPU has (what smsw and sgdt must report). */
static uint64_t kmod_virt_cr0(void)
{
	return state()->cpu.cr0;
}

static void kmod_virt_gdtr(void *out)
{
	uint16_t limit = state()->cpu.gdt_limit;
	uint64_t base = state()->cpu.gdt_base;
	__builtin_memcpy(out, &limit, 2);
	__builtin_memcpy((char *)out + 2, &base, 8);
}

/* ---- a stub's segment: the emulator at CPL3 ---- */

/* What the entry below pushed, lowest address first. */
struct rt_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t rflags;
	uint64_t slot; /* the segment's index; on the way out, where the module's rsp goes */
};

void kmod_rt_segment(struct rt_frame *f);

/* Entered by `jmp *rt_entry` from a stub, on the runtime stack with the segment index
 * pushed and the module's rsp on the state page. Saves everything, runs the segment in
 * C, restores everything, then `mov (%rsp), %rsp; ret` lands on the module's stack and
 * at the stub's next instruction (the C side put both there). */
__asm__(".text\n"
	".globl kmod_rt_entry\n"
	"kmod_rt_entry:\n"
	"	pushfq\n"
	"	push %rax; push %rcx; push %rdx; push %rbx; push %rbp; push %rsi; push %rdi\n"
	"	push %r8; push %r9; push %r10; push %r11; push %r12; push %r13; push %r14; push %r15\n"
	"	mov %rsp, %rdi\n"
	"	sub $8, %rsp\n" /* 16-byte alignment for the call */
	"	cld\n"
	"	call kmod_rt_segment\n"
	"	add $8, %rsp\n"
	"	pop %r15; pop %r14; pop %r13; pop %r12; pop %r11; pop %r10; pop %r9; pop %r8\n"
	"	pop %rdi; pop %rsi; pop %rbp; pop %rbx; pop %rdx; pop %rcx; pop %rax\n"
	"	popfq\n"
	"	mov (%rsp), %rsp\n"
	"	ret\n");
void kmod_rt_entry(void) __attribute__((visibility("hidden")));

static int msr_slot(uint32_t msr)
{
	for (int i = 0; i < KMOD_MSRS; i++)
		if (state()->msr_index[i] == msr && (msr || i == 0))
			return i;
	return -1;
}

/* Memory: the module's own; the CPU's page protection checks it (we run at CPL3). */
static int rt_read(void *ctx, uint64_t addr, void *buf, unsigned len)
{
	(void)ctx;
	__builtin_memcpy(buf, (const void *)(uintptr_t)addr, len);
	return 0;
}

static int rt_write(void *ctx, uint64_t addr, const void *buf, unsigned len)
{
	(void)ctx;
	__builtin_memcpy((void *)(uintptr_t)addr, buf, len);
	return 0;
}

static int rt_rdmsr(void *ctx, uint32_t msr, uint64_t *value)
{
	(void)ctx;
	int i = msr_slot(msr);
	if (i < 0)
		return -1; /* the kernel decides (it faults) */
	*value = state()->msr_value[i];
	return 0;
}

static int rt_wrmsr(void *ctx, uint32_t msr, uint64_t value)
{
	(void)ctx;
	int i = msr_slot(msr);
	if (i < 0)
		return -1;
	state()->msr_value[i] = value;
	return 0;
}

/* The null port is modelled in the guest; any other port is the kernel's to decide. */
static int rt_in(void *ctx, uint16_t port, unsigned size, uint32_t *value)
{
	(void)ctx, (void)size;
	if (port != VCG_PORT_NULL)
		return -1;
	state()->null_reads++;
	*value = 0;
	return 0;
}

static int rt_out(void *ctx, uint16_t port, unsigned size, uint32_t value)
{
	(void)ctx, (void)size, (void)value;
	if (port != VCG_PORT_NULL)
		return -1;
	state()->null_writes++;
	return 0;
}

static uint64_t rt_rdtsc(void *ctx)
{
	(void)ctx;
	return rdtsc();
}

static void rt_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	(void)ctx;
	__asm__ volatile("cpuid" : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3])
			 : "a"(leaf), "c"(sub));
}

void kmod_rt_segment(struct rt_frame *f)
{
	static const struct vc_rewrite_emu_ops ops = {NULL, rt_read, rt_write, rt_rdmsr, rt_wrmsr,
						      rt_in, rt_out, rt_rdtsc, rt_cpuid};
	struct kmod_state *st = state();
	const struct kmod_segment *g = (const struct kmod_segment *)(uintptr_t)KMOD_SEG_VA + f->slot;
	struct vc_rewrite_emu_cpu c = st->cpu;
	const uint64_t in[16] = {f->rax, f->rcx, f->rdx, f->rbx, st->rt_rsp, f->rbp, f->rsi, f->rdi,
				 f->r8, f->r9, f->r10, f->r11, f->r12, f->r13, f->r14, f->r15};
	__builtin_memcpy(c.gpr, in, sizeof(in));
	c.rip = g->site;
	c.rflags = f->rflags;
	uint64_t rsp = st->rt_rsp, resume = g->trap;
	if (g->cls != VC_REWRITE_HALT && vc_rewrite_emu_step(&c, g->bytes, g->len, &ops) == VC_REWRITE_EMU_OK) {
		f->rax = c.gpr[0], f->rcx = c.gpr[1], f->rdx = c.gpr[2], f->rbx = c.gpr[3];
		f->rbp = c.gpr[5], f->rsi = c.gpr[6], f->rdi = c.gpr[7], f->r8 = c.gpr[8];
		f->r9 = c.gpr[9], f->r10 = c.gpr[10], f->r11 = c.gpr[11], f->r12 = c.gpr[12];
		f->r13 = c.gpr[13], f->r14 = c.gpr[14], f->r15 = c.gpr[15];
		f->rflags = c.rflags; /* popfq at CPL3 keeps the real IF and IOPL */
		st->cpu = c;
		rsp = c.gpr[4];
		resume = g->resume;
		st->fast[g->cls]++;
	}
	/* leave through the module's stack: below its rsp is free (no red zone in kernel code) */
	*(uint64_t *)(uintptr_t)(rsp - 8) = resume;
	f->slot = rsp - 8;
}

/* ---- the program ---- */

static int starts_with(const char *s, const char *prefix)
{
	while (*prefix && *s == *prefix)
		s++, prefix++;
	return !*prefix;
}

/* `:KEY=N` in the argument: where it ends, and N; NULL when absent. */
static const char *option(const char *a, const char *key, long *value)
{
	size_t n = strlen(key);
	for (const char *p = a; *p; p++)
		if (p > a && p[-1] == ':' && starts_with(p, key)) {
			long v = 0;
			for (p += n; *p >= '0' && *p <= '9'; p++)
				v = v * 10 + (*p - '0');
			*value = v;
			return p;
		}
	return NULL;
}

static void report(const uint64_t *traps0)
{
	struct kmod_state *st = state();
	for (unsigned c = 1; c < VC_REWRITE_CLASS_COUNT; c++)
		if (st->traps[c] || st->promoted[c] || st->fast[c])
			printf("kmod: %-16s %8lu traps, %3lu sites promoted, %8lu runs in stubs\n",
			       kmod_class_name(c), st->traps[c] - traps0[c], st->promoted[c], st->fast[c]);
	printf("kmod: null port: %lu writes, %lu reads (modelled in the guest); %lu stub segments "
	       "handed back to the kernel\n", st->null_writes, st->null_reads, st->fallbacks);
}

int main(void)
{
	const char *a = arg();
	long module = 0, promote = 16, iters = 0;
	const char *p = a;
	for (; *p >= '0' && *p <= '9'; p++)
		module = module * 10 + (*p - '0');
	if (p == a || (*p && *p != ':'))
		module = -1;
	option(a, "promote=", &promote);
	int bench = option(a, "bench=", &iters) != NULL;
	if (module < 0 || (bench && iters <= 0)) {
		printf("kmod: usage: run=kmod:N[:promote=T][:bench=ITERATIONS][:again]\n");
		return 2;
	}
	static const struct kmod_export exports[] = {
		{(uint64_t)(uintptr_t)"printk", (uint64_t)(uintptr_t)printf},
		{(uint64_t)(uintptr_t)"kmod_virt_cr0", (uint64_t)(uintptr_t)kmod_virt_cr0},
		{(uint64_t)(uintptr_t)"kmod_virt_gdtr", (uint64_t)(uintptr_t)kmod_virt_gdtr},
	};
	static struct kmod_load r;
	r.module = (uint32_t)module;
	r.exports = (uint64_t)(uintptr_t)exports;
	r.nexports = sizeof(exports) / sizeof(exports[0]);
	r.rt_entry = (uint64_t)(uintptr_t)kmod_rt_entry;
	r.promote_after = (uint32_t)promote;
	long rc = syscall4(SYS_KMOD_LOAD, (long)(uintptr_t)&r, 0, 0, 0);
	if (rc < 0) {
		printf("kmod: module %ld refused: %s\n", module, r.error);
		return 1;
	}
	long unused;
	if (option(a, "again", &unused)) {
		static struct kmod_load second;
		second = r;
		printf("kmod: a second module: %s\n",
		       syscall4(SYS_KMOD_LOAD, (long)(uintptr_t)&second, 0, 0, 0) < 0 ? second.error
										: "loaded (WRONG)");
	}
	printf("kmod: module %ld loaded at %lx: %lu bytes, %u sites (%u promotable), %s%s\n", module,
	       (unsigned long)KMOD_IMAGE_VA, (unsigned long)r.image_bytes, r.sites, r.promotable,
	       r.sites ? "rewritten" : "not rewritten: its sensitive instructions run as they are",
	       !r.sites ? "" : promote ? "" : ", promotion off");
	uint64_t traps0[VC_REWRITE_CLASS_COUNT] = {0};
	int status;
	if (bench) {
		if (!r.bench) {
			printf("kmod: the module has no kmod_bench()\n");
			return 1;
		}
		/* once to warm up (and promote), then timed */
		long warm = ((long (*)(uint64_t))(uintptr_t)r.bench)((uint64_t)iters);
		uint64_t total0 = 0, total1 = 0;
		for (unsigned c = 0; c < VC_REWRITE_CLASS_COUNT; c++)
			total0 += traps0[c] = state()->traps[c];
		uint64_t t0 = rdtsc();
		long result = ((long (*)(uint64_t))(uintptr_t)r.bench)((uint64_t)iters);
		uint64_t t1 = rdtsc();
		for (unsigned c = 0; c < VC_REWRITE_CLASS_COUNT; c++)
			total1 += state()->traps[c];
		uint64_t per100 = (total1 - total0) * 100 / (uint64_t)iters;
		printf("kmod: bench: %ld iterations at CPL3: %lu tsc/iteration, %lu.%02lu traps/iteration, "
		       "result %ld\n", iters, (unsigned long)((t1 - t0) / (uint64_t)iters),
		       (unsigned long)(per100 / 100), (unsigned long)(per100 % 100), result);
		status = result == warm ? 0 : 1;
		if (status)
			printf("kmod: bench: the timed run's result differs from the first (%ld)\n", warm);
	} else {
		if (!r.init) {
			printf("kmod: the module has no init_module()\n");
			return 1;
		}
		status = ((int (*)(void))(uintptr_t)r.init)();
		printf("kmod: init_module() returned %d\n", status);
	}
	report(traps0);
	return status;
}
