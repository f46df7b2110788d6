// SPDX-License-Identifier: MIT
// More than one CPU: the application processors, started paravirtually (the boot CPU asks
// the VMM with VCG_HC_CPU_START, which sets the AP's registers to the PVH entry state and
// runs it: no real-mode trampoline, nothing for kvm_pvm to emulate but the ~20 instructions
// to long mode that the boot CPU runs too); one kernel lock; idling and parking.
//
// Parking is the guest side of a vCPU going offline: the CPU tells the VMM (whose irq
// policy moves its device interrupts elsewhere, by the minimal diff) and then waits with
// interrupts on for the request to come back, taking only wake-up IPIs. An interrupt a
// device still sends it is counted as a fault of the routing.
#include "kernel.h"

#define ENODEV 19
#define EBUSY 16
#define EINVAL 22

static volatile int lock_word;
static int ncpus;

int smp_cpu_count(void)
{
	if (!ncpus) {
		int64_t n = console_has_hcall() ? hcall(VCG_HC_CPU_COUNT, 0, 0) : 1;
		ncpus = n < 1 ? 1 : n > MAX_CPUS ? MAX_CPUS : (int)n;
	}
	return ncpus;
}

void kernel_lock(void)
{
	while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED))
			__asm__ volatile("pause");
}

void kernel_unlock(void)
{
	__atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
}

void kernel_halt(void)
{
	kernel_unlock();
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	kernel_lock();
}

void smp_wake_others(void)
{
	if (ncpus > 1)
		lapic_ipi(-1, VEC_WAKE);
}

/* Offline: the VMM hears first (its routes move), then the CPU waits to be called back. */
static void park(struct percpu *c)
{
	int64_t rc = hcall(VCG_HC_CPU_SET_ONLINE, (uint64_t)c->id, 0);
	if (rc)
		panic("cpu %d: the VMM refused to take it offline (%ld)", c->id, rc);
	/* The VMM routes nothing here any more; what it sent before is taken now, so that
	 * anything arriving once parked is a routing fault. (`sti; nop; cli` is not enough:
	 * kvm_pvm's emulator does not open the interrupt window for one instruction.) */
	for (int i = 0; i < 1000 && lapic_device_pending(); i++)
		__asm__ volatile("sti; hlt; cli" ::: "memory"); /* pending: hlt takes it, no sleep */
	c->parked = 1;
	while (c->park_request)
		kernel_halt();
	rc = hcall(VCG_HC_CPU_SET_ONLINE, (uint64_t)c->id, 1);
	if (rc)
		panic("cpu %d: the VMM refused to bring it back (%ld)", c->id, rc);
	c->parked = 0;
}

_Noreturn void cpu_idle(void)
{
	struct percpu *c = this_cpu();
	for (;;) {
		if (c->park_request)
			park(c);
		kernel_halt();
	}
}

int64_t smp_park(int cpu, int park_it)
{
	if (cpu <= 0 || cpu >= ncpus || !percpus[cpu].online)
		return -EINVAL; /* the boot CPU stays: it runs the kernel's own work */
	if (task_count_on(cpu))
		return -EBUSY;
	struct percpu *c = &percpus[cpu];
	c->park_request = park_it;
	lapic_ipi(cpu, VEC_WAKE);
	/* It needs the lock to call the VMM: wait without it. */
	kernel_unlock();
	while (c->parked != park_it)
		__asm__ volatile("pause");
	kernel_lock();
	return 0;
}

void ap_main(int id);
void ap_main(int id)
{
	cpu_init_ap(id);
	lapic_init();
	/* Online before the lock: the boot CPU holds it while it waits for this. */
	__atomic_store_n(&percpus[id].online, 1, __ATOMIC_RELEASE);
	kernel_lock();
	sched_start();
}

/* The boot CPU holds the kernel lock. */
void smp_start(int quiet)
{
	extern const char pvh_ap_start32[];
	percpus[0].online = 1;
	for (int i = 1; i < smp_cpu_count(); i++) {
		int64_t rc = hcall(VCG_HC_CPU_START, (uint64_t)i, (uint64_t)(uintptr_t)pvh_ap_start32);
		if (rc)
			panic("cpu %d: the VMM did not start it (%ld)", i, rc);
		while (!__atomic_load_n(&percpus[i].online, __ATOMIC_ACQUIRE))
			__asm__ volatile("pause");
	}
	if (!quiet && ncpus > 1)
		kprintf("vc-guest: %d CPUs online, each with its LAPIC and run queue\n", ncpus);
}
