// SPDX-License-Identifier: MIT
// Where vc-vmm uses libvirtcore's spt module: guest-virtual memory for hypercalls.
// Addresses are translated with the shadow page-table cache (vc_spt), one handle per
// vCPU, loaded with the vCPU's paging state at each call. The cache's contract wants
// every write to the guest's page tables reported, by whoever made it: the guest's
// writes are in KVM's dirty log, the VMM's own (hypercall results, later ring
// completions) in the guest memory map's dirty bitmap (vc_gmem_dirty_harvest()); one
// harvest takes the union before each translation and reports every dirty frame
// (frames that hold no shadowed table cost one hash probe). KVM's log starts at the
// first call, so guests that never use it pay nothing.
#include <cpuid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <virtcore/spt.h>

#include "../vmm.h"

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

struct spt_state {
	vc_spt *spt;
	vc_spt_vcpu *vcpu[VMM_MAX_CPUS]; /* made at a vCPU's first translation */
	pthread_mutex_t lock;            /* the cache, its vCPU handles, the harvest */
	bool lock_made;
	int logging, no_log;  /* KVM dirty logging started; it failed (flush instead) */
	unsigned maxphy;      /* the guest's MAXPHYADDR */
	uint64_t *bitmap[2];  /* per RAM slot: the harvest's union */
	uint64_t dirty_frames;
};

static int spt_init(struct vm *vm, void *st)
{
	struct spt_state *s = st;
	unsigned eax, ebx, ecx, edx;
	pthread_mutex_init(&s->lock, NULL);
	s->lock_made = true;
	/* The guest's CPUID says; a harness without one gets the host's width. */
	s->maxphy = vm->guest_paging.maxphyaddr;
	if (!s->maxphy)
		s->maxphy = __get_cpuid(0x80000008, &eax, &ebx, &ecx, &edx) ? eax & 0xff : 36;
	if (s->maxphy < 32 || s->maxphy > 52)
		s->maxphy = 52;
	for (unsigned i = 0; i < vm->nslots; i++) {
		size_t words = (vm->slots[i].size / 4096 + 63) / 64;
		if (!(s->bitmap[i] = calloc(words, sizeof(uint64_t)))) {
			vmm_err("spt: out of memory for the dirty bitmap");
			return -ENOMEM;
		}
	}
	int rc = vc_gmem_dirty_enable(vm->gmem);
	if (!rc)
		rc = vc_spt_create(&s->spt, vm->gmem, NULL);
	if (rc)
		vmm_err("shadow page-table cache: %s", vmm_lib_detail(rc, "spt: "));
	return rc;
}

static void spt_exit(struct vm *vm, void *st)
{
	struct spt_state *s = st;
	if (s->spt && vm->cfg && vm->cfg->spt_stats) {
		struct vc_spt_stats t;
		vc_spt_get_stats(s->spt, &t, sizeof t);
		fprintf(stderr,
			"vc-vmm: spt: %llu translations; %llu root loads: %llu hits (%llu in the "
			"vCPU's recent roots), %llu misses; %llu entries filled, %llu invalidated; "
			"%llu dirty frames reported; %llu shadow pages, %llu bytes\n",
			(unsigned long long)t.lookups, (unsigned long long)t.root_loads,
			(unsigned long long)t.root_hits, (unsigned long long)t.root_mru_hits,
			(unsigned long long)t.root_misses, (unsigned long long)t.fills,
			(unsigned long long)t.invalidations, (unsigned long long)s->dirty_frames,
			(unsigned long long)t.pages, (unsigned long long)t.bytes);
	}
	vc_spt_destroy(s->spt); /* with the vCPU handles */
	for (unsigned i = 0; i < 2; i++)
		free(s->bitmap[i]);
	if (s->lock_made)
		pthread_mutex_destroy(&s->lock);
}

const struct vmm_part spt_part = {
	.name = "spt",
	.state_size = sizeof(struct spt_state),
	.init = spt_init,
	.exit = spt_exit,
};

/* Turns KVM's dirty logging on for every RAM slot. 0, or -errno (then the cache is
 * flushed before every translation instead: right, only slower). Without KVM (the
 * device harness) there is no guest log: the harness marks its own writes. */
static int start_dirty_log(struct vm *vm)
{
	if (vm->vm_fd < 0)
		return 0;
	for (unsigned i = 0; i < vm->nslots; i++) {
		int rc = vm_slot_set_flags(vm, &vm->slots[i], KVM_MEM_LOG_DIRTY_PAGES);
		if (rc)
			return rc;
	}
	return 0;
}

