// SPDX-License-Identifier: MIT
// vCPU: one thread each, a KVM_RUN loop that dispatches port I/O to the devices
// using only kvm_run's fields (no extra vCPU ioctls on the exit path), and a
// clear report of anything it cannot handle.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "vmm.h"

int vcpu_create(struct vm *vm, int index)
{
	struct vcpu *cpu = &vm->cpus[index];

	cpu->vm = vm;
	cpu->index = index;
	cpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, index);
	if (cpu->fd < 0) {
		vmm_err("KVM_CREATE_VCPU %d: %s", index, strerror(errno));
		return -errno;
	}
	cpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu->fd, 0);
	if (cpu->run == MAP_FAILED) {
		cpu->run = NULL;
		vmm_err("mmap of vCPU %d's kvm_run: %s", index, strerror(errno));
		return -errno;
	}
	return x86_setup_cpuid(vm, cpu);
}

static void dispatch_pio(struct vcpu *cpu)
{
	struct kvm_run *run = cpu->run;
	struct vm *vm = cpu->vm;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	for (unsigned i = 0; i < vm->npio; i++) {
		const struct pio_range *r = &vm->pio[i];
		if (run->io.port >= r->base && run->io.port - r->base < r->len) {
			/* `rep outs`/`ins` arrive as count back-to-back items. */
			for (uint32_t k = 0; k < run->io.count; k++)
				r->fn(cpu, r->opaque, run->io.port, is_write, data + k * run->io.size,
				      run->io.size);
			return;
		}
	}
	/* Unclaimed ports read as all ones and ignore writes, as on a PC. */
	if (!is_write)
		memset(data, 0xff, (size_t)run->io.size * run->io.count);
}

/* Returns false when no device claims the address (reported as a failure). */
static bool dispatch_mmio(struct vcpu *cpu)
{
	struct kvm_run *run = cpu->run;
	struct vm *vm = cpu->vm;

	for (unsigned i = 0; i < vm->nmmio; i++) {
		const struct mmio_range *r = &vm->mmio[i];
		if (run->mmio.phys_addr >= r->base && run->mmio.phys_addr - r->base < r->len) {
			r->fn(cpu, r->opaque, run->mmio.phys_addr, run->mmio.is_write, run->mmio.data,
			      run->mmio.len);
			return true;
		}
	}
	return false;
}

static const char *exit_name(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_UNKNOWN: return "KVM_EXIT_UNKNOWN";
	case KVM_EXIT_EXCEPTION: return "KVM_EXIT_EXCEPTION";
	case KVM_EXIT_HYPERCALL: return "KVM_EXIT_HYPERCALL";
	case KVM_EXIT_DEBUG: return "KVM_EXIT_DEBUG";
	case KVM_EXIT_HLT: return "KVM_EXIT_HLT";
	case KVM_EXIT_MMIO: return "KVM_EXIT_MMIO";
	case KVM_EXIT_SHUTDOWN: return "KVM_EXIT_SHUTDOWN (triple fault)";
	case KVM_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY";
	case KVM_EXIT_INTERNAL_ERROR: return "KVM_EXIT_INTERNAL_ERROR";
	case KVM_EXIT_SYSTEM_EVENT: return "KVM_EXIT_SYSTEM_EVENT";
	default: return "exit";
	}
}

/* Error path only: here extra ioctls are fine. Prints the exit, RIP and the bytes there. */
void vcpu_report_failure(struct vcpu *cpu, const char *what)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	char bytes[64] = "";

	console_flush();
	int rc = vcpu_get_regs(cpu, &regs);
	if (!rc)
		rc = vcpu_get_sregs(cpu, &sregs);
	if (rc) {
		vmm_err("vCPU %d: %s (registers unavailable: %s)", cpu->index, what, strerror(-rc));
		return;
	}
	uint64_t linear = sregs.cs.base + regs.rip;
	struct kvm_translation tr = {.linear_address = linear};
	uint64_t gpa = linear;
	if ((sregs.cr0 & 0x80000000u) && cpu->fd >= 0 && ioctl(cpu->fd, KVM_TRANSLATE, &tr) == 0 &&
	    tr.valid)
		gpa = tr.physical_address;
	uint8_t insn[15];
	size_t n = 0;
	for (; n < sizeof(insn) && vc_gmem_read(cpu->vm->gmem, gpa + n, &insn[n], 1) == 0; n++)
		snprintf(bytes + 3 * n, sizeof(bytes) - 3 * n, " %02x", insn[n]);
	vmm_err("vCPU %d: %s at rip=%#llx (cs=%#x cpl=%d, cr0=%#llx cr3=%#llx), instruction bytes:%s",
		cpu->index, what, (unsigned long long)regs.rip, sregs.cs.selector, sregs.cs.selector & 3,
		(unsigned long long)sregs.cr0, (unsigned long long)sregs.cr3, n ? bytes : " (unmapped)");
}

