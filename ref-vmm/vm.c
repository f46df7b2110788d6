// SPDX-License-Identifier: MIT
// The KVM VM: /dev/kvm, guest RAM (one anonymous mapping), in-kernel irqchip,
// vCPU threads, and the stop protocol that ends them.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm.h"

#define GiB (1ull << 30)
#define HOLE_START (3 * GiB) /* RAM above this moves to 4 GiB, below the 32-bit MMIO hole */

static int check_cap(struct vm *vm, int cap, const char *name)
{
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, cap) > 0)
		return 0;
	vmm_err("/dev/kvm lacks %s, which vc-vmm needs", name);
	return -EOPNOTSUPP;
}

int vm_slot_set_flags(struct vm *vm, const struct ram_slot *s, uint32_t flags)
{
	struct kvm_userspace_memory_region r = {
		.slot = s->slot,
		.flags = flags,
		.guest_phys_addr = s->gpa,
		.memory_size = s->size,
		.userspace_addr = (uint64_t)(uintptr_t)s->hva,
	};
	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

/* Registers one RAM range made by vm_memory_create() as a KVM memory slot. */
static int add_slot(struct vm *vm, const struct ram_slot *s)
{
	int rc = vm_slot_set_flags(vm, s, 0);
	if (rc)
		vmm_err("KVM_SET_USER_MEMORY_REGION: %s", strerror(-rc));
	return rc;
}

static int add_ram(struct vm *vm, unsigned slot, uint64_t gpa, uint64_t size, void *hva)
{
	int rc = vc_gmem_add(vm->gmem, gpa, size, hva, 0);
	if (rc)
		vmm_err("guest memory map: %s", vc_strerror(rc));
	else
		vm->slots[vm->nslots++] = (struct ram_slot){slot, gpa, size, hva};
	return rc;
}

int vm_memory_create(struct vm *vm, uint64_t ram_bytes)
{
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->stopped_cv, NULL);
	vm->kvm_fd = vm->vm_fd = -1;
	for (unsigned i = 0; i < VMM_MAX_CPUS; i++)
		vm->cpus[i].fd = -1;
	int rc = vc_gmem_create(&vm->gmem);
	if (rc) {
		vmm_err("guest memory map: %s", vc_strerror(rc));
		return rc;
	}
	/* NORESERVE: pages cost nothing until the loader or the guest touches them. */
	vm->ram = mmap(NULL, ram_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		vmm_err("cannot reserve %llu MiB of guest memory: %s", (unsigned long long)(ram_bytes >> 20),
			strerror(errno));
		return -ENOMEM;
	}
	madvise(vm->ram, ram_bytes, MADV_MERGEABLE);
	vm->ram_size = ram_bytes;
	vm->low_size = ram_bytes < HOLE_START ? ram_bytes : HOLE_START;
	rc = add_ram(vm, 0, 0, vm->low_size, vm->ram);
	if (!rc && ram_bytes > vm->low_size)
		rc = add_ram(vm, 1, 4 * GiB, ram_bytes - vm->low_size, (char *)vm->ram + vm->low_size);
	return rc;
}

/* Opens /dev/kvm and checks it answers KVM_GET_API_VERSION; 0, or -errno reported with
 * why and what would give a usable KVM. */
static int kvm_open(int *out_fd)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			vmm_err("/dev/kvm does not exist: KVM is not available on this machine "
				"(it needs VT-x/AMD-V or kvm_pvm, and the kvm module loaded)");
		else if (e == EACCES || e == EPERM)
			vmm_err("/dev/kvm: permission denied (run as root or join the kvm group)");
		else
			vmm_err("/dev/kvm: %s", strerror(e));
		return -e;
	}
	int api = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		if (api < 0)
			vmm_err("/dev/kvm does not answer KVM_GET_API_VERSION (%s): not a usable KVM",
				strerror(errno));
		else
			vmm_err("/dev/kvm speaks API version %d, vc-vmm needs %d", api, KVM_API_VERSION);
		close(fd);
		return -EOPNOTSUPP;
	}
	*out_fd = fd;
	return 0;
}

