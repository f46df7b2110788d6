/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* The layout of vc-trace's BPF maps, shared by the BPF program and the library. */
#ifndef VC_TRACE_SHARED_H
#define VC_TRACE_SHARED_H

#define VC__TRACE_BUCKETS 32        /* log2 buckets of nanoseconds: [2^i, 2^(i+1)) */
#define VC__TRACE_MAX_KEYS 4096

enum {
	VC__TRACE_SRC_USERSPACE = 1, /* kvm_userspace_exit: KVM_RUN returned to the VMM */
	VC__TRACE_SRC_KERNEL = 2,    /* kvm_exit: a hardware exit (VT-x/SVM) */
};

enum { VC__TRACE_PIO = 1, VC__TRACE_MMIO = 2 };
#define VC__TRACE_F_WRITE 1u

struct vc__trace_key {
	__u32 source;
	__u32 reason; /* KVM_EXIT_* for userspace exits, the hardware reason for kernel ones */
	__u64 addr;   /* the port (KVM_EXIT_IO) or guest-physical address (KVM_EXIT_MMIO) */
	__u32 flags;  /* VC__TRACE_F_WRITE */
	__u32 pad;
};

struct vc__trace_val {
	__u64 count;    /* exits */
	__u64 timed;    /* exits whose return to the guest was seen */
	__u64 total_ns; /* summed over the timed ones */
	__u64 hist[VC__TRACE_BUCKETS];
};

/* libvirtcore's USDT probes vc-trace counts, by attach cookie (lib/util/probes.h). */
#define VC__TRACE_MAX_PROBES 16

#endif /* VC_TRACE_SHARED_H */
