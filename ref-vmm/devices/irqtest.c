// SPDX-License-Identifier: MIT
// Test interrupt sources (guest/abi.h): devices of the irq router that the guest fires on
// demand, all on one vector, each saying who it is in an indicator in guest RAM (seed
// US20100262741A1, the library's layout). They are how a guest checks the router end to
// end: every request seen exactly once, on an eligible vCPU, across re-routing.
//
// A fire is what a device backend does: set the requester's bit (release), then signal
// the device's eventfd. Whatever the route (an irqfd KVM consumes, the router thread,
// held while no vCPU is eligible), the interrupt comes after the bit, so the handler's scan
// finds it; a bit already pending coalesces, as the indicator's contract says.
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <x86intrin.h>

#include <virtcore/irq_abi.h>

#include "../guest/abi.h"
#include "../vmm.h"

struct irqtest_state {
	pthread_mutex_t lock;
	bool lock_made;
	struct vcg_irqtest_area *area; /* in guest RAM; NULL before the guest's setup */
	uint8_t vector;
	int fd[VCG_IRQTEST_SOURCES]; /* the source's eventfd, 0 when absent (fds >= 3 here) */
};

static struct irqtest_state *state(struct vm *vm)
{
	return vm->part[PART_IRQTEST];
}

int irqtest_setup(struct vm *vm, uint64_t gpa, uint64_t vector)
{
	struct irqtest_state *s = state(vm);
	if (gpa % 64 || vector < 32 || vector > 255)
		return -EINVAL;
	void *p = vc_gmem_ptr(vm->gmem, gpa, sizeof(struct vcg_irqtest_area), 1);
	if (!p)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	/* Once: the sources' vector is in their routes already. */
	int rc = s->area ? -EBUSY : 0;
	if (!rc) {
		s->area = p;
		s->vector = (uint8_t)vector;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int irqtest_add(struct vm *vm, uint32_t id, uint32_t mode)
{
	struct irqtest_state *s = state(vm);
	if (id >= VCG_IRQTEST_SOURCES)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	int rc = !s->area ? -ENODEV : s->fd[id] ? -EEXIST : 0;
	if (!rc) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		rc = fd < 0 ? -errno : irq_device_add(vm, id, mode, fd, s->vector);
		if (rc && fd >= 0)
			close(fd);
		else if (!rc)
			s->fd[id] = fd;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int irqtest_remove(struct vm *vm, uint32_t id)
{
	struct irqtest_state *s = state(vm);
	if (id >= VCG_IRQTEST_SOURCES)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	int rc = s->fd[id] ? irq_device_remove(vm, id) : -ENOENT;
	if (!rc) {
		close(s->fd[id]);
		s->fd[id] = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int64_t irqtest_fire(struct vm *vm, uint64_t first, uint64_t count)
{
	struct irqtest_state *s = state(vm);
	if (first >= VCG_IRQTEST_SOURCES || count > VCG_IRQTEST_SOURCES - first)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	int64_t rc = s->area ? (int64_t)count : -ENODEV;
	for (uint64_t i = first; i < first + count && rc > 0; i++)
		if (!s->fd[i])
			rc = -ENOENT;
	for (uint64_t i = first; i < first + count && rc > 0; i++) {
		vc_irq_abi_indicator_set(&s->area->indicator, (uint32_t)i);
		__atomic_store_n(&s->area->fire_tsc, __rdtsc(), __ATOMIC_RELEASE);
		eventfd_write(s->fd[i], 1);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int irqtest_init(struct vm *vm, void *st)
{
	struct irqtest_state *s = st;
	(void)vm;
	pthread_mutex_init(&s->lock, NULL);
	s->lock_made = true;
	return 0;
}

static void irqtest_exit(struct vm *vm, void *st)
{
	struct irqtest_state *s = st;
	for (uint32_t i = 0; i < VCG_IRQTEST_SOURCES; i++)
		if (s->fd[i]) {
			irq_device_remove(vm, i);
			close(s->fd[i]);
		}
	if (s->lock_made)
		pthread_mutex_destroy(&s->lock);
}

const struct vmm_part irqtest_part = {
	.name = "irqtest",
	.state_size = sizeof(struct irqtest_state),
	.init = irqtest_init,
	.exit = irqtest_exit,
};
