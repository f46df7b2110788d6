// SPDX-License-Identifier: (MIT OR GPL-2.0)
// vc-trace's BPF side: VM exits aggregated in kernel maps, no per-event copy to user space.
//
// Two families of tracepoints describe exits:
//  - every KVM: kvm_userspace_exit (KVM_RUN returns to the VMM, with the exit reason);
//    kvm_pio / kvm_mmio just before it say which port or address; kvm_fpu (load) at the
//    VMM's next KVM_RUN ends the time spent in the VMM;
//  - VT-x/SVM KVM: kvm_exit (every hardware exit, also those handled in the kernel) and
//    kvm_entry. kvm_pvm (this project's CI host) fires neither.
// Both are counted; the key says which.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "trace-shared.h"

/*
 * The kvm tracepoints' records, as this program reads them. Our own "___vc" flavours
 * rather than vmlinux.h's: where kvm is a module (Debian's kernels) vmlinux's BTF lacks
 * them, and CO-RE matches these by name against the module's BTF at load time.
 */
#define CORE __attribute__((preserve_access_index))
struct trace_event_raw_kvm_pio___vc {
	unsigned int rw, port, size, count, val;
} CORE;
struct trace_event_raw_kvm_mmio___vc {
	__u32 type, len;
	__u64 gpa, val;
} CORE;
struct trace_event_raw_kvm_userspace_exit___vc {
	__u32 reason;
	int errno;
} CORE;
struct trace_event_raw_kvm_fpu___vc {
	__u32 load;
} CORE;
struct trace_event_raw_kvm_exit___vc {
	unsigned int exit_reason;
} CORE;

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by user space before loading: only this process (0 = every process). */
const volatile __u32 target_tgid = 0;

/* What a thread is in the middle of: the port/address of its last kvm_pio/kvm_mmio, and
 * the exit it took to user space (time and key) until it calls KVM_RUN again. */
struct pending {
	__u64 exit_ns;          /* 0: not in the VMM */
	struct vc__trace_key key;
	__u64 kernel_exit_ns;   /* kvm_exit seen, kvm_entry not yet */
	__u32 kernel_reason;
	__u32 last_kind;        /* VC__TRACE_PIO / _MMIO of the last event */
	__u64 last_addr;
	__u32 last_flags;
	/* An `in` that went to user space: KVM traces its port only when the VMM's data is
	 * delivered, inside the next KVM_RUN. The exit is accounted then. */
	__u32 await_in;
	__u64 await_ns;         /* its time in the VMM, known at the KVM_RUN */
};

/* LRU: threads that ended are never removed explicitly; the oldest make room. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* thread id */
	__type(value, struct pending);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, VC__TRACE_MAX_KEYS);
	__type(key, struct vc__trace_key);
	__type(value, struct vc__trace_val);
} stats SEC(".maps");

static __always_inline bool wanted(void)
{
	return !target_tgid || (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline struct pending *thread_state(bool create)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&pending, &tid);

	if (!p && create) {
		struct pending zero = {};
		bpf_map_update_elem(&pending, &tid, &zero, BPF_NOEXIST);
		p = bpf_map_lookup_elem(&pending, &tid);
	}
	return p;
}

static __always_inline struct vc__trace_val *stat_for(const struct vc__trace_key *k)
{
	struct vc__trace_val *v = bpf_map_lookup_elem(&stats, k);

	if (!v) {
		struct vc__trace_val zero = {};
		bpf_map_update_elem(&stats, k, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&stats, k);
	}
	return v;
}

static __always_inline unsigned log2_bucket(__u64 ns)
{
	unsigned b = 0;
#pragma unroll
	for (int i = 0; i < VC__TRACE_BUCKETS - 1; i++)
		if (ns >> (i + 1))
			b = i + 1;
	return b;
}

static __always_inline void add_time(const struct vc__trace_key *k, __u64 ns)
{
	struct vc__trace_val *v = stat_for(k);

	if (!v)
		return;
	v->timed++;
	v->total_ns += ns;
	v->hist[log2_bucket(ns) & (VC__TRACE_BUCKETS - 1)]++;
}

/* One exit with its time in the VMM (0: not timed). */
static __always_inline void account(const struct vc__trace_key *k, __u64 ns)
{
	struct vc__trace_val *v = stat_for(k);

	if (!v)
		return;
	v->count++;
	if (ns)
		add_time(k, ns);
}