static void report_exit(struct vcpu *cpu)
{
	struct kvm_run *run = cpu->run;
	char what[160];

	switch (run->exit_reason) {
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "KVM_EXIT_INTERNAL_ERROR suberror %u%s", run->internal.suberror,
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (emulation failure)" : "");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "KVM_EXIT_FAIL_ENTRY, hardware reason %#llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_MMIO:
		snprintf(what, sizeof(what), "unhandled MMIO %s of %u bytes at %#llx",
			 run->mmio.is_write ? "write" : "read", run->mmio.len,
			 (unsigned long long)run->mmio.phys_addr);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		snprintf(what, sizeof(what), "system event %u (guest reset or power-off)", run->system_event.type);
		break;
	default:
		snprintf(what, sizeof(what), "unhandled %s (reason %u)", exit_name(run->exit_reason),
			 run->exit_reason);
	}
	vcpu_report_failure(cpu, what);
}

bool vcpu_handle_exit(struct vcpu *cpu)
{
	struct kvm_run *run = cpu->run;
	bool go_on = true;

	vcpu_prefetch_exit(cpu);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		dispatch_pio(cpu);
		break;
	case KVM_EXIT_MMIO:
		if (dispatch_mmio(cpu))
			break;
		report_exit(cpu);
		go_on = false;
		break;
	case KVM_EXIT_SHUTDOWN:
		vcpu_report_failure(cpu, "triple fault (KVM_EXIT_SHUTDOWN)");
		go_on = false;
		break;
	default:
		report_exit(cpu);
		go_on = false;
	}
	if (!go_on)
		vm_stop(cpu->vm, 1);
	return go_on;
}

int vcpu_request_start(struct vm *vm, unsigned index, uint64_t entry)
{
	if (index == 0 || index >= vm->ncpus || entry >= (1ull << 32))
		return -EINVAL;
	struct vcpu *cpu = &vm->cpus[index];
	pthread_mutex_lock(&vm->lock);
	int rc = cpu->start_requested ? -EBUSY : 0;
	if (!rc) {
		cpu->start_requested = true;
		cpu->start_entry = (uint32_t)entry;
	}
	pthread_mutex_unlock(&vm->lock);
	if (rc)
		return rc;
	/* Its thread sits in KVM_RUN (wait-for-SIPI) or is about to enter it: immediate_exit
	 * covers the second case, the signal the first. */
	atomic_store(&cpu->kicked, true);
	cpu->run->immediate_exit = 1;
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&cpu->thread_running))
		pthread_kill(cpu->self, SIGUSR1);
	return 0;
}

/*
 * The paravirtual start of an application processor, on its own thread (a vCPU's ioctls
 * belong there; one blocked in KVM_RUN would hold them up): the PVH entry state at the
 * address the guest asked for, then RUNNABLE, since with the in-kernel LAPIC KVM holds
 * every AP in wait-for-SIPI. Until asked, the AP waits there, so a guest that starts its
 * APs by INIT/SIPI (Linux) still can. false when it cannot be started (reported).
 */
static bool start_if_asked(struct vcpu *cpu)
{
	struct vm *vm = cpu->vm;
	pthread_mutex_lock(&vm->lock);
	bool asked = cpu->start_requested && !cpu->started;
	cpu->started |= asked;
	pthread_mutex_unlock(&vm->lock);
	if (!asked)
		return true;
	struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};
	int rc = x86_setup_pvh_regs(cpu, cpu->start_entry, (uint32_t)cpu->index);
	if (!rc && ioctl(cpu->fd, KVM_SET_MP_STATE, &mp) < 0)
		rc = -errno;
	if (rc) {
		vmm_err("vCPU %d: cannot start it: %s", cpu->index, strerror(-rc));
		vm_stop(vm, 1);
		return false;
	}
	return true;
}

void *vcpu_thread(void *arg)
{
	struct vcpu *cpu = arg;
	struct vm *vm = cpu->vm;

	/* Its own id: vCPU 0 may ask for this AP's start before pthread_create() returned. */
	cpu->self = pthread_self();
	atomic_store(&cpu->thread_running, true);
	while (!atomic_load_explicit(&vm->stopping, memory_order_seq_cst)) {
		if (cpu->index > 0 && !start_if_asked(cpu))
			break;
		vcpu_prefetch_enter(cpu);
		if (ioctl(cpu->fd, KVM_RUN, 0) < 0) {
			/* Kicked for a start: immediate_exit back to 0 before the loop's check of
			 * `stopping`, which vm_run() sets before its own immediate_exit. */
			if (errno == EINTR && atomic_exchange(&cpu->kicked, false))
				cpu->run->immediate_exit = 0;
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vmm_err("vCPU %d: KVM_RUN: %s", cpu->index, strerror(errno));
			vm_stop(vm, 1);
			break;
		}
		if (!vcpu_handle_exit(cpu))
			break;
	}
	return NULL;
}
