// SPDX-License-Identifier: MIT
// A driver written the way kernel code is (inline assembly helpers, static inline
// accessors, -ffunction-sections), compiled at test time: the compiler, not us, decides
// the encodings, registers and layout that vc-rewrite must find exactly as objdump does.
#include <stdint.h>

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outw(uint16_t v, uint16_t port)
{
	__asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline unsigned long read_cr3(void)
{
	unsigned long v;
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static inline unsigned long save_flags_cli(void)
{
	unsigned long f;
	__asm__ volatile("pushf; pop %0; cli" : "=rm"(f)::"memory");
	return f;
}

static inline void restore_flags(unsigned long f)
{
	__asm__ volatile("push %0; popf" ::"g"(f) : "memory", "cc");
}

uint8_t drv_status[16];

int drv_probe(uint16_t base)
{
	unsigned long flags = save_flags_cli();
	for (int i = 0; i < 16; i++)
		drv_status[i] = inb((uint16_t)(base + i));
	restore_flags(flags);
	return drv_status[0] == 0xff ? -1 : 0;
}

void drv_reset(uint16_t base, uint16_t value)
{
	for (int i = 0; i < 4; i++)
		outw((uint16_t)(value ^ (unsigned)i), (uint16_t)(base + 2 * i));
}

uint64_t drv_tune(uint32_t msr, uint64_t mask)
{
	uint64_t v = rdmsr(msr);
	if ((v & mask) != mask)
		wrmsr(msr, v | mask);
	return v ^ read_cr3();
}

uint64_t drv_stamp(void)
{
	uint32_t lo, hi, aux;
	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
	return (uint64_t)hi << 32 | lo;
}
