// SPDX-License-Identifier: MIT
// Where vc-vmm uses libvirtcore's timerpage module: the shared timer page (seed
// US8468524B2) in every guest. The library's writer keeps a memfd page current from its
// tick thread; vc-vmm maps that page at VCG_TIMERPAGE_GPA as a read-only KVM memory slot
// (KVM_MEM_READONLY: a guest store exits as MMIO, refused and reported here, the page
// unchanged) and announces it on the command line. Guest tasks read it at CPL3 with the
// freestanding reader of timerpage_abi.h: no exit. The page extrapolates with the host's
// TSC, so each vCPU's TSC offset is made 0 (the guest's rdtsc reads the host's value).
//
// --timerpage-share PATH puts the page in a file instead (the seed's other VMs): the first
// vc-vmm to open it writes it, later ones only map it into their guests (the library's
// vc_timerpage_create_shared()); each guest reads the same page.
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <x86intrin.h>

#include <virtcore/timerpage.h>

#include "../guest/abi.h"
#include "../vmm.h"

#define TIMERPAGE_SLOT 8 /* after the RAM slots (0, 1) */
#define SHARE_WAIT_MS 5000 /* a reader's wait for a writer still calibrating */
#define MSR_IA32_TSC 0x10

struct timerpage_state {
	vc_timerpage *tp;
	bool slot;                    /* the page is a KVM slot */
	atomic_uint_fast64_t refused; /* guest stores to the page */
};

/* A guest store to the read-only page (KVM_EXIT_MMIO), or any access when the page is
 * not mapped (no page: reads see no magic, so the guest's reader says so). */
static void timerpage_mmio(struct vcpu *cpu, void *opaque, uint64_t addr, bool is_write,
			   uint8_t *data, unsigned size)
{
	struct timerpage_state *s = opaque;
	if (!is_write) {
		const uint8_t *page = s->tp ? (const uint8_t *)vc_timerpage_page(s->tp) : NULL;
		uint64_t off = addr - VCG_TIMERPAGE_GPA;
		if (page && off + size <= VC_TIMERPAGE_SIZE)
			memcpy(data, page + off, size); /* a harness without KVM slots */
		else
			memset(data, 0, size);
		return;
	}
	if (atomic_fetch_add(&s->refused, 1) == 0)
		vmm_err("vCPU %d wrote to the read-only timer page at %#" PRIx64 "; refused (the "
			"page is unchanged, further writes are counted)", cpu->index, addr);
}

/* The guest's TSC must read the host's: the page extrapolates with the host TSC. KVM
 * starts a vCPU's TSC at 0 unless told otherwise; kvm_pvm already gives the host's. */
static void align_tsc(struct vm *vm, struct vcpu *cpu)
{
	uint64_t zero = 0;
	struct kvm_device_attr a = {.group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
				    .addr = (uint64_t)(uintptr_t)&zero};
	if (ioctl(cpu->fd, KVM_HAS_DEVICE_ATTR, &a) == 0 && ioctl(cpu->fd, KVM_SET_DEVICE_ATTR, &a) == 0)
		return;
	/* Older KVM: writing the TSC MSR sets the offset to what makes it read this. */
	struct {
		struct kvm_msrs m;
		struct kvm_msr_entry e[1];
	} msrs = {.m.nmsrs = 1, .e[0] = {.index = MSR_IA32_TSC, .data = __rdtsc()}};
	if (ioctl(cpu->fd, KVM_SET_MSRS, &msrs) != 1)
		vmm_err("vCPU %d: cannot align its TSC with the host's (%s): the timer page "
			"reads wrong there", cpu->index, strerror(errno));
	(void)vm;
}

/* --timerpage-mode as the writer's options. */
static struct vc_timerpage_opts writer_opts(const struct vmm_config *cfg)
{
	VC_OPTS(vc_timerpage_opts, o);
	const char *mode = cfg->timerpage_mode ? cfg->timerpage_mode : "auto";
	if (!strcmp(mode, "tsc"))
		o.flags = VC_TIMERPAGE_OPT_FORCE_TSC;
	else if (!strcmp(mode, "tick"))
		o.flags = VC_TIMERPAGE_OPT_NO_TSC;
	return o;
}

/* The page shared through a file: asked for by name, so failing to share it is fatal. */
static int open_shared(struct timerpage_state *s, const struct vmm_config *cfg)
{
	const char *path = cfg->timerpage_share;
	struct vc_timerpage_opts o = writer_opts(cfg);
	int rc = vc_timerpage_create_shared(&s->tp, path, &o, SHARE_WAIT_MS);
	if (rc) {
		vmm_err("--timerpage-share %s: %s", path, vmm_lib_detail(rc, "timerpage: "));
		return rc;
	}
	if (vc_timerpage_is_writer(s->tp) == 0)
		return 0; /* another vc-vmm writes it */
	rc = vc_timerpage_start(s->tp);
	if (rc) {
		vmm_err("--timerpage-share %s: tick thread: %s", path, strerror(-rc));
		vc_timerpage_destroy(s->tp);
		s->tp = NULL;
	}
	return rc;
}