SEC("tracepoint/kvm/kvm_pio")
int on_pio(struct trace_event_raw_kvm_pio___vc *ctx)
{
	struct pending *p;

	if (!wanted() || !(p = thread_state(true)))
		return 0;
	if (p->await_in && !ctx->rw) { /* the `in` that exited, completed: now we know */
		p->key.addr = ctx->port;
		account(&p->key, p->await_ns);
		p->await_in = 0;
		return 0;
	}
	p->last_kind = VC__TRACE_PIO;
	p->last_addr = ctx->port;
	p->last_flags = ctx->rw ? VC__TRACE_F_WRITE : 0;
	return 0;
}

SEC("tracepoint/kvm/kvm_mmio")
int on_mmio(struct trace_event_raw_kvm_mmio___vc *ctx)
{
	struct pending *p;

	if (!wanted() || !(p = thread_state(true)))
		return 0;
	p->last_kind = VC__TRACE_MMIO;
	p->last_addr = ctx->gpa;
	p->last_flags = ctx->type == 2 /* KVM_TRACE_MMIO_WRITE */
				? VC__TRACE_F_WRITE : 0;
	return 0;
}

SEC("tracepoint/kvm/kvm_userspace_exit")
int on_userspace_exit(struct trace_event_raw_kvm_userspace_exit___vc *ctx)
{
	struct pending *p;

	if (!wanted() || !(p = thread_state(true)))
		return 0;
	if (p->await_in) { /* never completed: account it without its port */
		account(&p->key, p->await_ns);
		p->await_in = 0;
	}
	struct vc__trace_key k = {.source = VC__TRACE_SRC_USERSPACE,
				  .reason = ctx->reason};
	/* KVM_EXIT_IO = 2, KVM_EXIT_MMIO = 6: the port/address of the event just before */
	if ((k.reason == 2 && p->last_kind == VC__TRACE_PIO) ||
	    (k.reason == 6 && p->last_kind == VC__TRACE_MMIO)) {
		k.addr = p->last_addr;
		k.flags = p->last_flags;
	}
	p->last_kind = 0;
	p->key = k;
	p->exit_ns = bpf_ktime_get_ns();
	if (k.reason == 2 && !k.addr && !k.flags) {
		p->await_in = 1; /* counted when its port is known */
		p->await_ns = 0;
		return 0;
	}
	struct vc__trace_val *v = stat_for(&k);
	if (v)
		v->count++;
	return 0;
}

/* The VMM enters the guest again (KVM_RUN loads the guest FPU state first): its time
 * since the exit goes to that exit's key. A kvm tracepoint rather than
 * syscalls:sys_enter_ioctl, whose use would slow every system call of every task. */
SEC("tracepoint/kvm/kvm_fpu")
int on_fpu(struct trace_event_raw_kvm_fpu___vc *ctx)
{
	if (!ctx->load || !wanted())
		return 0;
	struct pending *p = thread_state(false);
	if (!p || !p->exit_ns)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	if (p->await_in)
		p->await_ns = now - p->exit_ns;
	else
		add_time(&p->key, now - p->exit_ns);
	p->exit_ns = 0;
	return 0;
}

SEC("tracepoint/kvm/kvm_exit")
int on_kernel_exit(struct trace_event_raw_kvm_exit___vc *ctx)
{
	struct pending *p;

	if (!wanted() || !(p = thread_state(true)))
		return 0;
	struct vc__trace_key k = {.source = VC__TRACE_SRC_KERNEL,
				  .reason = ctx->exit_reason};
	struct vc__trace_val *v = stat_for(&k);
	if (v)
		v->count++;
	p->kernel_reason = k.reason;
	p->kernel_exit_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("tracepoint/kvm/kvm_entry")
int on_kernel_entry(void *ctx)
{
	struct pending *p;

	if (!wanted() || !(p = thread_state(false)) || !p->kernel_exit_ns)
		return 0;
	struct vc__trace_key k = {.source = VC__TRACE_SRC_KERNEL, .reason = p->kernel_reason};
	add_time(&k, bpf_ktime_get_ns() - p->kernel_exit_ns);
	p->kernel_exit_ns = 0;
	return 0;
}

/* libvirtcore's USDT probes: one program attached to each, the cookie says which. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VC__TRACE_MAX_PROBES);
	__type(key, __u32);
	__type(value, __u64);
} probe_counts SEC(".maps");

SEC("usdt")
int on_probe(struct pt_regs *ctx)
{
	__u32 id = (__u32)bpf_usdt_cookie(ctx);
	__u64 *n;

	if (wanted() && (n = bpf_map_lookup_elem(&probe_counts, &id)))
		(*n)++;
	return 0;
}
