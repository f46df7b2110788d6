// SPDX-License-Identifier: MIT
// spt against a walker it shares nothing with: real KVM's (KVM_TRANSLATE). Random guest
// tables (tests/spt_model.h: shared subtrees, loops, reserved bits, entries outside
// memory, and bits flipped at random one by one) sit in a VM's memory; every address is
// translated by KVM and by vc_spt_walk() and the cache, under the vCPU's own CPUID (its
// MAXPHYADDR, vendor and 1 GiB-page support). KVM_TRANSLATE answers a supervisor read, so
// the user bit is learned by translating again with CR4.SMAP set and RFLAGS.AC clear;
// writability and NX are not visible through it (docs/spt.md). Skips with one line
// without a usable /dev/kvm, and per paging mode the host's KVM cannot hold (kvm_pvm
// runs 64-bit guests only).
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <criterion/criterion.h>

#include "spt_model.h"
#include "spt_paths.h"

#define CR0_PE (1ull << 0)
#define CR0_ET (1ull << 4)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define CR4_SMAP (1ull << 21)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

#define ROUNDS 512u    /* table fills per mode */
#define ADDRS 256u     /* addresses per fill */
#define MAX_CPUID 128u

struct vm {
	int kvm, fd, vcpu;
	uint8_t *mem;
	vc_gmem *gm;
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[MAX_CPUID];
	} cpuid;
	bool amd, has_1g, has_la57, has_sregs2;
};

static struct kvm_cpuid_entry2 *leaf(struct vm *vm, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < vm->cpuid.c.nent; i++)
		if (vm->cpuid.e[i].function == function && vm->cpuid.e[i].index == index)
			return &vm->cpuid.e[i];
	return NULL;
}

/* A VM with the model's memory at guest-physical 0 and one vCPU that never runs. */
static void vm_open(struct vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm < 0)
		cr_skip_test("no usable /dev/kvm (%s): nothing to compare the walker with",
			     strerror(errno));
	vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		cr_skip_test("/dev/kvm refuses KVM_CREATE_VM (%s)", strerror(errno));
	vm->mem = mmap(NULL, SM_MEM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(vm->mem, MAP_FAILED);
	struct kvm_userspace_memory_region r = {.slot = 0, .memory_size = SM_MEM,
						.userspace_addr = (uintptr_t)vm->mem};
	cr_assert_eq(ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r), 0, "%s", strerror(errno));
	vm->vcpu = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	cr_assert_geq(vm->vcpu, 0, "KVM_CREATE_VCPU: %s", strerror(errno));
	vm->cpuid.c.nent = MAX_CPUID;
	cr_assert_eq(ioctl(vm->kvm, KVM_GET_SUPPORTED_CPUID, &vm->cpuid), 0, "%s",
		     strerror(errno));
	const struct kvm_cpuid_entry2 *v = leaf(vm, 0, 0), *x = leaf(vm, 0x80000001, 0),
				      *s = leaf(vm, 7, 0);
	/* "AuthenticAMD" and "HygonGenuine": KVM applies AMD's rules to both. */
	vm->amd = v && (v->ebx == 0x68747541 || v->ebx == 0x6f677948);
	vm->has_1g = x && (x->edx >> 26 & 1);
	vm->has_la57 = s && (s->ecx >> 16 & 1);
	vm->has_sregs2 = ioctl(vm->kvm, KVM_CHECK_EXTENSION, KVM_CAP_SREGS2) > 0;
	cr_assert_eq(vc_gmem_create(&vm->gm), 0);
	cr_assert_eq(vc_gmem_add(vm->gm, 0, SM_MEM, vm->mem, 0), 0);
}

static void vm_close(struct vm *vm)
{
	vc_gmem_destroy(vm->gm);
	munmap(vm->mem, SM_MEM);
	close(vm->vcpu);
	close(vm->fd);
	close(vm->kvm);
}

