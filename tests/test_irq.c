// SPDX-License-Identifier: MIT
// Tests of the irq policy (seed cases, both directions of each change, balancing, errors,
// randomized invariants with diff replay) and of the interrupt indicator.
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <virtcore/irq.h>
#include <virtcore/irq_abi.h>

#include "helpers.h"
#include "irq/irq-internal.h"

#define NONE VC_IRQ_VM_NONE
#define DED VC_IRQ_DEDICATED
#define SHR VC_IRQ_SHARED

static vc_irq *p;

static void setup(void)
{
	cr_assert_eq(vc_irq_create(&p, NULL), 0);
}

static void teardown(void)
{
	vc_irq_destroy(p);
	p = NULL;
}

static struct vc_irq_route route(uint32_t dev)
{
	struct vc_irq_route r;
	int rc = vc_irq_route(&r, p, dev);
	cr_assert(rc == 0 || rc == -EHOSTUNREACH, "route(%u): %d", dev, rc);
	return r;
}

#define assert_route(dev, want_cpu, want_path)                                            \
	do {                                                                               \
		struct vc_irq_route r_ = route(dev);                                       \
		cr_assert_eq(r_.cpu, (uint32_t)(want_cpu), "device %u on cpu %u, want %u", \
			     (unsigned)(dev), r_.cpu, (unsigned)(want_cpu));              \
		cr_assert_eq(r_.path, (uint32_t)(want_path), "device %u path %u, want %u", \
			     (unsigned)(dev), r_.path, (unsigned)(want_path));            \
	} while (0)

/* The only change of the last call must be @dev moving to (cpu, path). */
static void assert_one_change(int rc, uint32_t dev, uint32_t cpu, uint32_t path)
{
	cr_assert_eq(rc, 1, "expected one change, got %d", rc);
	size_t n;
	const struct vc_irq_change *c = vc_irq_changes(&n, p);
	cr_assert_eq(n, 1);
	cr_assert_eq(c[0].new_route.device, dev);
	cr_assert_eq(c[0].new_route.cpu, cpu);
	cr_assert_eq(c[0].new_route.path, path);
}

/* ---- the seed's cases ---- */

Test(policy, dedicated_goes_direct_to_a_non_intercepting_cpu_of_its_vm, .init = setup,
     .fini = teardown)
{
	vc_irq_cpu_add(p, 0, NONE, true, 0); /* the VMM's CPU */
	vc_irq_cpu_add(p, 1, 7, true, 0);
	vc_irq_cpu_add(p, 2, 7, false, 0);
	vc_irq_cpu_add(p, 3, 8, false, 0); /* another VM's */
	assert_one_change(vc_irq_device_add(p, 100, 0x0810, DED, 7, 33), 100, 2,
			  VC_IRQ_PATH_DIRECT);
	struct vc_irq_route r = route(100);
	cr_assert_eq(r.irq, 33);
	cr_assert_eq(r.requester, 0x0810);
	size_t n;
	const struct vc_irq_change *c = vc_irq_changes(&n, p);
	cr_assert_eq(c[0].old_route.path, VC_IRQ_PATH_NONE);
}

Test(policy, dedicated_whose_vm_cpus_all_intercept_goes_through_the_emulator, .init = setup,
     .fini = teardown)
{
	vc_irq_cpu_add(p, 0, NONE, true, 0);
	vc_irq_cpu_add(p, 1, 7, true, 0);
	vc_irq_device_add(p, 100, 1, DED, 7, 0);
	assert_route(100, 1, VC_IRQ_PATH_EMULATED); /* own VM's intercepting CPU first */
}

