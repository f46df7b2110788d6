/* SPDX-License-Identifier: MIT */
/* Private state of the irq policy, shared by policy.c (tables, API) and route.c (placement). */
#ifndef VC_IRQ_INTERNAL_H
#define VC_IRQ_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <virtcore/irq.h>

struct vc__irq_cpu {
	uint32_t id;
	uint32_t vm;
	uint32_t base_load;
	uint32_t routed; /* devices routed here */
	bool intercept;
};

struct vc__irq_dev {
	uint32_t id;
	uint32_t requester;
	uint32_t mode;
	uint32_t vm;
	uint32_t irq;
	uint32_t cpu;  /* VC_IRQ_CPU_NONE when unrouted */
	uint32_t path; /* enum vc_irq_path; PENDING when unrouted */
};

/* Per-VM counts of CPUs, so "which tier is the best non-empty one" is O(log VMs). */
struct vc__irq_vm_count {
	uint32_t vm;
	uint32_t direct;    /* interception off */
	uint32_t intercept; /* interception on */
};

/* Tiers, best first; a device goes to the first tier that has a CPU. */
enum vc__irq_tier {
	TIER_DIRECT = 0,     /* own VM, interception off (dedicated devices only) */
	TIER_EMU_OWN = 1,    /* own VM, interception on */
	TIER_EMU_UNOWNED = 2, /* no VM, interception on */
	TIER_EMU_OTHER = 3,  /* another VM, interception on (not with STRICT_VM) */
	TIER_NONE = 4,
};

struct vc_irq {
	uint32_t flags;
	struct vc__irq_cpu *cpus; /* sorted by id */
	size_t ncpus, cap_cpus;
	struct vc__irq_dev *devs; /* sorted by id */
	size_t ndevs, cap_devs;
	struct vc__irq_vm_count *vms; /* sorted by vm, rebuilt on CPU changes */
	size_t nvms, cap_vms;
	uint32_t unowned_intercept, total_intercept;
	struct vc_irq_change *changes;
	size_t nchanges, cap_changes;
};

/* route.c */
void vc__irq_rebuild_counts(vc_irq *irq);
enum vc__irq_tier vc__irq_best_tier(const vc_irq *irq, const struct vc__irq_dev *d);
void vc__irq_unassign(vc_irq *irq, struct vc__irq_dev *d);
void vc__irq_place(vc_irq *irq, struct vc__irq_dev *d);
int vc__irq_reconcile(vc_irq *irq);
void vc__irq_route_of(const struct vc__irq_dev *d, struct vc_irq_route *out);
int vc__irq_push_change(vc_irq *irq, const struct vc_irq_route *old_route,
			const struct vc_irq_route *new_route);
struct vc__irq_cpu *vc__irq_find_cpu(const vc_irq *irq, uint32_t id);

#endif /* VC_IRQ_INTERNAL_H */
