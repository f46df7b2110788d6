// SPDX-License-Identifier: MIT
// vc-vmm's interrupt router (ref-vmm/integrations/irq.c) against a fake KVM: a routing
// table replaced whole by each KVM_SET_GSI_ROUTING, irqfds that consume their eventfd and
// deliver by the table's route (as KVM does), and KVM_SIGNAL_MSI. Through a long random
// sequence of changes (interception flips, vCPUs offline and back, devices added and
// removed) the fake's table must equal what the policy's routes need, the router must
// write exactly the entries that changed, and every interrupt a device raises must arrive
// exactly once at a vCPU its route allows. Then the guest's side through its hypercalls:
// the test interrupt sources and their indicator in guest RAM, the control language, a
// vCPU taking itself offline, an application processor's start. No KVM: every machine.
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <virtcore/irq_abi.h>

#include "guest/abi.h"
#include "helpers.h"
#include "vmm_harness.h"

#define NCPUS 4
#define NDEV 64
#define MAX_GSI (IRQ_GSI_BASE + IRQ_MAX_DEVICES)

struct fake_kvm {
	pthread_mutex_t lock;
	struct kvm_irq_routing_entry msi[MAX_GSI]; /* MSI entry by GSI (type 0: none) */
	int irqfd[MAX_GSI];                        /* eventfd assigned, -1: none */
	uint64_t entries_changed, routing_calls;
	/* deliveries: (apic id, vector) of the last one, and how many */
	uint64_t delivered;
	uint32_t last_apic, last_vector;
	bool last_emulated;
};

static struct harness h;
static struct fake_kvm fk;

