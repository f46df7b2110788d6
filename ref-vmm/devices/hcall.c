// SPDX-License-Identifier: MIT
// Hypercall port: the guest `out`s the physical address of a struct vcg_hcall;
// (arguments that are guest-virtual addresses go through guest-virt.c);
// the VMM reads it through the guest memory map (bounds-checked), runs it and
// writes the result back. Writing 0 is a no-op round trip that reads no memory.
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <virtcore/spt.h>

#include "../guest/abi.h"
#include "../vmm.h"

#define CONSOLE_WRITE_MAX (1u << 20)

static void console_sink(const void *p, size_t n, void *ctx)
{
	(void)ctx;
	console_write(p, n);
}

static int64_t run_hcall(struct vcpu *cpu, struct vcg_hcall *hc)
{
	struct vm *vm = cpu->vm;
	switch (hc->nr) {
	case VCG_HC_NOP:
		return 0;
	case VCG_HC_CONSOLE_WRITE: {
		uint64_t len = hc->args[1];
		if (len > CONSOLE_WRITE_MAX)
			return -E2BIG;
		const char *p = vc_gmem_ptr(vm->gmem, hc->args[0], (size_t)len, 0);
		if (!p)
			return -EFAULT;
		console_write(p, (size_t)len);
		return (int64_t)len;
	}
	case VCG_HC_CONSOLE_WRITE_VIRT: {
		/* A user buffer, read through the caller's page tables with user permission:
		 * the guest kernel cannot make us read what its task may not. */
		uint64_t len = hc->args[1];
		if (len > CONSOLE_WRITE_MAX)
			return -E2BIG;
		int rc = vcpu_virt_read(cpu, hc->args[0], len, VC_SPT_USER, console_sink, NULL);
		return rc < 0 ? rc : (int64_t)len;
	}
	case VCG_HC_EXIT:
		vm_stop(vm, (int)(hc->args[0] & 0xff));
		return 0;
	case VCG_HC_ECHO:
		return (int64_t)(hc->args[0] + 1);
	case VCG_HC_CLOCK: {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}
	default:
		return -ENOSYS;
	}
}

static void hcall_access(struct vcpu *cpu, bool is_write, uint8_t *data, unsigned size)
{
	if (!is_write) {
		uint32_t magic = VCG_HCALL_MAGIC;
		memcpy(data, &magic, size < 4 ? size : 4);
		return;
	}
	if (size != 4)
		return; /* only 32-bit writes carry an address */
	uint32_t gpa;
	memcpy(&gpa, data, 4);
	if (gpa == 0)
		return;
	/* The guest may change the block while we run it: read it once. */
	struct vcg_hcall copy;
	const vc_gmem *gm = cpu->vm->gmem;
	if (vc_gmem_read(gm, gpa, &copy, sizeof(copy))) {
		vmm_err("hypercall block at %#x is outside guest RAM; ignored", gpa);
		return;
	}
	int64_t ret = run_hcall(cpu, &copy);
	/* Through the map's write path: the page is marked dirty for the spt cache, which
	 * must hear of it if the guest put the block on one of its page-table frames. */
	vc_gmem_write(gm, gpa + offsetof(struct vcg_hcall, ret), &ret, sizeof(ret));
}

static void hcall_pio(struct vcpu *cpu, void *opaque, uint16_t port, bool is_write,
		      uint8_t *data, unsigned size)
{
	(void)opaque;
	(void)port;
	hcall_access(cpu, is_write, data, size);
}

static void hcall_mmio(struct vcpu *cpu, void *opaque, uint64_t addr, bool is_write,
		       uint8_t *data, unsigned size)
{
	(void)opaque;
	if (addr == VCG_MMIO_HCALL)
		hcall_access(cpu, is_write, data, size);
	else if (!is_write)
		memset(data, 0xff, size);
}

static int hcall_init(struct vm *vm, void *st)
{
	(void)st;
	int rc = vm_register_pio(vm, VCG_PORT_HCALL, 4, hcall_pio, NULL);
	return rc ? rc : vm_register_mmio(vm, VCG_MMIO_HCALL, 4096, hcall_mmio, NULL);
}

const struct vmm_part hcall_part = {
	.name = "hcall",
	.init = hcall_init,
};
