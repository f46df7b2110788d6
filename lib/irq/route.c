// SPDX-License-Identifier: MIT
// Placement: which tier of CPUs a device may use, the least-loaded CPU in it, and the
// reconciliation that re-places only the devices whose route a change made wrong.
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "irq-internal.h"

static uint32_t path_of(enum vc__irq_tier tier)
{
	return tier == TIER_DIRECT ? VC_IRQ_PATH_DIRECT
	       : tier == TIER_NONE ? VC_IRQ_PATH_PENDING
				   : VC_IRQ_PATH_EMULATED;
}

struct vc__irq_cpu *vc__irq_find_cpu(const vc_irq *irq, uint32_t id)
{
	size_t lo = 0, hi = irq->ncpus;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (irq->cpus[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < irq->ncpus && irq->cpus[lo].id == id ? &irq->cpus[lo] : NULL;
}

static const struct vc__irq_vm_count *find_vm(const vc_irq *irq, uint32_t vm)
{
	size_t lo = 0, hi = irq->nvms;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (irq->vms[mid].vm < vm)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < irq->nvms && irq->vms[lo].vm == vm ? &irq->vms[lo] : NULL;
}

/* CPU changes are rare next to routing decisions: recount from scratch. The CPUs are
 * sorted by id, not VM, so counts are built with an insertion into the sorted VM list.
 * vc_irq_cpu_add() reserved one slot per CPU, so this cannot fail. */
void vc__irq_rebuild_counts(vc_irq *irq)
{
	assert(irq->cap_vms >= irq->ncpus);
	irq->nvms = 0;
	irq->unowned_intercept = irq->total_intercept = 0;
	for (size_t i = 0; i < irq->ncpus; i++) {
		const struct vc__irq_cpu *c = &irq->cpus[i];
		irq->total_intercept += c->intercept;
		if (c->vm == VC_IRQ_VM_NONE) {
			irq->unowned_intercept += c->intercept;
			continue;
		}
		size_t j = 0;
		while (j < irq->nvms && irq->vms[j].vm < c->vm)
			j++;
		if (j == irq->nvms || irq->vms[j].vm != c->vm) {
			memmove(&irq->vms[j + 1], &irq->vms[j], (irq->nvms - j) * sizeof(irq->vms[0]));
			irq->vms[j] = (struct vc__irq_vm_count){.vm = c->vm};
			irq->nvms++;
		}
		if (c->intercept)
			irq->vms[j].intercept++;
		else
			irq->vms[j].direct++;
	}
}

enum vc__irq_tier vc__irq_best_tier(const vc_irq *irq, const struct vc__irq_dev *d)
{
	const struct vc__irq_vm_count *own =
		d->vm == VC_IRQ_VM_NONE ? NULL : find_vm(irq, d->vm);
	if (d->mode == VC_IRQ_DEDICATED && own && own->direct)
		return TIER_DIRECT;
	if (own && own->intercept)
		return TIER_EMU_OWN;
	if (irq->unowned_intercept)
		return TIER_EMU_UNOWNED;
	uint32_t other = irq->total_intercept - irq->unowned_intercept - (own ? own->intercept : 0);
	if (other && !(irq->flags & VC_IRQ_OPT_STRICT_VM))
		return TIER_EMU_OTHER;
	return TIER_NONE;
}

static enum vc__irq_tier tier_of(const vc_irq *irq, const struct vc__irq_dev *d,
				 const struct vc__irq_cpu *c)
{
	bool own = d->vm != VC_IRQ_VM_NONE && c->vm == d->vm;
	if (!c->intercept)
		return own && d->mode == VC_IRQ_DEDICATED ? TIER_DIRECT : TIER_NONE;
	if (own)
		return TIER_EMU_OWN;
	if (c->vm == VC_IRQ_VM_NONE)
		return TIER_EMU_UNOWNED;
	return irq->flags & VC_IRQ_OPT_STRICT_VM ? TIER_NONE : TIER_EMU_OTHER;
}

void vc__irq_unassign(vc_irq *irq, struct vc__irq_dev *d)
{
	if (d->cpu != VC_IRQ_CPU_NONE) {
		struct vc__irq_cpu *c = vc__irq_find_cpu(irq, d->cpu);
		if (c)
			c->routed--;
	}
	d->cpu = VC_IRQ_CPU_NONE;
	d->path = VC_IRQ_PATH_PENDING;
}

void vc__irq_place(vc_irq *irq, struct vc__irq_dev *d)
{
	enum vc__irq_tier best = vc__irq_best_tier(irq, d);
	if (best == TIER_NONE)
		return;
	/* Least loaded wins; the CPUs are in id order, so the first minimum is the lowest id. */
	struct vc__irq_cpu *pick = NULL;
	uint64_t pick_load = UINT64_MAX;
	for (size_t i = 0; i < irq->ncpus; i++) {
		struct vc__irq_cpu *c = &irq->cpus[i];
		uint64_t load = (uint64_t)c->base_load + c->routed;
		if (load < pick_load && tier_of(irq, d, c) == best) {
			pick = c;
			pick_load = load;
		}
	}
	pick->routed++;
	d->cpu = pick->id;
	d->path = path_of(best);
}

void vc__irq_route_of(const struct vc__irq_dev *d, struct vc_irq_route *out)
{
	*out = (struct vc_irq_route){
		.device = d->id,
		.cpu = d->cpu,
		.path = d->path,
		.irq = d->irq,
		.requester = d->requester,
	};
}

int vc__irq_push_change(vc_irq *irq, const struct vc_irq_route *old_route,
			const struct vc_irq_route *new_route)
{
	if (irq->nchanges == irq->cap_changes) {
		size_t cap = irq->cap_changes ? irq->cap_changes * 2 : 16;
		struct vc_irq_change *c = realloc(irq->changes, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		irq->changes = c;
		irq->cap_changes = cap;
	}
	irq->changes[irq->nchanges++] = (struct vc_irq_change){*old_route, *new_route};
	return 0;
}

/* A route is right when its CPU is in the device's best tier and its path matches that
 * tier (a CPU whose interception flipped can stay in the best tier with another path). */
static bool route_valid(const vc_irq *irq, const struct vc__irq_dev *d)
{
	enum vc__irq_tier best = vc__irq_best_tier(irq, d);
	if (d->path != path_of(best))
		return false;
	if (d->cpu == VC_IRQ_CPU_NONE)
		return best == TIER_NONE;
	const struct vc__irq_cpu *c = vc__irq_find_cpu(irq, d->cpu);
	return c && tier_of(irq, d, c) == best;
}

/*
 * After a change: re-place, in id order, each device whose CPU is gone or no longer in
 * its best tier; keep the rest where they are so the VMM's table churns as little as
 * possible. The caller has sized the change list (one entry per device at most).
 */
int vc__irq_reconcile(vc_irq *irq)
{
	int n = 0;
	for (size_t i = 0; i < irq->ndevs; i++) {
		struct vc__irq_dev *d = &irq->devs[i];
		if (route_valid(irq, d))
			continue;
		struct vc_irq_route before, after;
		vc__irq_route_of(d, &before);
		vc__irq_unassign(irq, d);
		vc__irq_place(irq, d);
		vc__irq_route_of(d, &after);
		if (before.cpu != after.cpu || before.path != after.path) {
			/* Cannot fail: the list was reserved for every device. */
			vc__irq_push_change(irq, &before, &after);
			n++;
		}
	}
	return n;
}
