// SPDX-License-Identifier: MIT
// Loadable modules (kmod_abi.h, docs/rewrite.md "Running a rewritten module"): an ELF
// object from a boot module is loaded into the module area of the task that asks
// (SYS_KMOD_LOAD: the kmod runtime), its imports bound through a PLT to the functions
// the task exports. The module runs at CPL3 in that task. Each site that vc-rewrite
// trapped arrives here as #BP: the site is found with vc_rewrite_abi_find() and emulated
// with vc_rewrite_emu_step() against the module's virtual CPU (the state page). A site
// that keeps trapping is promoted: its bytes become a jump to a stub that does the same
// work at CPL3 without a trap (inline for the interrupt flag, flags and TSC; through the
// runtime for the rest), then runs the instructions the jump displaced and jumps back.
//
// kmod0=N runs a module at CPL0 instead, unrewritten: the baseline the benchmark compares.
#include <virtcore/rewrite_emu.h>

#include "../kmod_abi.h"
#include "kernel.h"
#include "kmod-elf.h"

#define KMOD_MAX 4
#define EINVAL 22
#define ENOENT 2
#define EBUSY 16
#define ENOEXEC 8
#define ENOMEM 12
#define EFAULT 14

/* Per site: never promoted, promoted (its bytes are a jump), or inside another's jump. */
enum { SITE_TRAP, SITE_PROMOTED, SITE_COVERED, SITE_STAYS };

struct code_range {
	uint64_t va, size;
	uint32_t section;
};

struct kmod {
	int task;
	struct kmod_state *st;               /* the state page, through the kernel's mapping */
	uint8_t *image;                      /* the sections, through the kernel's mapping */
	struct vc_rewrite_abi_entry *sites;  /* the table, relocated bytes put back */
	uint32_t nsites;
	uint32_t *hits;                      /* traps per site */
	uint8_t *state;                      /* SITE_* per site */
	struct code_range code[KMOD_ELF_MAX_SECTIONS];
	unsigned ncode;
	uint8_t *plt;
	unsigned nplt;
	uint8_t *stubs;
	uint32_t stub_used;
	struct kmod_segment *segs;
	uint32_t nsegs;
	uint32_t promote_after;
};

static struct kmod kmods[KMOD_MAX];
static int nkmods;
/* Tasks that asked for a module, loaded or refused: one request each, so a task cannot
 * exhaust the kernel's pages (never freed) by asking again and again. */
static uint64_t asked;
static struct kmod_elf elf; /* the object being loaded (or last loaded) */

static struct kmod *current_kmod(void)
{
	for (int i = 0; i < nkmods; i++)
		if (kmods[i].task == task_current_id())
			return &kmods[i];
	return NULL;
}

/* ---- loading ---- */

struct binder {
	struct kmod *m;
	const struct kmod_export *exports; /* kernel copies */
	const char (*names)[64];
	unsigned n;
};

/* An import: a PLT entry `jmp *8(%rip)` (ff 25 02 00 00 00, ud2, the address), one per
 * name: the module is 2 GiB from everything it imports, beyond a rel32. */
static int bind(void *ctx, const char *name, uint64_t *addr)
{
	struct binder *b = ctx;
	struct kmod *m = b->m;
	for (unsigned i = 0; i < b->n; i++) {
		if (strcmp(b->names[i], name))
			continue;
		for (unsigned k = 0; k < m->nplt; k++)
			if (*(uint64_t *)(m->plt + k * KMOD_PLT_ENTRY + 8) == b->exports[i].addr) {
				*addr = KMOD_PLT_VA + k * KMOD_PLT_ENTRY;
				return 0;
			}
		if (m->nplt == KMOD_PLT_MAX)
			return -1;
		uint8_t *e = m->plt + m->nplt * KMOD_PLT_ENTRY;
		static const uint8_t jmp[8] = {0xff, 0x25, 0x02, 0, 0, 0, 0x0f, 0x0b};
		memcpy(e, jmp, sizeof(jmp));
		memcpy(e + 8, &b->exports[i].addr, 8);
		*addr = KMOD_PLT_VA + m->nplt++ * KMOD_PLT_ENTRY;
		return 0;
	}
	return -1;
}

/* Maps @n pages at @kva (kernel address of contiguous pages) to @va under @pt. */
static void map(uint64_t *pt, uint64_t va, const void *kva, unsigned n, uint64_t flags)
{
	for (unsigned i = 0; i < n; i++)
		pt[((va - KMOD_AREA) >> 12) + i] = ((uint64_t)(uintptr_t)kva + i * 4096ull) | flags;
}

