// SPDX-License-Identifier: MIT
// Console: one hypercall per string under vc-vmm (one exit), the COM1 UART byte by
// byte elsewhere (QEMU), so the same kernel prints on both.
#include "kernel.h"

static int have_hcall;

void console_init(void)
{
	have_hcall = inl(VCG_PORT_HCALL) == VCG_HCALL_MAGIC;
}

int console_has_hcall(void)
{
	return have_hcall;
}

void console_write(const char *s, size_t len)
{
	if (have_hcall) {
		/* Kernel memory is identity-mapped: the virtual address is the physical one. */
		hcall(VCG_HC_CONSOLE_WRITE, (uint64_t)(uintptr_t)s, len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			outb(VCG_PORT_COM1, '\r');
		outb(VCG_PORT_COM1, (uint8_t)s[i]);
	}
}

static void vkprintf(const char *fmt, va_list ap)
{
	char buf[256];
	int n = vfmt(buf, sizeof(buf), fmt, ap);
	console_write(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

void kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vkprintf(fmt, ap);
	va_end(ap);
}

_Noreturn void panic(const char *fmt, ...)
{
	va_list ap;
	kprintf("PANIC: ");
	va_start(ap, fmt);
	vkprintf(fmt, ap);
	va_end(ap);
	kprintf("\n");
	vm_exit(125);
}
