// SPDX-License-Identifier: MIT
// A driver-like workload for bench_vmm's rewrite rows: per iteration, an interrupt-safe
// section (pushf; pop; cli; work; push; popf, as local_irq_save/restore compile), a TSC
// read, a write to the null port, a read of EFER. Built like a kernel module; no
// imports, so it also runs at CPL0 (kmod0=N:bench=ITER). The result depends only on the
// iteration count when every instruction does what it should: EFER.LME reads as set,
// the TSC never runs backwards.
long kmod_bench(unsigned long n);
long kmod_bench(unsigned long n)
{
	unsigned long sum = 0, last = 0;
	for (unsigned long i = 0; i < n; i++) {
		unsigned long flags;
		unsigned int lo, hi;
		__asm__ volatile("pushf; pop %0; cli" : "=r"(flags) : : "memory");
		sum += i * 3 + (sum >> 7); /* the work the section protects */
		__asm__ volatile("push %0; popf" : : "r"(flags) : "memory", "cc");
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		unsigned long tsc = (unsigned long)hi << 32 | lo;
		sum += tsc < last ? 1000000 : 0;
		last = tsc;
		__asm__ volatile("outb %b0, %w1" : : "a"((unsigned char)i), "Nd"((unsigned short)0x512));
		__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000080u));
		sum += (lo >> 8) & 1; /* EFER.LME */
	}
	return (long)sum;
}