/* The virtual CPU a module starts with: interrupts on, its own (virtual) tables. */
static void initial_state(struct kmod_state *st)
{
	static const uint64_t msr[][2] = {
		{0xc0000080, 0xd01},              /* EFER: SCE LME LMA NXE */
		{0xc0000081, 0x0023001000000000}, /* STAR */
		{0xc0000082, 0xffffffff81000000}, /* LSTAR */
		{0xc0000102, 0},                  /* KERNEL_GS_BASE */
		{0xc0000103, 0},                  /* TSC_AUX */
		{0x1b, 0xfee00900},               /* APIC_BASE */
	};
	st->cpu.vflags = VC_REWRITE_EMU_IF;
	st->cpu.cr0 = 0x8005003b; /* PG AM WP NE ET TS MP PE: TS set, as a lazy-FPU kernel has it */
	st->cpu.cr3 = 0x1000;
	st->cpu.cr4 = 0x3406f0;
	st->cpu.gdt_base = 0xfffffe0000001000ull; /* where this virtual kernel keeps its tables */
	st->cpu.gdt_limit = 0x7f;
	st->cpu.idt_base = 0xfffffe0000000000ull;
	st->cpu.idt_limit = 0xfff;
	for (unsigned i = 0; i < sizeof(msr) / sizeof(msr[0]); i++) {
		st->msr_index[i] = msr[i][0];
		st->msr_value[i] = msr[i][1];
	}
}

/*
 * Loads @obj into the module area under @pml4 (@user: a task's, else the kernel's).
 * Fills @m; 0, or -errno with @err set.
 */
static int load(struct kmod *m, uint64_t *pml4, int user, const uint8_t *obj, uint64_t size,
		struct binder *b, char *err, size_t errlen)
{
	struct kmod_elf *k = &elf; /* large; the kernel lock serialises loads */
	if (kmod_elf_check(k, obj, size)) {
		sfmt(err, errlen, "%s", k->error);
		return -ENOEXEC;
	}
	if (k->image_size > KMOD_IMAGE_MAX) {
		sfmt(err, errlen, "its sections need %lu bytes, the module area has %llu",
		     (unsigned long)k->image_size, KMOD_IMAGE_MAX);
		return -ENOMEM;
	}
	if (k->nsites > 65536) {
		sfmt(err, errlen, "%u sites: at most 65536", k->nsites);
		return -ENOMEM;
	}
	unsigned image_pages = (unsigned)((k->image_size + 4095) / 4096);
	unsigned site_pages = (unsigned)(((uint64_t)k->nsites * (sizeof(*m->sites) + 5) + 4095) / 4096);
	m->st = page_alloc();
	void *stack = page_alloc_run(3);
	m->plt = page_alloc();
	m->segs = page_alloc_run(3);
	m->stubs = page_alloc_run(8);
	m->image = image_pages ? page_alloc_run(image_pages) : NULL;
	m->sites = site_pages ? page_alloc_run(site_pages) : NULL;
	if (m->sites) {
		m->hits = (uint32_t *)(m->sites + k->nsites);
		m->state = (uint8_t *)(m->hits + k->nsites);
	}
	m->nsites = k->nsites;
	b->m = m;
	if (kmod_elf_place(k, m->image, KMOD_IMAGE_VA, bind, b, m->sites)) {
		sfmt(err, errlen, "%s", k->error);
		return -ENOEXEC;
	}
	for (unsigned i = 1; i < k->shnum; i++) /* where the sites can be */
		if (k->sec_code[i])
			m->code[m->ncode++] = (struct code_range){KMOD_IMAGE_VA + k->sec_off[i], k->sec_size[i], i};

	initial_state(m->st);
	const uint64_t u = user ? PTE_U : 0, nx = 1ull << 63;
	uint64_t *pt = mm_page_table(pml4, KMOD_AREA, user);
	map(pt, KMOD_STATE_VA, m->st, 1, PTE_P | PTE_W | u | nx);
	map(pt, KMOD_AREA + 4096, stack, 3, PTE_P | PTE_W | u | nx);
	map(pt, KMOD_PLT_VA, m->plt, 1, PTE_P | u);
	map(pt, KMOD_SEG_VA, m->segs, 3, PTE_P | u | nx);
	map(pt, KMOD_STUB_VA, m->stubs, 8, PTE_P | u);
	/* the module's sections: writable and executable, as a module's pages are before
	 * the kernel seals them; the kernel writes promoted jumps into them */
	map(pt, KMOD_IMAGE_VA, m->image, image_pages, PTE_P | PTE_W | u);
	write_cr3((uint64_t)(uintptr_t)pml4); /* new mappings: flush */
	return 0;
}