Test(policy, shared_goes_to_an_intercepting_cpu, .init = setup, .fini = teardown)
{
	vc_irq_cpu_add(p, 1, 7, false, 0);
	vc_irq_cpu_add(p, 2, 8, true, 0);
	vc_irq_cpu_add(p, 3, NONE, true, 0);
	/* Shared by VM 7: never the non-intercepting CPU 1; the unowned CPU before VM 8's. */
	vc_irq_device_add(p, 100, 1, SHR, 7, 0);
	assert_route(100, 3, VC_IRQ_PATH_EMULATED);
	/* Shared among VMs (no owner). */
	vc_irq_device_add(p, 101, 2, SHR, NONE, 0);
	assert_route(101, 3, VC_IRQ_PATH_EMULATED);
	vc_irq_cpu_remove(p, 3);
	assert_route(100, 2, VC_IRQ_PATH_EMULATED);
	assert_route(101, 2, VC_IRQ_PATH_EMULATED);
}

/* ---- both directions of every change ---- */

Test(changes, cpu_reassigned_away_and_back, .init = setup, .fini = teardown)
{
	vc_irq_cpu_add(p, 1, 7, true, 0);
	vc_irq_cpu_add(p, 2, 7, false, 0);
	vc_irq_device_add(p, 100, 1, DED, 7, 0);
	assert_route(100, 2, VC_IRQ_PATH_DIRECT);
	assert_one_change(vc_irq_cpu_assign(p, 2, 8), 100, 1, VC_IRQ_PATH_EMULATED);
	assert_one_change(vc_irq_cpu_assign(p, 2, 7), 100, 2, VC_IRQ_PATH_DIRECT);
}

Test(changes, interception_toggled_on_and_off, .init = setup, .fini = teardown)
{
	vc_irq_cpu_add(p, 0, NONE, true, 0);
	vc_irq_cpu_add(p, 2, 7, false, 0);
	vc_irq_device_add(p, 100, 1, DED, 7, 0);
	vc_irq_device_add(p, 101, 2, SHR, 7, 0);
	assert_route(101, 0, VC_IRQ_PATH_EMULATED);
	/* CPU 2 intercepts: the dedicated device goes through the emulator on CPU 2 (own
	 * VM's intercepting CPU), and the shared one moves there too (own tier beats the
	 * VMM's CPU). */
	int rc = vc_irq_cpu_set_intercept(p, 2, true);
	cr_assert_eq(rc, 2);
	assert_route(100, 2, VC_IRQ_PATH_EMULATED);
	assert_route(101, 2, VC_IRQ_PATH_EMULATED);
	/* Off again: the dedicated device goes direct; the shared one must leave CPU 2. */
	rc = vc_irq_cpu_set_intercept(p, 2, false);
	cr_assert_eq(rc, 2);
	assert_route(100, 2, VC_IRQ_PATH_DIRECT);
	assert_route(101, 0, VC_IRQ_PATH_EMULATED);
	/* Setting the same value again changes nothing. */
	cr_assert_eq(vc_irq_cpu_set_intercept(p, 2, false), 0);
	size_t n;
	cr_assert_null(vc_irq_changes(&n, p));
	cr_assert_eq(n, 0);
}

Test(changes, device_switched_between_dedicated_and_shared, .init = setup, .fini = teardown)
{
	vc_irq_cpu_add(p, 0, NONE, true, 0);
	vc_irq_cpu_add(p, 2, 7, false, 0);
	vc_irq_device_add(p, 100, 1, DED, 7, 0);
	assert_one_change(vc_irq_device_set_mode(p, 100, SHR), 100, 0, VC_IRQ_PATH_EMULATED);
	assert_one_change(vc_irq_device_set_mode(p, 100, DED), 100, 2, VC_IRQ_PATH_DIRECT);
	cr_assert_eq(vc_irq_device_set_mode(p, 100, DED), 0);
}

