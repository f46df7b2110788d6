// SPDX-License-Identifier: MIT
// prefetch: what the learned table costs a VMM per exit, against what it saves: a
// KVM_GET_SREGS on a real vCPU (skipped, saying so, without a usable /dev/kvm) and a
// copy of the delivered set out of kvm_run. The end-to-end figures (vc-vmm --regs
// ioctl|sync|learned on the console hypercall and the null port) are bench_vmm's.
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <virtcore/prefetch.h>

#include "harness.h"

static vc_prefetch *pf;
static volatile uint32_t sink;

/* One exit of a kind that needs nothing: predict before entry, then the exit. */
static void exit_needing_nothing(void *ctx, uint64_t ops)
{
	(void)ctx;
	uint64_t kind = vc_prefetch_kind(2, 0x512);
	for (uint64_t i = 0; i < ops; i++) {
		sink = vc_prefetch_predict(pf);
		vc_prefetch_exit(pf, kind, sink);
	}
}

/* One exit whose handler reads SREGS: predict, exit, need, and the copy from kvm_run. */
static struct kvm_run run_area;
static void exit_reading_sregs(void *ctx, uint64_t ops)
{
	(void)ctx;
	struct kvm_sregs s;
	uint64_t kind = vc_prefetch_kind(6, 0xfe000000);
	for (uint64_t i = 0; i < ops; i++) {
		uint32_t want = vc_prefetch_predict(pf);
		vc_prefetch_exit(pf, kind, want);
		if (!vc_prefetch_need(pf, KVM_SYNC_X86_SREGS))
			memcpy(&s, &run_area.s.regs.sregs, sizeof(s));
		sink = (uint32_t)s.cr3;
	}
}

static int vcpu_fd = -1;
static void get_sregs_ioctl(void *ctx, uint64_t ops)
{
	(void)ctx;
	struct kvm_sregs s;
	for (uint64_t i = 0; i < ops; i++) {
		ioctl(vcpu_fd, KVM_GET_SREGS, &s);
		sink = (uint32_t)s.cr3;
	}
}

static void copy_sregs(void *ctx, uint64_t ops)
{
	(void)ctx;
	struct kvm_sregs s;
	for (uint64_t i = 0; i < ops; i++) {
		memcpy(&s, &run_area.s.regs.sregs, sizeof(s));
		__asm__ volatile("" ::"m"(s));
		sink = (uint32_t)s.cr3;
	}
}

int main(int argc, char **argv)
{
	vcb_init(argc, argv);
	if (vc_prefetch_create(&pf, NULL)) {
		fprintf(stderr, "bench_prefetch: cannot create the table\n");
		return 1;
	}
	struct vcb_table *t = vcb_table_new("prefetch", "the table's cost per exit (ns/exit)",
					    "copy of kvm_sregs from kvm_run");
	vcb_run(t, "copy of kvm_sregs from kvm_run", copy_sregs, NULL);
	vcb_run(t, "table: exit that needs nothing", exit_needing_nothing, NULL);
	vcb_run(t, "table: exit that reads SREGS (with the copy)", exit_reading_sregs, NULL);
	char why[128];
	int kvm = -1, vm = -1;
	if (vcb_kvm_usable(why, sizeof(why)) && (kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) >= 0 &&
	    (vm = ioctl(kvm, KVM_CREATE_VM, 0)) >= 0 && (vcpu_fd = ioctl(vm, KVM_CREATE_VCPU, 0)) >= 0)
		vcb_run(t, "KVM_GET_SREGS ioctl (what a delivered set saves)", get_sregs_ioctl, NULL);
	else
		printf("bench_prefetch: KVM_GET_SREGS row skipped: %s\n",
		       kvm < 0 ? why : "cannot create a VM and vCPU");
	vcb_table_finish(t, stdout);
	if (vcpu_fd >= 0)
		close(vcpu_fd);
	if (vm >= 0)
		close(vm);
	if (kvm >= 0)
		close(kvm);
	vc_prefetch_destroy(pf);
	return 0;
}
