// SPDX-License-Identifier: MIT
// The irq policy's public API: the CPU and device tables and the changes to them. Each
// change reserves what it needs first, so a failure leaves the policy as it was.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../util/grow.h"
#include "irq-internal.h"
#include "util/opts.h"

#define MAX_REQUESTER 0xffffu

VC_API int vc_irq_create(vc_irq **out, const struct vc_irq_opts *opts)
{
	struct vc_irq_opts o;
	if (!out)
		return -EINVAL;
	int rc = VC__OPTS_COPY(o, opts, vc_irq_opts, flags);
	if (rc)
		return rc;
	if (o.flags & ~VC_IRQ_OPT_STRICT_VM)
		return -EINVAL;
	vc_irq *irq = calloc(1, sizeof(*irq));
	if (!irq)
		return -ENOMEM;
	irq->flags = o.flags;
	*out = irq;
	return 0;
}

VC_API void vc_irq_destroy(vc_irq *irq)
{
	if (!irq)
		return;
	free(irq->cpus);
	free(irq->devs);
	free(irq->vms);
	free(irq->changes);
	free(irq);
}


/* Every change can alter each device's route once (plus one for an added device). */
static int begin_change(vc_irq *irq, size_t extra_devs)
{
	irq->nchanges = 0;
	return vc__grow((void **)&irq->changes, &irq->cap_changes, irq->ndevs + extra_devs,
		    sizeof(irq->changes[0]));
}