Test(changes, device_added_removed_and_moved_between_vms, .init = setup, .fini = teardown)
{
	vc_irq_cpu_add(p, 2, 7, false, 0);
	vc_irq_cpu_add(p, 3, 8, false, 0);
	vc_irq_device_add(p, 100, 1, DED, 7, 0);
	assert_one_change(vc_irq_device_assign(p, 100, 8), 100, 3, VC_IRQ_PATH_DIRECT);
	assert_one_change(vc_irq_device_assign(p, 100, 7), 100, 2, VC_IRQ_PATH_DIRECT);
	cr_assert_eq(vc_irq_device_remove(p, 100), 1);
	size_t n;
	const struct vc_irq_change *c = vc_irq_changes(&n, p);
	cr_assert_eq(c[0].old_route.cpu, 2);
	cr_assert_eq(c[0].new_route.path, VC_IRQ_PATH_NONE);
	cr_assert_eq(vc_irq_route(&(struct vc_irq_route){0}, p, 100), -ENOENT);
	size_t devs, cpus;
	vc_irq_counts(&devs, &cpus, p);
	cr_assert_eq(devs, 0);
	cr_assert_eq(cpus, 2);
}

Test(changes, cpu_added_and_removed, .init = setup, .fini = teardown)
{
	vc_irq_cpu_add(p, 1, 7, true, 0);
	vc_irq_device_add(p, 100, 1, DED, 7, 0);
	assert_route(100, 1, VC_IRQ_PATH_EMULATED);
	assert_one_change(vc_irq_cpu_add(p, 2, 7, false, 0), 100, 2, VC_IRQ_PATH_DIRECT);
	assert_one_change(vc_irq_cpu_remove(p, 2), 100, 1, VC_IRQ_PATH_EMULATED);
}

/* ---- fallback when nothing is eligible ---- */

Test(fallback, no_eligible_cpu_is_pending_then_routed_when_one_appears, .init = setup,
     .fini = teardown)
{
	vc_irq_cpu_add(p, 2, 7, false, 0);
	cr_assert_eq(vc_irq_device_add(p, 100, 1, SHR, 7, 0), 1); /* no intercepting CPU */
	struct vc_irq_route r;
	cr_assert_eq(vc_irq_route(&r, p, 100), -EHOSTUNREACH);
	cr_assert_eq(r.path, VC_IRQ_PATH_PENDING);
	cr_assert_eq(r.cpu, VC_IRQ_CPU_NONE);
	assert_one_change(vc_irq_cpu_add(p, 5, NONE, true, 0), 100, 5, VC_IRQ_PATH_EMULATED);
	assert_one_change(vc_irq_cpu_remove(p, 5), 100, VC_IRQ_CPU_NONE, VC_IRQ_PATH_PENDING);
}

Test(fallback, strict_vm_never_borrows_another_vms_cpu)
{
	VC_OPTS(vc_irq_opts, o, .flags = VC_IRQ_OPT_STRICT_VM);
	cr_assert_eq(vc_irq_create(&p, &o), 0);
	vc_irq_cpu_add(p, 3, 8, true, 0);
	vc_irq_device_add(p, 100, 1, SHR, 7, 0);
	assert_route(100, VC_IRQ_CPU_NONE, VC_IRQ_PATH_PENDING);
	teardown();

	cr_assert_eq(vc_irq_create(&p, NULL), 0);
	vc_irq_cpu_add(p, 3, 8, true, 0);
	vc_irq_device_add(p, 100, 1, SHR, 7, 0);
	assert_route(100, 3, VC_IRQ_PATH_EMULATED); /* default: last tier allowed */
	teardown();
}

/* ---- balance ---- */

Test(balance, least_loaded_then_lowest_id, .init = setup, .fini = teardown)
{
	vc_irq_cpu_add(p, 4, 7, false, 0);
	vc_irq_cpu_add(p, 1, 7, false, 2); /* base load 2 */
	vc_irq_cpu_add(p, 3, 7, false, 0);
	uint32_t want[] = {3, 4, 3, 4, 1, 3, 4};
	for (uint32_t i = 0; i < 7; i++) {
		vc_irq_device_add(p, i, i, DED, 7, 0);
		assert_route(i, want[i], VC_IRQ_PATH_DIRECT);
	}
}

