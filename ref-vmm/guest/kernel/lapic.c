// SPDX-License-Identifier: MIT
// The local APIC, enough to take device interrupts: software-enabled at boot, and an
// end-of-interrupt after each one. xAPIC MMIO at its reset address (identity-mapped).
#include "kernel.h"

#define LAPIC_BASE 0xfee00000u
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define SVR_ENABLE 0x100

static void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg) = v;
}

void lapic_init(void)
{
	lapic_write(LAPIC_TPR, 0); /* accept every priority */
	lapic_write(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}
