// SPDX-License-Identifier: MIT
// Where vc-vmm uses libvirtcore's irq module: the interrupt-destination policy (seed
// US20100138208A1) decides where each device's interrupt goes, and this file makes KVM do
// it, changing only what the policy's diff names.
//
// A device raises its interrupt by signalling an eventfd. Its route decides who reads it:
// - DIRECT (a vCPU whose interception is off): KVM itself, through an irqfd on the
//   device's GSI, whose MSI route names that vCPU's APIC id. The guest's handler runs with
//   no VMM involvement.
// - EMULATED (a vCPU whose interception is on): the router's thread, which sees every
//   interrupt and injects it with KVM_SIGNAL_MSI.
// - PENDING (no eligible vCPU): the router's thread holds it and delivers it when a later
//   change gives the device a route.
// The GSI table holds KVM's default irqchip pins plus one MSI route per DIRECT device;
// KVM_SET_GSI_ROUTING takes the whole table, so a change is one such call (when a route
// changed) plus the irqfd (de)assignments of the devices the diff names, nothing else.
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <virtcore/irq.h>

#include "../vmm.h"

#define VM_ID 0u         /* the policy sees one VM: ours */
#define PIN_ROUTES 40u   /* KVM's defaults: PIC pins 0..15 and IOAPIC pins 0..23 */

struct irq_dev {
	bool used;
	uint32_t id;
	int fd;                /* the device's eventfd */
	uint8_t vector;
	struct vc_irq_route route;
	bool irqfd;            /* fd is assigned to gsi as an irqfd */
	uint64_t held;         /* interrupts kept while PENDING */
};

struct irq_state {
	vc_irq *policy;
	struct irq_kvm kvm;
	pthread_mutex_t lock;  /* everything below, from vCPU threads and the router thread */
	bool lock_made;
	struct irq_dev dev[IRQ_MAX_DEVICES];
	struct kvm_irq_routing_entry table[PIN_ROUTES + IRQ_MAX_DEVICES];
	unsigned table_len;
	bool cpu_online[VMM_MAX_CPUS];
	bool cpu_intercept[VMM_MAX_CPUS]; /* kept while offline, for its return */
	struct irq_stats stats;
	pthread_t thread;
	bool thread_started;
	int wake_fd;           /* tells the thread its poll set changed, or to stop */
	atomic_bool stop;
};

/* ---- KVM as vc-vmm drives it ---- */

static int kvm_set_routing(void *ctx, const struct kvm_irq_routing_entry *e, unsigned n)
{
	struct vm *vm = ctx;
	size_t sz = sizeof(struct kvm_irq_routing) + n * sizeof(*e);
	struct kvm_irq_routing *r = calloc(1, sz);
	if (!r)
		return -ENOMEM;
	r->nr = n;
	memcpy(r->entries, e, n * sizeof(*e));
	int rc = ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, r) < 0 ? -errno : 0;
	free(r);
	return rc;
}

static int kvm_irqfd(void *ctx, int fd, uint32_t gsi, bool assign)
{
	struct vm *vm = ctx;
	struct kvm_irqfd f = {.fd = (uint32_t)fd, .gsi = gsi,
			      .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN};
	return ioctl(vm->vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}

static int kvm_signal_msi(void *ctx, uint32_t apic_id, uint8_t vector)
{
	struct vm *vm = ctx;
	struct kvm_msi m = {.address_lo = irq_msi_address(apic_id), .data = vector};
	/* 1 delivered, 0 blocked by the guest (masked): either way it was sent. */
	return ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &m) < 0 ? -errno : 0;
}

/* ---- the table ---- */

uint32_t irq_msi_address(uint32_t apic_id)
{
	/* Fixed delivery, physical destination: what a PCI MSI would send. */
	return 0xfee00000u | (apic_id & 0xff) << 12;
}

uint32_t irq_device_gsi(unsigned slot)
{
	return IRQ_GSI_BASE + slot;
}

static unsigned pin_routes(struct kvm_irq_routing_entry *t)
{
	unsigned n = 0;
	for (unsigned gsi = 0; gsi < 24; gsi++) {
		if (gsi < 16)
			t[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = {gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
					      gsi % 8}};
		t[n++] = (struct kvm_irq_routing_entry){.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
							.u.irqchip = {KVM_IRQCHIP_IOAPIC, gsi}};
	}
	return n;
}