Test(balance, new_cpu_does_not_churn_but_rebalance_spreads, .init = setup, .fini = teardown)
{
	vc_irq_cpu_add(p, 1, 7, false, 0);
	for (uint32_t i = 0; i < 8; i++)
		vc_irq_device_add(p, i, i, DED, 7, 0);
	cr_assert_eq(vc_irq_cpu_add(p, 2, 7, false, 0), 0, "a same-tier CPU moved devices");
	int rc = vc_irq_rebalance(p);
	cr_assert_eq(rc, 4, "rebalance moved %d devices", rc);
	size_t n;
	const struct vc_irq_change *c = vc_irq_changes(&n, p);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(c[i].old_route.cpu, 1);
		cr_assert_eq(c[i].new_route.cpu, 2);
		if (i)
			cr_assert_gt(c[i].new_route.device, c[i - 1].new_route.device);
	}
	cr_assert_eq(vc_irq_rebalance(p), 0, "rebalance is not idempotent");
}

/* ---- errors ---- */

Test(errors, bad_input_is_refused_and_changes_nothing, .init = setup, .fini = teardown)
{
	cr_assert_eq(vc_irq_cpu_add(p, 1, 7, false, 0), 0);
	cr_assert_eq(vc_irq_cpu_add(p, 1, 8, true, 0), -EEXIST);
	cr_assert_eq(vc_irq_cpu_add(p, VC_IRQ_CPU_NONE, 7, false, 0), -EINVAL);
	cr_assert_eq(vc_irq_cpu_remove(p, 9), -ENOENT);
	cr_assert_eq(vc_irq_cpu_assign(p, 9, 7), -ENOENT);
	cr_assert_eq(vc_irq_cpu_set_intercept(p, 9, true), -ENOENT);
	cr_assert_eq(vc_irq_cpu_set_load(p, 9, 1), -ENOENT);
	cr_assert_eq(vc_irq_device_add(p, 100, 1, DED, 7, 0), 1);
	cr_assert_eq(vc_irq_device_add(p, 100, 2, DED, 7, 0), -EEXIST, "duplicate device");
	cr_assert_eq(vc_irq_device_add(p, 101, 1, DED, 7, 0), -EEXIST, "duplicate requester");
	cr_assert_eq(vc_irq_device_add(p, 101, 0x10000, DED, 7, 0), -EINVAL);
	cr_assert_eq(vc_irq_device_add(p, 101, 2, 3, 7, 0), -EINVAL);
	cr_assert_eq(vc_irq_device_add(p, 101, 2, DED, NONE, 0), -EINVAL);
	cr_assert_eq(vc_irq_device_set_mode(p, 100, 0), -EINVAL);
	cr_assert_eq(vc_irq_device_assign(p, 100, NONE), -EINVAL, "dedicated needs a VM");
	cr_assert_eq(vc_irq_device_set_mode(p, 555, SHR), -ENOENT);
	cr_assert_eq(vc_irq_device_remove(p, 555), -ENOENT);
	assert_route(100, 1, VC_IRQ_PATH_DIRECT);
	struct vc_irq_route r;
	cr_assert_eq(vc_irq_route(&r, NULL, 100), -EINVAL);
	cr_assert_eq(vc_irq_route(NULL, p, 100), -EINVAL);
	uint32_t dev;
	cr_assert_eq(vc_irq_device_by_requester(&dev, p, 1), 0);
	cr_assert_eq(dev, 100);
	cr_assert_eq(vc_irq_device_by_requester(&dev, p, 2), -ENOENT);
	VC_OPTS(vc_irq_opts, o, .flags = 1u << 5);
	vc_irq *q = NULL;
	cr_assert_eq(vc_irq_create(&q, &o), -EINVAL);
	cr_assert_null(q);
	vc_irq_destroy(NULL);
}

/* ---- randomized invariants ---- */

#define R_CPUS 24
#define R_DEVS 96
#define R_VMS 4

struct model {
	bool cpu_present[R_CPUS];
	uint32_t cpu_vm[R_CPUS];
	bool cpu_icpt[R_CPUS];
	bool dev_present[R_DEVS];
	uint32_t dev_vm[R_DEVS], dev_mode[R_DEVS];
	struct vc_irq_route table[R_DEVS]; /* the VMM's table, updated only from diffs */
};

