/* SPDX-License-Identifier: MIT */
/*
 * Loadable modules in the bundled guest (docs/rewrite.md, "Running a rewritten module"):
 * what the kernel's loader and trap handler (kernel/kmod.c) and the module runtime
 * (programs/kmod.c, the CPL3 task a module runs in) share: the module area's layout,
 * the state page both read and write, the load request.
 */
#ifndef VCG_KMOD_ABI_H
#define VCG_KMOD_ABI_H

#include <stdint.h>

#include <virtcore/rewrite_emu.h>

/* The module area: the first 2 MiB of the top 1 GiB, where Linux puts modules too, so an
 * object built like a kernel module (-mcmodel=kernel) reaches everything in it with
 * 32-bit relocations. In a module's task it is user memory; at CPL0 (kmod0=) the
 * kernel's. */
#define KMOD_AREA 0xffffffffc0000000ull
#define KMOD_AREA_PAGES 512
#define KMOD_STATE_VA KMOD_AREA                  /* page 0: struct kmod_state, read-write */
#define KMOD_RT_STACK_TOP (KMOD_AREA + 4 * 4096) /* pages 1-3: the stubs' runtime stack */
#define KMOD_PLT_VA (KMOD_AREA + 4 * 4096)       /* page 4: an entry per import, read-only */
#define KMOD_SEG_VA (KMOD_AREA + 5 * 4096)       /* pages 5-7: segment records, read-only */
#define KMOD_STUB_VA (KMOD_AREA + 8 * 4096)      /* pages 8-15: promoted stubs, read-exec */
#define KMOD_STUB_BYTES (8 * 4096)
#define KMOD_IMAGE_VA (KMOD_AREA + 16 * 4096)    /* the module's sections */
#define KMOD_IMAGE_MAX ((KMOD_AREA_PAGES - 16) * 4096ull)
#define KMOD_PLT_ENTRY 16
#define KMOD_PLT_MAX (4096 / KMOD_PLT_ENTRY)

/* One site a promoted stub hands to the runtime: the runtime emulates it at CPL3 and
 * goes on at @resume, or, when it cannot (a port the guest does not model), goes to
 * @trap, an int3 where the kernel emulates it. */
struct kmod_segment {
	uint64_t site;     /* the site's address in the module: the emulator's rip */
	uint64_t resume;   /* the stub's next instruction */
	uint64_t trap;     /* the stub's fallback int3 */
	uint8_t len, cls, pad[6];
	uint8_t bytes[16]; /* the instruction as loaded (relocated bytes put back) */
};
#define KMOD_SEG_MAX (3 * 4096 / sizeof(struct kmod_segment))

/* The virtual MSRs a module sees (both paths look them up here; others fault). */
#define KMOD_MSRS 8

/* Page 0 of the module area. The kernel's trap path and the runtime's stubs keep the
 * same virtual CPU here; the counters say who did the work. */
struct kmod_state {
	struct vc_rewrite_emu_cpu cpu; /* virtual IF/IOPL, CRs, GDTR/IDTR (its gpr/rip: scratch) */
	uint64_t rt_rsp;               /* a stub's segment: the module's rsp, saved by the stub */
	uint64_t rt_entry;             /* the runtime's segment entry (stubs jump through it) */
	uint64_t msr_index[KMOD_MSRS], msr_value[KMOD_MSRS];
	uint64_t null_writes, null_reads; /* the null port, modelled in the guest */
	uint64_t traps[VC_REWRITE_CLASS_COUNT];    /* int3 taken, emulated by the kernel */
	uint64_t promoted[VC_REWRITE_CLASS_COUNT]; /* sites the kernel turned into jumps */
	uint64_t fast[VC_REWRITE_CLASS_COUNT];     /* done in a stub, with no trap */
	uint64_t fallbacks;            /* stub segments the runtime handed to the kernel */
};

/* A function the module may call by name (an undefined symbol of its object). */
struct kmod_export {
	uint64_t name; /* NUL-terminated, in the caller */
	uint64_t addr;
};

/* SYS_KMOD_LOAD's argument: the caller's task gets the module area, the module loaded
 * into it, its imports bound to @exports. */
struct kmod_load {
	uint32_t module;        /* boot module index */
	uint32_t nexports;
	uint64_t exports;       /* struct kmod_export[nexports] */
	uint64_t rt_entry;      /* the runtime's segment entry */
	uint32_t promote_after; /* traps at one site before it becomes a jump; 0: never */
	uint32_t pad;
	/* filled in */
	uint64_t init, bench;   /* init_module() and kmod_bench(): 0 when absent */
	uint32_t sites, promotable;
	uint64_t image_bytes;
	char error[160];        /* why the module was refused */
};

/* A class's name, as vc_rewrite_class_name() spells it (the guest has no libvirtcore). */
static inline const char *kmod_class_name(unsigned cls)
{
	static const char *const names[VC_REWRITE_CLASS_COUNT] = {
		"?", "interrupt-flag", "flags", "halt", "io", "msr", "control-register",
		"debug-register", "descriptor-table", "machine-status", "tlb", "cache", "cpuid",
		"timestamp", "perf-counter", "swapgs", "system-return", "xcr", "segment-check",
		"segment-register",
	};
	return cls < VC_REWRITE_CLASS_COUNT ? names[cls] : "?";
}

#endif
