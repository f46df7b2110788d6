// SPDX-License-Identifier: MIT
// Where vc-vmm uses libvirtcore's prefetch module: the vCPU's register sets for exit
// handlers. Before each KVM_RUN the vCPU's table says which sets KVM should deliver in
// kvm_run (KVM_CAP_SYNC_REGS); a handler reads a delivered set from there and fetches
// any other one with its ioctl, which teaches the table. `--regs` picks the policy:
//   ioctl    nothing delivered, every read an ioctl (how vc-vmm worked before)
//   sync     every supported set delivered with every exit
//   learned  the prefetch table (default)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <virtcore/prefetch.h>

#include "../vmm.h"

enum mode { MODE_LEARNED, MODE_IOCTL, MODE_SYNC };

struct cpu_state {
	vc_prefetch *pf;
	uint32_t requested; /* kvm_valid_regs of the last entry */
	/* Register ioctls this vCPU made (GET/SET REGS/SREGS), read at exit for --regs-stats. */
	atomic_uint_fast64_t ioctls;
	uint64_t exits;
};

struct prefetch_state {
	enum mode mode;
	uint32_t supported; /* KVM_SYNC_X86_* sets this KVM delivers */
	struct cpu_state cpu[VMM_MAX_CPUS];
};

static struct prefetch_state *state_of(const struct vcpu *cpu)
{
	return cpu->vm->part[PART_PREFETCH];
}

static int prefetch_prepare(struct vm *vm, void *st)
{
	struct prefetch_state *s = st;
	const char *m = vm->cfg->prefetch;
	if (!m || !strcmp(m, "learned"))
		s->mode = MODE_LEARNED;
	else if (!strcmp(m, "ioctl"))
		s->mode = MODE_IOCTL;
	else if (!strcmp(m, "sync"))
		s->mode = MODE_SYNC;
	else {
		vmm_err("--regs %s: expected ioctl, sync or learned", m);
		return -EINVAL;
	}
	return 0;
}

static int prefetch_init(struct vm *vm, void *st)
{
	struct prefetch_state *s = st;
	/* The harness has no KVM: it delivers what its test puts in kvm_run. */
	int caps = vm->kvm_fd >= 0 ? ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS)
				   : (int)(KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS);
	s->supported = caps > 0 ? (uint32_t)caps & (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS) : 0;
	if (s->mode != MODE_LEARNED || !s->supported)
		return 0;
	VC_OPTS(vc_prefetch_opts, o, .sets = s->supported);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		int rc = vc_prefetch_create(&s->cpu[i].pf, &o);
		if (rc) {
			vmm_err("prefetch table: %s", vmm_lib_detail(rc, "prefetch: "));
			return rc;
		}
	}
	return 0;
}

static void prefetch_exit(struct vm *vm, void *st)
{
	struct prefetch_state *s = st;
	uint64_t ioctls = 0, exits = 0;
	struct vc_prefetch_stats sum = {0};
	for (unsigned i = 0; i < VMM_MAX_CPUS; i++) {
		struct vc_prefetch_stats one;
		ioctls += atomic_load(&s->cpu[i].ioctls);
		exits += s->cpu[i].exits;
		if (s->cpu[i].pf && vc_prefetch_get_stats(s->cpu[i].pf, &one, sizeof one) == 0) {
			sum.delivered += one.delivered;
			sum.hits += one.hits;
			sum.misses += one.misses;
			sum.unused += one.unused;
			sum.kinds += one.kinds;
		}
		vc_prefetch_destroy(s->cpu[i].pf);
	}
	if (vm->cfg && vm->cfg->prefetch_stats && s->mode != MODE_LEARNED)
		fprintf(stderr, "vc-vmm: regs: %s: %llu exits, %llu register ioctls\n",
			s->mode == MODE_IOCTL ? "ioctl" : "sync", (unsigned long long)exits,
			(unsigned long long)ioctls);
	else if (vm->cfg && vm->cfg->prefetch_stats)
		fprintf(stderr,
			"vc-vmm: regs: %s: %llu exits, %llu register ioctls; %llu sets delivered: "
			"%llu read, %llu unread; %llu sets fetched after a miss; %llu exit kinds\n",
			"learned", (unsigned long long)exits, (unsigned long long)ioctls,
			(unsigned long long)sum.delivered, (unsigned long long)sum.hits,
			(unsigned long long)sum.unused, (unsigned long long)sum.misses,
			(unsigned long long)sum.kinds);
}

