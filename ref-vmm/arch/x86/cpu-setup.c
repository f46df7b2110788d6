// SPDX-License-Identifier: MIT
// x86 vCPU setup: CPUID from KVM_GET_SUPPORTED_CPUID, and the PVH entry state
// (32-bit protected mode, paging off, %ebx = start info).
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../../vmm.h"

#define MAX_CPUID_ENTRIES 256
#define EFER_SCE (1u << 0)
#define EFER_LME (1u << 8)
#define EFER_NXE (1u << 11)

int x86_setup_cpuid(struct vm *vm, struct vcpu *cpu)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + MAX_CPUID_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = MAX_CPUID_ENTRIES;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		vmm_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		free(c);
		return -errno;
	}
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		/* Each vCPU its own APIC id; topology leaves report it too. */
		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffffu) | ((uint32_t)cpu->index << 24);
		if (e->function == 0xb || e->function == 0x1f)
			e->edx = (uint32_t)cpu->index;
		/* "AuthenticAMD", "HygonGenuine" */
		if (e->function == 0)
			vm->guest_paging.amd = e->ebx == 0x68747541 || e->ebx == 0x6f677948;
		if (e->function == 0x80000001)
			vm->guest_paging.no_1g = !(e->edx >> 26 & 1);
		if (e->function == 0x80000008)
			vm->guest_paging.maxphyaddr = e->eax & 0xff;
	}
	int rc = ioctl(cpu->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	if (rc)
		vmm_err("KVM_SET_CPUID2: %s", strerror(-rc));
	free(c);
	return rc;
}

static struct kvm_segment flat(uint16_t selector, uint8_t type)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
		.present = 1, .dpl = 0, .db = 1, .s = 1, .g = 1,
	};
}

int x86_setup_pvh_regs(struct vcpu *cpu, uint32_t entry, uint32_t start_info)
{
	struct kvm_sregs sregs;
	if (ioctl(cpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.cs = flat(0x08, 0xb); /* execute/read, accessed */
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat(0x10, 0x3);
	sregs.tr = (struct kvm_segment){.limit = 0x67, .type = 0xb, .present = 1};
	sregs.ldt = (struct kvm_segment){.unusable = 1};
	sregs.cr0 = 0x11; /* PE | ET */
	sregs.cr4 = 0;
	/*
	 * kvm_pvm's emulator #GPs a guest wrmsr that sets EFER.LME in protected mode,
	 * so the long-mode bits are preset here; they do nothing until the guest sets
	 * CR0.PG, and a guest that writes EFER itself (on hardware KVM) is unaffected.
	 */
	sregs.efer = EFER_LME | EFER_SCE | EFER_NXE;
	if (ioctl(cpu->fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	struct kvm_regs regs = {.rip = entry, .rbx = start_info, .rflags = 0x2};
	if (ioctl(cpu->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}
