// SPDX-License-Identifier: MIT
// User tasks: each runs at CPL3 in its own address space (its own CR3), on the CPU it was
// placed on (a run queue per CPU, no migration). The kernel is not preemptive and has one
// stack per CPU, so a switch is "save the trap frame, load another task's frame and CR3".
// Everything here runs under the kernel lock.
#include "kernel.h"

#define MAX_TASKS 16
_Static_assert(MAX_TASKS <= VCG_TASK_DOORBELLS, "one doorbell page per task");
#define PTE_NX (1ull << 63)

enum task_state { TASK_FREE, TASK_RUNNABLE, TASK_DEAD };

struct task {
	int id;
	int cpu; /* the CPU whose run queue holds it */
	enum task_state state;
	char name[16];
	char arg[128];
	uint64_t cr3;
	uint64_t *pt; /* the page table behind USER_BASE */
	struct trapframe frame;
	struct trapframe fault_frame; /* where a handled fault resumes */
	uint64_t fault_handler, fault_trampoline;
	int in_fault;
	int exit_code;
};

extern uint64_t kernel_pdpt[];

static struct task tasks[MAX_TASKS];
static int ntasks, live;

static struct task *cur(void)
{
	return &tasks[this_cpu()->current];
}

/* 22 quadwords: `rep movsq` is one emulated instruction. */
static void copy_frame(struct trapframe *dst, const struct trapframe *src)
{
	uint64_t n = sizeof(*dst) / 8;
	__asm__ volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static uint64_t table(void *page, uint64_t flags)
{
	return (uint64_t)(uintptr_t)page | flags;
}

struct task *task_create(const char *name, size_t name_len, const char *arg, size_t arg_len,
			 const void *image, size_t size, int allow_io, int cpu)
{
	size_t pages = (size + 4095) / 4096;

	if (ntasks == MAX_TASKS)
		panic("too many tasks (at most %d)", MAX_TASKS);
	if (pages > USER_BLK_DMA_PAGE)
		panic("program %.*s is too large: %zu bytes (at most %d KiB)", (int)name_len, name,
		      size, USER_BLK_DMA_PAGE * 4);

	struct task *t = &tasks[ntasks];
	t->id = ntasks++;
	t->cpu = cpu;
	t->state = TASK_RUNNABLE;
	live++;
	for (size_t i = 0; i < sizeof(t->name) - 1 && i < name_len; i++)
		t->name[i] = name[i];
	for (size_t i = 0; i < sizeof(t->arg) - 1 && i < arg_len; i++)
		t->arg[i] = arg[i];

	uint64_t *pml4 = page_alloc(), *pdpt = page_alloc(), *pd = page_alloc();
	t->pt = page_alloc();
	pml4[0] = table(kernel_pdpt, PTE_P | PTE_W | PTE_U);
	pml4[(USER_BASE >> 39) & 511] = table(pdpt, PTE_P | PTE_W | PTE_U);
	pdpt[(USER_BASE >> 30) & 511] = table(pd, PTE_P | PTE_W | PTE_U);
	pd[(USER_BASE >> 21) & 511] = table(t->pt, PTE_P | PTE_W | PTE_U);
	for (size_t i = 0; i < pages; i++) {
		uint8_t *page = page_alloc();
		size_t n = size - i * 4096 < 4096 ? size - i * 4096 : 4096;
		memcpy(page, (const uint8_t *)image + i * 4096, n);
		t->pt[i] = table(page, PTE_P | PTE_W | PTE_U);
	}
	for (int i = 0; i < USER_STACK_PAGES; i++)
		t->pt[511 - i] = table(page_alloc(), PTE_P | PTE_W | PTE_U | PTE_NX);
	/* Its own hypercall block (physical address in %rsi at entry) and its own
	 * doorbell page, so the task can call the VMM without the kernel; the VMM takes
	 * calls there only on this block and only those a task may make (guest/abi.h). */
	void *block = page_alloc();
	t->pt[USER_HCALL_PAGE] = table(block, PTE_P | PTE_W | PTE_U | PTE_NX);
	t->pt[USER_DOORBELL_PAGE] = (VCG_MMIO_TASK_DOORBELLS + (uint64_t)t->id * 4096) | PTE_P |
				    PTE_W | PTE_U | PTE_PCD | PTE_PWT | PTE_NX;
	if (timerpage_gpa) /* read-only: the VMM's slot refuses stores anyway */
		t->pt[USER_TIMERPAGE_PAGE] = timerpage_gpa | PTE_P | PTE_U | PTE_NX;
	if (console_has_hcall() && hcall(VCG_HC_TASK_REGISTER, (uint64_t)t->id,
					 (uint64_t)(uintptr_t)block) != 0)
		panic("the VMM refused task %d's hypercall block", t->id);
	t->cr3 = (uint64_t)(uintptr_t)pml4;
	t->frame.rsi = (uint64_t)(uintptr_t)block;

	t->frame.rip = USER_BASE;
	t->frame.cs = USER_CS;
	t->frame.ss = USER_DS;
	t->frame.rsp = USER_BASE + USER_SPAN;
	/* IF on; IOPL 3 lets a task issue `out` itself (the direct-exit benchmark). */
	t->frame.rflags = 0x202 | (allow_io ? 0x3000 : 0);
	t->frame.rdi = (uint64_t)t->id;
	return t;
}

int task_arg(char *buf, size_t len)
{
	size_t n = strlen(cur()->arg);
	if (n >= len)
		n = len - 1;
	memcpy(buf, cur()->arg, n);
	buf[n] = 0;
	return (int)n;
}

int task_count(void)
{
	return ntasks;
}

int task_current_id(void)
{
	return this_cpu()->current;
}

int task_count_on(int cpu)
{
	int n = 0;
	for (int i = 0; i < ntasks; i++)
		n += tasks[i].cpu == cpu && tasks[i].state == TASK_RUNNABLE;
	return n;
}

/* Round-robin over this CPU's tasks from the one after @from; -1 when none is left. */
static int next_runnable(int from)
{
	int me = this_cpu()->id;
	for (int k = 1; k <= ntasks; k++) {
		int i = (from + k + ntasks) % ntasks;
		if (tasks[i].cpu == me && tasks[i].state == TASK_RUNNABLE)
			return i;
	}
	return -1;
}

static _Noreturn void all_done(void)
{
	int status = 0;
	for (int i = 0; i < ntasks && !status; i++)
		status = tasks[i].exit_code;
	kprintf("kernel: all %d tasks exited, status %d\n", ntasks, status);
	vm_exit(status);
}

/* Make @tf resume task @next; with none left here, the VM ends (every task of every
 * CPU exited) or this CPU idles. */
static void switch_to(struct trapframe *tf, int next)
{
	struct percpu *c = this_cpu();
	if (next < 0 && !live)
		all_done();
	if (next < 0)
		cpu_idle();
	if (next != c->current) {
		c->current = next;
		write_cr3(cur()->cr3);
	}
	copy_frame(tf, &cur()->frame);
}

_Noreturn void sched_start(void)
{
	static struct trapframe boot[MAX_CPUS];
	struct trapframe *tf = &boot[this_cpu()->id];
	switch_to(tf, next_runnable(-1));
	kernel_unlock();
	void enter_frame(struct trapframe *) __attribute__((noreturn));
	enter_frame(tf);
}

void sched_yield_from(struct trapframe *tf)
{
	copy_frame(&cur()->frame, tf);
	switch_to(tf, next_runnable(task_current_id()));
}

void task_exit_from(struct trapframe *tf, int code)
{
	cur()->state = TASK_DEAD;
	cur()->exit_code = code;
	live--;
	switch_to(tf, next_runnable(task_current_id()));
}

/* ---- faults ---- */

/*
 * System calls that arrive as faults. On hardware both instructions enter the
 * kernel directly; kvm_pvm (which runs non-PVM guests' CPL0 in its emulator)
 * delivers `int $0x80` as #UD, and `syscall` jumps to LSTAR without leaving CPL3,
 * which then faults on the supervisor-only kernel page. Both faults carry the
 * task's registers intact, so the kernel finishes the system call from them.
 */
static int syscall_from_fault(struct trapframe *tf)
{
	extern const char syscall_entry[];
	static int reported[2];
	uint8_t insn[2];

	if (tf->vector == 6 && copy_from_user(insn, tf->rip, 2) == 0 && insn[0] == 0xcd &&
	    insn[1] == VEC_SYSCALL) {
		if (!reported[0]++)
			kprintf("kernel: int $0x80 arrives as #UD here; completing system calls from it\n");
		tf->rip += 2;
	} else if (tf->vector == 14 && tf->rip == (uint64_t)(uintptr_t)syscall_entry && (tf->error & 4)) {
		if (!reported[1]++)
			kprintf("kernel: syscall stays at CPL3 here; completing system calls from the fault\n");
		tf->rip = tf->rcx; /* what sysret would restore: RIP from RCX, RFLAGS from R11 */
		tf->rflags = (tf->r11 & 0x3c7fd7) | 0x202;
	} else {
		return 0;
	}
	syscall_dispatch(tf);
	return 1;
}

void task_fault(struct trapframe *tf)
{
	struct task *t = cur();
	uint64_t addr = tf->vector == 14 ? read_cr2() : 0;

	if (syscall_from_fault(tf))
		return;
	if (tf->vector == 3 && kmod_trap(tf))
		return;

	if (t->fault_handler && !t->in_fault) {
		/* Like a signal: run the handler on the task's stack; its return value (a
		 * RIP to resume at, or 0) comes back through the trampoline's syscall. */
		copy_frame(&t->fault_frame, tf);
		uint64_t sp = ((tf->rsp - 128) & ~15ull) - 8;
		if (copy_to_user(sp, &t->fault_trampoline, 8) == 0) {
			t->in_fault = 1;
			tf->rsp = sp;
			tf->rip = t->fault_handler;
			tf->rdi = tf->vector;
			tf->rsi = tf->error;
			tf->rdx = t->fault_frame.rip;
			tf->rcx = addr;
			return;
		}
	}
	kprintf("kernel: task %d (%s): %s at rip=%lx error=%lx addr=%lx, killed\n", t->id, t->name,
		exception_name(tf->vector), tf->rip, tf->error, addr);
	task_exit_from(tf, 128 + (int)tf->vector);
}

int task_set_fault_handler(uint64_t handler, uint64_t trampoline)
{
	cur()->fault_handler = handler;
	cur()->fault_trampoline = trampoline;
	return 0;
}

void task_fault_return(struct trapframe *tf, uint64_t resume_rip)
{
	struct task *t = cur();
	if (!t->in_fault) {
		tf->rax = (uint64_t)-22;
		return;
	}
	t->in_fault = 0;
	if (!resume_rip) {
		task_exit_from(tf, 128 + (int)t->fault_frame.vector);
		return;
	}
	copy_frame(tf, &t->fault_frame);
	tf->rip = resume_rip;
}

/* ---- user memory ---- */

/* Kernel pointer to user [va, va+len) when every page is mapped in the current task. */
static void *user_range(uint64_t va, size_t len)
{
	if (va < USER_BASE || len > USER_SPAN || va - USER_BASE > USER_SPAN - len)
		return NULL;
	for (uint64_t p = va & ~0xfffull; p < va + len; p += 4096)
		if (!(cur()->pt[(p - USER_BASE) >> 12] & PTE_P))
			return NULL;
	return (void *)(uintptr_t)va; /* the task's CR3 is live: its mapping is ours too */
}

uint64_t *task_pml4(void)
{
	return (uint64_t *)(uintptr_t)cur()->cr3;
}

int task_user_ok(uint64_t va, uint64_t len, int write)
{
	const uint64_t need = PTE_P | PTE_U | (write ? PTE_W : 0);
	if (!len || va + len < va)
		return 0;
	for (uint64_t p = va & ~0xfffull; p < va + len; p += 4096) {
		const uint64_t *table = task_pml4();
		for (int shift = 39; shift >= 12; shift -= 9) {
			uint64_t e = table[(p >> shift) & 511];
			if ((e & need) != need || (shift > 12 && (e & PTE_PS)))
				return 0;
			table = (const uint64_t *)(uintptr_t)(e & 0x000ffffffffff000ull);
		}
	}
	return 1;
}

int task_swap_pages(uint64_t va1, uint64_t va2)
{
	if ((va1 | va2) & 0xfff || !user_range(va1, 4096) || !user_range(va2, 4096))
		return -22;
	uint64_t *pt = cur()->pt, i = (va1 - USER_BASE) >> 12, j = (va2 - USER_BASE) >> 12;
	uint64_t e = pt[i];
	pt[i] = pt[j];
	pt[j] = e;
	invlpg(va1);
	invlpg(va2);
	return 0;
}

void task_map(uint64_t va, uint64_t pte)
{
	cur()->pt[(va - USER_BASE) >> 12] = pte;
	invlpg(va);
}

int task_runnable_others(void)
{
	return task_count_on(this_cpu()->id) > 1;
}

uint64_t user_phys_writable(uint64_t va)
{
	if (!user_range(va, 1))
		return 0;
	uint64_t pte = cur()->pt[(va - USER_BASE) >> 12];
	uint64_t pa = pte & 0x000ffffffffff000ull;
	if ((pte & (PTE_P | PTE_W | PTE_U)) != (PTE_P | PTE_W | PTE_U) || !mm_is_ram(pa, 4096))
		return 0;
	return pa | (va & 0xfff);
}

int copy_to_user(uint64_t uaddr, const void *src, size_t len)
{
	void *p = user_range(uaddr, len);
	if (!p)
		return -14;
	memcpy(p, src, len);
	return 0;
}

int copy_from_user(void *dst, uint64_t uaddr, size_t len)
{
	const void *p = user_range(uaddr, len);
	if (!p)
		return -14;
	memcpy(dst, p, len);
	return 0;
}