static int fake_set_routing(void *ctx, const struct kvm_irq_routing_entry *e, unsigned n)
{
	struct fake_kvm *f = ctx;
	struct kvm_irq_routing_entry next[MAX_GSI];
	memset(next, 0, sizeof(next));
	for (unsigned i = 0; i < n; i++) {
		if (e[i].type != KVM_IRQ_ROUTING_MSI)
			continue;
		cr_assert_lt(e[i].gsi, MAX_GSI);
		cr_assert_eq(next[e[i].gsi].type, 0, "two MSI routes on GSI %u", e[i].gsi);
		next[e[i].gsi] = e[i];
	}
	pthread_mutex_lock(&f->lock);
	for (unsigned g = 0; g < MAX_GSI; g++)
		f->entries_changed += memcmp(&next[g], &f->msi[g], sizeof(next[g])) != 0;
	memcpy(f->msi, next, sizeof(next));
	f->routing_calls++;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static int fake_irqfd(void *ctx, int fd, uint32_t gsi, bool assign)
{
	struct fake_kvm *f = ctx;
	cr_assert_lt(gsi, MAX_GSI);
	pthread_mutex_lock(&f->lock);
	int rc = 0;
	if (assign) {
		/* KVM would accept an irqfd without a route and drop its interrupts: the
		 * router must install the route first. */
		if (f->irqfd[gsi] >= 0 || f->msi[gsi].type != KVM_IRQ_ROUTING_MSI)
			rc = -EINVAL;
		else
			f->irqfd[gsi] = fd;
	} else if (f->irqfd[gsi] != fd) {
		rc = -ENOENT;
	} else {
		f->irqfd[gsi] = -1;
	}
	pthread_mutex_unlock(&f->lock);
	cr_assert_eq(rc, 0, "irqfd %s on GSI %u refused", assign ? "assign" : "deassign", gsi);
	return rc;
}

static int fake_signal_msi(void *ctx, uint32_t apic_id, uint8_t vector)
{
	struct fake_kvm *f = ctx;
	pthread_mutex_lock(&f->lock);
	f->delivered++;
	f->last_apic = apic_id;
	f->last_vector = vector;
	f->last_emulated = true;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* What KVM does when an assigned irqfd's eventfd is signalled: consume it, deliver by
 * the GSI's route. Returns false if no irqfd holds @fd. */
static bool fake_kvm_irqfd_fires(struct fake_kvm *f, int fd)
{
	pthread_mutex_lock(&f->lock);
	for (unsigned g = 0; g < MAX_GSI; g++) {
		if (f->irqfd[g] != fd)
			continue;
		eventfd_t v;
		cr_assert_eq(eventfd_read(fd, &v), 0);
		f->delivered++;
		f->last_apic = (f->msi[g].u.msi.address_lo >> 12) & 0xff;
		f->last_vector = f->msi[g].u.msi.data;
		f->last_emulated = false;
		pthread_mutex_unlock(&f->lock);
		return true;
	}
	pthread_mutex_unlock(&f->lock);
	return false;
}

struct dev {
	bool present;
	int fd;
	uint32_t mode;
	uint8_t vector;
	uint64_t held; /* raised while PENDING, owed when a route comes back */
};

static struct dev devs[NDEV];
static bool online[NCPUS], intercept[NCPUS];

static void setup(void)
{
	harness_create(&h, 4 << 20, NCPUS);
	memset(&fk, 0, sizeof(fk));
	pthread_mutex_init(&fk.lock, NULL);
	for (unsigned g = 0; g < MAX_GSI; g++)
		fk.irqfd[g] = -1;
	struct irq_kvm ops = {fake_set_routing, fake_irqfd, fake_signal_msi, &fk};
	irq_set_kvm(&h.vm, &ops);
	for (unsigned c = 0; c < NCPUS; c++)
		online[c] = true, intercept[c] = false;
	memset(devs, 0, sizeof(devs));
}

static void teardown(void)
{
	for (unsigned i = 0; i < NDEV; i++)
		if (devs[i].present) {
			irq_device_remove(&h.vm, i);
			close(devs[i].fd);
		}
	harness_destroy(&h);
}

TestSuite(irq_router, .init = setup, .fini = teardown);

static uint64_t delivered(void)
{
	pthread_mutex_lock(&fk.lock);
	uint64_t n = fk.delivered;
	pthread_mutex_unlock(&fk.lock);
	return n;
}

/* Waits (bounded, no timing claim) until @n deliveries have been seen. */
static void wait_delivered(uint64_t n, const char *what)
{
	for (int i = 0; i < 20000 && delivered() < n; i++)
		usleep(100);
	cr_assert_eq(delivered(), n, "%s: %lu deliveries, expected %lu", what, delivered(), n);
}

/* The fake's table and irqfds are exactly what the routes need. */
static void check_state(const char *what)
{
	for (unsigned i = 0; i < NDEV; i++) {
		struct vc_irq_route r;
		if (!devs[i].present) {
			cr_assert_eq(irq_route_of(&h.vm, i, &r), -ENOENT);
			continue;
		}
		cr_assert_eq(irq_route_of(&h.vm, i, &r), 0);
		uint32_t gsi = r.irq;
		pthread_mutex_lock(&fk.lock);
		bool direct = r.path == VC_IRQ_PATH_DIRECT;
		cr_assert_eq(fk.msi[gsi].type == KVM_IRQ_ROUTING_MSI, direct,
			     "%s: device %u (path %u) route in KVM: %d", what, i, r.path,
			     fk.msi[gsi].type == KVM_IRQ_ROUTING_MSI);
		cr_assert_eq(fk.irqfd[gsi] == devs[i].fd, direct, "%s: device %u irqfd", what, i);
		if (direct) {
			cr_assert_eq(fk.msi[gsi].u.msi.address_lo, irq_msi_address(r.cpu));
			cr_assert_eq(fk.msi[gsi].u.msi.data, devs[i].vector);
		}
		pthread_mutex_unlock(&fk.lock);
		/* The route itself obeys the seed: direct only to a vCPU with interception
		 * off, emulated only to one with it on, pending only when none is online. */
		if (r.path == VC_IRQ_PATH_DIRECT)
			cr_assert(online[r.cpu] && !intercept[r.cpu], "%s: device %u", what, i);
		else if (r.path == VC_IRQ_PATH_EMULATED)
			cr_assert(online[r.cpu] && intercept[r.cpu], "%s: device %u", what, i);
		else
			cr_assert_eq(r.path, VC_IRQ_PATH_PENDING);
	}
}

/* Device @i raises its interrupt: it arrives exactly once, where its route says. */
static void fire(unsigned i, const char *what)
{
	struct vc_irq_route r;
	cr_assert_eq(irq_route_of(&h.vm, i, &r), 0);
	uint64_t before = delivered();
	cr_assert_eq(eventfd_write(devs[i].fd, 1), 0);
	if (r.path == VC_IRQ_PATH_PENDING) {
		devs[i].held++;
		usleep(2000);
		cr_assert_eq(delivered(), before, "%s: a pending interrupt was delivered", what);
		return;
	}
	if (r.path == VC_IRQ_PATH_DIRECT)
		cr_assert(fake_kvm_irqfd_fires(&fk, devs[i].fd), "%s: no irqfd for device %u", what, i);
	char fire_what[96];
	snprintf(fire_what, sizeof(fire_what), "%s: device %u fired (path %u)", what, i, r.path);
	wait_delivered(before + 1, fire_what);
	pthread_mutex_lock(&fk.lock);
	cr_assert_eq(fk.last_apic, r.cpu, "%s: device %u", what, i);
	cr_assert_eq(fk.last_vector, devs[i].vector);
	cr_assert_eq(fk.last_emulated, r.path == VC_IRQ_PATH_EMULATED);
	pthread_mutex_unlock(&fk.lock);
	usleep(200);
	cr_assert_eq(delivered(), before + 1, "%s: device %u delivered twice", what, i);
}

static void add(unsigned i, uint32_t mode)
{
	devs[i] = (struct dev){.present = true, .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK),
			       .mode = mode, .vector = (uint8_t)(48 + i % 200)};
	cr_assert_geq(devs[i].fd, 0);
	cr_assert_eq(irq_device_add(&h.vm, i, mode, devs[i].fd, devs[i].vector), 0);
}

Test(irq_router, random_changes_keep_kvm_in_step_and_deliver_exactly_once, .timeout = 120)
{
	uint64_t seed = 0x1badb002;
	for (unsigned i = 0; i < NDEV; i++)
		add(i, i % 4 ? VC_IRQ_DEDICATED : VC_IRQ_SHARED);
	check_state("initial");
	for (unsigned i = 0; i < NDEV; i++)
		fire(i, "initial");

	for (int step = 0; step < 400; step++) {
		char what[64];
		struct irq_stats st0, st1;
		irq_get_stats(&h.vm, &st0);
		pthread_mutex_lock(&fk.lock);
		uint64_t kvm0 = fk.entries_changed;
		pthread_mutex_unlock(&fk.lock);
		uint64_t d0 = delivered();
		unsigned op = (unsigned)(th_rand64(&seed) % 4), c = (unsigned)(th_rand64(&seed) % NCPUS);
		unsigned d = (unsigned)(th_rand64(&seed) % NDEV);
		int rc;
		switch (op) {
		case 0:
			snprintf(what, sizeof(what), "step %d: cpu %u intercept %d", step, c, !intercept[c]);
			rc = irq_cpu_set_intercept(&h.vm, c, !intercept[c]);
			if (online[c]) {
				cr_assert_eq(rc, 0, "%s", what);
				intercept[c] = !intercept[c];
			} else {
				cr_assert_eq(rc, -ENOENT, "%s", what);
			}
			break;
		case 1:
			snprintf(what, sizeof(what), "step %d: cpu %u %s", step, c,
				 online[c] ? "offline" : "online");
			cr_assert_eq(irq_cpu_set_online(&h.vm, c, !online[c], intercept[c]), 0, "%s", what);
			online[c] = !online[c];
			break;
		default:
			snprintf(what, sizeof(what), "step %d: device %u %s", step, d,
				 devs[d].present ? "removed" : "added");
			if (devs[d].present) {
				cr_assert_eq(irq_device_remove(&h.vm, d), 0, "%s", what);
				close(devs[d].fd);
				devs[d].present = false;
			} else {
				add(d, th_rand64(&seed) % 2 ? VC_IRQ_DEDICATED : VC_IRQ_SHARED);
			}
			break;
		}
		check_state(what);
		/* Held interrupts are owed once their device has a route again: all of them
		 * by the change itself (direct ones through KVM's irqfd, which the fake plays
		 * here), none twice. */
		uint64_t owed = 0;
		for (unsigned i = 0; i < NDEV; i++) {
			struct vc_irq_route r;
			if (!devs[i].present || !devs[i].held || irq_route_of(&h.vm, i, &r) ||
			    r.path == VC_IRQ_PATH_PENDING)
				continue;
			if (r.path == VC_IRQ_PATH_DIRECT)
				cr_assert(fake_kvm_irqfd_fires(&fk, devs[i].fd), "%s: held %u", what, i);
			owed++;
			devs[i].held = 0;
		}
		wait_delivered(d0 + owed, what);
		usleep(200);
		cr_assert_eq(delivered(), d0 + owed, "%s: held interrupts delivered twice", what);
		/* The router wrote exactly the entries that changed, nothing more. */
		irq_get_stats(&h.vm, &st1);
		pthread_mutex_lock(&fk.lock);
		uint64_t kvm1 = fk.entries_changed;
		pthread_mutex_unlock(&fk.lock);
		cr_assert_eq(st1.routes_written - st0.routes_written, kvm1 - kvm0, "%s", what);
		cr_assert_leq(st1.routes_written - st0.routes_written, st1.changes - st0.changes,
			      "%s: more entries written than routes changed", what);
		for (int k = 0; k < 4; k++) {
			unsigned i = (unsigned)(th_rand64(&seed) % NDEV);
			if (devs[i].present)
				fire(i, what);
		}
	}
}

/* The benchmark's baseline writes everything; the diff writes one route for one move. */
Test(irq_router, one_cpu_offline_rewrites_only_its_devices)
{
	for (unsigned i = 0; i < NDEV; i++)
		add(i, VC_IRQ_DEDICATED);
	struct irq_stats st0, st1;
	irq_get_stats(&h.vm, &st0);
	cr_assert_eq(irq_cpu_set_online(&h.vm, 1, false, false), 0);
	online[1] = false;
	irq_get_stats(&h.vm, &st1);
	/* 64 devices over 4 vCPUs, least-loaded: 16 were on vCPU 1, and only they move. */
	cr_assert_eq(st1.changes - st0.changes, NDEV / NCPUS);
	cr_assert_eq(st1.routes_written - st0.routes_written, NDEV / NCPUS);
	cr_assert_eq(st1.routing_calls - st0.routing_calls, 1);
	cr_assert_eq(st1.irqfd_calls - st0.irqfd_calls, 0, "a DIRECT->DIRECT move keeps its irqfd");
	check_state("vCPU 1 offline");
	cr_assert_eq(irq_reprogram_all(&h.vm), 0);
	struct irq_stats st2;
	irq_get_stats(&h.vm, &st2);
	cr_assert_eq(st2.irqfd_calls - st1.irqfd_calls, 2 * NDEV);
	check_state("reprogrammed");
	cr_assert_eq(irq_cpu_set_online(&h.vm, 1, false, false), -EINVAL, "already offline");
	cr_assert_eq(irq_cpu_set_intercept(&h.vm, NCPUS, true), -ENOENT);
	cr_assert_eq(irq_device_remove(&h.vm, NDEV + 5), -ENOENT);
	cr_assert_eq(irq_device_add(&h.vm, 3, VC_IRQ_DEDICATED, devs[3].fd, 50), -EEXIST);
}

/* ---- the guest's side, through its hypercalls (no KVM): the test sources, the control
 * language, a vCPU taking itself offline, an AP's start ---- */

#define HC_BLOCK 0x2000u
#define LINE_GPA 0x3000u
#define AREA_GPA 0x10000u

static int64_t guest_hcall(unsigned cpu, uint32_t nr, uint64_t a0, uint64_t a1)
{
	struct vcg_hcall hc = {.nr = nr, .args = {a0, a1}, .ret = 0x7777};
	harness_guest_write(&h, HC_BLOCK, &hc, sizeof(hc));
	harness_out(&h, cpu, VCG_PORT_HCALL, 4, HC_BLOCK);
	return (int64_t)harness_read64(&h, HC_BLOCK + offsetof(struct vcg_hcall, ret));
}

static int64_t guest_control(const char *line)
{
	harness_guest_write(&h, LINE_GPA, line, strlen(line));
	return guest_hcall(0, VCG_HC_CONTROL, LINE_GPA, strlen(line));
}

static struct vcg_irqtest_area *guest_area(void)
{
	struct vcg_irqtest_area *a = vc_gmem_ptr(h.vm.gmem, AREA_GPA, sizeof(*a), 1);
	cr_assert_not_null(a);
	return a;
}

/* What KVM does for every irqfd whose eventfd was signalled; how many fired. */
static unsigned fire_ready_irqfds(void)
{
	unsigned n = 0;
	for (unsigned g = 0; g < MAX_GSI; g++) {
		pthread_mutex_lock(&fk.lock);
		int fd = fk.irqfd[g];
		pthread_mutex_unlock(&fk.lock);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (fd >= 0 && poll(&p, 1, 0) == 1)
			n += fake_kvm_irqfd_fires(&fk, fd);
	}
	return n;
}

Test(irq_router, guest_sources_fire_through_their_routes_and_the_indicator)
{
	cr_assert_eq(guest_hcall(0, VCG_HC_IRQTEST_SETUP, AREA_GPA + 8, 0x31), -EINVAL, "unaligned");
	cr_assert_eq(guest_hcall(0, VCG_HC_IRQTEST_SETUP, AREA_GPA, 7), -EINVAL, "an exception vector");
	cr_assert_eq(guest_control("device add 0 dedicated"), -ENODEV, "before the setup");
	cr_assert_eq(guest_hcall(0, VCG_HC_IRQTEST_SETUP, AREA_GPA, 0x31), 0);
	cr_assert_eq(guest_hcall(0, VCG_HC_IRQTEST_SETUP, AREA_GPA, 0x31), -EBUSY);

	cr_assert_eq(guest_control("cpu 3 intercept on"), 0);
	intercept[3] = true;
	for (unsigned i = 0; i < 3; i++) {
		char line[48];
		snprintf(line, sizeof(line), "device add %u dedicated", i);
		cr_assert_eq(guest_control(line), 0);
	}
	cr_assert_eq(guest_control("device add 3 shared\n"), 0);
	cr_assert_eq(guest_control("device add 4 shared"), 0);
	cr_assert_eq(guest_control("device add 4 shared"), -EEXIST);
	/* Bad lines change nothing. */
	struct irq_stats before, after;
	irq_get_stats(&h.vm, &before);
	cr_assert_eq(guest_control("device add 9 sometimes"), -EINVAL);
	cr_assert_eq(guest_control("cpu 9 intercept on"), -ENXIO);
	cr_assert_eq(guest_control("cpu 1 intercept maybe"), -EINVAL);
	cr_assert_eq(guest_control("device add 4096 dedicated"), -EINVAL);
	cr_assert_eq(guest_control("cpu 1 online"), -EALREADY);
	cr_assert_eq(guest_control("device\tadd 5 dedicated \x01"), -EINVAL);
	cr_assert_eq(guest_control("# comment"), 0);
	cr_assert_eq(guest_control(""), 0);
	irq_get_stats(&h.vm, &after);
	cr_assert_eq(after.changes, before.changes, "a refused line changed routes");

	/* One fire of all five: five bits, five interrupts (three by irqfd, two injected by
	 * the router for vCPU 3), each source reported once by a scan. */
	uint64_t d0 = delivered();
	cr_assert_eq(guest_hcall(1, VCG_HC_IRQTEST_FIRE, 0, 5), 5);
	struct vcg_irqtest_area *a = guest_area();
	for (unsigned r = 0; r < 5; r++)
		cr_assert_eq(vc_irq_abi_indicator_test(&a->indicator, r), 1, "requester %u", r);
	cr_assert_neq(a->fire_tsc, 0);
	cr_assert_eq(fire_ready_irqfds(), 3);
	wait_delivered(d0 + 5, "five sources");
	uint16_t ids[8];
	cr_assert_eq(vc_irq_abi_indicator_scan(&a->indicator, ids, 8), 5);
	for (unsigned r = 0; r < 5; r++)
		cr_assert_eq(ids[r], r);
	cr_assert_eq(vc_irq_abi_indicator_scan(&a->indicator, ids, 8), 0);

	/* A missing source in the range: nothing fires. */
	cr_assert_eq(guest_hcall(0, VCG_HC_IRQTEST_FIRE, 3, 3), -ENOENT);
	cr_assert_eq(vc_irq_abi_indicator_scan(&a->indicator, ids, 8), 0);
	cr_assert_eq(guest_hcall(0, VCG_HC_IRQTEST_FIRE, 4095, 2), -EINVAL);

	/* A vCPU takes only itself offline; its routes move by the diff. */
	cr_assert_eq(guest_hcall(1, VCG_HC_CPU_SET_ONLINE, 3, 0), -EPERM);
	cr_assert_eq(guest_hcall(3, VCG_HC_CPU_SET_ONLINE, 3, 0), 0);
	cr_assert_eq(guest_hcall(3, VCG_HC_CPU_SET_ONLINE, 3, 0), -EINVAL, "already offline");
	struct vc_irq_route r;
	for (unsigned i = 3; i < 5; i++) {
		cr_assert_eq(irq_route_of(&h.vm, i, &r), 0);
		cr_assert_eq(r.path, VC_IRQ_PATH_PENDING, "shared source %u with no CPU intercepting", i);
	}
	d0 = delivered();
	cr_assert_eq(guest_hcall(0, VCG_HC_IRQTEST_FIRE, 3, 2), 2);
	usleep(2000);
	cr_assert_eq(delivered(), d0, "held interrupts delivered");
	cr_assert_eq(guest_hcall(3, VCG_HC_CPU_SET_ONLINE, 3, 1), 0, "back, still intercepting");
	wait_delivered(d0 + 2, "held until vCPU 3 came back");
	cr_assert_eq(vc_irq_abi_indicator_scan(&a->indicator, ids, 8), 2);
	cr_assert_eq(guest_control("device remove 3"), 0);
	cr_assert_eq(guest_control("device remove 3"), -ENOENT);
	cr_assert_eq(irq_route_of(&h.vm, 3, &r), -ENOENT);
}

Test(irq_router, application_processors_start_once_when_the_guest_asks)
{
	cr_assert_eq(guest_hcall(0, VCG_HC_CPU_COUNT, 0, 0), NCPUS);
	cr_assert_eq(guest_hcall(0, VCG_HC_CPU_START, 0, 0x100000), -EINVAL, "the boot CPU");
	cr_assert_eq(guest_hcall(0, VCG_HC_CPU_START, NCPUS, 0x100000), -EINVAL);
	cr_assert_eq(guest_hcall(0, VCG_HC_CPU_START, 2, 1ull << 32), -EINVAL, "not a 32-bit entry");
	cr_assert_eq(guest_hcall(0, VCG_HC_CPU_START, 2, 0x100000), 0);
	cr_assert(h.vm.cpus[2].start_requested);
	cr_assert_eq(h.vm.cpus[2].start_entry, 0x100000);
	cr_assert_eq(h.vm.cpus[2].run->immediate_exit, 1, "its KVM_RUN is cut short");
	cr_assert_eq(guest_hcall(0, VCG_HC_CPU_START, 2, 0x100000), -EBUSY);
}