/* The guest's CPUID for @cpu: its MAXPHYADDR and whether it has 1 GiB pages. */
static void vm_set_cpuid(struct vm *vm, const struct vc_spt_cpu *cpu)
{
	struct kvm_cpuid_entry2 *a = leaf(vm, 0x80000008, 0), *x = leaf(vm, 0x80000001, 0);
	cr_assert(a && x, "KVM reports no CPUID leaves 0x80000001/0x80000008");
	a->eax = (a->eax & ~0xffu) | cpu->maxphyaddr;
	x->edx = cpu->no_1g ? x->edx & ~(1u << 26) : x->edx | (1u << 26);
	cr_assert_eq(ioctl(vm->vcpu, KVM_SET_CPUID2, &vm->cpuid), 0, "KVM_SET_CPUID2: %s",
		     strerror(errno));
}

/* Puts the vCPU in @cpu's paging state (with CR4.SMAP when @smap). false when this KVM
 * does not keep it (refused, or a bit dropped on the way: kvm_pvm drops CR0.PG outside
 * long mode). PAE goes through KVM_SET_SREGS2 with the PDPTEs given, as the CPU would
 * load them at the CR3 write, so that KVM does not keep stale ones it refused. */
static bool vm_set_paging(struct vm *vm, const struct vc_spt_cpu *cpu, bool smap)
{
	struct kvm_sregs s;
	cr_assert_eq(ioctl(vm->vcpu, KVM_GET_SREGS, &s), 0);
	const bool lm = cpu->mode == VC_SPT_MODE_LONG4 || cpu->mode == VC_SPT_MODE_LONG5;
	s.cr0 = CR0_PE | CR0_ET | CR0_WP | CR0_PG;
	s.cr3 = cpu->cr3;
	s.cr4 = (cpu->mode == VC_SPT_MODE_32 ? (cpu->pse ? CR4_PSE : 0) : CR4_PAE) |
		(cpu->mode == VC_SPT_MODE_LONG5 ? CR4_LA57 : 0) | (smap ? CR4_SMAP : 0);
	s.efer = (lm ? EFER_LME | EFER_LMA : 0) | (cpu->nxe ? EFER_NXE : 0);
	s.cs.l = lm;
	s.cs.db = !lm;
	int rc;
	if (cpu->mode == VC_SPT_MODE_PAE) {
		if (!vm->has_sregs2)
			return false;
		struct kvm_sregs2 s2;
		cr_assert_eq(ioctl(vm->vcpu, KVM_GET_SREGS2, &s2), 0);
		memcpy(&s2.cs, &s.cs, sizeof(s.cs));
		s2.cr0 = s.cr0, s2.cr3 = s.cr3, s2.cr4 = s.cr4, s2.efer = s.efer;
		s2.flags = KVM_SREGS2_FLAGS_PDPTRS_VALID;
		memcpy(s2.pdptrs, vm->mem + (cpu->cr3 & 0xffffffe0u), sizeof(s2.pdptrs));
		rc = ioctl(vm->vcpu, KVM_SET_SREGS2, &s2);
	} else {
		rc = ioctl(vm->vcpu, KVM_SET_SREGS, &s);
	}
	struct kvm_sregs back;
	if (rc || ioctl(vm->vcpu, KVM_GET_SREGS, &back))
		return false;
	const uint64_t cr4_bits = CR4_PSE | CR4_PAE | CR4_LA57 | CR4_SMAP;
	return (back.cr0 & CR0_PG) && back.cr3 == s.cr3 && (back.cr4 & cr4_bits) == s.cr4 &&
	       (back.efer & (EFER_LMA | EFER_NXE)) == (s.efer & (EFER_LMA | EFER_NXE));
}

/* KVM's answer for a supervisor read of @gva: true and *gpa, or false (a fault). */
static bool kvm_translate(struct vm *vm, uint64_t gva, uint64_t *gpa)
{
	struct kvm_translation t = {.linear_address = gva};
	cr_assert_eq(ioctl(vm->vcpu, KVM_TRANSLATE, &t), 0, "KVM_TRANSLATE: %s", strerror(errno));
	*gpa = t.physical_address;
	return t.valid;
}

struct tally {
	unsigned compared, translated, faulted, reserved, outside, user, pdpte_skipped;
	unsigned noncanonical, user_confirmed, mismatches;
};