static void describe(const struct kmod *m, struct kmod_load *r)
{
	r->sites = m->nsites;
	for (uint32_t i = 0; i < m->nsites; i++)
		r->promotable += !!(m->sites[i].flags & VC_REWRITE_SITE_PROMOTABLE);
}

int64_t kmod_load_syscall(uint64_t ureq)
{
	static struct kmod_load r;
	static struct kmod_export exports[32];
	static char names[32][64];
	int64_t rc = 0;

	if (copy_from_user(&r, ureq, sizeof(r)))
		return -EFAULT;
	r.error[0] = 0;
	r.init = r.bench = 0;
	r.sites = r.promotable = 0;
	const struct vc_pvh_modlist_entry *mod = module_get((int)r.module);
	const uint64_t me = 1ull << (task_current_id() & 63);
	if (asked & me) {
		sfmt(r.error, sizeof(r.error), "this task has asked for a module already");
		rc = -EBUSY;
	} else if (nkmods == KMOD_MAX) {
		sfmt(r.error, sizeof(r.error), "%d modules are loaded: no room for more", KMOD_MAX);
		rc = -EBUSY;
	} else if (!mod) {
		sfmt(r.error, sizeof(r.error), "no boot module %u (there are %d)", r.module, module_count());
		rc = -ENOENT;
	} else if (r.nexports > 32 || copy_from_user(exports, r.exports, r.nexports * sizeof(exports[0]))) {
		sfmt(r.error, sizeof(r.error), "the export table: at most 32 entries, readable");
		rc = -EINVAL;
	}
	asked |= me;
	for (uint32_t i = 0; !rc && i < r.nexports; i++) {
		uint64_t n = 0;
		while (n < sizeof(names[i]) && !copy_from_user(&names[i][n], exports[i].name + n, 1) && names[i][n])
			n++;
		if (n == sizeof(names[i]) || names[i][n]) {
			sfmt(r.error, sizeof(r.error), "export %u: an unreadable or too long name", i);
			rc = -EINVAL;
		}
	}
	if (!rc) {
		struct kmod *m = &kmods[nkmods];
		memset(m, 0, sizeof(*m));
		struct binder b = {m, exports, (const char(*)[64])names, r.nexports};
		rc = load(m, task_pml4(), 1, (const uint8_t *)(uintptr_t)mod->paddr, mod->size, &b,
			  r.error, sizeof(r.error));
		if (!rc) {
			m->task = task_current_id();
			m->promote_after = r.promote_after;
			m->st->rt_entry = r.rt_entry;
			nkmods++;
			kmod_elf_symbol(&elf, KMOD_IMAGE_VA, "init_module", &r.init);
			kmod_elf_symbol(&elf, KMOD_IMAGE_VA, "kmod_bench", &r.bench);
			r.image_bytes = elf.image_size;
			describe(m, &r);
		}
	}
	if (copy_to_user(ureq, &r, sizeof(r)))
		return -EFAULT;
	return rc;
}

/* ---- the trap path: the kernel emulates ---- */

static int find_msr(struct kmod_state *st, uint32_t msr)
{
	for (int i = 0; i < KMOD_MSRS; i++)
		if (st->msr_index[i] == msr && (msr || i == 0))
			return i;
	return -1;
}

static int k_read(void *ctx, uint64_t addr, void *buf, unsigned len)
{
	(void)ctx;
	if (!task_user_ok(addr, len, 0))
		return -1;
	memcpy(buf, (const void *)(uintptr_t)addr, len);
	return 0;
}

static int k_write(void *ctx, uint64_t addr, const void *buf, unsigned len)
{
	(void)ctx;
	if (!task_user_ok(addr, len, 1))
		return -1;
	memcpy((void *)(uintptr_t)addr, buf, len);
	return 0;
}

static int k_rdmsr(void *ctx, uint32_t msr, uint64_t *value)
{
	struct kmod_state *st = ((struct kmod *)ctx)->st;
	int i = find_msr(st, msr);
	if (i < 0)
		return -1;
	*value = st->msr_value[i];
	return 0;
}