/* Independent reference for the best tier a device may use. */
static int ref_best(const struct model *m, uint32_t d, bool strict)
{
	int best = TIER_NONE;
	for (uint32_t c = 0; c < R_CPUS; c++) {
		if (!m->cpu_present[c])
			continue;
		bool own = m->dev_vm[d] != NONE && m->cpu_vm[c] == m->dev_vm[d];
		int t = TIER_NONE;
		if (!m->cpu_icpt[c])
			t = own && m->dev_mode[d] == DED ? TIER_DIRECT : TIER_NONE;
		else if (own)
			t = TIER_EMU_OWN;
		else if (m->cpu_vm[c] == NONE)
			t = TIER_EMU_UNOWNED;
		else
			t = strict ? TIER_NONE : TIER_EMU_OTHER;
		if (t < best)
			best = t;
	}
	return best;
}

static int tier_of_cpu(const struct model *m, uint32_t d, uint32_t c)
{
	bool own = m->dev_vm[d] != NONE && m->cpu_vm[c] == m->dev_vm[d];
	if (!m->cpu_icpt[c])
		return own && m->dev_mode[d] == DED ? TIER_DIRECT : TIER_NONE;
	return own ? TIER_EMU_OWN : m->cpu_vm[c] == NONE ? TIER_EMU_UNOWNED : TIER_EMU_OTHER;
}

static void apply_and_check(struct model *m, int rc, bool strict, unsigned step)
{
	cr_assert_geq(rc, 0, "step %u: call failed %d", step, rc);
	size_t n;
	const struct vc_irq_change *c = vc_irq_changes(&n, p);
	cr_assert_eq(n, (size_t)rc, "step %u: return %d but %zu changes", step, rc, n);
	for (size_t i = 0; i < n; i++) {
		uint32_t d = c[i].new_route.device;
		cr_assert_eq(c[i].old_route.device, d);
		if (i)
			cr_assert_gt(d, c[i - 1].new_route.device, "changes not sorted");
		cr_assert(c[i].old_route.cpu != c[i].new_route.cpu ||
				  c[i].old_route.path != c[i].new_route.path,
			  "step %u: a no-op change for device %u", step, d);
		cr_assert_eq(c[i].old_route.cpu, m->table[d].cpu, "step %u: stale old route", step);
		cr_assert_eq(c[i].old_route.path, m->table[d].path, "step %u: stale old route", step);
		m->table[d] = c[i].new_route;
	}
	/* The diff applied to the old table equals the policy's table, and every route obeys
	 * the rules. */
	size_t routed[R_CPUS] = {0};
	for (uint32_t d = 0; d < R_DEVS; d++) {
		struct vc_irq_route r;
		int got = vc_irq_route(&r, p, d);
		if (!m->dev_present[d]) {
			cr_assert_eq(got, -ENOENT);
			cr_assert_eq(m->table[d].path, VC_IRQ_PATH_NONE);
			continue;
		}
		cr_assert_eq(r.cpu, m->table[d].cpu, "step %u: diff replay differs for %u", step, d);
		cr_assert_eq(r.path, m->table[d].path, "step %u: diff replay differs for %u", step, d);
		int best = ref_best(m, d, strict);
		if (best == TIER_NONE) {
			cr_assert_eq(r.path, VC_IRQ_PATH_PENDING);
			cr_assert_eq(got, -EHOSTUNREACH);
			continue;
		}
		cr_assert_lt(r.cpu, R_CPUS);
		cr_assert(m->cpu_present[r.cpu], "step %u: device %u on a removed CPU", step, d);
		cr_assert_eq(tier_of_cpu(m, d, r.cpu), best, "step %u: device %u not in best tier",
			     step, d);
		cr_assert_eq(r.path, best == TIER_DIRECT ? VC_IRQ_PATH_DIRECT : VC_IRQ_PATH_EMULATED);
		/* The invariants, stated directly. */
		if (m->dev_mode[d] == SHR)
			cr_assert(m->cpu_icpt[r.cpu], "shared device on a non-intercepting CPU");
		if (m->dev_mode[d] == DED && m->cpu_icpt[r.cpu])
			for (uint32_t c2 = 0; c2 < R_CPUS; c2++)
				cr_assert(!(m->cpu_present[c2] && !m->cpu_icpt[c2] &&
					    m->cpu_vm[c2] == m->dev_vm[d]),
					  "dedicated device intercepted while CPU %u of its VM is not", c2);
		routed[r.cpu]++;
	}
	for (uint32_t cpu = 0; cpu < R_CPUS; cpu++) {
		struct vc__irq_cpu *ic = vc__irq_find_cpu(p, cpu);
		if (ic)
			cr_assert_eq(ic->routed, routed[cpu], "step %u: load count of CPU %u", step, cpu);
	}
}

