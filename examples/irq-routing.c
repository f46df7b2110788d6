// SPDX-License-Identifier: MIT
// Routes two VMs' devices (a dedicated NIC, a shared disk), flips a CPU's interception and
// applies only the routes that changed; device backends then raise interrupts on a shared
// line and the VMM finds which requester raised each through the interrupt indicator.
#include <stdio.h>

#include <virtcore/irq.h>

static const char *path_name(uint32_t path)
{
	static const char *const names[] = {"none", "direct", "emulated", "pending"};
	return path < 4 ? names[path] : "?";
}

/* What a VMM does with a change: reprogram one entry of its routing table (KVM: an
 * irqfd/MSI route to the CPU for "direct", its emulation path for "emulated"). */
static void apply_changes(const vc_irq *irq, const char *why)
{
	size_t n;
	const struct vc_irq_change *c = vc_irq_changes(&n, irq);
	printf("%s: %zu route(s) changed\n", why, n);
	for (size_t i = 0; i < n; i++)
		printf("  device %u (irq %u): cpu %d %s -> cpu %d %s\n", c[i].new_route.device,
		       c[i].new_route.irq, (int)c[i].old_route.cpu, path_name(c[i].old_route.path),
		       (int)c[i].new_route.cpu, path_name(c[i].new_route.path));
}

int main(void)
{
	vc_irq *irq;
	vc_irq_indicator *ind;
	int rc = vc_irq_create(&irq, NULL);
	if (rc || (rc = vc_irq_indicator_create(&ind))) {
		fprintf(stderr, "irq-routing: %s\n", vc_strerror(rc));
		return 1;
	}
	/* CPU 0 is the VMM's own (intercepting); VM 1 has CPUs 1-2, VM 2 has CPU 3. */
	vc_irq_cpu_add(irq, 0, VC_IRQ_VM_NONE, true, 0);
	vc_irq_cpu_add(irq, 1, 1, false, 0);
	vc_irq_cpu_add(irq, 2, 1, false, 0);
	vc_irq_cpu_add(irq, 3, 2, false, 0);

	/* A NIC dedicated to VM 1 (requester 00:03.0) and a disk shared by both (00:04.0). */
	vc_irq_device_add(irq, 10, 0x0018, VC_IRQ_DEDICATED, 1, 40);
	apply_changes(irq, "add NIC");
	vc_irq_device_add(irq, 11, 0x0020, VC_IRQ_SHARED, VC_IRQ_VM_NONE, 41);
	apply_changes(irq, "add shared disk");

	/* VM 1's scheduler makes CPU 1 intercept (say, to single-step the guest). */
	if ((rc = vc_irq_cpu_set_intercept(irq, 1, true)) < 0)
		fprintf(stderr, "irq-routing: %s\n", vc_strerror(rc));
	apply_changes(irq, "CPU 1 intercepts");
	vc_irq_cpu_assign(irq, 2, 2);
	apply_changes(irq, "CPU 2 moves to VM 2");
	vc_irq_cpu_set_intercept(irq, 1, false);
	apply_changes(irq, "CPU 1 stops intercepting");

	/* Two requesters raise the shared line; backends mark them in the indicator. */
	vc_irq_indicator_set(ind, 0x0020);
	vc_irq_indicator_set(ind, 0x0018);
	uint16_t pending[8];
	int n = vc_irq_indicator_scan(ind, pending, 8);
	for (int i = 0; i < n; i++) {
		uint32_t dev;
		struct vc_irq_route r;
		if (vc_irq_device_by_requester(&dev, irq, pending[i]) == 0 &&
		    vc_irq_route(&r, irq, dev) == 0)
			printf("interrupt from %02x:%02x.%x -> device %u, deliver %s on cpu %u\n",
			       pending[i] >> 8, (pending[i] >> 3) & 0x1f, pending[i] & 7, dev,
			       path_name(r.path), r.cpu);
	}
	vc_irq_indicator_destroy(ind);
	vc_irq_destroy(irq);
	return n == 2 ? 0 : 1;
}