static int k_wrmsr(void *ctx, uint32_t msr, uint64_t value)
{
	struct kmod_state *st = ((struct kmod *)ctx)->st;
	int i = find_msr(st, msr);
	if (i < 0)
		return -1;
	st->msr_value[i] = value;
	return 0;
}

/* Ports: the null port is modelled here (as the VMM would: writes dropped, reads 0);
 * COM1 goes to the VMM's UART; any other port faults (the VMM's hypercall and exit
 * ports are the kernel's, not a module's). */
static int k_in(void *ctx, uint16_t port, unsigned size, uint32_t *value)
{
	struct kmod_state *st = ((struct kmod *)ctx)->st;
	if (port == VCG_PORT_NULL) {
		st->null_reads++;
		*value = 0;
		return 0;
	}
	if (port >= VCG_PORT_COM1 && port < VCG_PORT_COM1 + 8 && size == 1) {
		*value = inb(port);
		return 0;
	}
	return -1;
}

static int k_out(void *ctx, uint16_t port, unsigned size, uint32_t value)
{
	struct kmod_state *st = ((struct kmod *)ctx)->st;
	if (port == VCG_PORT_NULL) {
		st->null_writes++;
		return 0;
	}
	if (port >= VCG_PORT_COM1 && port < VCG_PORT_COM1 + 8 && size == 1) {
		outb(port, (uint8_t)value);
		return 0;
	}
	return -1;
}

static uint64_t k_rdtsc(void *ctx)
{
	(void)ctx;
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static void k_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	(void)ctx;
	__asm__ volatile("cpuid" : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3])
			 : "a"(leaf), "c"(sub));
}

static void frame_to_cpu(const struct trapframe *tf, struct vc_rewrite_emu_cpu *c)
{
	const uint64_t g[16] = {tf->rax, tf->rcx, tf->rdx, tf->rbx, tf->rsp, tf->rbp, tf->rsi, tf->rdi,
				tf->r8, tf->r9, tf->r10, tf->r11, tf->r12, tf->r13, tf->r14, tf->r15};
	memcpy(c->gpr, g, sizeof(g));
	c->rflags = tf->rflags;
}

static void cpu_to_frame(const struct vc_rewrite_emu_cpu *c, struct trapframe *tf)
{
	tf->rax = c->gpr[0], tf->rcx = c->gpr[1], tf->rdx = c->gpr[2], tf->rbx = c->gpr[3];
	tf->rsp = c->gpr[4], tf->rbp = c->gpr[5], tf->rsi = c->gpr[6], tf->rdi = c->gpr[7];
	tf->r8 = c->gpr[8], tf->r9 = c->gpr[9], tf->r10 = c->gpr[10], tf->r11 = c->gpr[11];
	tf->r12 = c->gpr[12], tf->r13 = c->gpr[13], tf->r14 = c->gpr[14], tf->r15 = c->gpr[15];
	/* what the module may set; the real IF stays on and IOPL 0 (iretq would load them) */
	tf->rflags = (c->rflags & 0x240dd5) | 0x202;
}

/* ---- promotion ---- */

struct emitter {
	uint8_t *p;   /* kernel address */
	uint64_t va;  /* where it runs */
};

static void put(struct emitter *e, const void *bytes, unsigned n)
{
	memcpy(e->p, bytes, n);
	e->p += n, e->va += n;
}

/* @op (the bytes before a RIP-relative disp32), then the disp32 to @target, then @imm. */
static void put_rip(struct emitter *e, const uint8_t *op, unsigned n, uint64_t target,
		    const void *imm, unsigned immlen)
{
	int32_t disp = (int32_t)(target - (e->va + n + 4 + immlen));
	put(e, op, n);
	put(e, &disp, 4);
	if (immlen)
		put(e, imm, immlen);
}

#define STATE_FIELD(f) (KMOD_STATE_VA + __builtin_offsetof(struct kmod_state, f))

static void put_count(struct emitter *e, unsigned cls)
{
	static const uint8_t incq[] = {0x48, 0xff, 0x05};
	put_rip(e, incq, 3, STATE_FIELD(fast) + cls * 8, NULL, 0);
}

/* The inline forms: the virtual IF and flags on the state page, the TSC as it is. Each
 * keeps the module's arithmetic flags. 0 if the site has no inline form. */
