/* SPDX-License-Identifier: MIT */
/* The guest kernel's internal interfaces. Freestanding: no libc. */
#ifndef VCG_KERNEL_H
#define VCG_KERNEL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "../abi.h"
#include "../fmt.h"
#include "layout.h"

/* Saved by entry.S, in push order reversed. */
struct trapframe {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iopb; /* offset past the limit: no I/O bitmap, IOPL decides */
} __attribute__((packed));

/* Each CPU's own state. The kernel finds it from its stack: CPU n runs on cpu_stacks[n]. */
struct percpu {
	uint64_t self;       /* 0 */
	uint64_t kstack_top; /* PERCPU_KSTACK: the top of its kernel stack (TSS rsp0) */
	uint64_t user_rsp;   /* PERCPU_USER_RSP: the syscall entry's scratch */
	int id;
	int current;         /* the task it runs, -1 before the first */
	uint64_t gdt[TSS_SEL / 8 + 2];
	struct tss tss;
	/* Written by the CPU itself (interrupts) or under the kernel lock; read by others. */
	volatile uint64_t interrupts[VEC_STUBS - VEC_DEVICE_FIRST]; /* per device vector */
	volatile uint64_t irqtest_seen;  /* test-source requests its handler dispatched */
	volatile uint64_t irqtest_last_latency; /* TSC cycles, fire to handler */
	volatile int park_request;       /* SYS_CPU_PARK asked it to go offline (1) or back (0) */
	volatile int parked;             /* offline: told the VMM, taking no interrupts */
	volatile int online;             /* started and in the scheduler */
};
_Static_assert(__builtin_offsetof(struct percpu, kstack_top) == PERCPU_KSTACK, "percpu");
_Static_assert(__builtin_offsetof(struct percpu, user_rsp) == PERCPU_USER_RSP, "percpu");

extern struct percpu percpus[MAX_CPUS];
extern char cpu_stacks[];

static inline struct percpu *this_cpu(void)
{
	uint64_t sp;
	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	return &percpus[(sp - (uint64_t)(uintptr_t)cpu_stacks) >> KERNEL_STACK_SHIFT];
}

/* ---- low level (x86.h-style helpers) ---- */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
static inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }
static inline uint64_t read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* ---- lib.c ---- */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
int strcmp(const char *a, const char *b);

/* ---- console.c ---- */
void console_init(void);
int console_has_hcall(void);
void console_write(const char *s, size_t len);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- hcall.c ---- */
int64_t hcall(uint32_t nr, uint64_t a0, uint64_t a1);
_Noreturn void vm_exit(int status);

/* ---- mm.c ---- */
void mm_init(const struct vc_pvh_start_info *si);
void *page_alloc(void); /* zeroed 4 KiB page, identity-mapped; panics when out */
uint64_t mm_free_bytes(void);
/* Is [@pa, @pa + @len) RAM in the boot memory map (not a device's page)? */
int mm_is_ram(uint64_t pa, uint64_t len);
/* @n zeroed pages one after the other (the allocator is a bump allocator). */
void *page_alloc_run(unsigned n);
/* The page table (4 KiB pages) for the 2 MiB around @va under @pml4, with the levels
 * above made as needed (user-accessible with @user). */
uint64_t *mm_page_table(uint64_t *pml4, uint64_t va, int user);

/* ---- lapic.c ---- */
void lapic_init(void);
void lapic_eoi(void);
/* 1 if a device interrupt (vectors 48..63) waits in this CPU's IRR. */
int lapic_device_pending(void);
/* A fixed IPI of @vector to the CPU with APIC id @cpu, or to every other CPU (-1). */
void lapic_ipi(int cpu, uint8_t vector);

/* ---- smp.c: application processors, the kernel lock, parking ---- */
/* Starts every other vCPU the VMM has (up to MAX_CPUS) and waits until each runs. */
void smp_start(int quiet);
int smp_cpu_count(void);
void kernel_lock(void);
void kernel_unlock(void);
/* Halts with interrupts on until one comes, without the kernel lock; the caller holds it. */
void kernel_halt(void);
/* Nothing left to run on this CPU: idles for good, parking when asked. Lock held. */
_Noreturn void cpu_idle(void);
/* Wakes the other CPUs (VEC_WAKE) when there are any. */
void smp_wake_others(void);
/* SYS_CPU_PARK: asks CPU @cpu (one with no tasks) to go offline (@park 1) or come back,
 * and waits until it has told the VMM. 0, -EINVAL, -EBUSY (it has tasks). Lock held. */
