// SPDX-License-Identifier: MIT
// Null port 0x512: an exit that does nothing, so exits can be counted and timed alone.
#include <string.h>

#include "../guest/abi.h"
#include "../vmm.h"

static void null_pio(struct vm *vm, void *opaque, uint16_t port, bool is_write, uint8_t *data,
		     unsigned size)
{
	(void)vm, (void)opaque, (void)port;
	if (!is_write)
		memset(data, 0, size);
}

void null_dev_init(struct vm *vm)
{
	vm_register_pio(vm, VCG_PORT_NULL, 1, null_pio, NULL);
}
