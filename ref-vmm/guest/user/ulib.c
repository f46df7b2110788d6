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

long disk_size(void)
{
	return syscall4(SYS_BLK_SIZE, 0, 0, 0, 0);
}

long disk_read(void *buf, size_t len, uint64_t offset)
{
	return syscall4(SYS_BLK_READ, (long)offset, (long)buf, (long)len, 0);
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