/* Reports every frame written since the last harvest, by the guest (KVM's log) or by
 * the VMM (the gmem bitmap). */
static int harvest(struct vm *vm, struct spt_state *s)
{
	for (unsigned i = 0; i < vm->nslots; i++) {
		const struct ram_slot *slot = &vm->slots[i];
		size_t words = (slot->size / 4096 + 63) / 64;
		uint64_t *bits = s->bitmap[i];
		if (vm->vm_fd >= 0) {
			struct kvm_dirty_log log = {.slot = slot->slot, .dirty_bitmap = bits};
			if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
				return -errno;
		} else {
			memset(bits, 0, words * sizeof(*bits));
		}
		/* The gmem region of slot i is region i: vm_memory_create() adds them in
		 * address order, one per slot. */
		long n = vc_gmem_dirty_harvest(vm->gmem, bits, words, i);
		if (n < 0)
			return (int)n;
		for (size_t w = 0; n && w < words; w++) {
			for (uint64_t b = bits[w]; b; b &= b - 1) {
				uint64_t frame = w * 64 + (uint64_t)__builtin_ctzll(b);
				vc_spt_guest_write(s->spt, slot->gpa + frame * 4096, 4096);
				s->dirty_frames++;
			}
		}
	}
	return 0;
}

/* The state of the vCPU's MMU, as the cache wants it; 0 = paging off. */
static int paging_state(struct vcpu *cpu, unsigned maxphy, struct vc_spt_cpu *c)
{
	struct kvm_sregs s;
	int rc = vcpu_get_sregs(cpu, &s);
	if (rc)
		return rc;
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
		.maxphyaddr = maxphy,
		.amd = cpu->vm->guest_paging.amd,
		.no_1g = cpu->vm->guest_paging.no_1g,
	};
	return 1;
}

/* Under s->lock: the vCPU's handle loaded with its current state, the dirty log
 * reported. 1 paging on, 0 off (virtual = physical), or -errno. */
static int prepare(struct vcpu *cpu, struct spt_state *s)
{
	struct vm *vm = cpu->vm;
	vc_spt_vcpu **h = &s->vcpu[cpu->index];
	struct vc_spt_cpu c;
	int rc;

	if (!*h && (rc = vc_spt_vcpu_create(h, s->spt)))
		return rc;
	if (!s->logging) {
		s->logging = 1;
		if ((rc = start_dirty_log(vm)))
			vmm_err("KVM dirty logging unavailable (%s): the shadow page-table cache is "
				"flushed before every guest-virtual access instead", strerror(-rc));
		s->no_log = rc != 0;
	}
	/* The first harvest only drains what was marked before the cache held anything. */
	if (!s->no_log && (rc = harvest(vm, s))) {
		vmm_err("dirty harvest: %s; flushing the shadow page-table cache instead",
			strerror(-rc));
		s->no_log = 1;
	}
	if (s->no_log)
		vc_spt_flush(s->spt);
	if ((rc = paging_state(cpu, s->maxphy, &c)) <= 0)
		return rc;
	return (rc = vc_spt_load(*h, &c)) ? rc : 1;
}

int vcpu_virt_read(struct vcpu *cpu, uint64_t gva, uint64_t len, unsigned access,
		   void (*sink)(const void *p, size_t n, void *ctx), void *ctx)
{
	struct vm *vm = cpu->vm;
	struct spt_state *s = vm->part[PART_SPT];
	struct {
		const void *p;
		size_t n;
	} piece[VIRT_READ_MAX / 4096 + 1];
	unsigned count = 0;

	if (len > VIRT_READ_MAX)
		return -E2BIG;
	if (gva + len < gva)
		return -EFAULT;
	pthread_mutex_lock(&s->lock);
	int rc = prepare(cpu, s), paging = rc > 0;
	/* Every page is translated before any byte goes out: a fault halfway prints nothing. */
	for (uint64_t at = gva; rc >= 0 && at < gva + len; count++) {
		uint64_t n = 4096 - (at & 0xfff), gpa = at;
		if (n > gva + len - at)
			n = gva + len - at;
		if (paging) {
			struct vc_spt_result r;
			rc = vc_spt_translate(&r, s->vcpu[cpu->index], at, access);
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
	pthread_mutex_unlock(&s->lock);
	return rc < 0 ? rc : 0;
}
