/* SPDX-License-Identifier: MIT */
/* The user-program library of the guest runtime: system calls and printing. */
#ifndef VCG_ULIB_H
#define VCG_ULIB_H

#include <stddef.h>
#include <stdint.h>

#include <virtcore/ring_abi.h>
#include <virtcore/timerpage_abi.h>

#include "../abi.h"
#include "../fmt.h"
#include "../kernel/layout.h"
#include "../syscalls.h"

static inline long syscall4(long nr, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

/* The same system call through the int $0x80 gate (compared in the benchmark). */
static inline long int80(long nr, long a)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "D"(a) : "memory");
	return ret;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* A hypercall straight from CPL3 through the MMIO doorbell: no guest kernel. */
extern uint64_t hcall_gpa;
static inline int64_t hcall_direct(uint32_t nr, uint64_t a0, uint64_t a1)
{
	volatile struct vcg_hcall *b = (volatile struct vcg_hcall *)USER_HCALL_VA;
	b->nr = nr;
	b->args[0] = a0;
	b->args[1] = a1;
	b->ret = -38;
	*(volatile uint32_t *)USER_DOORBELL_VA = (uint32_t)hcall_gpa;
	return b->ret;
}

/* The cheapest round trip to the VMM: a doorbell store of 0 reads no memory. */
static inline void doorbell_nop(void)
{
	*(volatile uint32_t *)USER_DOORBELL_VA = 0;
}

long write(const void *buf, size_t len);
_Noreturn void exit(int code);
void yield(void);
int task_id(void);
_Noreturn void vm_exit(int status);
long module_read(int index, void *buf, size_t len, size_t offset);
long module_size(int index);
long trust_list(void *buf, size_t len); /* the VMM's reference-value list; -ENOENT: none */
long pio_burst(long count);             /* count exits through the null port */
long swap_pages(void *a, void *b);      /* exchange two pages of this task's mapping */
/* Host CLOCK_MONOTONIC in ns from the shared timer page, read at CPL3 with no exit
 * (timerpage_abi.h); -ENODEV without a page, or the reader's error. Inline: a read is a
 * few loads and an rdtsc. */
extern const struct vc_timerpage_abi *ulib_timerpage; /* NULL until looked up */
int clock_lookup(void);
static inline int clock_ns(uint64_t *ns)
{
	if (__builtin_expect(!ulib_timerpage, 0)) {
		int rc = clock_lookup();
		if (rc)
			return rc;
	}
	return vc_timerpage_abi_read(ns, ulib_timerpage);
}
long disk_size(void);                   /* the block device's bytes; -ENODEV: none */
long disk_read(void *buf, size_t len, uint64_t offset); /* len, or -errno */

/*
 * A block-device queue of this task's own (SYS_BLK_QUEUE): the ring pair, its doorbell
 * page and a 1 MiB window the device writes into, mapped at USER_BLK_*. Requests go into
 * the ring from here, at CPL3: no kernel entry and no exit per request; the doorbell
 * only when the device's thread dozes, a kernel entry only to wait for an empty ring.
 */
struct blkq {
	struct vc_ring_view req, comp;
	uint64_t window_gpa; /* the guest-physical address of USER_BLK_DMA_VA */
	int always;          /* the doorbell on every submit (the baseline), not on doze */
	uint64_t doorbells, waits;
};
/* @flags: VCG_BLK_F_ALWAYS_NOTIFY for the always-notify baseline. 0 or -errno. */
int blkq_open(struct blkq *q, uint32_t flags);
/* Queues up to @n requests (as many as there is room for) with one publish; how many. */
uint32_t blkq_submit(struct blkq *q, const struct vcg_blk_req *r, uint32_t n);
/* Takes up to @max answers; with @wait, waits for at least one. How many, or -errno. */
int blkq_reap(struct blkq *q, struct vcg_blk_done *d, uint32_t max, int wait);
/* This task's argument (the part after ':' in run=NAME:ARG); "" when none. */
const char *arg(void);
long arg_long(long dflt);

/* Fault handler: gets the vector, error code, faulting RIP and address (CR2 for
 * #PF); returns the RIP to resume at, or 0 to let the task die. */
typedef uint64_t (*fault_handler_t)(uint64_t vector, uint64_t error, uint64_t rip, uint64_t addr);
int on_fault(fault_handler_t handler);

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The median of @v[0..@n) (sorts @v in place; n small: insertion sort). */
uint64_t median(uint64_t *v, unsigned n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

#endif
