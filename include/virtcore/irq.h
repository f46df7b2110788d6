/* SPDX-License-Identifier: MIT */
/*
 * Interrupt-destination policy and interrupt indicator. The policy routes each device's
 * interrupt to a CPU whose interception is off (dedicated device: straight to the guest)
 * or on (shared device: through the VMM's emulator) and reports only the routes a change
 * altered; the indicator tells which requester raised an interrupt on a shared line.
 */
#ifndef VIRTCORE_IRQ_H
#define VIRTCORE_IRQ_H

#include <stdbool.h>

#include <virtcore/common.h>

VC_BEGIN_DECLS

/** The routing policy: CPUs, devices and the current route of each device. */
typedef struct vc_irq vc_irq;

/** A CPU owned by no VM (the VMM's own), or a device shared by several VMs. */
#define VC_IRQ_VM_NONE UINT32_MAX
/** No destination CPU (struct vc_irq_route.cpu of an unrouted device). */
#define VC_IRQ_CPU_NONE UINT32_MAX

/** How a device is assigned to its VM. */
enum vc_irq_mode {
	VC_IRQ_DEDICATED = 1, /**< the VM owns it: its interrupts go straight to the guest */
	VC_IRQ_SHARED = 2,    /**< several VMs use it: the VMM's emulator takes its interrupts */
};

/** How an interrupt reaches the guest. */
enum vc_irq_path {
	VC_IRQ_PATH_NONE = 0,     /**< no such device (the old side of an add, new side of a remove) */
	VC_IRQ_PATH_DIRECT = 1,   /**< to a CPU with interception off: the guest's handler runs */
	VC_IRQ_PATH_EMULATED = 2, /**< to a CPU with interception on: the VMM's emulator runs */
	VC_IRQ_PATH_PENDING = 3,  /**< no eligible CPU: the VMM holds it (e.g. in an indicator) */
};

/** A device's route, as route() and the change list report it. */
struct vc_irq_route {
	uint32_t device;    /**< device id */
	uint32_t cpu;       /**< destination CPU id, or VC_IRQ_CPU_NONE */
	uint32_t path;      /**< enum vc_irq_path */
	uint32_t irq;       /**< the device's interrupt identifier (GSI, vector), as given */
	uint32_t requester; /**< the device's requester id (PCI bus/device/function) */
};

/** One route a change altered: what the VMM's routing table had, and what it needs now. */
struct vc_irq_change {
	struct vc_irq_route old_route; /**< path NONE when the device was just added */
	struct vc_irq_route new_route; /**< path NONE when the device was removed */
};

/** opts.flags: an emulated route never lands on a CPU owned by another VM. */
#define VC_IRQ_OPT_STRICT_VM (1u << 0)

/** Options for vc_irq_create(); fill with VC_OPTS(vc_irq_opts, o, ...). */
struct vc_irq_opts {
	size_t sz;
	uint32_t flags; /**< VC_IRQ_OPT_* */
	uint32_t pad;
};

/**
 * @brief Creates an empty policy.
 *
 * Routing rules, in order (the seed's, plus a documented fallback):
 * 1. A dedicated device goes to a CPU of its own VM with interception off (DIRECT).
 * 2. Otherwise (a shared device, or a dedicated one whose VM's CPUs all intercept or which
 *    has none) it goes to a CPU with interception on (EMULATED), preferring, in order:
 *    CPUs of the device's VM, CPUs owned by no VM, CPUs of other VMs (the last tier is
 *    skipped with VC_IRQ_OPT_STRICT_VM).
 * 3. With no eligible CPU the route is PENDING (cpu VC_IRQ_CPU_NONE): the VMM keeps the
 *    interrupt pending (vc_irq_indicator_set()) and delivers it when a later change makes
 *    a CPU eligible; that change reports the device's new route.
 *
 * Within a tier the least-loaded CPU wins (its base load plus the devices routed to it),
 * ties to the lowest CPU id. A device keeps its CPU while that CPU stays in the best
 * eligible tier, so each change re-routes as few devices as possible; vc_irq_rebalance()
 * redistributes everything. Not thread-safe: one thread at a time per policy.
 *
 * @return 0; -EINVAL for bad options; -E2BIG options this library does not know; -ENOMEM
 */
VC_API int vc_irq_create(vc_irq **out, const struct vc_irq_opts *opts);

/** @brief Frees the policy. Accepts NULL. */
VC_API void vc_irq_destroy(vc_irq *irq);

/*
 * Changes. Each returns the number of routes it altered (>= 0) and leaves them in the
 * change list (vc_irq_changes()), or a negative error with nothing changed.
 */

/**
 * @brief Adds a CPU.
 * @param vm owning VM, or VC_IRQ_VM_NONE
 * @param intercept true if interrupts on this CPU go to the VMM's emulator
 * @param load base load from other sources, added to the devices routed here
 * @return routes altered (devices that may now use this CPU); -EEXIST if @p cpu is
 *         known; -EINVAL for VC_IRQ_CPU_NONE; -ENOMEM
 */
VC_API int vc_irq_cpu_add(vc_irq *irq, uint32_t cpu, uint32_t vm, bool intercept, uint32_t load);

/** @brief Removes a CPU; its devices move. @return routes altered; -ENOENT if unknown */
VC_API int vc_irq_cpu_remove(vc_irq *irq, uint32_t cpu);