/* The table the current routes need; how many entries differ from the installed one. */
static unsigned build_table(const struct irq_state *s, struct kvm_irq_routing_entry *t,
			    unsigned *len)
{
	unsigned n = pin_routes(t);
	for (unsigned i = 0; i < IRQ_MAX_DEVICES; i++) {
		const struct irq_dev *d = &s->dev[i];
		if (!d->used || d->route.path != VC_IRQ_PATH_DIRECT)
			continue;
		t[n++] = (struct kvm_irq_routing_entry){
			.gsi = irq_device_gsi(i), .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = {.address_lo = irq_msi_address(d->route.cpu), .data = d->vector}};
	}
	*len = n;
	/* Entries are ordered by GSI in both tables: a merge counts adds, removals and
	 * rewrites. */
	unsigned diff = 0, i = 0, j = 0;
	while (i < s->table_len || j < n) {
		const struct kvm_irq_routing_entry *a = i < s->table_len ? &s->table[i] : NULL;
		const struct kvm_irq_routing_entry *b = j < n ? &t[j] : NULL;
		if (a && b && a->gsi == b->gsi && a->type == b->type) {
			diff += memcmp(a, b, sizeof(*a)) != 0;
			i++, j++;
		} else if (a && (!b || a->gsi < b->gsi || (a->gsi == b->gsi && a->type < b->type))) {
			diff++, i++;
		} else {
			diff++, j++;
		}
	}
	return diff;
}

static int install_table(struct irq_state *s)
{
	struct kvm_irq_routing_entry t[PIN_ROUTES + IRQ_MAX_DEVICES];
	unsigned len;
	unsigned diff = build_table(s, t, &len);
	if (!diff)
		return 0;
	int rc = s->kvm.set_routing(s->kvm.ctx, t, len);
	if (rc)
		return rc;
	memcpy(s->table, t, len * sizeof(*t));
	s->table_len = len;
	s->stats.routing_calls++;
	s->stats.routes_written += diff;
	return 0;
}

static int dev_slot(const struct irq_state *s, uint32_t id)
{
	for (unsigned i = 0; i < IRQ_MAX_DEVICES; i++)
		if (s->dev[i].used && s->dev[i].id == id)
			return (int)i;
	return -1;
}

static void wake_thread(struct irq_state *s)
{
	if (s->wake_fd >= 0)
		eventfd_write(s->wake_fd, 1);
}

/* Sends one interrupt by the device's current route (under the lock). */
static void deliver(struct irq_state *s, struct irq_dev *d, uint64_t n)
{
	switch (d->route.path) {
	case VC_IRQ_PATH_EMULATED:
		if (s->kvm.signal_msi(s->kvm.ctx, d->route.cpu, d->vector) == 0)
			s->stats.emulated++;
		break;
	case VC_IRQ_PATH_DIRECT:
		/* Held ones, now that KVM owns the eventfd: one kick, as a coalesced MSI. */
		eventfd_write(d->fd, 1);
		break;
	default:
		d->held += n;
		s->stats.held += n;
		break;
	}
}

/*
 * Applies the policy's change list: the table once, then each named device's irqfd. The
 * order keeps every interrupt: a device leaving DIRECT loses its irqfd before the router
 * thread polls its eventfd (what KVM did not consume stays counted there); one entering
 * DIRECT gets its route before its irqfd.
 */
static int apply_changes(struct irq_state *s)
{
	size_t n;
	const struct vc_irq_change *ch = vc_irq_changes(&n, s->policy);
	/* Leaving DIRECT first (their routes go in the same table write). */
	for (size_t i = 0; i < n; i++) {
		int k = dev_slot(s, ch[i].new_route.path ? ch[i].new_route.device : ch[i].old_route.device);
		if (k < 0)
			continue;
		struct irq_dev *d = &s->dev[k];
		d->route = ch[i].new_route;
		if (d->irqfd && d->route.path != VC_IRQ_PATH_DIRECT) {
			s->kvm.irqfd(s->kvm.ctx, d->fd, irq_device_gsi((unsigned)k), false);
			s->stats.irqfd_calls++;
			d->irqfd = false;
		}
	}
	int rc = install_table(s);
	for (size_t i = 0; i < n && rc == 0; i++) {
		int k = dev_slot(s, ch[i].new_route.device);
		if (k < 0 || ch[i].new_route.path == VC_IRQ_PATH_NONE)
			continue;
		struct irq_dev *d = &s->dev[k];
		if (d->route.path == VC_IRQ_PATH_DIRECT && !d->irqfd) {
			rc = s->kvm.irqfd(s->kvm.ctx, d->fd, irq_device_gsi((unsigned)k), true);
			s->stats.irqfd_calls++;
			d->irqfd = rc == 0;
		}
		if (d->held && d->route.path != VC_IRQ_PATH_PENDING) {
			s->stats.delivered_held += d->held;
			uint64_t held = d->held;
			d->held = 0;
			deliver(s, d, held);
		}
	}
	s->stats.changes += n;
	wake_thread(s);
	return rc;
}

