// SPDX-License-Identifier: MIT
// Null port 0x512: an exit that does nothing, so exits can be counted and timed alone.
#include <string.h>

#include "../guest/abi.h"
#include "../vmm.h"

static void null_pio(struct vcpu *cpu, void *opaque, uint16_t port, bool is_write,
		     uint8_t *data, unsigned size)
{
	(void)cpu, (void)opaque, (void)port;
	if (!is_write)
		memset(data, 0, size);
}

static int null_dev_init(struct vm *vm, void *st)
{
	(void)st;
	return vm_register_pio(vm, VCG_PORT_NULL, 1, null_pio, NULL);
}

const struct vmm_part null_part = {
	.name = "null",
	.init = null_dev_init,
};
