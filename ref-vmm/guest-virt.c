// SPDX-License-Identifier: MIT
// Guest-virtual memory for hypercalls: addresses are translated with libvirtcore's
// shadow page-table cache (vc_spt), one handle per vCPU, loaded with the vCPU's paging
// state at each call. The cache's contract wants every write to the guest's page tables
// reported: KVM's dirty log of guest RAM is harvested before each translation and every
// dirty frame reported (frames that hold no shadowed table cost one hash probe). Dirty
// logging starts at the first call, so guests that never use it pay nothing.
#include <cpuid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm.h"

#define CR0_PG (1ull << 31)
#define CR0_WP (1ull << 16)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define CR4_PKE (1ull << 22)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

int vm_virt_init(struct vm *vm)
{
	unsigned eax, ebx, ecx, edx;
	pthread_mutex_init(&vm->virt.lock, NULL);
	/* vc-vmm passes the host's CPUID through: its physical address width is the guest's */
	vm->virt.maxphy = __get_cpuid(0x80000008, &eax, &ebx, &ecx, &edx) ? eax & 0xff : 36;
	if (vm->virt.maxphy < 32 || vm->virt.maxphy > 52)
		vm->virt.maxphy = 52;
	int rc = vc_spt_create(&vm->virt.spt, vm->gmem, NULL);
	if (rc)
		vmm_err("shadow page-table cache: %s", vc_strerror(rc));
	return rc;
}

void vm_virt_destroy(struct vm *vm)
{
	vc_spt_destroy(vm->virt.spt); /* with the vCPU handles */
	for (unsigned i = 0; i < vm->nslots; i++)
		free(vm->slots[i].dirty);
}

/* Turns dirty logging on for every RAM slot. 0, or -errno (then the cache is flushed
 * before every translation instead: right, only slower). */
static int start_dirty_log(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nslots; i++) {
		struct ram_slot *s = &vm->slots[i];
		size_t words = (s->size / 4096 + 63) / 64;
		struct kvm_userspace_memory_region r = {
			.slot = s->slot,
			.flags = KVM_MEM_LOG_DIRTY_PAGES,
			.guest_phys_addr = s->gpa,
			.memory_size = s->size,
			.userspace_addr = (uint64_t)(uintptr_t)s->hva,
		};
		if (!(s->dirty = calloc(words, sizeof(uint64_t))))
			return -ENOMEM;
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return -errno;
	}
	return 0;
}

/* Reports every frame the guest wrote since the last harvest. */
static int harvest(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nslots; i++) {
		struct ram_slot *s = &vm->slots[i];
		struct kvm_dirty_log log = {.slot = s->slot, .dirty_bitmap = s->dirty};
		if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
			return -errno;
		for (uint64_t w = 0; w < (s->size / 4096 + 63) / 64; w++) {
			for (uint64_t bits = s->dirty[w]; bits; bits &= bits - 1) {
				uint64_t frame = w * 64 + (uint64_t)__builtin_ctzll(bits);
				vc_spt_guest_write(vm->virt.spt, s->gpa + frame * 4096, 4096);
				vm->virt.dirty_frames++;
			}
		}
	}
	return 0;
}