/* ---- the router thread: every eventfd KVM does not own ---- */

static void *router_main(void *arg)
{
	struct irq_state *s = arg;
	struct pollfd p[IRQ_MAX_DEVICES + 1];
	unsigned slot[IRQ_MAX_DEVICES];
	while (!atomic_load(&s->stop)) {
		unsigned n = 0;
		p[n++] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
		pthread_mutex_lock(&s->lock);
		for (unsigned i = 0; i < IRQ_MAX_DEVICES; i++)
			if (s->dev[i].used && !s->dev[i].irqfd) {
				slot[n - 1] = i;
				p[n++] = (struct pollfd){.fd = s->dev[i].fd, .events = POLLIN};
			}
		pthread_mutex_unlock(&s->lock);
		if (poll(p, n, -1) < 0)
			continue;
		if (p[0].revents) {
			eventfd_t v;
			eventfd_read(s->wake_fd, &v);
		}
		pthread_mutex_lock(&s->lock);
		for (unsigned i = 1; i < n; i++) {
			struct irq_dev *d = &s->dev[slot[i - 1]];
			eventfd_t v;
			/* The device may have moved to an irqfd since the poll: KVM owns it now. */
			if (!p[i].revents || !d->used || d->irqfd || d->fd != p[i].fd ||
			    eventfd_read(d->fd, &v) < 0)
				continue;
			deliver(s, d, v);
		}
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

/* ---- what devices and the VMM call ---- */

static struct irq_state *state(struct vm *vm)
{
	return vm->part[PART_IRQ];
}

int irq_device_add(struct vm *vm, uint32_t id, uint32_t mode, int fd, uint8_t vector)
{
	struct irq_state *s = state(vm);
	pthread_mutex_lock(&s->lock);
	int k = dev_slot(s, id), rc = -EEXIST;
	if (k < 0) {
		rc = -ENOSPC;
		for (unsigned i = 0; i < IRQ_MAX_DEVICES && rc == -ENOSPC; i++)
			if (!s->dev[i].used) {
				k = (int)i;
				rc = 0;
			}
	}
	if (rc == 0)
		rc = vc_irq_device_add(s->policy, id, id, mode, VM_ID, irq_device_gsi((unsigned)k));
	if (rc >= 0) {
		s->dev[k] = (struct irq_dev){.used = true, .id = id, .fd = fd, .vector = vector};
		rc = apply_changes(s);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int irq_device_remove(struct vm *vm, uint32_t id)
{
	struct irq_state *s = state(vm);
	pthread_mutex_lock(&s->lock);
	int k = dev_slot(s, id), rc = k < 0 ? -ENOENT : vc_irq_device_remove(s->policy, id);
	if (rc >= 0) {
		rc = apply_changes(s); /* deassigns its irqfd, drops its route */
		s->dev[k].used = false;
	}
	pthread_mutex_unlock(&s->lock);
	wake_thread(s); /* stop polling its eventfd before the device closes it */
	return rc;
}

int irq_cpu_set_intercept(struct vm *vm, unsigned cpu, bool intercept)
{
	struct irq_state *s = state(vm);
	pthread_mutex_lock(&s->lock);
	int rc = cpu < vm->ncpus && s->cpu_online[cpu]
			 ? vc_irq_cpu_set_intercept(s->policy, cpu, intercept) : -ENOENT;
	if (rc >= 0) {
		s->cpu_intercept[cpu] = intercept;
		rc = apply_changes(s);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int irq_cpu_set_online(struct vm *vm, unsigned cpu, bool online, bool intercept)
{
	struct irq_state *s = state(vm);
	pthread_mutex_lock(&s->lock);
	int rc = -EINVAL;
	if (cpu < vm->ncpus && s->cpu_online[cpu] != online) {
		rc = online ? vc_irq_cpu_add(s->policy, cpu, VM_ID, intercept, 0)
			    : vc_irq_cpu_remove(s->policy, cpu);
		if (rc >= 0) {
			s->cpu_online[cpu] = online;
			s->cpu_intercept[cpu] = intercept;
			rc = apply_changes(s);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int irq_cpu_get(struct vm *vm, unsigned cpu, bool *online, bool *intercept)
{
	struct irq_state *s = state(vm);
	if (cpu >= vm->ncpus)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	*online = s->cpu_online[cpu];
	*intercept = s->cpu_intercept[cpu];
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int irq_route_of(struct vm *vm, uint32_t id, struct vc_irq_route *out)
{
	struct irq_state *s = state(vm);
	pthread_mutex_lock(&s->lock);
	int rc = vc_irq_route(out, s->policy, id);
	if (rc == -EHOSTUNREACH)
		rc = 0; /* PENDING is a route too */
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void irq_get_stats(struct vm *vm, struct irq_stats *out)
{
	struct irq_state *s = state(vm);
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}

int irq_reprogram_all(struct vm *vm)
{
	struct irq_state *s = state(vm);
	pthread_mutex_lock(&s->lock);
	/* What a VMM without the policy's diff does on any change: every irqfd off and on
	 * again, and the table written whole. */
	for (unsigned i = 0; i < IRQ_MAX_DEVICES; i++) {
		struct irq_dev *d = &s->dev[i];
		if (d->used && d->irqfd) {
			s->kvm.irqfd(s->kvm.ctx, d->fd, irq_device_gsi(i), false);
			s->stats.irqfd_calls++;
		}
	}
	s->table_len = 0; /* every entry counts as written */
	int rc = install_table(s);
	for (unsigned i = 0; i < IRQ_MAX_DEVICES && rc == 0; i++) {
		struct irq_dev *d = &s->dev[i];
		if (d->used && d->irqfd) {
			rc = s->kvm.irqfd(s->kvm.ctx, d->fd, irq_device_gsi(i), true);
			s->stats.irqfd_calls++;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void irq_set_kvm(struct vm *vm, const struct irq_kvm *kvm)
{
	struct irq_state *s = state(vm);
	pthread_mutex_lock(&s->lock);
	s->kvm = *kvm;
	pthread_mutex_unlock(&s->lock);
}

static int no_routing(void *ctx, const struct kvm_irq_routing_entry *e, unsigned n)
{
	(void)ctx, (void)e, (void)n;
	return 0;
}

static int no_irqfd(void *ctx, int fd, uint32_t gsi, bool assign)
{
	(void)ctx, (void)fd, (void)gsi, (void)assign;
	return -ENOSYS; /* no KVM: every eventfd stays with the router thread */
}

static int no_msi(void *ctx, uint32_t apic_id, uint8_t vector)
{
	(void)ctx, (void)apic_id, (void)vector;
	return 0;
}

static int irq_init(struct vm *vm, void *st)
{
	struct irq_state *s = st;
	s->wake_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->lock_made = true;
	s->kvm = vm->vm_fd >= 0
			 ? (struct irq_kvm){kvm_set_routing, kvm_irqfd, kvm_signal_msi, vm}
			 : (struct irq_kvm){no_routing, no_irqfd, no_msi, NULL};
	int rc = vc_irq_create(&s->policy, NULL);
	if (rc) {
		vmm_err("irq: %s", vmm_lib_detail(rc, "irq: "));
		return rc;
	}
	/* Every vCPU starts online with interception off: device interrupts go straight to
	 * the guest unless a change says otherwise. */
	for (unsigned i = 0; i < vm->ncpus; i++) {
		if ((rc = vc_irq_cpu_add(s->policy, i, VM_ID, false, 0)) < 0)
			return rc;
		s->cpu_online[i] = true;
	}
	s->table_len = pin_routes(s->table); /* what KVM installs by itself */
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0)
		return -errno;
	rc = pthread_create(&s->thread, NULL, router_main, s);
	if (rc) {
		vmm_err("irq: cannot start the router thread: %s", strerror(rc));
		return -rc;
	}
	s->thread_started = true;
	return 0;
}

static void irq_exit(struct vm *vm, void *st)
{
	struct irq_state *s = st;
	(void)vm;
	if (s->thread_started) {
		atomic_store(&s->stop, true);
		wake_thread(s);
		pthread_join(s->thread, NULL);
	}
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	vc_irq_destroy(s->policy);
	if (s->lock_made)
		pthread_mutex_destroy(&s->lock);
}

const struct vmm_part irq_part = {
	.name = "irq",
	.state_size = sizeof(struct irq_state),
	.init = irq_init,
	.exit = irq_exit,
};
