// SPDX-License-Identifier: MIT
// User library: thin system-call wrappers and printf over SYS_WRITE.
#include "ulib.h"

extern char fault_trampoline[];

long write(const void *buf, size_t len)
{
	return syscall4(SYS_WRITE, (long)buf, (long)len, 0, 0);
}

_Noreturn void exit(int code)
{
	syscall4(SYS_EXIT, code, 0, 0, 0);
	__builtin_unreachable();
}

void yield(void)
{
	syscall4(SYS_YIELD, 0, 0, 0, 0);
}

int task_id(void)
{
	return (int)syscall4(SYS_GETID, 0, 0, 0, 0);
}

_Noreturn void vm_exit(int status)
{
	syscall4(SYS_VM_EXIT, status, 0, 0, 0);
	__builtin_unreachable();
}

long module_read(int index, void *buf, size_t len, size_t offset)
{
	return syscall4(SYS_MODULE, index, (long)buf, (long)len, (long)offset);
}

long module_size(int index)
{
	return syscall4(SYS_MODULE, index, 0, 0, 0);
}

long pio_burst(long count)
{
	return syscall4(SYS_PIO_BURST, count, 0, 0, 0);
}

long swap_pages(void *a, void *b)
{
	return syscall4(SYS_SWAP_PAGES, (long)a, (long)b, 0, 0);
}

const struct vc_timerpage_abi *ulib_timerpage;

int clock_lookup(void)
{
	long va = syscall4(SYS_TIMERPAGE, 0, 0, 0, 0);
	if (va < 0)
		return (int)va;
	ulib_timerpage = (const struct vc_timerpage_abi *)va;
	return 0;
}

long disk_size(void)
{
	return syscall4(SYS_BLK_SIZE, 0, 0, 0, 0);
}

long disk_read(void *buf, size_t len, uint64_t offset)
{
	return syscall4(SYS_BLK_READ, (long)offset, (long)buf, (long)len, 0);
}

/* About 40 us at 2.5 GHz: longer than an answer takes, shorter than a wait costs. */
#define BLKQ_SPIN_TSC 100000ull

int blkq_open(struct blkq *q, uint32_t flags)
{
	long gpa = syscall4(SYS_BLK_QUEUE, (long)flags, 0, 0, 0);
	if (gpa < 0)
		return (int)gpa;
	uint8_t *ring = (uint8_t *)USER_BLK_RING_VA;
	uint64_t off = (vc_ring_abi_size(64, sizeof(struct vcg_blk_req)) + 127) & ~127ull;
	int rc = vc_ring_abi_attach(&q->req, ring, off, 1);
	if (rc == 0)
		rc = vc_ring_abi_attach(&q->comp, ring + off, 4096 - off, 0);
	q->window_gpa = (uint64_t)gpa;
	q->always = !!(flags & VCG_BLK_F_ALWAYS_NOTIFY);
	q->doorbells = q->waits = 0;
	return rc;
}

uint32_t blkq_submit(struct blkq *q, const struct vcg_blk_req *r, uint32_t n)
{
	int space = vc_ring_abi_space(&q->req);
	if (space <= 0)
		return 0;
	if (n > (uint32_t)space)
		n = (uint32_t)space;
	for (uint32_t i = 0; i < n; i++)
		*(struct vcg_blk_req *)vc_ring_abi_slot(&q->req, q->req.own + i) = r[i];
	if (n && (vc_ring_abi_publish(&q->req, n) == 1 || q->always)) {
		*(volatile uint32_t *)USER_BLK_DOORBELL_VA = 1;
		q->doorbells++;
	}
	return n;
}

int blkq_reap(struct blkq *q, struct vcg_blk_done *d, uint32_t max, int wait)
{
	for (;;) {
		int avail = vc_ring_abi_avail(&q->comp);
		if (avail < 0)
			return avail;
		if (avail > 0) {
			uint32_t n = (uint32_t)avail < max ? (uint32_t)avail : max;
			for (uint32_t i = 0; i < n; i++)
				d[i] = *(const struct vcg_blk_done *)vc_ring_abi_slot(&q->comp,
										  q->comp.own + i);
			vc_ring_abi_consume(&q->comp, n);
			return (int)n;
		}
		if (!wait)
			return 0;
		/* Spin a while first: at CPL3 that is native code, and a wait costs a kernel
		 * entry (a fault on kvm_pvm) and maybe an interrupt, while the device's thread
		 * answers each request as soon as it is served. */
		uint64_t t0 = rdtsc();
		while ((avail = vc_ring_abi_avail(&q->comp)) == 0 && rdtsc() - t0 < BLKQ_SPIN_TSC)
			__asm__ volatile("pause");
		if (avail != 0)
			continue;
		q->waits++;
		long rc = syscall4(SYS_BLK_WAIT, 0, 0, 0, 0); /* the kernel dozes for us */
		if (rc < 0)
			return (int)rc;
	}
}

long trust_list(void *buf, size_t len)
{
	return syscall4(SYS_TRUST_LIST, (long)buf, (long)len, 0, 0);
}

const char *arg(void)
{
	static char buf[128];
	static int fetched;
	if (!fetched) {
		syscall4(SYS_ARG, (long)buf, sizeof(buf), 0, 0);
		fetched = 1;
	}
	return buf;
}

long arg_long(long dflt)
{
	const char *s = arg();
	long v = 0;
	if (!*s)
		return dflt;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (*s - '0');
	return *s ? dflt : v;
}

int on_fault(fault_handler_t handler)
{
	return (int)syscall4(SYS_ON_FAULT, (long)handler, (long)fault_trampoline, 0, 0);
}

int printf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vfmt(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	write(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	return n;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

/* The compiler may emit these. */
void *memcpy(void *dst, const void *src, size_t n);
void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n);
void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

uint64_t median(uint64_t *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}
