// SPDX-License-Identifier: MIT
// The guest side of vc-vmm's test interrupt sources (guest/abi.h): one vector for all of
// them, and an indicator in guest RAM that says which raised it. The handler scans only
// what is pending (the indicator's levels), so its cost follows the requests, not the
// number of sources; it runs on whichever CPU the VMM's policy routed the source to.
#include "../syscalls.h"
#include "kernel.h"

#define ENODEV 19
#define EFAULT 14

static struct vcg_irqtest_area *area;
static uint32_t seen[256];
static uint64_t other_requesters, offline_interrupts;

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Three contiguous zeroed pages (zero is an empty indicator), given to the VMM once. */
int64_t irqtest_setup(void)
{
	if (area)
		return 0;
	if (!console_has_hcall())
		return -ENODEV;
	uint8_t *p = page_alloc();
	for (unsigned i = 1; i * 4096 < sizeof(*area); i++)
		if (page_alloc() != p + 4096 * i)
			panic("irqtest: the indicator's pages are not contiguous");
	int64_t rc = hcall(VCG_HC_IRQTEST_SETUP, (uint64_t)(uintptr_t)p, VEC_IRQTEST);
	if (rc)
		return rc;
	area = (struct vcg_irqtest_area *)p;
	return 0;
}

void irqtest_interrupt(struct percpu *c)
{
	uint64_t now = rdtsc();
	if (!area)
		return;
	c->irqtest_last_latency = now - __atomic_load_n(&area->fire_tsc, __ATOMIC_RELAXED);
	if (c->parked)
		__atomic_fetch_add(&offline_interrupts, 1, __ATOMIC_RELAXED);
	uint16_t ids[32];
	size_t n;
	while ((n = vc_irq_abi_indicator_scan(&area->indicator, ids, 32)) > 0) {
		for (size_t i = 0; i < n; i++) {
			if (ids[i] < 256)
				__atomic_fetch_add(&seen[ids[i]], 1, __ATOMIC_RELAXED);
			else
				__atomic_fetch_add(&other_requesters, 1, __ATOMIC_RELAXED);
		}
		c->irqtest_seen += n;
	}
}

int64_t irqtest_counters(uint64_t uaddr)
{
	int64_t rc = irqtest_setup();
	if (rc)
		return rc;
	struct vcg_irq_counters k;
	memset(&k, 0, sizeof(k));
	k.ncpus = (uint32_t)smp_cpu_count();
	for (int i = 0; i < smp_cpu_count(); i++) {
		k.parked_mask |= (uint32_t)percpus[i].parked << i;
		k.irqtest_interrupts[i] = percpus[i].interrupts[VEC_IRQTEST - VEC_DEVICE_FIRST];
		k.irqtest_seen[i] = percpus[i].irqtest_seen;
		k.last_latency[i] = percpus[i].irqtest_last_latency;
	}
	k.offline_interrupts = __atomic_load_n(&offline_interrupts, __ATOMIC_RELAXED);
	k.other_requesters = __atomic_load_n(&other_requesters, __ATOMIC_RELAXED);
	for (int i = 0; i < 256; i++)
		k.seen[i] = __atomic_load_n(&seen[i], __ATOMIC_RELAXED);
	return copy_to_user(uaddr, &k, sizeof(k)) ? -EFAULT : 0;
}
