// SPDX-License-Identifier: MIT
// The local APIC, enough to take device interrupts: software-enabled at boot, and an
// end-of-interrupt after each one. xAPIC MMIO at its reset address (identity-mapped).
#include "kernel.h"

#define LAPIC_BASE 0xfee00000u
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_IRR 0x200 /* eight 32-bit words, 16 bytes apart */
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define ICR_ASSERT 0x4000
#define ICR_ALL_BUT_SELF 0xc0000
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

int lapic_device_pending(void)
{
	/* Vectors 0x30..0x3f are bits 16..31 of the second IRR word. */
	return (*(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + LAPIC_IRR + 0x10) >> 16) != 0;
}

void lapic_ipi(int cpu, uint8_t vector)
{
	if (cpu >= 0) {
		lapic_write(LAPIC_ICR_HI, (uint32_t)cpu << 24);
		lapic_write(LAPIC_ICR_LO, ICR_ASSERT | vector);
	} else {
		lapic_write(LAPIC_ICR_LO, ICR_ALL_BUT_SELF | ICR_ASSERT | vector);
	}
}
