/* SPDX-License-Identifier: MIT */
/*
 * A harness that plays the guest for vc-vmm's devices and integrations, without KVM:
 * a VM with guest RAM and a vc_gmem map but no /dev/kvm, vCPUs whose kvm_run is plain
 * memory, and exits made by filling kvm_run as KVM would and calling the VMM's own exit
 * handler (vcpu_handle_exit). Register sets a handler reads come from kvm_run's sync
 * area, as KVM_CAP_SYNC_REGS delivers them.
 */
#ifndef VC_TEST_VMM_HARNESS_H
#define VC_TEST_VMM_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm.h"

struct harness {
	struct vm vm;
	struct vmm_config cfg;
	int console[2]; /* pipe: what the guest console printed */
};

/* A VM of @mem bytes with @ncpus vCPUs and every part started. Asserts on failure. */
void harness_create(struct harness *h, uint64_t mem, unsigned ncpus);
/* The same with a command line's worth of options (--pack, ...): @cfg's mem and ncpus. */
void harness_create_cfg(struct harness *h, const struct vmm_config *cfg);
/* The same, returning the first failing part's error (the harness is then destroyed). */
int harness_try_create_cfg(struct harness *h, const struct vmm_config *cfg);
void harness_destroy(struct harness *h);

/* Port I/O from vCPU @cpu, as a KVM_EXIT_IO: @size bytes (1, 2, 4). Returns what the
 * handler said about going on (false: the VM stopped). */
bool harness_out(struct harness *h, unsigned cpu, uint16_t port, unsigned size, uint32_t value);
uint32_t harness_in(struct harness *h, unsigned cpu, uint16_t port, unsigned size);
/* MMIO from vCPU @cpu, as a KVM_EXIT_MMIO. */
bool harness_mmio_write(struct harness *h, unsigned cpu, uint64_t gpa, unsigned size,
			uint64_t value);
uint64_t harness_mmio_read(struct harness *h, unsigned cpu, uint64_t gpa, unsigned size);

/* The register sets the next exits deliver (KVM_SYNC_X86_*), with their values. */
void harness_deliver_sregs(struct harness *h, unsigned cpu, const struct kvm_sregs *s);
void harness_deliver_none(struct harness *h, unsigned cpu);

/* The guest writes guest RAM (what KVM's dirty log would record). */
void harness_guest_write(struct harness *h, uint64_t gpa, const void *p, size_t n);
void harness_guest_write64(struct harness *h, uint64_t gpa, uint64_t v);
uint64_t harness_read64(struct harness *h, uint64_t gpa);

/* Everything the console printed since the last call, NUL-terminated, in @buf. */
const char *harness_console(struct harness *h, char *buf, size_t len);

#endif
