// SPDX-License-Identifier: MIT
// The device harness (vmm_harness.h): vc-vmm's parts driven as KVM would drive them.
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "vmm_harness.h"

/* kvm_run and, after it, the page KVM puts port-I/O data in. */
#define RUN_BYTES 8192
#define IO_DATA_OFFSET 4096

void harness_create(struct harness *h, uint64_t mem, unsigned ncpus)
{
	harness_create_cfg(h, &(struct vmm_config){.cmdline = "", .mem = mem, .ncpus = ncpus});
}

void harness_create_cfg(struct harness *h, const struct vmm_config *cfg)
{
	cr_assert_eq(harness_try_create_cfg(h, cfg), 0);
}

int harness_try_create_cfg(struct harness *h, const struct vmm_config *cfg)
{
	const uint64_t mem = cfg->mem;
	const unsigned ncpus = cfg->ncpus;
	memset(h, 0, sizeof(*h));
	cr_assert_eq(pipe2(h->console, O_CLOEXEC | O_NONBLOCK), 0);
	console_set_fd(h->console[1]);
	h->cfg = *cfg;
	h->vm.cfg = &h->cfg;
	cr_assert_eq(vm_memory_create(&h->vm, mem), 0);
	h->vm.ncpus = ncpus;
	for (unsigned i = 0; i < ncpus; i++) {
		struct vcpu *c = &h->vm.cpus[i];
		c->vm = &h->vm;
		c->index = (int)i;
		c->fd = -1;
		c->run = aligned_alloc(4096, RUN_BYTES);
		cr_assert_not_null(c->run);
		memset(c->run, 0, RUN_BYTES);
	}
	cr_assert_eq(vm_parts_create(&h->vm), 0);
	int rc = vm_parts_prepare(&h->vm);
	if (rc == 0)
		rc = vm_parts_load(&h->vm);
	if (rc == 0)
		rc = vm_parts_init(&h->vm);
	if (rc)
		harness_destroy(h);
	return rc;
}

void harness_destroy(struct harness *h)
{
	console_set_fd(STDOUT_FILENO);
	vm_parts_destroy(&h->vm);
	for (unsigned i = 0; i < h->vm.ncpus; i++) {
		free(h->vm.cpus[i].run);
		h->vm.cpus[i].run = NULL;
	}
	vm_destroy(&h->vm);
	close(h->console[0]);
	close(h->console[1]);
}

static struct kvm_run *run_of(struct harness *h, unsigned cpu)
{
	cr_assert_lt(cpu, h->vm.ncpus);
	return h->vm.cpus[cpu].run;
}

static bool pio(struct harness *h, unsigned cpu, uint16_t port, unsigned size, bool out,
		uint32_t *value)
{
	struct kvm_run *run = run_of(h, cpu);
	uint8_t *data = (uint8_t *)run + IO_DATA_OFFSET;
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = out ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
	run->io.size = (uint8_t)size;
	run->io.port = port;
	run->io.count = 1;
	run->io.data_offset = IO_DATA_OFFSET;
	memset(data, 0x5a, 4); /* an IN handler must fill what it answers */
	if (out)
		memcpy(data, value, size);
	bool go_on = vcpu_handle_exit(&h->vm.cpus[cpu]);
	if (!out) {
		*value = 0;
		memcpy(value, data, size);
	}
	return go_on;
}

bool harness_out(struct harness *h, unsigned cpu, uint16_t port, unsigned size, uint32_t value)
{
	return pio(h, cpu, port, size, true, &value);
}

uint32_t harness_in(struct harness *h, unsigned cpu, uint16_t port, unsigned size)
{
	uint32_t v;
	cr_assert(pio(h, cpu, port, size, false, &v));
	return v;
}

static bool mmio(struct harness *h, unsigned cpu, uint64_t gpa, unsigned size, bool write,
		 uint64_t *value)
{
	struct kvm_run *run = run_of(h, cpu);
	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = gpa;
	run->mmio.len = size;
	run->mmio.is_write = write;
	memset(run->mmio.data, 0x5a, sizeof(run->mmio.data));
	if (write)
		memcpy(run->mmio.data, value, size);
	bool go_on = vcpu_handle_exit(&h->vm.cpus[cpu]);
	if (!write) {
		*value = 0;
		memcpy(value, run->mmio.data, size);
	}
	return go_on;
}

bool harness_mmio_write(struct harness *h, unsigned cpu, uint64_t gpa, unsigned size,
			uint64_t value)
{
	return mmio(h, cpu, gpa, size, true, &value);
}

uint64_t harness_mmio_read(struct harness *h, unsigned cpu, uint64_t gpa, unsigned size)
{
	uint64_t v;
	cr_assert(mmio(h, cpu, gpa, size, false, &v));
	return v;
}

void harness_deliver_sregs(struct harness *h, unsigned cpu, const struct kvm_sregs *s)
{
	struct kvm_run *run = run_of(h, cpu);
	run->s.regs.sregs = *s;
	run->kvm_valid_regs = KVM_SYNC_X86_SREGS;
}

void harness_deliver_none(struct harness *h, unsigned cpu)
{
	run_of(h, cpu)->kvm_valid_regs = 0;
}

void harness_guest_write(struct harness *h, uint64_t gpa, const void *p, size_t n)
{
	cr_assert_eq(vc_gmem_write(h->vm.gmem, gpa, p, n), 0);
}

void harness_guest_write64(struct harness *h, uint64_t gpa, uint64_t v)
{
	harness_guest_write(h, gpa, &v, sizeof(v));
}

uint64_t harness_read64(struct harness *h, uint64_t gpa)
{
	uint64_t v;
	cr_assert_eq(vc_gmem_read(h->vm.gmem, gpa, &v, sizeof(v)), 0);
	return v;
}

const char *harness_console(struct harness *h, char *buf, size_t len)
{
	console_flush();
	ssize_t n = read(h->console[0], buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}