/* The guest's TSC must then read the host's: same rate (no TSC scaling) and the same value
 * (the MSR read between two host reads). Checked, not assumed: a VMM that inherits a
 * scaled or offset vCPU would otherwise give its guest a page that reads wrong silently. */
static void check_tsc(struct vcpu *cpu, const struct vc_timerpage_abi *page)
{
	long khz = ioctl(cpu->fd, KVM_GET_TSC_KHZ, 0);
	double host_khz = (double)page->tsc_hz / 1000.0;
	if (khz > 0 && (khz < host_khz * 0.999 || khz > host_khz * 1.001))
		vmm_err("vCPU %d's TSC runs at %ld kHz, the host's at %.0f kHz: the timer page "
			"reads wrong in this guest", cpu->index, khz, host_khz);
	struct {
		struct kvm_msrs m;
		struct kvm_msr_entry e[1];
	} msrs = {.m.nmsrs = 1, .e[0] = {.index = MSR_IA32_TSC}};
	uint64_t before = __rdtsc();
	int got = ioctl(cpu->fd, KVM_GET_MSRS, &msrs);
	uint64_t after = __rdtsc();
	/* Slack for a preempted ioctl: 10 ms of cycles. */
	uint64_t slack = page->tsc_hz / 100;
	if (got == 1 && (msrs.e[0].data + slack < before || msrs.e[0].data > after + slack))
		vmm_err("vCPU %d's TSC reads %+" PRId64 " cycles from the host's: the timer page "
			"reads wrong in this guest", cpu->index,
			(int64_t)(msrs.e[0].data - (before / 2 + after / 2)));
}

static int timerpage_init(struct vm *vm, void *st)
{
	struct timerpage_state *s = st;
	int rc = vm_register_mmio(vm, VCG_TIMERPAGE_GPA, VC_TIMERPAGE_SIZE, timerpage_mmio, s);
	if (rc)
		return rc;
	if (vm->cfg->timerpage_share) {
		rc = open_shared(s, vm->cfg);
		if (rc)
			return rc;
	} else {
		struct vc_timerpage_opts o = writer_opts(vm->cfg);
		rc = vc_timerpage_create_memfd(&s->tp, &o);
		if (rc == 0)
			rc = vc_timerpage_start(s->tp);
		if (rc) {
			vmm_err("timer page: %s; the guest gets none",
				vmm_lib_detail(rc, "timerpage: "));
			vc_timerpage_destroy(s->tp);
			s->tp = NULL;
			return 0; /* not fatal: the guest finds no page and says so */
		}
	}
	if (vm->vm_fd < 0)
		return 0; /* a test harness: accesses come through the MMIO handler */
	struct ram_slot slot = {TIMERPAGE_SLOT, VCG_TIMERPAGE_GPA, VC_TIMERPAGE_SIZE,
				(void *)vc_timerpage_page(s->tp)};
	rc = vm_slot_set_flags(vm, &slot, KVM_MEM_READONLY);
	if (rc) {
		vmm_err("timer page: KVM_MEM_READONLY slot: %s; the guest gets none", strerror(-rc));
		vc_timerpage_destroy(s->tp);
		s->tp = NULL;
		return vm->cfg->timerpage_share ? rc : 0;
	}
	s->slot = true;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		align_tsc(vm, &vm->cpus[i]);
		check_tsc(&vm->cpus[i], vc_timerpage_page(s->tp));
	}
	return 0;
}

static void timerpage_exit(struct vm *vm, void *st)
{
	struct timerpage_state *s = st;
	if (s->slot) {
		struct ram_slot slot = {TIMERPAGE_SLOT, VCG_TIMERPAGE_GPA, 0, NULL};
		vm_slot_set_flags(vm, &slot, 0); /* size 0 deletes the slot */
		s->slot = false;
	}
	vc_timerpage_destroy(s->tp);
	s->tp = NULL;
}

uint64_t timerpage_refused(const struct vm *vm)
{
	const struct timerpage_state *s = vm->part[PART_TIMERPAGE];
	return s ? atomic_load(&s->refused) : 0;
}

const struct vmm_part timerpage_part = {
	.name = "timer page",
	.state_size = sizeof(struct timerpage_state),
	.init = timerpage_init,
	.exit = timerpage_exit,
};