static int put_inline(struct emitter *e, const struct vc_rewrite_abi_entry *s)
{
	const uint8_t b0 = s->original[0];
	const uint64_t vflags = STATE_FIELD(cpu.vflags);
	if (s->length == 1 && (b0 == 0xfa || b0 == 0xfb)) { /* cli, sti */
		static const uint8_t andq[] = {0x48, 0x81, 0x25}, orq[] = {0x48, 0x81, 0x0d};
		const uint32_t clear = ~0x200u, set = 0x200u;
		put(e, "\x9c", 1); /* pushfq */
		put_count(e, s->cls);
		put_rip(e, b0 == 0xfa ? andq : orq, 3, vflags, b0 == 0xfa ? &clear : &set, 4);
		put(e, "\x9d", 1); /* popfq */
		return 1;
	}
	if (s->length == 1 && b0 == 0x9c) { /* pushf: the real flags, virtual IF and IOPL */
		static const uint8_t mov[] = {0x48, 0x8b, 0x05};
		put(e, "\x9c\x9c\x50", 3); /* pushfq (the image); pushfq (to restore); push %rax */
		put_count(e, s->cls);
		put_rip(e, mov, 3, vflags, NULL, 0);              /* mov vflags, %rax */
		put(e, "\x25\x00\x32\x00\x00", 5);                  /* and $0x3200, %eax */
		put(e, "\x48\x81\x64\x24\x10\xff\xcd\xff\xff", 9);  /* andq $~0x3200, 16(%rsp) */
		put(e, "\x48\x09\x44\x24\x10", 5);                  /* or %rax, 16(%rsp) */
		put(e, "\x58\x9d", 2);                              /* pop %rax; popfq */
		return 1;
	}
	if (s->length == 1 && b0 == 0x9d) { /* popf: IF and IOPL to the state, the rest real */
		static const uint8_t andq[] = {0x48, 0x81, 0x25}, orq[] = {0x48, 0x09, 0x05};
		const uint32_t clear = ~0x3200u;
		put(e, "\x50", 1); /* push %rax */
		put_count(e, s->cls);
		put(e, "\x48\x8b\x44\x24\x08", 5);                  /* mov 8(%rsp), %rax */
		put(e, "\x25\x00\x32\x00\x00", 5);                  /* and $0x3200, %eax */
		put_rip(e, andq, 3, vflags, &clear, 4);            /* andq $~0x3200, vflags */
		put_rip(e, orq, 3, vflags, NULL, 0);               /* or %rax, vflags */
		put(e, "\x48\x81\x64\x24\x08\xff\xbf\xff\xff", 9);  /* andq $~NT, 8(%rsp) */
		put(e, "\x58\x9d", 2);                              /* pop %rax; popfq */
		return 1;
	}
	if (s->length == 2 && b0 == 0x0f && s->original[1] == 0x31) { /* rdtsc */
		put(e, "\x9c", 1);
		put_count(e, s->cls);
		put(e, "\x9d\x0f\x31", 3);
		return 1;
	}
	return 0;
}

/* A segment for the runtime: save rsp, switch to the runtime stack, push the record's
 * index, jump to the runtime; then the fallback int3. */
static int put_segment(struct kmod *m, struct emitter *e, const struct vc_rewrite_abi_entry *s,
		       uint64_t site)
{
	if (m->nsegs == KMOD_SEG_MAX)
		return -1;
	static const uint8_t save[] = {0x48, 0x89, 0x25}, lea[] = {0x48, 0x8d, 0x25}, jmp[] = {0xff, 0x25};
	const uint32_t index = m->nsegs;
	put_rip(e, save, 3, STATE_FIELD(rt_rsp), NULL, 0);
	put_rip(e, lea, 3, KMOD_RT_STACK_TOP, NULL, 0);
	put(e, "\x68", 1);
	put(e, &index, 4);
	put_rip(e, jmp, 2, STATE_FIELD(rt_entry), NULL, 0);
	struct kmod_segment *g = &m->segs[m->nsegs++];
	g->site = site;
	g->trap = e->va;
	put(e, "\xcc", 1);
	g->resume = e->va;
	g->len = s->length;
	g->cls = s->cls;
	memcpy(g->bytes, s->original, 16);
	return 0;
}

static const struct code_range *range_of(const struct kmod *m, uint32_t section)
{
	for (unsigned i = 0; i < m->ncode; i++)
		if (m->code[i].section == section)
			return &m->code[i];
	return NULL;
}