static size_t dev_index(const vc_irq *irq, uint32_t id)
{
	size_t lo = 0, hi = irq->ndevs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (irq->devs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct vc__irq_dev *find_dev(const vc_irq *irq, uint32_t id)
{
	size_t i = dev_index(irq, id);
	return i < irq->ndevs && irq->devs[i].id == id ? &irq->devs[i] : NULL;
}

static struct vc__irq_dev *find_dev_by_requester(const vc_irq *irq, uint32_t requester)
{
	/* Linear: lookups by requester follow an indicator scan, a slow path already. */
	for (size_t i = 0; i < irq->ndevs; i++)
		if (irq->devs[i].requester == requester)
			return &irq->devs[i];
	return NULL;
}

/* A CPU change: recount the tiers, then re-place only what the change invalidated. */
static int cpus_changed(vc_irq *irq)
{
	vc__irq_rebuild_counts(irq);
	return vc__irq_reconcile(irq);
}

VC_API int vc_irq_cpu_add(vc_irq *irq, uint32_t cpu, uint32_t vm, bool intercept, uint32_t load)
{
	if (!irq || cpu == VC_IRQ_CPU_NONE)
		return -EINVAL;
	if (vc__irq_find_cpu(irq, cpu))
		return -EEXIST;
	int rc = begin_change(irq, 0);
	if (!rc)
		rc = vc__grow((void **)&irq->cpus, &irq->cap_cpus, irq->ncpus + 1, sizeof(irq->cpus[0]));
	if (!rc) /* one VM-count slot per CPU: reserved here so the recount cannot fail */
		rc = vc__grow((void **)&irq->vms, &irq->cap_vms, irq->ncpus + 1, sizeof(irq->vms[0]));
	if (rc)
		return rc;
	size_t i = 0;
	while (i < irq->ncpus && irq->cpus[i].id < cpu)
		i++;
	memmove(&irq->cpus[i + 1], &irq->cpus[i], (irq->ncpus - i) * sizeof(irq->cpus[0]));
	irq->cpus[i] = (struct vc__irq_cpu){
		.id = cpu, .vm = vm, .base_load = load, .intercept = intercept};
	irq->ncpus++;
	return cpus_changed(irq);
}

/* Finds a CPU about to change and reserves the change list; NULL with *rc set if not. */
static struct vc__irq_cpu *cpu_for_change(vc_irq *irq, uint32_t cpu, int *rc)
{
	struct vc__irq_cpu *c = irq ? vc__irq_find_cpu(irq, cpu) : NULL;
	*rc = !irq ? -EINVAL : !c ? -ENOENT : begin_change(irq, 0);
	return *rc ? NULL : c;
}

VC_API int vc_irq_cpu_remove(vc_irq *irq, uint32_t cpu)
{
	int rc;
	struct vc__irq_cpu *c = cpu_for_change(irq, cpu, &rc);
	if (!c)
		return rc;
	size_t i = (size_t)(c - irq->cpus);
	memmove(&irq->cpus[i], &irq->cpus[i + 1], (irq->ncpus - i - 1) * sizeof(irq->cpus[0]));
	irq->ncpus--;
	return cpus_changed(irq);
}

VC_API int vc_irq_cpu_assign(vc_irq *irq, uint32_t cpu, uint32_t vm)
{
	int rc;
	struct vc__irq_cpu *c = cpu_for_change(irq, cpu, &rc);
	if (!c)
		return rc;
	c->vm = vm;
	return cpus_changed(irq);
}

VC_API int vc_irq_cpu_set_intercept(vc_irq *irq, uint32_t cpu, bool intercept)
{
	int rc;
	struct vc__irq_cpu *c = cpu_for_change(irq, cpu, &rc);
	if (!c)
		return rc;
	c->intercept = intercept;
	return cpus_changed(irq);
}

VC_API int vc_irq_cpu_set_load(vc_irq *irq, uint32_t cpu, uint32_t load)
{
	if (!irq)
		return -EINVAL;
	struct vc__irq_cpu *c = vc__irq_find_cpu(irq, cpu);
	if (!c)
		return -ENOENT;
	irq->nchanges = 0;
	c->base_load = load;
	return 0;
}

static int check_mode(uint32_t mode, uint32_t vm)
{
	if (mode != VC_IRQ_DEDICATED && mode != VC_IRQ_SHARED)
		return -EINVAL;
	/* Dedicated means owned by one VM. */
	return mode == VC_IRQ_DEDICATED && vm == VC_IRQ_VM_NONE ? -EINVAL : 0;
}

VC_API int vc_irq_device_add(vc_irq *irq, uint32_t device, uint32_t requester, uint32_t mode,
			     uint32_t vm, uint32_t irq_id)
{
	if (!irq || requester > MAX_REQUESTER || check_mode(mode, vm))
		return -EINVAL;
	if (find_dev(irq, device) || find_dev_by_requester(irq, requester))
		return -EEXIST;
	int rc = begin_change(irq, 1);
	if (!rc)
		rc = vc__grow((void **)&irq->devs, &irq->cap_devs, irq->ndevs + 1, sizeof(irq->devs[0]));
	if (rc)
		return rc;
	size_t i = dev_index(irq, device);
	memmove(&irq->devs[i + 1], &irq->devs[i], (irq->ndevs - i) * sizeof(irq->devs[0]));
	struct vc__irq_dev *d = &irq->devs[i];
	*d = (struct vc__irq_dev){.id = device, .requester = requester, .mode = mode, .vm = vm,
				  .irq = irq_id, .cpu = VC_IRQ_CPU_NONE,
				  .path = VC_IRQ_PATH_PENDING};
	irq->ndevs++;
	struct vc_irq_route before, after;
	vc__irq_route_of(d, &before);
	before.cpu = VC_IRQ_CPU_NONE;
	before.path = VC_IRQ_PATH_NONE;
	vc__irq_place(irq, d);
	vc__irq_route_of(d, &after);
	vc__irq_push_change(irq, &before, &after);
	return 1;
}

VC_API int vc_irq_device_remove(vc_irq *irq, uint32_t device)
{
	if (!irq)
		return -EINVAL;
	struct vc__irq_dev *d = find_dev(irq, device);
	if (!d)
		return -ENOENT;
	int rc = begin_change(irq, 0);
	if (rc)
		return rc;
	struct vc_irq_route before, after;
	vc__irq_route_of(d, &before);
	vc__irq_unassign(irq, d);
	vc__irq_route_of(d, &after);
	after.path = VC_IRQ_PATH_NONE;
	vc__irq_push_change(irq, &before, &after);
	size_t i = (size_t)(d - irq->devs);
	memmove(&irq->devs[i], &irq->devs[i + 1], (irq->ndevs - i - 1) * sizeof(irq->devs[0]));
	irq->ndevs--;
	return 1;
}

/* A device's own attributes changed: only its route can be wrong now. */
static int device_changed(vc_irq *irq, struct vc__irq_dev *d, uint32_t mode, uint32_t vm)
{
	int rc = check_mode(mode, vm);
	if (!rc)
		rc = begin_change(irq, 0);
	if (rc)
		return rc;
	d->mode = mode;
	d->vm = vm;
	return vc__irq_reconcile(irq);
}

VC_API int vc_irq_device_set_mode(vc_irq *irq, uint32_t device, uint32_t mode)
{
	struct vc__irq_dev *d = irq ? find_dev(irq, device) : NULL;
	if (!irq)
		return -EINVAL;
	return d ? device_changed(irq, d, mode, d->vm) : -ENOENT;
}

VC_API int vc_irq_device_assign(vc_irq *irq, uint32_t device, uint32_t vm)
{
	struct vc__irq_dev *d = irq ? find_dev(irq, device) : NULL;
	if (!irq)
		return -EINVAL;
	return d ? device_changed(irq, d, d->mode, vm) : -ENOENT;
}

VC_API int vc_irq_rebalance(vc_irq *irq)
{
	if (!irq)
		return -EINVAL;
	int rc = begin_change(irq, 0);
	if (rc)
		return rc;
	struct vc_irq_route *old = malloc((irq->ndevs ? irq->ndevs : 1) * sizeof(*old));
	if (!old)
		return -ENOMEM;
	for (size_t i = 0; i < irq->ndevs; i++) {
		vc__irq_route_of(&irq->devs[i], &old[i]);
		irq->devs[i].cpu = VC_IRQ_CPU_NONE;
		irq->devs[i].path = VC_IRQ_PATH_PENDING;
	}
	for (size_t i = 0; i < irq->ncpus; i++)
		irq->cpus[i].routed = 0;
	int n = 0;
	for (size_t i = 0; i < irq->ndevs; i++) {
		struct vc_irq_route now;
		vc__irq_place(irq, &irq->devs[i]);
		vc__irq_route_of(&irq->devs[i], &now);
		if (now.cpu != old[i].cpu || now.path != old[i].path) {
			vc__irq_push_change(irq, &old[i], &now);
			n++;
		}
	}
	free(old);
	return n;
}

VC_API const struct vc_irq_change *vc_irq_changes(size_t *n, const vc_irq *irq)
{
	size_t count = irq ? irq->nchanges : 0;
	if (n)
		*n = count;
	return count ? irq->changes : NULL;
}

VC_API int vc_irq_route(struct vc_irq_route *out, const vc_irq *irq, uint32_t device)
{
	if (!irq || !out)
		return -EINVAL;
	const struct vc__irq_dev *d = find_dev(irq, device);
	if (!d)
		return -ENOENT;
	vc__irq_route_of(d, out);
	return d->path == VC_IRQ_PATH_PENDING ? -EHOSTUNREACH : 0;
}

VC_API int vc_irq_device_by_requester(uint32_t *device, const vc_irq *irq, uint32_t requester)
{
	if (!irq || !device)
		return -EINVAL;
	const struct vc__irq_dev *d = find_dev_by_requester(irq, requester);
	if (!d)
		return -ENOENT;
	*device = d->id;
	return 0;
}

VC_API int vc_irq_counts(size_t *devices, size_t *cpus, const vc_irq *irq)
{
	if (!irq)
		return -EINVAL;
	if (devices)
		*devices = irq->ndevs;
	if (cpus)
		*cpus = irq->ncpus;
	return 0;
}
