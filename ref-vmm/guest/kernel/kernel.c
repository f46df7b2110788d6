// SPDX-License-Identifier: MIT
// kmain: from the PVH start info to the first CPL3 task.
//
// Command line: `run=PROG[@CPU][:ARG][,PROG[@CPU][:ARG]...]` picks the tasks (built-in
// programs by name, or `module<N>` for boot module N as a flat binary loaded at
// USER_BASE) and the CPU each runs on (default: the CPUs in turn); `iopl` lets tasks issue port I/O themselves (hardware KVM; kvm_pvm
// ignores IOPL); `crash=triple|int3` fails on purpose; `kbench=N` times N hypercalls from CPL0 first; `quiet` skips the
// banner; `kmod0=N[:bench=ITER]` runs boot module N (an ELF object) at CPL0 first, unrewritten
// (kmod.c; at CPL3 a module runs in the `kmod` program: run=kmod:N).
#include <virtcore/timerpage_abi.h>

#include "kernel.h"

#define DEFAULT_RUN "hello,isolate:red,isolate:blue,counter:3,counter:3,fault"

static const struct vc_pvh_start_info *start_info;

int module_count(void)
{
	return (int)start_info->nr_modules;
}

const struct vc_pvh_modlist_entry *module_get(int index)
{
	if (index < 0 || index >= module_count())
		return NULL;
	return (const struct vc_pvh_modlist_entry *)(uintptr_t)start_info->modlist_paddr + index;
}

/* The value of `key=` in the command line (up to the next space), or NULL. */
static const char *cmdline_value(const char *cmdline, const char *key, size_t *len)
{
	size_t klen = strlen(key);
	for (const char *p = cmdline; *p;) {
		while (*p == ' ')
			p++;
		const char *end = p;
		while (*end && *end != ' ')
			end++;
		if ((size_t)(end - p) >= klen && !strncmp(p, key, klen)) {
			*len = (size_t)(end - p) - klen;
			return p + klen;
		}
		p = end;
	}
	return NULL;
}