/*
 * Site @i just trapped and was emulated: once hot, replace it by a jump to a stub. The
 * stub does the site's work and that of the window after it (sites emulated in turn,
 * other instructions copied as they are: the rewriter checked they can run anywhere),
 * then jumps back. Returns where the module goes on: in the stub, after site @i's own
 * work (the jump now covers what followed it), or 0 when nothing changed.
 */
static uint64_t promote(struct kmod *m, uint32_t i)
{
	const struct vc_rewrite_abi_entry *s = &m->sites[i];
	if (!m->promote_after || m->state[i] != SITE_TRAP || ++m->hits[i] < m->promote_after)
		return 0;
	if (!(s->flags & VC_REWRITE_SITE_PROMOTABLE) || s->cls == VC_REWRITE_HALT) {
		m->state[i] = SITE_STAYS;
		return 0;
	}
	const struct code_range *r = range_of(m, s->section);
	const uint64_t site = r->va + s->offset;
	const uint64_t end = site + s->length + VC_REWRITE_SITE_DISPLACED(s->flags);
	if (end - site < 5 || end > r->va + r->size) { /* the table is the object's: check it */
		m->state[i] = SITE_STAYS;
		return 0;
	}
	uint32_t last = i;
	while (last + 1 < m->nsites && m->sites[last + 1].section == s->section &&
	       r->va + m->sites[last + 1].offset < end)
		last++;
	/* room: a segment is at most 47 bytes (popf inline); the copies (at most 31 bytes)
	 * and the jump back */
	if (m->stub_used + (last - i + 1) * 48 + 40 > KMOD_STUB_BYTES ||
	    m->nsegs + (last - i + 1) > KMOD_SEG_MAX)
		return 0;
	for (uint32_t j = i + 1; j <= last; j++)
		if (m->state[j] == SITE_PROMOTED)
			return 0; /* its jump is in our window already */

	struct emitter e = {m->stubs + m->stub_used, KMOD_STUB_VA + m->stub_used};
	const uint64_t stub = e.va;
	uint64_t after_first = 0;
	uint64_t at = site;
	for (uint32_t j = i; at < end;) {
		const struct vc_rewrite_abi_entry *t = j <= last ? &m->sites[j] : NULL;
		const uint64_t t_va = t ? r->va + t->offset : end;
		if (at < t_va) { /* plain instructions, as loaded */
			put(&e, m->image + (at - KMOD_IMAGE_VA), (unsigned)(t_va - at));
			at = t_va;
			continue;
		}
		if (!put_inline(&e, t) && put_segment(m, &e, t, t_va))
			return 0;
		if (j == i)
			after_first = e.va;
		at += t->length;
		j++;
	}
	int32_t back = (int32_t)(end - (e.va + 5));
	put(&e, "\xe9", 1);
	put(&e, &back, 4);
	m->stub_used = (uint32_t)(e.va - KMOD_STUB_VA);

	/* the jump; the bytes it leaves behind trap if anything ever reached them */
	uint8_t *code = m->image + (site - KMOD_IMAGE_VA);
	int32_t to = (int32_t)(stub - (site + 5));
	memset(code + 5, 0xcc, end - site - 5);
	memcpy(code + 1, &to, 4);
	code[0] = 0xe9;
	m->state[i] = SITE_PROMOTED;
	for (uint32_t j = i + 1; j <= last; j++)
		m->state[j] = SITE_COVERED;
	m->st->promoted[s->cls]++;
	return after_first;
}

