// SPDX-License-Identifier: MIT
// The parts table: every device and every module integration of vc-vmm, in the order
// they start. Adding a device or wiring a module in is one file and one line here.
#include <errno.h>
#include <stdlib.h>

#include "vmm.h"

extern const struct vmm_part pack_part, trust_part, prefetch_part, spt_part, serial_part,
	exit_part, null_part, hcall_part, irq_part, blk_part, timerpage_part, irqtest_part,
	control_part;

static const struct vmm_part *const parts[PART_COUNT] = {
	[PART_PACK] = &pack_part,
	[PART_TRUST] = &trust_part,
	[PART_PREFETCH] = &prefetch_part,
	[PART_SPT] = &spt_part,
	[PART_SERIAL] = &serial_part,
	[PART_EXIT] = &exit_part,
	[PART_NULL] = &null_part,
	[PART_HCALL] = &hcall_part,
	[PART_IRQ] = &irq_part,
	[PART_BLK] = &blk_part,
	[PART_TIMERPAGE] = &timerpage_part,
	[PART_IRQTEST] = &irqtest_part,
	[PART_CONTROL] = &control_part,
};

int vm_parts_create(struct vm *vm)
{
	for (unsigned i = 0; i < PART_COUNT; i++) {
		/* One byte at least, so every part has a distinct state pointer. */
		size_t n = parts[i]->state_size ? parts[i]->state_size : 1;
		if (!(vm->part[i] = calloc(1, n))) {
			vmm_err("%s: out of memory", parts[i]->name);
			return -ENOMEM;
		}
	}
	return 0;
}

enum phase { PREPARE, LOAD, INIT };

/* One phase's hook of every part, in table order, up to the first failure. */
static int run_phase(struct vm *vm, enum phase phase)
{
	for (unsigned i = 0; i < PART_COUNT; i++) {
		const struct vmm_part *p = parts[i];
		int (*hook)(struct vm *, void *) = phase == PREPARE ? p->prepare
						   : phase == LOAD  ? p->load
								    : p->init;
		int rc = hook ? hook(vm, vm->part[i]) : 0;
		if (rc)
			return rc;
	}
	return 0;
}

int vm_parts_prepare(struct vm *vm)
{
	return run_phase(vm, PREPARE);
}

int vm_parts_load(struct vm *vm)
{
	return run_phase(vm, LOAD);
}

int vm_parts_init(struct vm *vm)
{
	return run_phase(vm, INIT);
}

/* Every part's exit hook runs, whichever phase it reached: a hook ends what its state
 * says was made (zeroed state: nothing). */
void vm_parts_destroy(struct vm *vm)
{
	for (unsigned i = PART_COUNT; i-- > 0;) {
		if (vm->part[i] && parts[i]->exit)
			parts[i]->exit(vm, vm->part[i]);
		free(vm->part[i]);
		vm->part[i] = NULL;
	}
}