static uint32_t rand_vm(uint64_t *st, bool allow_none)
{
	uint32_t v = (uint32_t)(th_rand64(st) % (R_VMS + allow_none));
	return v == R_VMS ? NONE : v;
}

static void random_run(uint64_t seed, bool strict, unsigned steps)
{
	VC_OPTS(vc_irq_opts, o, .flags = strict ? VC_IRQ_OPT_STRICT_VM : 0);
	cr_assert_eq(vc_irq_create(&p, &o), 0);
	static struct model m;
	memset(&m, 0, sizeof(m));
	for (uint32_t d = 0; d < R_DEVS; d++)
		m.table[d].cpu = VC_IRQ_CPU_NONE; /* what an added device's old route says */
	uint64_t st = seed;
	for (unsigned step = 0; step < steps; step++) {
		uint32_t c = (uint32_t)(th_rand64(&st) % R_CPUS);
		uint32_t d = (uint32_t)(th_rand64(&st) % R_DEVS);
		int rc = 0;
		switch (th_rand64(&st) % 9) {
		case 0:
			if (m.cpu_present[c])
				continue;
			m.cpu_present[c] = true;
			m.cpu_vm[c] = rand_vm(&st, true);
			m.cpu_icpt[c] = th_rand64(&st) & 1;
			rc = vc_irq_cpu_add(p, c, m.cpu_vm[c], m.cpu_icpt[c],
					    (uint32_t)(th_rand64(&st) % 4));
			break;
		case 1:
			if (!m.cpu_present[c])
				continue;
			m.cpu_present[c] = false;
			rc = vc_irq_cpu_remove(p, c);
			break;
		case 2:
			if (!m.cpu_present[c])
				continue;
			m.cpu_vm[c] = rand_vm(&st, true);
			rc = vc_irq_cpu_assign(p, c, m.cpu_vm[c]);
			break;
		case 3:
			if (!m.cpu_present[c])
				continue;
			m.cpu_icpt[c] = !m.cpu_icpt[c];
			rc = vc_irq_cpu_set_intercept(p, c, m.cpu_icpt[c]);
			break;
		case 4:
		case 5:
			if (m.dev_present[d])
				continue;
			m.dev_present[d] = true;
			m.dev_mode[d] = th_rand64(&st) & 1 ? DED : SHR;
			m.dev_vm[d] = rand_vm(&st, m.dev_mode[d] == SHR);
			rc = vc_irq_device_add(p, d, d, m.dev_mode[d], m.dev_vm[d], d + 32);
			break;
		case 6:
			if (!m.dev_present[d])
				continue;
			m.dev_present[d] = false;
			rc = vc_irq_device_remove(p, d);
			break;
		case 7:
			if (!m.dev_present[d] || m.dev_vm[d] == NONE)
				continue;
			m.dev_mode[d] = m.dev_mode[d] == DED ? SHR : DED;
			rc = vc_irq_device_set_mode(p, d, m.dev_mode[d]);
			break;
		case 8:
			if (!m.dev_present[d])
				continue;
			if (th_rand64(&st) % 4 == 0) {
				rc = vc_irq_rebalance(p);
				break;
			}
			m.dev_vm[d] = rand_vm(&st, m.dev_mode[d] == SHR);
			rc = vc_irq_device_assign(p, d, m.dev_vm[d]);
			break;
		}
		apply_and_check(&m, rc, strict, step);
	}
	teardown();
}