static void report(const struct vc_spt_cpu *c, uint64_t gva, const struct vc_spt_walk *w,
		   int rc, bool kvm_ok, uint64_t kvm_gpa, const char *what)
{
	char path[256] = "";
	size_t at = 0;
	for (unsigned i = 0; i < w->levels && i < 5 && at < sizeof(path); i++)
		at += (size_t)snprintf(path + at, sizeof(path) - at, " %#llx@%#llx",
				       (unsigned long long)w->entry[i],
				       (unsigned long long)w->entry_gpa[i]);
	cr_log_error("%s: mode %d cr3 %#llx nxe %d pse %d amd %d no_1g %d M %u gva %#llx: "
		     "library rc %d fault %d ec %#x gpa %#llx user %d; KVM %s %#llx; path%s",
		     what, c->mode, (unsigned long long)c->cr3, c->nxe, c->pse, c->amd, c->no_1g,
		     c->maxphyaddr, (unsigned long long)gva, rc, w->fault, w->error_code,
		     (unsigned long long)w->gpa, w->user, kvm_ok ? "translates to" : "faults",
		     (unsigned long long)kvm_gpa, path);
}

/* The cache, loaded with @cpu, must give the walker's answer. */
static void cache_agrees(vc_spt_vcpu *v, const struct vc_spt_walk *w, int rc, uint64_t gva)
{
	struct vc_spt_result r;
	int rr = vc_spt_translate(&r, v, gva, VC_SPT_READ);
	cr_assert_eq(rr, rc, "gva %#llx: cache rc %d, walker %d", (unsigned long long)gva, rr, rc);
	if (rc)
		return;
	cr_assert_eq(r.fault, w->fault, "gva %#llx: cache fault %d, walker %d",
		     (unsigned long long)gva, r.fault, w->fault);
	cr_assert_eq(r.error_code, w->error_code);
	if (!r.fault)
		cr_assert(r.gpa == w->gpa && r.user == w->user);
}