static int parse_uint(const char *s, size_t len, int *out)
{
	int v = 0;
	if (!len)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int parse_hex(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	if (len > 2 && s[0] == '0' && s[1] == 'x')
		s += 2, len -= 2;
	if (!len || len > 16)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

/* `PROG@N`: the CPU to run the task on, -1 when the name has none; @name_len shrinks to
 * the name. */
static int take_cpu(const char *spec, size_t *name_len)
{
	size_t at = 0;
	while (at < *name_len && spec[at] != '@')
		at++;
	if (at == *name_len)
		return -1;
	int cpu;
	if (parse_uint(spec + at + 1, *name_len - at - 1, &cpu) || cpu >= smp_cpu_count()) {
		kprintf("kernel: %.*s: not a CPU of this VM (0 to %d)\n", (int)*name_len, spec,
			smp_cpu_count() - 1);
		vm_exit(126);
	}
	*name_len = at;
	return cpu;
}

static void start_program(const char *spec, size_t len, int iopl)
{
	static int next_cpu;
	size_t name_len = 0;
	while (name_len < len && spec[name_len] != ':')
		name_len++;
	const char *arg = spec + name_len + (name_len < len);
	size_t arg_len = len - name_len - (name_len < len);
	int mod, cpu = take_cpu(spec, &name_len);
	if (cpu < 0)
		cpu = next_cpu++ % smp_cpu_count();

	if (name_len > 6 && !strncmp(spec, "module", 6) && !parse_uint(spec + 6, name_len - 6, &mod)) {
		const struct vc_pvh_modlist_entry *m = module_get(mod);
		if (!m)
			panic("run=%.*s: there are %d boot modules", (int)len, spec, module_count());
		task_create(spec, name_len, arg, arg_len, (const void *)(uintptr_t)m->paddr, m->size, iopl,
			    cpu);
		return;
	}
	const struct program *p = program_find(spec, name_len);
	if (!p) {
		kprintf("kernel: unknown program '%.*s'; built in:", (int)name_len, spec);
		for (int i = 0; i < program_count; i++)
			kprintf(" %s", programs[i].name);
		kprintf("\n");
		vm_exit(126);
	}
	task_create(spec, name_len, arg, arg_len, p->image, p->size, iopl, cpu);
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* kbench=N: N hypercall round trips from CPL0 (port `out` of 0, and of a block). */
static void kernel_bench(const char *arg, size_t len)
{
	int n;
	if (parse_uint(arg, len, &n) || n <= 0)
		panic("kbench=%.*s: expected a positive count", (int)len, arg);
	/* Eight `out`s per iteration: the loop's own instructions are emulated too. */
	n = (n + 7) & ~7;
	uint64_t t0 = rdtsc();
	for (int i = 0; i < n; i += 8)
		__asm__ volatile(".rept 8; outl %0, %1; .endr" ::"a"(0), "Nd"((uint16_t)VCG_PORT_HCALL));
	uint64_t t1 = rdtsc();
	for (int i = 0; i < n; i++)
		hcall(VCG_HC_NOP, 0, 0);
	uint64_t t2 = rdtsc();
	kprintf("kbench: port-nop %lu tsc/call\nkbench: port-hcall-block %lu tsc/call\n",
		(t1 - t0) / (uint64_t)n, (t2 - t1) / (uint64_t)n);
}

/* crash=triple|int3: fail on purpose, so tests see how the VMM reports it. */
static void crash(const char *how, size_t len)
{
	if (len == 6 && !strncmp(how, "triple", 6)) {
		struct {
			uint16_t limit;
			uint64_t base;
		} __attribute__((packed)) none = {0, 0};
		__asm__ volatile("lidt %0; ud2" ::"m"(none)); /* #UD -> #DF -> shutdown */
	} else if (len == 4 && !strncmp(how, "int3", 4)) {
		__asm__ volatile("int3"); /* kvm_pvm: emulation failure; hardware: #BP, a panic */
	}
	panic("crash=%.*s: unknown way to crash", (int)len, how);
}

uint64_t timerpage_gpa;

/* The timer page announced as vc.timerpage=, if it is one (magic and version); with
 * `tpwrite`, the kernel tries a store to it (the VMM must refuse it). */
static void timerpage_init(const char *cmdline, int quiet)
{
	size_t len;
	uint64_t gpa;
	const char *v = cmdline_value(cmdline, VCG_TIMERPAGE_CMDLINE_KEY, &len);
	if (!v || parse_hex(v, len, &gpa) || gpa & 0xfff)
		return;
	volatile const struct vc_timerpage_abi *p = (const void *)(uintptr_t)gpa;
	if (p->magic != VC_TIMERPAGE_MAGIC || p->version != VC_TIMERPAGE_VERSION) {
		kprintf("vc-guest: no timer page at %lx (vc.timerpage=): tasks get none\n", gpa);
		return;
	}
	timerpage_gpa = gpa;
	if (!quiet)
		kprintf("vc-guest: timer page at %lx, mapped read-only into every task\n", gpa);
	if (cmdline_value(cmdline, "tpwrite", &len)) {
		uint64_t before = p->tick_count;
		*(volatile uint32_t *)(uintptr_t)gpa = 0xdeadbeef; /* the magic */
		kprintf("kernel: stored to the timer page: magic now %x, ticks %lu -> %lu\n",
			p->magic, before, p->tick_count);
	}
}

void kmain(uint64_t start_info_paddr);
void kmain(uint64_t start_info_paddr)
{
	console_init();
	start_info = (const struct vc_pvh_start_info *)(uintptr_t)start_info_paddr;
	if (start_info->magic != VC_PVH_START_MAGIC)
		panic("bad PVH start info magic %x at %lx", start_info->magic, start_info_paddr);
	const char *cmdline = start_info->cmdline_paddr ? (const char *)(uintptr_t)start_info->cmdline_paddr : "";
	size_t len;
	int quiet = cmdline_value(cmdline, "quiet", &len) != NULL;
	int iopl = cmdline_value(cmdline, "iopl", &len) != NULL;

	mm_init(start_info);
	cpu_init();
	lapic_init();
	timerpage_init(cmdline, quiet);
	/* The VMM's test interrupt sources get their indicator now, so a host's --control can
	 * add sources before any task asks. */
	if (console_has_hcall())
		irqtest_setup();
	uint64_t blk_base;
	const char *blk = cmdline_value(cmdline, VCG_BLK_CMDLINE_KEY, &len);
	if (blk && parse_hex(blk, len, &blk_base) == 0)
		blk_init(blk_base, quiet);
	else if (blk)
		kprintf("vc-guest: %s%.*s: not a hex address; no block device\n", VCG_BLK_CMDLINE_KEY,
			(int)len, blk);
	if (!quiet)
		kprintf("vc-guest: long mode, console via %s, %d boot module(s), %lu KiB free, cmdline \"%s\"\n",
			console_has_hcall() ? "hypercall" : "COM1", module_count(), mm_free_bytes() / 1024,
			cmdline);

	const char *how = cmdline_value(cmdline, "crash=", &len);
	if (how)
		crash(how, len);
	const char *kb = cmdline_value(cmdline, "kbench=", &len);
	if (kb)
		kernel_bench(kb, len);
	const char *k0 = cmdline_value(cmdline, "kmod0=", &len);
	if (k0)
		kmod_run_cpl0(k0, len);

	const char *run = cmdline_value(cmdline, "run=", &len);
	if (!run) {
		run = DEFAULT_RUN;
		len = strlen(run);
	}
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && run[j] != ',')
			j++;
		if (j > i)
			start_program(run + i, j - i, iopl);
		i = j + 1;
	}
	if (!quiet)
		kprintf("vc-guest: %d task(s), each in its own address space; entering CPL3\n", task_count());
	kernel_lock();
	smp_start(quiet);
	sched_start();
}