Test(random, invariants_hold_and_diffs_replay_exactly, .timeout = 120)
{
	for (uint64_t seed = 1; seed <= 40; seed++)
		random_run(seed, seed % 3 == 0, 1500);
}

/* ---- indicator ---- */

static vc_irq_indicator *ind;

static void ind_setup(void)
{
	cr_assert_eq(vc_irq_indicator_create(&ind), 0);
}

static void ind_teardown(void)
{
	vc_irq_indicator_destroy(ind);
}

Test(indicator, set_test_scan_in_order_and_coalesced, .init = ind_setup, .fini = ind_teardown)
{
	uint16_t out[8];
	cr_assert_eq(vc_irq_indicator_scan(ind, out, 8), 0);
	uint32_t ids[] = {65535, 0, 4096, 63, 64, 4096};
	for (size_t i = 0; i < 6; i++)
		cr_assert_eq(vc_irq_indicator_set(ind, ids[i]), 0);
	cr_assert_eq(vc_irq_indicator_test(ind, 4096), 1);
	cr_assert_eq(vc_irq_indicator_test(ind, 4097), 0);
	cr_assert_eq(vc_irq_indicator_scan(ind, out, 8), 5);
	uint16_t want[] = {0, 63, 64, 4096, 65535};
	cr_assert_arr_eq(out, want, sizeof(want));
	cr_assert_eq(vc_irq_indicator_scan(ind, out, 8), 0, "reported twice");
	cr_assert_eq(vc_irq_indicator_test(ind, 4096), 0);
}

Test(indicator, bad_arguments, .init = ind_setup, .fini = ind_teardown)
{
	cr_assert_eq(vc_irq_indicator_set(ind, 65536), -EINVAL);
	cr_assert_eq(vc_irq_indicator_test(ind, 65536), -EINVAL);
	cr_assert_eq(vc_irq_indicator_scan(ind, NULL, 4), -EINVAL);
	cr_assert_eq(vc_irq_indicator_scan(ind, NULL, 0), 0);
	cr_assert_eq(vc_irq_indicator_set(NULL, 1), -EINVAL);
	cr_assert_eq(vc_irq_indicator_create(NULL), -EINVAL);
	vc_irq_indicator_destroy(NULL);
}

Test(indicator, a_full_buffer_leaves_the_rest_pending, .init = ind_setup, .fini = ind_teardown)
{
	static uint16_t out[65536];
	for (uint32_t r = 0; r < 65536; r++)
		vc_irq_indicator_set(ind, r);
	/* Odd chunk sizes cut words, summaries and the top level at every point. */
	uint32_t next = 0;
	for (size_t chunk = 1; next < 65536; chunk = chunk * 3 + 1) {
		int n = vc_irq_indicator_scan(ind, out, chunk);
		cr_assert_gt(n, 0);
		for (int i = 0; i < n; i++, next++)
			cr_assert_eq(out[i], next, "got %u, want %u", out[i], next);
	}
	cr_assert_eq(next, 65536);
	cr_assert_eq(vc_irq_indicator_scan(ind, out, 65536), 0);
}

/*
 * Setters ping-pong each of their requesters with the scanner (set, then wait until it is
 * reported before setting it again), so coalescing cannot hide a lost bit: every set must
 * be reported exactly once.
 */
#define SETTERS 3
#define IDS_PER_SETTER 300
static _Atomic int outstanding[65536];
static _Atomic unsigned long lost_waits;
static atomic_int setters_done;

struct setter_arg {
	unsigned first;
	unsigned rounds;
};

/* Every setter uses the same leaf words (word 7k mod 1024, spread over all summaries),
 * each its own bits in them: the most contention a word can see. */
static uint32_t setter_id(const struct setter_arg *a, unsigned i)
{
	return ((i * 7u) % 1024u) * 64u + a->first;
}

