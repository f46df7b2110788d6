/* SPDX-License-Identifier: MIT */
/* System calls of the guest kernel: number in %rax, arguments in %rdi, %rsi, %rdx,
 * %r10, result in %rax (negative: -errno). Reached by `syscall` or `int $0x80`.
 * Plain #defines: the user crt (assembly) includes this too. */
#ifndef VCG_SYSCALLS_H
#define VCG_SYSCALLS_H

#define SYS_WRITE          0   /* (buf, len): console; returns len */
#define SYS_EXIT           1   /* (code): end this task */
#define SYS_YIELD          2   /* run the next task */
#define SYS_GETID          3   /* this task's id */
#define SYS_VM_EXIT        4   /* (status): end the whole VM now */
#define SYS_HCALL_NOP      5   /* one hypercall round trip to the VMM from the kernel */
#define SYS_ON_FAULT       6   /* (handler, trampoline): CPL3 exception handler */
#define SYS_FAULT_RETURN   7   /* (rip): leave the handler, resume at rip (0 = die) */
#define SYS_MODULE         8   /* (index, buf, len, offset): read boot module; buf 0 = size */
#define SYS_ARG            9   /* (buf, len): this task's argument from the command line */
#define SYS_HCALL_ECHO     10  /* (x): the VMM returns x + 1 */
#define SYS_NOP            11  /* returns 0 without leaving the guest (kernel-entry cost) */
#define SYS_TRUST_LIST     12  /* (buf, len): copy the reference-value list the VMM placed */
#define SYS_PIO_BURST      13  /* (count): count writes to the null port, each one exit */
#define SYS_SWAP_PAGES     14  /* (va1, va2): exchange two pages of this task's mapping */
#define SYS_BLK_SIZE       15  /* the block device's bytes (-ENODEV: none) */
#define SYS_BLK_READ       16  /* (offset, buf, len): read the disk; len or -errno */
#define SYS_BLK_QUEUE      17  /* (flags): a queue of this task's own at USER_BLK_*; returns
				* the window's guest-physical address or -errno */
#define SYS_BLK_WAIT       18  /* wait for this task's completion ring; 0 or -errno */
#define SYS_TIMERPAGE      19  /* where the timer page is mapped in this task, or -ENODEV */
#define SYS_CPU            20  /* the CPU this task runs on */
#define SYS_CPU_PARK       21  /* (cpu, park): take a CPU without tasks offline (1) or back
				* online (0), telling the VMM; 0, -EINVAL, -EBUSY */
#define SYS_CONTROL        22  /* (line, len): one vc-vmm control line (VCG_HC_CONTROL) */
#define SYS_IRQ_COUNTERS   23  /* (buf): struct vcg_irq_counters; sets up the test sources'
				* indicator on first use; 0, -ENODEV (the VMM has none) */
#define SYS_KMOD_LOAD      24  /* (struct kmod_load *): load a boot module's object into this
				* task's module area (kmod_abi.h); 0 or -errno, the reason in
				* the request's error */

#ifndef __ASSEMBLER__
#include <stdint.h>
/* What SYS_IRQ_COUNTERS copies out: per CPU and per test source (ids 0..255). */
struct vcg_irq_counters {
	uint32_t ncpus;
	uint32_t parked_mask;            /* CPUs offline */
	uint64_t irqtest_interrupts[8];  /* VEC_IRQTEST interrupts taken, per CPU */
	uint64_t irqtest_seen[8];        /* requests its handler dispatched, per CPU */
	uint64_t last_latency[8];        /* TSC cycles from fire to handler, last one */
	uint64_t offline_interrupts;     /* test interrupts on a CPU while it was offline */
	uint64_t other_requesters;       /* requests with an id >= 256 */
	uint32_t seen[256];              /* requests seen, per requester id */
};
#endif

#endif