/* The segment whose fallback int3 is at @va (records are in address order). */
static const struct kmod_segment *segment_at(const struct kmod *m, uint64_t va)
{
	uint32_t lo = 0, hi = m->nsegs;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (m->segs[mid].trap < va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->nsegs && m->segs[lo].trap == va ? &m->segs[lo] : NULL;
}

int kmod_trap(struct trapframe *tf)
{
	struct kmod *m = current_kmod();
	if (!m)
		return 0;
	const uint64_t va = tf->rip - 1; /* #BP reports the address after the int3 */
	const uint8_t *bytes;
	unsigned len, cls;
	uint64_t site, resume = 0;
	uint32_t index = 0;
	if (va >= KMOD_STUB_VA && va < KMOD_STUB_VA + KMOD_STUB_BYTES) {
		const struct kmod_segment *g = segment_at(m, va);
		if (!g)
			return 0;
		bytes = g->bytes, len = g->len, cls = g->cls, site = g->site, resume = g->resume;
		m->st->fallbacks++;
	} else {
		const struct vc_rewrite_abi_entry *s = NULL;
		for (unsigned i = 0; i < m->ncode && !s; i++)
			if (va >= m->code[i].va && va - m->code[i].va < m->code[i].size)
				s = vc_rewrite_abi_find(m->sites, m->nsites, m->code[i].section,
							va - m->code[i].va);
		if (!s || range_of(m, s->section)->va + s->offset != va)
			return 0; /* an int3 of the module's own */
		index = (uint32_t)(s - m->sites);
		bytes = s->original, len = s->length, cls = s->cls, site = va;
	}
	struct vc_rewrite_emu_cpu c = m->st->cpu;
	frame_to_cpu(tf, &c);
	c.rip = site;
	const struct vc_rewrite_emu_ops ops = {m, k_read, k_write, k_rdmsr, k_wrmsr, k_in, k_out,
					       k_rdtsc, k_cpuid};
	int rc = vc_rewrite_emu_step(&c, bytes, len, &ops);
	if (rc < 0) {
		kprintf("kmod: task %d: the %s instruction at %lx (%02x %02x...): %s; the module is "
			"stopped\n", task_current_id(), kmod_class_name(cls), site, bytes[0],
			len > 1 ? bytes[1] : 0,
			rc == VC_REWRITE_EMU_FAULT ? "it faults on its virtual CPU (#GP)"
						   : "not an instruction the emulator handles");
		task_exit_from(tf, 128 + 13);
		return 1;
	}
	m->st->cpu = c;
	cpu_to_frame(&c, tf);
	m->st->traps[cls]++;
	tf->rip = resume ? resume : c.rip;
	if (!resume) {
		uint64_t go_on = promote(m, index);
		if (go_on)
			tf->rip = go_on;
	}
	if (rc == VC_REWRITE_EMU_HALT)
		sched_yield_from(tf); /* hlt: let the others run, as waiting for an interrupt */
	return 1;
}

/* ---- kmod0=: the baseline at CPL0 ---- */

extern uint64_t boot_pml4[];

void kmod_run_cpl0(const char *spec, size_t len)
{
	static struct kmod m0;
	static char err[160];
	int index = 0;
	uint64_t iters = 0;
	size_t i = 0;
	while (i < len && spec[i] >= '0' && spec[i] <= '9')
		index = index * 10 + (spec[i++] - '0');
	if (i + 7 <= len && !strncmp(spec + i, ":bench=", 7))
		for (i += 7; i < len && spec[i] >= '0' && spec[i] <= '9'; i++)
			iters = iters * 10 + (uint64_t)(spec[i] - '0');
	if (!i || i != len)
		panic("kmod0=%.*s: expected kmod0=N or kmod0=N:bench=ITERATIONS", (int)len, spec);
	const struct vc_pvh_modlist_entry *mod = module_get(index);
	if (!mod)
		panic("kmod0=%d: there are %d boot modules", index, module_count());
	static const struct kmod_export exports[] = {{0, (uint64_t)(uintptr_t)kprintf}};
	static const char names[][64] = {"printk"};
	struct binder b = {&m0, exports, names, 1};
	if (load(&m0, boot_pml4, 0, (const uint8_t *)(uintptr_t)mod->paddr, mod->size, &b, err, sizeof(err))) {
		kprintf("kmod0: module %d refused: %s\n", index, err);
		vm_exit(1);
	}
	uint64_t fn = 0;
	if (kmod_elf_symbol(&elf, KMOD_IMAGE_VA, iters ? "kmod_bench" : "init_module", &fn))
		panic("kmod0=%d: the module has no %s()", index, iters ? "kmod_bench" : "init_module");
	uint64_t t0 = k_rdtsc(NULL);
	long result = iters ? ((long (*)(uint64_t))(uintptr_t)fn)(iters) : ((int (*)(void))(uintptr_t)fn)();
	uint64_t t1 = k_rdtsc(NULL);
	if (iters)
		kprintf("kmod0: %lu iterations at CPL0, unrewritten: %lu tsc/iteration, result %ld\n",
			(unsigned long)iters, (unsigned long)((t1 - t0) / iters), result);
	else
		kprintf("kmod0: init_module() at CPL0 returned %ld\n", result);
}