static void compare_mode(enum vc_spt_mode mode, const char *name)
{
	static const unsigned maxphys[] = {36, 40, 46};
	struct vm vm;
	struct tally t = {0};
	uint64_t gvas[ADDRS];
	bool kvm_ok[ADDRS];

	vm_open(&vm);
	if (mode == VC_SPT_MODE_LONG5 && !vm.has_la57)
		cr_skip_test("%s: this KVM offers no LA57 (5-level paging) to guests", name);
	struct sm m = {.mem = vm.mem, .rng = 0x5eed0000u + (unsigned)mode, .mode = mode,
		       .levelled = 0, .hostile = 30, .wild = 60};
	vc_spt *spt;
	vc_spt_vcpu *v;
	cr_assert_eq(vc_spt_create(&spt, vm.gm, NULL), 0);
	cr_assert_eq(vc_spt_vcpu_create(&v, spt), 0);

	for (unsigned round = 0; round < ROUNDS; round++) {
		m.levelled = round % 2;
		sm_fill(&m);
		vc_spt_flush(spt); /* new tables, written without reports */
		struct vc_spt_cpu cpu = sm_cpu(&m);
		cpu.wp = 1, cpu.smep = cpu.smap = cpu.ac = cpu.pke = 0;
		/* KVM models PSE-36 as 36 bits whatever MAXPHYADDR says: keep 32-bit at 36. */
		cpu.maxphyaddr = mode == VC_SPT_MODE_32 ? 36 : maxphys[round % 3];
		cpu.amd = vm.amd && (mode == VC_SPT_MODE_LONG4 || mode == VC_SPT_MODE_LONG5);
		cpu.no_1g = (mode == VC_SPT_MODE_LONG4 || mode == VC_SPT_MODE_LONG5) &&
			    (!vm.has_1g || round % 4 == 3);
		vm_set_cpuid(&vm, &cpu);
		if (!vm_set_paging(&vm, &cpu, false)) {
			vc_spt_destroy(spt);
			vm_close(&vm);
			cr_skip_test("%s: this KVM does not keep a guest in that paging mode "
				     "(kvm_pvm runs 64-bit guests only)", name);
		}
		cr_assert_eq(vc_spt_load(v, &cpu), 0);
		for (unsigned i = 0; i < ADDRS; i++) {
			uint64_t gva = gvas[i] = sm_gva(&m), gpa = 0;
			struct vc_spt_walk w = {0};
			int rc = vc_spt_walk(&w, vm.gm, &cpu, gva, VC_SPT_READ, 0);
			kvm_ok[i] = false;
			cr_assert(rc == 0 || rc == -EFAULT, "walk rc %d", rc);
			if (rc == 0 && w.noncanonical) {
				t.noncanonical++; /* #GP, which KVM_TRANSLATE does not check */
				continue;
			}
			cache_agrees(v, &w, rc, gva);
			if (mode == VC_SPT_MODE_PAE && rc == 0 && w.fault && w.levels == 1 &&
			    (w.error_code & VC_SPT_PF_RSVD)) {
				t.pdpte_skipped++; /* the CPU checks PDPTEs at the CR3 write */
				continue;
			}
			bool ok = kvm_ok[i] = kvm_translate(&vm, gva, &gpa);
			bool lib_ok = rc == 0 && !w.fault;
			t.compared++;
			t.translated += lib_ok;
			t.outside += rc == -EFAULT;
			t.faulted += rc == 0 && w.fault;
			t.reserved += rc == 0 && w.fault && (w.error_code & VC_SPT_PF_RSVD);
			t.user += lib_ok && w.user;
			if (ok != lib_ok || (ok && gpa != w.gpa)) {
				if (t.mismatches++ < 10)
					report(&cpu, gva, &w, rc, ok, gpa, name);
			}
		}
		/* Again with CR4.SMAP and RFLAGS.AC clear: KVM now faults a supervisor read of
		 * a user page, which tells the user bit the first pass could not see. */
		struct vc_spt_cpu smap = cpu;
		smap.smap = 1;
		if (!vm_set_paging(&vm, &cpu, true))
			continue;
		cr_assert_eq(vc_spt_load(v, &smap), 0);
		for (unsigned i = 0; i < ADDRS; i++) {
			if (!kvm_ok[i])
				continue;
			uint64_t gpa;
			struct vc_spt_walk w = {0}, w_smap = {0};
			cr_assert_eq(vc_spt_walk(&w, vm.gm, &cpu, gvas[i], VC_SPT_READ, 0), 0);
			int rc = vc_spt_walk(&w_smap, vm.gm, &smap, gvas[i], VC_SPT_READ, 0);
			cache_agrees(v, &w_smap, rc, gvas[i]);
			bool kvm_user = !kvm_translate(&vm, gvas[i], &gpa);
			t.user_confirmed++;
			if (kvm_user != (bool)w.user || kvm_user != (bool)w_smap.fault) {
				if (t.mismatches++ < 10)
					report(&cpu, gvas[i], &w, 0, !kvm_user, gpa, "user bit");
			}
		}
	}
	vc_spt_destroy(spt);
	vm_close(&vm);
	cr_log_info("%s: %u addresses compared with KVM_TRANSLATE: %u translated (%u user, "
		    "%u confirmed with SMAP), %u faulted (%u reserved bit), %u through a table "
		    "outside memory; %u non-canonical and %u with a reserved PDPTE not asked",
		    name, t.compared, t.translated, t.user, t.user_confirmed, t.faulted,
		    t.reserved, t.outside, t.noncanonical, t.pdpte_skipped);
	cr_assert_eq(t.mismatches, 0, "%s: %u of %u translations differ from KVM's", name,
		     t.mismatches, t.compared);
	/* The comparison means something only if every kind of answer occurred. */
	cr_assert(t.translated > 500 && t.reserved > 50 && t.faulted > t.reserved &&
		  t.user > 50 && t.user_confirmed > 500, "%s: too few of some kind of answer", name);
}

/* Each bit of each entry alone on a valid path (tests/spt_paths.h), with NXE on and off
 * and with and without 1 GiB pages: KVM and the walker must agree on every one, which
 * confirms docs/spt.md's table (checked against the library by test_spt_bits) on the
 * host's own KVM, vendor rules included. */
