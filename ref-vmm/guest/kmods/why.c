// SPDX-License-Identifier: MIT
// A module that checks what a deprivileged kernel sees: the interrupt flag and IOPL it
// sets with popf and reads back with pushf, the machine status word (smsw) and the GDT
// register (sgdt) of its CPU. At CPL0, or at CPL3 rewritten (every one of these trapped
// and emulated on its virtual CPU), each answer is right. At CPL3 unrewritten they run
// as they are and are silently wrong: popf ignores IF and IOPL, pushf shows the real
// flags, smsw and sgdt show the host kernel's CR0 and GDT. Built like a kernel module
// (freestanding, -mcmodel=kernel, no red zone); imports printk and two accessors of the
// kernel it runs under (programs/kmod.c). Returns 0 when every check is right.
int printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
unsigned long kmod_virt_cr0(void);
void kmod_virt_gdtr(void *out);

struct __attribute__((packed)) descriptor_register {
	unsigned short limit;
	unsigned long base;
};

static unsigned long flags_through_popf(unsigned long v)
{
	unsigned long r;
	__asm__ volatile("push %1; popf; pushf; pop %0" : "=r"(r) : "r"(v) : "cc", "memory");
	return r;
}

static int check(const char *what, unsigned long got, unsigned long want)
{
	printk("why: %-34s %s (got %lx, want %lx)\n", what, got == want ? "right" : "WRONG", got, want);
	return got == want;
}

int init_module(void);
int init_module(void)
{
	struct descriptor_register g, vg;
	unsigned long msw;
	int right = 0, n = 6;

	right += check("popf IF=0, then pushf: IF", flags_through_popf(0x002) & 0x200, 0);
	right += check("popf IOPL=3, then pushf: IOPL", flags_through_popf(0x3002) & 0x3000, 0x3000);
	right += check("popf IF=1, then pushf: IF", flags_through_popf(0x202) & 0x200, 0x200);
	__asm__ volatile("smsw %0" : "=r"(msw));
	right += check("smsw: the machine status word", msw & 0xffff, kmod_virt_cr0() & 0xffff);
	__asm__ volatile("sgdt %0" : "=m"(g));
	kmod_virt_gdtr(&vg);
	right += check("sgdt: the GDT's base", g.base, vg.base);
	right += check("sgdt: the GDT's limit", g.limit, vg.limit);
	printk("why: %d of %d right\n", right, n);
	return right == n ? 0 : 1;
}