int vm_create(struct vm *vm, unsigned ncpus)
{
	int rc = kvm_open(&vm->kvm_fd);
	if (rc)
		return rc;
	if (check_cap(vm, KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP") ||
	    check_cap(vm, KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY") ||
	    check_cap(vm, KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"))
		return -EOPNOTSUPP;
	int run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0) {
		vmm_err("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -EIO;
	}
	vm->run_size = (size_t)run_size;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		int e = errno;
		vmm_err("KVM_CREATE_VM: %s", strerror(e));
		return -e;
	}
	/* VT-x needs these two pages reserved below 4 GiB; elsewhere they are no-ops. */
	ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	uint64_t ident = 0xfffbc000;
	ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident);
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		int e = errno;
		vmm_err("KVM_CREATE_IRQCHIP: %s", strerror(e));
		return -e;
	}
	for (unsigned i = 0; i < vm->nslots; i++) {
		rc = add_slot(vm, &vm->slots[i]);
		if (rc)
			return rc;
	}

	vm->ncpus = ncpus;
	for (unsigned i = 0; i < ncpus; i++) {
		rc = vcpu_create(vm, (int)i);
		if (rc)
			return rc;
	}
	return 0;
}

void vm_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		if (vm->cpus[i].run)
			munmap(vm->cpus[i].run, vm->run_size);
		if (vm->cpus[i].fd >= 0)
			close(vm->cpus[i].fd);
	}
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	vc_gmem_destroy(vm->gmem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
}

int vm_register_pio(struct vm *vm, uint16_t base, uint16_t len, pio_fn fn, void *opaque)
{
	if (vm->npio == sizeof(vm->pio) / sizeof(vm->pio[0])) {
		vmm_err("too many port ranges (at most %zu)", sizeof(vm->pio) / sizeof(vm->pio[0]));
		return -ENOSPC;
	}
	vm->pio[vm->npio++] = (struct pio_range){base, len, fn, opaque};
	return 0;
}

int vm_register_mmio(struct vm *vm, uint64_t base, uint64_t len, mmio_fn fn, void *opaque)
{
	if (vm->nmmio == sizeof(vm->mmio) / sizeof(vm->mmio[0])) {
		vmm_err("too many MMIO ranges (at most %zu)", sizeof(vm->mmio) / sizeof(vm->mmio[0]));
		return -ENOSPC;
	}
	vm->mmio[vm->nmmio++] = (struct mmio_range){base, len, fn, opaque};
	return 0;
}

void vm_stop(struct vm *vm, int status)
{
	pthread_mutex_lock(&vm->lock);
	if (!vm->stopped) {
		vm->stopped = true;
		vm->exit_status = status;
		atomic_store(&vm->stopping, true);
		pthread_cond_signal(&vm->stopped_cv);
	}
	pthread_mutex_unlock(&vm->lock);
}

static void kick_handler(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

/* Start every vCPU thread, wait until one stops the VM, then stop the others:
 * immediate_exit makes a pending KVM_RUN return, the signal interrupts a running one. */
int vm_run(struct vm *vm)
{
	struct sigaction sa = {.sa_handler = kick_handler};
	sigaction(SIGUSR1, &sa, NULL);

	for (unsigned i = 0; i < vm->ncpus; i++) {
		int rc = pthread_create(&vm->cpus[i].thread, NULL, vcpu_thread, &vm->cpus[i]);
		if (rc) {
			vmm_err("cannot start vCPU thread: %s", strerror(rc));
			vm_stop(vm, 1);
			vm->ncpus = i;
			break;
		}
	}
	pthread_mutex_lock(&vm->lock);
	while (!vm->stopped)
		pthread_cond_wait(&vm->stopped_cv, &vm->lock);
	pthread_mutex_unlock(&vm->lock);

	for (unsigned i = 0; i < vm->ncpus; i++) {
		vm->cpus[i].run->immediate_exit = 1;
		pthread_kill(vm->cpus[i].thread, SIGUSR1);
	}
	for (unsigned i = 0; i < vm->ncpus; i++)
		pthread_join(vm->cpus[i].thread, NULL);
	return vm->exit_status;
}
