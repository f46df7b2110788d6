// SPDX-License-Identifier: MIT
// Exit device: a write to port 0x501 ends vc-vmm with the written status
// (like QEMU's isa-debug-exit, but the status is passed through unchanged).
#include "../guest/abi.h"
#include "../vmm.h"

static void exit_pio(struct vcpu *cpu, void *opaque, uint16_t port, bool is_write,
		     uint8_t *data, unsigned size)
{
	(void)opaque;
	(void)port;
	if (!is_write) {
		for (unsigned i = 0; i < size; i++)
			data[i] = 0xff;
		return;
	}
	vm_stop(cpu->vm, data[0]);
}

static int exit_dev_init(struct vm *vm, void *st)
{
	(void)st;
	return vm_register_pio(vm, VCG_PORT_EXIT, 1, exit_pio, NULL);
}

const struct vmm_part exit_part = {
	.name = "exit",
	.init = exit_dev_init,
};