const struct vmm_part prefetch_part = {
	.name = "prefetch",
	.state_size = sizeof(struct prefetch_state),
	.prepare = prefetch_prepare,
	.init = prefetch_init,
	.exit = prefetch_exit,
};

void vcpu_prefetch_enter(struct vcpu *cpu)
{
	struct prefetch_state *s = state_of(cpu);
	struct cpu_state *c = &s->cpu[cpu->index];
	uint32_t want = 0;
	if (s->mode == MODE_SYNC)
		want = s->supported;
	else if (c->pf)
		want = vc_prefetch_predict(c->pf) & s->supported;
	c->requested = want;
	cpu->run->kvm_valid_regs = want;
}

void vcpu_prefetch_exit(struct vcpu *cpu)
{
	struct prefetch_state *s = state_of(cpu);
	struct cpu_state *c = &s->cpu[cpu->index];
	const struct kvm_run *run = cpu->run;
	c->exits++;
	if (!c->pf)
		return;
	uint64_t addr = run->exit_reason == KVM_EXIT_IO     ? run->io.port
			: run->exit_reason == KVM_EXIT_MMIO ? run->mmio.phys_addr
							    : 0;
	/* What KVM filled is what was requested; a harness says so in kvm_valid_regs. */
	vc_prefetch_exit(c->pf, vc_prefetch_kind(run->exit_reason, addr),
			 cpu->fd >= 0 ? c->requested : run->kvm_valid_regs);
}

/* Is @set in kvm_run for this exit? Tells the table either way. */
static bool delivered(struct vcpu *cpu, uint32_t set, bool write)
{
	struct prefetch_state *s = state_of(cpu);
	struct cpu_state *c = &s->cpu[cpu->index];
	uint32_t have = cpu->fd >= 0 ? c->requested : cpu->run->kvm_valid_regs;
	if (c->pf)
		return !(write ? vc_prefetch_write(c->pf, set) : vc_prefetch_need(c->pf, set));
	return have & set;
}

static int get_set(struct vcpu *cpu, uint32_t set, unsigned long req, void *out, size_t n,
		   void *synced)
{
	if (delivered(cpu, set, false)) {
		memcpy(out, synced, n);
		return 0;
	}
	struct cpu_state *c = &state_of(cpu)->cpu[cpu->index];
	atomic_fetch_add(&c->ioctls, 1);
	if (ioctl(cpu->fd, req, out) < 0)
		return -errno;
	if (c->pf) {
		/* Kept where a delivered set would be, so the rest of this exit reads and
		 * writes it without another ioctl. */
		memcpy(synced, out, n);
		vc_prefetch_fetched(c->pf, set);
	}
	return 0;
}

int vcpu_get_regs(struct vcpu *cpu, struct kvm_regs *out)
{
	return get_set(cpu, KVM_SYNC_X86_REGS, KVM_GET_REGS, out, sizeof(*out),
		       &cpu->run->s.regs.regs);
}

int vcpu_get_sregs(struct vcpu *cpu, struct kvm_sregs *out)
{
	return get_set(cpu, KVM_SYNC_X86_SREGS, KVM_GET_SREGS, out, sizeof(*out),
		       &cpu->run->s.regs.sregs);
}

int vcpu_set_regs(struct vcpu *cpu, const struct kvm_regs *regs)
{
	if (delivered(cpu, KVM_SYNC_X86_REGS, true)) {
		/* KVM loads it on the next entry and clears the bit. */
		cpu->run->s.regs.regs = *regs;
		cpu->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		return 0;
	}
	atomic_fetch_add(&state_of(cpu)->cpu[cpu->index].ioctls, 1);
	return ioctl(cpu->fd, KVM_SET_REGS, regs) < 0 ? -errno : 0;
}