static void *setter_main(void *arg)
{
	struct setter_arg *a = arg;
	for (unsigned round = 0; round < a->rounds; round++) {
		for (unsigned i = 0; i < IDS_PER_SETTER; i++) {
			uint32_t r = setter_id(a, i);
			atomic_store_explicit(&outstanding[r], 1, memory_order_relaxed);
			vc_irq_indicator_set(ind, r);
		}
		for (unsigned i = 0; i < IDS_PER_SETTER; i++) {
			uint32_t r = setter_id(a, i);
			uint64_t deadline = th_clock_ns(CLOCK_MONOTONIC) + 3000000000ull;
			while (atomic_load_explicit(&outstanding[r], memory_order_acquire)) {
				if (th_clock_ns(CLOCK_MONOTONIC) > deadline) {
					lost_waits++; /* the scanner never reported it */
					return NULL;
				}
				sched_yield();
			}
		}
	}
	atomic_fetch_add(&setters_done, 1);
	return NULL;
}

Test(indicator, concurrent_setters_no_loss_no_duplicate, .init = ind_setup,
     .fini = ind_teardown, .timeout = 120)
{
	pthread_t t[SETTERS];
	struct setter_arg args[SETTERS];
	unsigned rounds = (unsigned)(th_stress_seconds(1.0) * 1500);
	for (int i = 0; i < SETTERS; i++) {
		args[i] = (struct setter_arg){.first = (unsigned)i * 3u, .rounds = rounds};
		cr_assert_eq(pthread_create(&t[i], NULL, setter_main, &args[i]), 0);
	}
	uint16_t out[37];
	unsigned long reports = 0, duplicates = 0;
	while (atomic_load(&setters_done) + (int)lost_waits < SETTERS) {
		int n = vc_irq_indicator_scan(ind, out, 37);
		for (int i = 0; i < n; i++) {
			if (atomic_exchange_explicit(&outstanding[out[i]], 0, memory_order_acq_rel) != 1)
				duplicates++;
			reports++;
		}
		if (!n)
			sched_yield();
	}
	for (int i = 0; i < SETTERS; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(lost_waits, 0, "a set was never reported");
	cr_assert_eq(duplicates, 0, "%lu reports for nothing outstanding", duplicates);
	cr_assert_eq(reports, (unsigned long)SETTERS * IDS_PER_SETTER * rounds);
}

/* The wire layout a guest reads: the bits land where irq_abi.h says, zeroed memory is an
 * empty indicator, and the freestanding scanner reads what the setter wrote. */
Test(indicator, abi_layout_in_shared_memory)
{
	static struct vc_irq_indicator_abi abi; /* zeroed: nothing pending */
	uint16_t out[4];
	cr_assert_eq(vc_irq_abi_indicator_scan(&abi, out, 4), 0);
	cr_assert_eq(vc_irq_abi_indicator_set(&abi, 4096 + 5), 0);
	cr_assert_eq(abi.leaf[64], 1ull << 5);
	cr_assert_eq(abi.summary[1], 1ull << 0);
	cr_assert_eq(abi.top, 1ull << 1);
	cr_assert_eq(vc_irq_abi_indicator_set(&abi, 65535), 0);
	cr_assert_eq(abi.leaf[1023], 1ull << 63);
	cr_assert_eq(abi.summary[15], 1ull << 63);
	cr_assert_eq(vc_irq_abi_indicator_set(&abi, 65536), VC_IRQ_ABI_ERR_INVAL);
	cr_assert_eq(vc_irq_abi_indicator_test(&abi, 4101), 1);
	cr_assert_eq(vc_irq_abi_indicator_scan(&abi, out, 1), 1);
	cr_assert_eq(out[0], 4101);
	cr_assert_eq(abi.top, 1ull << 15, "the rest stays pending");
	cr_assert_eq(vc_irq_abi_indicator_scan(&abi, out, 4), 1);
	cr_assert_eq(out[0], 65535);
	static const struct vc_irq_indicator_abi zero;
	cr_assert_eq(memcmp(&abi, &zero, sizeof(abi)), 0, "a drained indicator is all zero");
}