int64_t smp_park(int cpu, int park);

/* ---- irqtest.c: the VMM's test interrupt sources (VEC_IRQTEST) ---- */
int64_t irqtest_setup(void);
void irqtest_interrupt(struct percpu *c);
/* Copies every CPU's counters to the task: struct vcg_irq_counters. */
int64_t irqtest_counters(uint64_t uaddr);

/* ---- blk.c: the block device (guest/abi.h) ---- */
/* Sets up the kernel's queue of the device whose config page is at @base (the command
 * line's vc.blk=). 0, or -ENODEV (no device there). */
int blk_init(uint64_t base, int quiet);
/* Disk bytes, or -ENODEV. */
int64_t blk_size(void);
/* Reads [@offset, +@len) of the disk into the current task's memory at @uva, in page
 * pieces, many per doorbell. @len or -errno. */
int64_t blk_read_user(uint64_t offset, uint64_t uva, uint64_t len);
/* Gives the current task a queue of its own (queue = task id + 1), mapped at the
 * USER_BLK_* addresses: the ring pair, formatted; its doorbell page; a 1 MiB window, the
 * only memory the device may write for it. @flags: VCG_BLK_F_*. Returns the window's
 * guest-physical address, or -errno. */
int64_t blk_task_queue(uint32_t flags);
/* Waits until the current task's completion ring holds an answer: announces the doze
 * for the task, then lets another task run or halts until the interrupt. 0 or -errno. */
int64_t blk_task_wait(struct trapframe *tf);

/* ---- kernel.c: the timer page's guest-physical address (0: none) ---- */
extern uint64_t timerpage_gpa;

/* ---- cpu.c ---- */
void cpu_init(void);
void cpu_init_ap(int id);
const char *exception_name(uint64_t vec);

/* ---- task.c ---- */
struct task;
struct task *task_create(const char *name, size_t name_len, const char *arg, size_t arg_len,
			 const void *image, size_t size, int allow_io, int cpu);
/* Runnable tasks in CPU @cpu's run queue. */
int task_count_on(int cpu);
_Noreturn void sched_start(void);
void sched_yield_from(struct trapframe *tf);
void task_exit_from(struct trapframe *tf, int code);
void task_fault(struct trapframe *tf);
int task_set_fault_handler(uint64_t handler, uint64_t trampoline);
void task_fault_return(struct trapframe *tf, uint64_t resume_rip);
int task_arg(char *buf, size_t len);
/* Exchanges the page-table entries of two user pages of the current task. 0, -EINVAL. */
int task_swap_pages(uint64_t va1, uint64_t va2);
int task_count(void);
int task_current_id(void);
int copy_to_user(uint64_t uaddr, const void *src, size_t len);
/* Sets the current task's page-table entry for user address @va (in USER_SPAN). */
void task_map(uint64_t va, uint64_t pte);
/* 1 if a task other than the current one can run. */
int task_runnable_others(void);
/* The physical address behind user address @va of the current task, if the task may
 * write it and it is RAM; 0 if not. */
uint64_t user_phys_writable(uint64_t va);
int copy_from_user(void *dst, uint64_t uaddr, size_t len);
/* The current task's top-level page table. */
uint64_t *task_pml4(void);
/* 1 if the current task may read (and with @write, write) [@va, +@len) at CPL3: every page
 * present and user at every level of its page tables (any address, the module area too). */
int task_user_ok(uint64_t va, uint64_t len, int write);

/* ---- kmod.c: loadable modules (kmod_abi.h) ---- */
/* SYS_KMOD_LOAD for the current task. 0, or -errno with the reason in the request. */
int64_t kmod_load_syscall(uint64_t ureq);
/* A #BP of the current task: 1 if it was a module's site (emulated, or the task ended),
 * 0 if not (an ordinary int3). */
int kmod_trap(struct trapframe *tf);
/* kmod0=N[:bench=ITER]: runs boot module N at CPL0, unrewritten (the baseline). */
void kmod_run_cpl0(const char *spec, size_t len);

/* ---- syscall.c ---- */
void syscall_dispatch(struct trapframe *tf);

/* ---- programs.c: built-in user programs ---- */
struct program {
	const char *name;
	const uint8_t *image;
	size_t size;
};
const struct program *program_find(const char *name, size_t len);
extern const struct program programs[];
extern const int program_count;

/* ---- kernel.c: boot modules ---- */
int module_count(void);
const struct vc_pvh_modlist_entry *module_get(int index);

#endif
