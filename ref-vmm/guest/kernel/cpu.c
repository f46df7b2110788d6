// SPDX-License-Identifier: MIT
// CPU tables (TSS, IDT, syscall MSRs) and the trap dispatcher.
#include "kernel.h"

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, reserved;
};

extern uint64_t gdt[];
extern const char trap_stubs[], syscall_int80[], syscall_entry[], spurious_stub[];

struct percpu percpus[MAX_CPUS];
static struct idt_gate idt[256];

static void set_gate(int vec, const void *fn, int dpl)
{
	uint64_t a = (uint64_t)(uintptr_t)fn;
	idt[vec] = (struct idt_gate){
		.off_lo = (uint16_t)a,
		.sel = KERNEL_CS,
		.type = (uint8_t)(0x8e | (dpl << 5)), /* present, 64-bit interrupt gate */
		.off_mid = (uint16_t)(a >> 16),
		.off_hi = (uint32_t)(a >> 32),
	};
}

/* The legacy 8259 PICs: moved off the exception vectors (a BIOS leaves IRQ 0 on
 * vector 8, #DF) to 32-47, and masked; nothing here uses them yet. */
static void pic_init(void)
{
	static const uint8_t seq[][2] = {
		{0x20, 0x11}, {0xa0, 0x11}, /* ICW1: init, ICW4 follows */
		{0x21, 0x20}, {0xa1, 0x28}, /* ICW2: vector bases */
		{0x21, 0x04}, {0xa1, 0x02}, /* ICW3: cascade on IRQ 2 */
		{0x21, 0x01}, {0xa1, 0x01}, /* ICW4: 8086 mode */
		{0x21, 0xff}, {0xa1, 0xff}, /* mask everything */
	};
	for (unsigned i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		outb(seq[i][0], seq[i][1]);
}

struct descriptor_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* This CPU's own GDT (a TSS is busy once loaded, so each CPU needs its own descriptor)
 * and TSS, the shared IDT, and the syscall MSRs. */
static void cpu_tables(struct percpu *c)
{
	c->kstack_top = (uint64_t)(uintptr_t)cpu_stacks + (uint64_t)(c->id + 1) * KERNEL_STACK_SIZE;
	c->tss.rsp[0] = c->kstack_top;
	c->tss.iopb = sizeof(c->tss);
	memcpy(c->gdt, gdt, TSS_SEL);
	uint64_t base = (uint64_t)(uintptr_t)&c->tss, limit = sizeof(c->tss) - 1;
	c->gdt[TSS_SEL / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
			      (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	c->gdt[TSS_SEL / 8 + 1] = base >> 32;
	/* Same selectors as the boot GDT: the loaded segments stay valid. */
	struct descriptor_ptr gdtr = {sizeof(c->gdt) - 1, (uint64_t)(uintptr_t)c->gdt};
	__asm__ volatile("lgdt %0; ltr %w1" ::"m"(gdtr), "r"(TSS_SEL));
	struct descriptor_ptr idtr = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
	__asm__ volatile("lidt %0" ::"m"(idtr));

	/* `syscall`: EFER.SCE was set at entry (or preset by the VMM). */
	wrmsr(MSR_STAR, ((uint64_t)STAR_USER_BASE << 48) | ((uint64_t)KERNEL_CS << 32));
	wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)syscall_entry);
	wrmsr(MSR_FMASK, 0x47700); /* IF, TF, DF, AC, NT cleared on entry */
	wrmsr(MSR_KERNEL_GS_BASE, (uint64_t)(uintptr_t)c);
}

void cpu_init(void)
{
	pic_init();
	/* Exceptions 0-31 and interrupts 32-63 have 16-byte stubs (entry.S). #BP is
	 * reachable from CPL3 (int3), as is the int $0x80 system call. */
	for (int v = 0; v < VEC_STUBS; v++)
		set_gate(v, trap_stubs + 16 * v, v == 3 ? 3 : 0);
	set_gate(VEC_SYSCALL, syscall_int80, 3);
	set_gate(VEC_SPURIOUS, spurious_stub, 0);
	for (int i = 0; i < MAX_CPUS; i++) {
		percpus[i].self = (uint64_t)(uintptr_t)&percpus[i];
		percpus[i].id = i;
		percpus[i].current = -1;
	}
	cpu_tables(&percpus[0]);
}

void cpu_init_ap(int id)
{
	cpu_tables(&percpus[id]);
}

static const char *const exc_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#MF?", "#TS", "#NP",
	"#SS", "#GP", "#PF", "15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

const char *exception_name(uint64_t vec)
{
	return vec < 32 && exc_names[vec] ? exc_names[vec] : "exception";
}

void trap(struct trapframe *tf);
void trap(struct trapframe *tf)
{
	/* System calls and a task's faults run under the kernel lock (one CPU at a time in
	 * the kernel's shared state); device interrupts touch only per-CPU and atomic state. */
	if (tf->vector == VEC_SYSCALL || (tf->vector < 32 && (tf->cs & 3) == 3)) {
		kernel_lock();
		if (tf->vector == VEC_SYSCALL)
			syscall_dispatch(tf);
		else
			task_fault(tf);
		kernel_unlock();
		return;
	}
	if (tf->vector < 32)
		panic("%s in the kernel: rip=%lx error=%lx cr2=%lx", exception_name(tf->vector), tf->rip,
		      tf->error, read_cr2());
	if (tf->vector >= VEC_DEVICE_FIRST && tf->vector < VEC_STUBS) {
		struct percpu *c = this_cpu();
		c->interrupts[tf->vector - VEC_DEVICE_FIRST]++;
		if (tf->vector == VEC_IRQTEST)
			irqtest_interrupt(c);
		lapic_eoi();
		/* Block completions wake whoever waits for them; that may be another CPU. */
		if (tf->vector == VEC_BLK)
			smp_wake_others();
		return;
	}
	/* Interrupts 32-47 (PIC) and spurious ones: acknowledge and go on. */
	if (tf->vector >= 32 && tf->vector < 48) {
		if (tf->vector >= 40)
			outb(0xa0, 0x20);
		outb(0x20, 0x20);
	}
}