/* The state of the vCPU's MMU, as the cache wants it; 0 = paging off. */
static int paging_state(struct vcpu *cpu, struct vc_spt_cpu *c)
{
	struct kvm_sregs s;
	if (ioctl(cpu->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	if (!(s.cr0 & CR0_PG))
		return 0;
	*c = (struct vc_spt_cpu){
		.mode = s.efer & EFER_LMA ? (s.cr4 & CR4_LA57 ? VC_SPT_MODE_LONG5 : VC_SPT_MODE_LONG4)
					  : (s.cr4 & CR4_PAE ? VC_SPT_MODE_PAE : VC_SPT_MODE_32),
		.cr3 = s.cr3,
		.wp = !!(s.cr0 & CR0_WP),
		.nxe = !!(s.efer & EFER_NXE),
		.pse = !!(s.cr4 & CR4_PSE),
		.smep = !!(s.cr4 & CR4_SMEP),
		.smap = !!(s.cr4 & CR4_SMAP),
		.pke = !!(s.cr4 & CR4_PKE),
		.maxphyaddr = cpu->vm->virt.maxphy,
	};
	return 1;
}

/* Under vm->virt.lock: the vCPU's handle loaded with its current state, the dirty log
 * reported. 1 paging on, 0 off (virtual = physical), or -errno. */
static int prepare(struct vcpu *cpu)
{
	struct vm *vm = cpu->vm;
	struct vc_spt_cpu c;
	int rc;

	if (!cpu->spt && (rc = vc_spt_vcpu_create(&cpu->spt, vm->virt.spt)))
		return rc;
	if (!vm->virt.logging) {
		vm->virt.logging = 1;
		if ((rc = start_dirty_log(vm)))
			vmm_err("KVM dirty logging unavailable (%s): the shadow page-table cache is "
				"flushed before every guest-virtual access instead", strerror(-rc));
		vm->virt.no_log = rc != 0;
	} else if (!vm->virt.no_log && (rc = harvest(vm))) {
		vmm_err("KVM_GET_DIRTY_LOG: %s; flushing the shadow page-table cache instead",
			strerror(-rc));
		vm->virt.no_log = 1;
	}
	if (vm->virt.no_log)
		vc_spt_flush(vm->virt.spt);
	if ((rc = paging_state(cpu, &c)) <= 0)
		return rc;
	return (rc = vc_spt_load(cpu->spt, &c)) ? rc : 1;
}

int vcpu_virt_read(struct vcpu *cpu, uint64_t gva, uint64_t len, unsigned access,
		   void (*sink)(const void *p, size_t n, void *ctx), void *ctx)
{
	struct vm *vm = cpu->vm;
	struct {
		const void *p;
		size_t n;
	} piece[VIRT_READ_MAX / 4096 + 1];
	unsigned count = 0;

	if (len > VIRT_READ_MAX)
		return -E2BIG;
	if (gva + len < gva)
		return -EFAULT;
	pthread_mutex_lock(&vm->virt.lock);
	int rc = prepare(cpu), paging = rc > 0;
	/* Every page is translated before any byte goes out: a fault halfway prints nothing. */
	for (uint64_t at = gva; rc >= 0 && at < gva + len; count++) {
		uint64_t n = 4096 - (at & 0xfff), gpa = at;
		if (n > gva + len - at)
			n = gva + len - at;
		if (paging) {
			struct vc_spt_result r;
			rc = vc_spt_translate(&r, cpu->spt, at, access);
			if (rc < 0 || r.fault || r.noncanonical) {
				rc = rc < 0 ? rc : -EFAULT;
				break;
			}
			gpa = r.gpa;
		}
		piece[count].p = vc_gmem_ptr(vm->gmem, gpa, (size_t)n, 0);
		piece[count].n = (size_t)n;
		if (!piece[count].p)
			rc = -EFAULT;
		at += n;
	}
	for (unsigned i = 0; rc >= 0 && i < count; i++)
		sink(piece[i].p, piece[i].n, ctx);
	pthread_mutex_unlock(&vm->virt.lock);
	return rc < 0 ? rc : 0;
}

void vm_virt_report(struct vm *vm)
{
	struct vc_spt_stats st;
	vc_spt_get_stats(vm->virt.spt, &st, sizeof st);
	fprintf(stderr,
		"vc-vmm: spt: %llu translations; %llu root loads: %llu hits (%llu in the vCPU's "
		"recent roots), %llu misses; %llu entries filled, %llu invalidated; %llu dirty "
		"frames reported; %llu shadow pages, %llu bytes\n",
		(unsigned long long)st.lookups, (unsigned long long)st.root_loads,
		(unsigned long long)st.root_hits, (unsigned long long)st.root_mru_hits,
		(unsigned long long)st.root_misses, (unsigned long long)st.fills,
		(unsigned long long)st.invalidations, (unsigned long long)vm->virt.dirty_frames,
		(unsigned long long)st.pages, (unsigned long long)st.bytes);
}
