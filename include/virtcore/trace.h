/* SPDX-License-Identifier: MIT */
/*
 * trace: VM exits seen through eBPF, aggregated in the kernel (libbpf, CO-RE). Attach to
 * every VMM or one process, read snapshots of counts and time spent in the VMM per exit
 * reason and I/O port or MMIO address, detach. vc-trace (tools/vc-trace) is the command
 * line on top; docs/trace.md says which tracepoints are used where.
 *
 * Needs root (or CAP_BPF + CAP_PERFMON), a kernel with BTF (/sys/kernel/btf/vmlinux) and
 * the kvm tracepoints.
 */
#ifndef VIRTCORE_TRACE_H
#define VIRTCORE_TRACE_H

#include <stdint.h>

#include <virtcore/common.h>

VC_BEGIN_DECLS

/** An attached tracer. Not thread-safe. */
typedef struct vc_trace vc_trace;

/** Options for vc_trace_open(); VC_OPTS(vc_trace_opts, o, .pid = ...). */
struct vc_trace_opts {
	size_t sz;
	int pid; /**< only this process (a VMM); 0 = every process */
	uint32_t pad; /**< reserved, zero (no tail padding: every byte is a field) */
};

/**
 * @brief Loads the BPF programs and attaches them to the kvm tracepoints.
 * @return 0; -EPERM not root / no CAP_BPF; -ENOENT kvm tracepoints missing (no KVM in
 *         this kernel); -EOPNOTSUPP no kernel BTF; -ESRCH no such process; -EINVAL the
 *         process has no KVM VM open; -E2BIG options this library does not know; -ENOMEM; -EIO libbpf failed without a code; other
 *         -errno from libbpf. Detail in vc_error_last().
 */
VC_API int vc_trace_open(vc_trace **out, const struct vc_trace_opts *opts);

/** @brief Detaches and frees. NULL is a no-op. */
VC_API void vc_trace_close(vc_trace *t);

/** Where an exit was seen. */
enum vc_trace_source {
	VC_TRACE_USERSPACE = 1, /**< KVM_RUN returned to the VMM (kvm_userspace_exit) */
	VC_TRACE_KERNEL = 2,    /**< a hardware exit, handled or not (kvm_exit; VT-x/SVM) */
};

/** Log2 buckets of the time histogram: bucket i holds times in [2^i, 2^(i+1)) ns. */
#define VC_TRACE_BUCKETS 32

/** One line of a snapshot: every exit with the same source, reason, address and direction. */
struct vc_trace_row {
	enum vc_trace_source source;
	uint32_t reason;   /**< KVM_EXIT_* (userspace) or the hardware exit reason (kernel) */
	uint64_t addr;     /**< the port (KVM_EXIT_IO) or guest-physical address (KVM_EXIT_MMIO) */
	int write;         /**< 1 for out / MMIO write */
	uint64_t count;    /**< exits */
	uint64_t timed;    /**< exits whose next entry into the guest was seen */
	uint64_t total_ns; /**< time until that entry (userspace: in the VMM), summed */
	uint64_t hist[VC_TRACE_BUCKETS];
};

/**
 * @brief Reads the totals since vc_trace_open(), sorted by count (largest first).
 * @param rows room for @p max rows (may be NULL with @p max 0 to count)
 * @return the number of rows that exist (may exceed @p max); -errno.
 */
VC_API int vc_trace_snapshot(vc_trace *t, struct vc_trace_row *rows, unsigned max);

/** One of libvirtcore's USDT probes (provider "virtcore") and how often it fired. */
struct vc_trace_probe {
	const char *name;   /**< "ring_notify", "ring_suppressed", "ring_doze", "ring_wake",
			     *   "trust_stage_verified", "trust_stage_refused" */
	uint64_t count;
	int attached;       /**< 0 if the library has no such probe (built without sys/sdt.h) */
};

/**
 * @brief Counts of libvirtcore's USDT probes since vc_trace_open(), in the processes
 *        traced, for the libvirtcore.so this program runs with (uprobes on its path:
 *        programs that link libvirtcore statically are not seen).
 * @return the number of probes (fills at most @p max); -errno.
 */
VC_API int vc_trace_probes(vc_trace *t, struct vc_trace_probe *probes, unsigned max);

/** @brief "IO", "MMIO", "HLT", ... for a KVM_EXIT_* reason; "?" if unknown. */
VC_API const char *vc_trace_reason_name(uint32_t reason);

VC_END_DECLS

#endif /* VIRTCORE_TRACE_H */