static void every_bit(enum vc_spt_mode mode, const char *name)
{
	static const enum sp_kind leaves[] = {PTE, PDE_2M, PDPTE_1G};
	const unsigned maxphy = 36;
	struct vm vm;
	unsigned checked = 0, reserved = 0, mismatches = 0;

	vm_open(&vm);
	if (mode == VC_SPT_MODE_LONG5 && !vm.has_la57)
		cr_skip_test("%s: this KVM offers no LA57 (5-level paging) to guests", name);
	const bool long_mode = mode != VC_SPT_MODE_PAE;
	for (unsigned variant = 0; variant < 4; variant++) {
		struct vc_spt_cpu cpu = {.mode = mode, .cr3 = 0x1000, .wp = 1, .nxe = variant & 1,
					 .amd = vm.amd && long_mode, .maxphyaddr = maxphy,
					 .no_1g = long_mode && (!vm.has_1g || variant >= 2)};
		vm_set_cpuid(&vm, &cpu);
		for (unsigned l = 0; l < 3; l++) {
			if (mode == VC_SPT_MODE_PAE && leaves[l] == PDPTE_1G)
				continue;
			uint64_t where[5];
			unsigned n;
			sp_build(vm.mem, mode, leaves[l], where, &n);
			for (unsigned lv = 0; lv < n; lv++) {
				enum sp_kind k = sp_kind_at(mode, leaves[l], lv, n);
				for (unsigned bit = 0; bit < 64; bit++) {
					if (sp_address_bit(k, bit, maxphy) ||
					    (bit == 7 && k != PML4E && k != PML5E && k != PTE &&
					     k != PAE_PDPTE))
						continue; /* PS decides the kind of entry it is */
					uint64_t e, gpa = 0;
					memcpy(&e, vm.mem + where[lv], 8);
					sp_put(vm.mem, where[lv], e ^ (1ull << bit));
					if (!vm_set_paging(&vm, &cpu, false)) {
						vm_close(&vm);
						cr_skip_test("%s: this KVM does not keep a guest in "
							     "that paging mode (kvm_pvm runs 64-bit "
							     "guests only)", name);
					}
					struct vc_spt_walk w = {0};
					int rc = vc_spt_walk(&w, vm.gm, &cpu, SP_VA, VC_SPT_READ, 0);
					cr_assert_eq(rc, 0);
					bool ok = kvm_translate(&vm, SP_VA, &gpa);
					/* the CPU checks a PAE PDPTE at the CR3 write, not in a walk */
					bool pdpte_rule = k == PAE_PDPTE && w.fault;
					if (!pdpte_rule && (ok == (bool)w.fault || (ok && gpa != w.gpa))) {
						if (mismatches++ < 10)
							cr_log_error("%s nxe %d no_1g %d amd %d: %s bit %u: "
								     "library %s, KVM %s",
								     name, cpu.nxe, cpu.no_1g, cpu.amd,
								     sp_kind_name[k], bit,
								     w.fault ? "faults" : "translates",
								     ok ? "translates" : "faults");
					}
					reserved += w.fault;
					checked++;
					sp_put(vm.mem, where[lv], e); /* KVM may have set A: restore */
				}
			}
		}
	}
	vm_close(&vm);
	cr_log_info("%s: %u single-bit entries compared with KVM_TRANSLATE (%u reserved)%s",
		    name, checked, reserved, vm.amd ? ", AMD rules" : "");
	cr_assert_eq(mismatches, 0, "%s: %u of %u single-bit entries differ from KVM", name,
		     mismatches, checked);
	cr_assert_gt(reserved, 20);
}

Test(spt_kvm, every_bit_four_level)
{
	every_bit(VC_SPT_MODE_LONG4, "4-level");
}

Test(spt_kvm, every_bit_five_level)
{
	every_bit(VC_SPT_MODE_LONG5, "5-level");
}

Test(spt_kvm, every_bit_pae)
{
	every_bit(VC_SPT_MODE_PAE, "PAE");
}

Test(spt_kvm, four_level)
{
	compare_mode(VC_SPT_MODE_LONG4, "4-level");
}

Test(spt_kvm, five_level)
{
	compare_mode(VC_SPT_MODE_LONG5, "5-level");
}

Test(spt_kvm, pae)
{
	compare_mode(VC_SPT_MODE_PAE, "PAE");
}

Test(spt_kvm, thirty_two_bit)
{
	compare_mode(VC_SPT_MODE_32, "32-bit");
}