/** @brief Reassigns a CPU to another VM (or VC_IRQ_VM_NONE). @return routes altered; -ENOENT */
VC_API int vc_irq_cpu_assign(vc_irq *irq, uint32_t cpu, uint32_t vm);

/** @brief Turns a CPU's interrupt interception on or off. @return routes altered; -ENOENT */
VC_API int vc_irq_cpu_set_intercept(vc_irq *irq, uint32_t cpu, bool intercept);

/**
 * @brief Sets a CPU's base load. Existing routes stay (no churn); later placements see
 * it. @return 0; -ENOENT
 */
VC_API int vc_irq_cpu_set_load(vc_irq *irq, uint32_t cpu, uint32_t load);

/**
 * @brief Adds a device and routes it.
 * @param requester its requester id (PCI BDF), 0..65535, unique among devices
 * @param mode enum vc_irq_mode
 * @param vm owning VM (VC_IRQ_VM_NONE for a shared device used by several)
 * @param irq_id its interrupt identifier, carried in the route for the VMM's table
 * @return 1 (its route; PENDING if no CPU is eligible); -EEXIST for a known device id or
 *         requester id; -EINVAL for a bad mode, a requester above 65535 or a dedicated
 *         device without a VM; -ENOMEM
 */
VC_API int vc_irq_device_add(vc_irq *irq, uint32_t device, uint32_t requester, uint32_t mode,
			     uint32_t vm, uint32_t irq_id);

/** @brief Removes a device. @return 1 (its route, now NONE); -ENOENT */
VC_API int vc_irq_device_remove(vc_irq *irq, uint32_t device);

/**
 * @brief Switches a device between dedicated and shared.
 * @return routes altered (0 or 1); -ENOENT; -EINVAL for a bad mode or dedicated without a VM
 */
VC_API int vc_irq_device_set_mode(vc_irq *irq, uint32_t device, uint32_t mode);

/** @brief Moves a device to another VM. @return routes altered; -ENOENT; -EINVAL as above */
VC_API int vc_irq_device_assign(vc_irq *irq, uint32_t device, uint32_t vm);

/**
 * @brief Re-routes every device from scratch for the best balance (devices in id order,
 * each to the least-loaded CPU of its best tier). @return routes altered
 */
VC_API int vc_irq_rebalance(vc_irq *irq);

/**
 * @brief The routes the last change altered, sorted by device id.
 * @param out_count receives the count (the last change's return value)
 * @return borrowed array, valid until the next change or vc_irq_destroy(); NULL if none
 */
VC_API const struct vc_irq_change *vc_irq_changes(size_t *out_count, const vc_irq *irq);

/**
 * @brief A device's current route.
 * @return 0; -EHOSTUNREACH if no CPU is eligible (@p out is filled, path PENDING);
 *         -ENOENT for an unknown device; -EINVAL for NULL arguments
 */
VC_API int vc_irq_route(struct vc_irq_route *out, const vc_irq *irq, uint32_t device);

/**
 * @brief Finds the device with a requester id (to act on what an indicator scan found).
 * @param out receives the device id
 * @return 0; -ENOENT if no device has @p requester; -EINVAL for NULL arguments
 */
VC_API int vc_irq_device_by_requester(uint32_t *out, const vc_irq *irq, uint32_t requester);

/**
 * @brief Counts the devices and CPUs.
 * @param out_devices receives the number of devices (NULL: not wanted)
 * @param out_cpus receives the number of CPUs (NULL: not wanted)
 * @return 0; -EINVAL for NULL @p irq
 */
VC_API int vc_irq_counts(size_t *out_devices, size_t *out_cpus, const vc_irq *irq);

/* ---- interrupt indicator ---- */

/**
 * A pending bit per requester id (65536), with two summary levels, so a scan costs time
 * in proportion to the pending requesters, not to 65536.
 */
typedef struct vc_irq_indicator vc_irq_indicator;

/** @brief Creates an indicator with nothing pending. @return 0; -ENOMEM; -EINVAL */
VC_API int vc_irq_indicator_create(vc_irq_indicator **out);

/** @brief Frees the indicator. Accepts NULL. */
VC_API void vc_irq_indicator_destroy(vc_irq_indicator *ind);

/**
 * @brief Marks @p requester pending. Lock-free; safe from any thread, concurrently with
 * other setters and with scans. Setting a pending requester again coalesces (one report).
 * @return 0; -EINVAL for a requester above 65535
 */
VC_API int vc_irq_indicator_set(vc_irq_indicator *ind, uint32_t requester);

/** @brief Whether @p requester is pending (no side effect). @return 1, 0, or -EINVAL */
VC_API int vc_irq_indicator_test(const vc_irq_indicator *ind, uint32_t requester);

/**
 * @brief Reads and clears pending requesters, lowest id first within a scan.
 *
 * Every set is reported exactly once: by this scan or, if it raced with it, by a later
 * one; never lost, never twice. When more than @p max are pending, the rest stay pending
 * for the next call. Lock-free; safe concurrently with setters and other scanners.
 *
 * @param buf receives up to @p max requester ids
 * @return the number written; -EINVAL for NULL @p ind or @p buf with @p max > 0
 */
VC_API int vc_irq_indicator_scan(vc_irq_indicator *ind, uint16_t *buf, size_t max);

VC_END_DECLS

#endif /* VIRTCORE_IRQ_H */
