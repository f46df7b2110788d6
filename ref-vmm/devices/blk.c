// SPDX-License-Identifier: MIT
// The block device: the --pack disk, read-only, over paravirt rings in guest RAM
// (guest/abi.h has the contract). Each queue is a libvirtcore ring pair the guest
// formats; the device attaches to it (which validates it and copies its geometry, so a
// guest rewriting the headers later moves nothing), and one I/O thread per queue serves
// it. Notifications run on KVM's eventfds and only when the other side dozes: the
// guest's doorbell is a KVM ioeventfd on the queue's doorbell page, which the thread's
// vc_ring_wait() sleeps on after its adaptive spin; completions raise the queue's
// interrupt through a KVM irqfd on an MSI route, only when the guest's side dozes.
// Without KVM (the device harness) or without ioeventfd, a doorbell store exits to the
// handler here, which signals the same eventfd.
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <virtcore/ring.h>

#include "../guest/abi.h"
#include "../vmm.h"

#define BATCH 64u      /* requests served per wake-up, at most */
#define BLK_IRQ_ID 0xff00u /* the router's device id of queue 0 */
#define MMIO_SPAN (0x1000u * (1u + VCG_BLK_QUEUES))

struct blk_dev;

struct blk_queue {
	struct blk_dev *dev;
	unsigned index;
	int doorbell_fd, irq_fd; /* eventfds, for the device's lifetime */
	bool ioeventfd;          /* KVM signals doorbell_fd itself */
	/* What the guest wrote to the config page (under dev->lock). */
	uint64_t ring_gpa, ring_len, dma_gpa, dma_len;
	uint32_t vector, dest, flags;
	/* While serving: the window as it was at enable (the I/O thread reads it without
	 * the lock; rewriting the registers changes nothing until the next enable). */
	uint64_t win_gpa, win_len;
	bool on;
	bool routed;             /* irq_fd is a device of the interrupt router */
	vc_ring *req, *comp;
	pthread_t thread;
	atomic_bool stop;
	atomic_int state;        /* the ENABLE register: 1, 0 or -errno */
	atomic_uint_fast64_t requests, bytes, batches;
	struct vc_ring_stats req_stats, comp_stats; /* the last handles', kept at disable */
};

struct blk_dev {
	struct vm *vm;
	int fd;                  /* the pack part's; -1: no disk (MAGIC reads 0) */
	uint64_t size;
	pthread_mutex_t lock;    /* config registers and queue on/off, from vCPU threads */
	bool lock_made;
	unsigned sel;
	struct blk_queue q[VCG_BLK_QUEUES];
};

/* Is [@gpa, +@len) inside the queue's window? (No window: any guest RAM.) */
static bool in_window(const struct blk_queue *q, uint64_t gpa, uint64_t len)
{
	return !q->win_len || (gpa >= q->win_gpa && len <= q->win_len &&
			       gpa - q->win_gpa <= q->win_len - len);
}

/* Ends serving with a message, once: the guest broke the queue. The VM runs on. */
static void queue_break(struct blk_queue *q, const char *why)
{
	int expected = 1;
	if (atomic_compare_exchange_strong(&q->state, &expected, -EIO))
		vmm_err("block queue %u: %s; the queue is broken and gets no more answers",
			q->index, why);
}

/* Serves one request (a private copy): bytes read or -EIO into @done. false when the
 * request is hostile (reported; the queue breaks). */
static bool serve(struct blk_queue *q, const struct vcg_blk_req *r, struct vcg_blk_done *done)
{
	struct blk_dev *d = q->dev;
	char why[160];

	if (r->op != VCG_BLK_OP_READ) {
		snprintf(why, sizeof(why), "request %#" PRIx64 " has op %u (only reads)", r->id, r->op);
	} else if (r->len == 0 || r->len > VCG_BLK_MAX_IO) {
		snprintf(why, sizeof(why), "request %#" PRIx64 " has length %u (1..%u)", r->id,
			 r->len, VCG_BLK_MAX_IO);
	} else if (r->offset > d->size || r->len > d->size - r->offset) {
		snprintf(why, sizeof(why), "request %#" PRIx64 " reads [%#" PRIx64 ", +%u) past "
			 "the disk's %" PRIu64 " bytes", r->id, r->offset, r->len, d->size);
	} else if (!in_window(q, r->gpa, r->len)) {
		snprintf(why, sizeof(why), "request %#" PRIx64 " writes [%#" PRIx64 ", +%u) outside "
			 "the queue's window", r->id, r->gpa, r->len);
	} else {
		void *dst = vc_gmem_ptr(d->vm->gmem, r->gpa, r->len, 1);
		if (dst) {
			uint64_t got = 0;
			while (got < r->len) {
				ssize_t n = pread(d->fd, (char *)dst + got, r->len - got,
						  (off_t)(r->offset + got));
				if (n <= 0)
					break; /* the file shrank or failed: an I/O error */
				got += (uint64_t)n;
			}
			*done = (struct vcg_blk_done){r->id, got == r->len ? (int64_t)got : -EIO};
			atomic_fetch_add_explicit(&q->bytes, got, memory_order_relaxed);
			return true;
		}
		snprintf(why, sizeof(why), "request %#" PRIx64 " writes [%#" PRIx64 ", +%u) outside "
			 "guest RAM", r->id, r->gpa, r->len);
	}
	queue_break(q, why);
	return false;
}

/* The I/O thread's sleep: the doorbell eventfd (which KVM signals), like the library's
 * eventfd notifier, except that a kick while stopping ends the wait (vc_ring_wait()
 * would otherwise go back to sleep on the still empty ring). */
static int doorbell_wait(void *ctx, int64_t timeout_ns)
{
	struct blk_queue *q = ctx;
	struct pollfd p = {q->doorbell_fd, POLLIN, 0};
	int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
	int n = poll(&p, 1, ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ETIMEDOUT;
	eventfd_t v;
	eventfd_read(q->doorbell_fd, &v);
	return atomic_load(&q->stop) ? -ECANCELED : 0;
}

/* The queue's I/O thread: wait (spin, then doze on the doorbell), take what came (as
 * many as there are free completion slots), and answer each request as soon as it is
 * served, with a publish of its own: the guest can refill the ring while the rest are
 * served, so a busy device is never dozing and needs no doorbell; a publish interrupts
 * only a guest that dozes, so the guest that waits is woken by the first answer. */
static void *queue_thread(void *arg)
{
	struct blk_queue *q = arg;
	struct vcg_blk_req reqs[BATCH];

	while (!atomic_load(&q->stop)) {
		int n = vc_ring_wait(q->req, -1);
		if (atomic_load(&q->stop))
			break;
		if (n == -ETIMEDOUT || n == -EINTR || n == -ECANCELED)
			continue;
		if (n < 0) {
			queue_break(q, n == -EBADMSG ? "the guest broke the request ring's indices"
						     : "waiting for the doorbell failed");
			break;
		}
		uint32_t first;
		int room = vc_ring_reserve(&first, q->comp, (uint32_t)n < BATCH ? (uint32_t)n : BATCH);
		if (room < 0) {
			queue_break(q, "the guest broke the completion ring's indices");
			break;
		}
		if (room == 0) {
			/* Every completion slot is still the guest's: it submitted more than
			 * it can take back. Look again shortly rather than drop an answer. */
			nanosleep(&(struct timespec){0, 100000}, NULL);
			continue;
		}
		int got = vc_ring_pop_batch(q->req, reqs, (uint32_t)room);
		if (got < 0) {
			queue_break(q, "the guest broke the request ring's indices");
			break;
		}
		int served = 0;
		while (served < got) {
			struct vcg_blk_done done;
			if (!serve(q, &reqs[served], &done))
				break;
			/* The slot was free at the first reserve; the guest only frees more. */
			if (vc_ring_reserve(&first, q->comp, 1) != 1 ||
			    (memcpy(vc_ring_slot(q->comp, first), &done, sizeof(done)),
			     vc_ring_commit(q->comp, 1) < 0)) {
				queue_break(q, "the guest broke the completion ring's indices");
				break;
			}
			served++;
			atomic_fetch_add_explicit(&q->requests, 1, memory_order_relaxed);
		}
		atomic_fetch_add_explicit(&q->batches, 1, memory_order_relaxed);
		if (served < got || atomic_load(&q->state) != 1)
			break;
	}
	return NULL;
}

/* The queue's interrupt, as a device of the VM's interrupt router (integrations/irq.c):
 * dedicated to this VM, so the policy sends it straight to a vCPU with interception off
 * (a KVM irqfd on an MSI route) when there is one. */
static uint32_t irq_id(const struct blk_queue *q)
{
	return BLK_IRQ_ID + q->index;
}

/* Stops serving @q (under dev->lock): the thread first, then the routes. */
static void queue_off(struct blk_dev *d, struct blk_queue *q)
{
	if (!q->on)
		return;
	atomic_store(&q->stop, true);
	eventfd_write(q->doorbell_fd, 1); /* wakes a dozing thread */
	pthread_join(q->thread, NULL);
	eventfd_t drain;
	eventfd_read(q->doorbell_fd, &drain); /* leave no stale kick for the next enable */
	vc_ring_get_stats(q->req, &q->req_stats, sizeof(q->req_stats));
	vc_ring_get_stats(q->comp, &q->comp_stats, sizeof(q->comp_stats));
	vc_ring_detach(q->req);
	vc_ring_detach(q->comp);
	q->req = q->comp = NULL;
	q->on = false;
	if (q->routed) {
		irq_device_remove(d->vm, irq_id(q));
		q->routed = false;
	}
}

/* Starts serving @q from what the guest wrote (under dev->lock): 0, or -errno with
 * nothing started. */
static int queue_on(struct blk_dev *d, struct blk_queue *q)
{
	struct vm *vm = d->vm;
	if (d->fd < 0)
		return -ENODEV;
	if (q->ring_gpa % 4096 || q->ring_len < 4096 || q->ring_len > VCG_BLK_RING_MAX)
		return -EINVAL;
	if (q->vector && (q->vector < 32 || q->vector > 255))
		return -EINVAL;
	void *ring = vc_gmem_ptr(vm->gmem, q->ring_gpa, q->ring_len, 1);
	if (!ring)
		return -EFAULT;
	int64_t off = vc_ring_pair_offset(ring, q->ring_len);
	if (off < 0)
		return (int)off;
	struct vc_ring_notifier doorbell = {.wait = doorbell_wait, .ctx = q}, irq = {0};
	if (q->vector)
		vc_ring_eventfd_notifier(&irq, q->irq_fd);
	VC_OPTS(vc_ring_attach_opts, ro, .role = VC_RING_CONSUMER, .notifier = doorbell);
	VC_OPTS(vc_ring_attach_opts, co, .role = VC_RING_PRODUCER, .notifier = irq,
		.flags = q->flags & VCG_BLK_F_ALWAYS_NOTIFY ? VC_RING_ALWAYS_NOTIFY : 0);
	int rc = vc_ring_attach(&q->req, ring, (size_t)off, &ro);
	if (rc == 0)
		rc = vc_ring_attach(&q->comp, (char *)ring + off, q->ring_len - (uint64_t)off, &co);
	if (rc == 0 && (vc_ring_slot_size(q->req) != sizeof(struct vcg_blk_req) ||
			vc_ring_slot_size(q->comp) != sizeof(struct vcg_blk_done)))
		rc = -EINVAL;
	q->win_gpa = q->dma_gpa;
	q->win_len = q->dma_len;
	q->on = rc == 0;
	/* Without KVM (the device harness) the test reads the interrupt eventfd itself. */
	if (rc == 0 && q->vector && vm->vm_fd >= 0) {
		rc = irq_device_add(vm, irq_id(q), VC_IRQ_DEDICATED, q->irq_fd, (uint8_t)q->vector);
		q->routed = rc == 0;
	}
	if (rc == 0) {
		atomic_store(&q->stop, false);
		atomic_store(&q->state, 1);
		rc = -pthread_create(&q->thread, NULL, queue_thread, q);
	}
	if (rc) {
		if (q->routed) {
			irq_device_remove(vm, irq_id(q));
			q->routed = false;
		}
		q->on = false;
		vc_ring_detach(q->req);
		vc_ring_detach(q->comp);
		q->req = q->comp = NULL;
	}
	return rc;
}

static uint32_t read_reg(struct blk_dev *d, uint64_t reg)
{
	const struct blk_queue *q = &d->q[d->sel];
	switch (reg) {
	case VCG_BLK_REG_MAGIC:
		return d->fd >= 0 ? VCG_BLK_MAGIC : 0;
	case VCG_BLK_REG_SIZE_LO:
		return (uint32_t)d->size;
	case VCG_BLK_REG_SIZE_HI:
		return (uint32_t)(d->size >> 32);
	case VCG_BLK_REG_MAX_IO:
		return VCG_BLK_MAX_IO;
	case VCG_BLK_REG_QUEUES:
		return VCG_BLK_QUEUES;
	case VCG_BLK_REG_ENABLE:
		return (uint32_t)atomic_load(&q->state);
	}
	return 0;
}

static void write_reg(struct blk_dev *d, uint64_t reg, uint32_t v)
{
	struct blk_queue *q = &d->q[d->sel];
	switch (reg) {
	case VCG_BLK_REG_QUEUE_SEL:
		d->sel = v < VCG_BLK_QUEUES ? v : d->sel;
		break;
	case VCG_BLK_REG_RING_LO:
		q->ring_gpa = (q->ring_gpa & ~0xffffffffull) | v;
		break;
	case VCG_BLK_REG_RING_HI:
		q->ring_gpa = (q->ring_gpa & 0xffffffffull) | (uint64_t)v << 32;
		break;
	case VCG_BLK_REG_RING_LEN:
		q->ring_len = v;
		break;
	case VCG_BLK_REG_DMA_LO:
		q->dma_gpa = (q->dma_gpa & ~0xffffffffull) | v;
		break;
	case VCG_BLK_REG_DMA_HI:
		q->dma_gpa = (q->dma_gpa & 0xffffffffull) | (uint64_t)v << 32;
		break;
	case VCG_BLK_REG_DMA_LEN:
		q->dma_len = v;
		break;
	case VCG_BLK_REG_VECTOR:
		q->vector = v;
		break;
	case VCG_BLK_REG_DEST:
		q->dest = v;
		break;
	case VCG_BLK_REG_FLAGS:
		q->flags = v;
		break;
	case VCG_BLK_REG_ENABLE: {
		queue_off(d, q);
		int rc = v ? queue_on(d, q) : 0; /* queue_on() reads 1 once serving */
		if (!v || rc)
			atomic_store(&q->state, rc);
		break;
	}
	}
}

static void blk_mmio(struct vcpu *cpu, void *opaque, uint64_t addr, bool is_write,
		     uint8_t *data, unsigned size)
{
	struct blk_dev *d = opaque;
	uint64_t off = addr - VCG_MMIO_BLK;
	(void)cpu;
	if (off >= 0x1000) {
		/* A doorbell that exited (no ioeventfd here): signal what KVM would have. */
		unsigned n = (unsigned)(off / 0x1000) - 1;
		if (is_write)
			eventfd_write(d->q[n].doorbell_fd, 1);
		else
			memset(data, 0, size);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (size == 4 && off % 4 == 0) {
		if (is_write) {
			uint32_t v;
			memcpy(&v, data, 4);
			write_reg(d, off, v);
		} else {
			uint32_t v = read_reg(d, off);
			memcpy(data, &v, 4);
		}
	} else if (!is_write) {
		memset(data, 0xff, size); /* not a register access: reads as all ones */
	}
	pthread_mutex_unlock(&d->lock);
}

static int blk_init(struct vm *vm, void *st)
{
	struct blk_dev *d = st;
	d->vm = vm;
	d->fd = -1;
	for (unsigned i = 0; i < VCG_BLK_QUEUES; i++)
		d->q[i].doorbell_fd = d->q[i].irq_fd = -1;
	if (vm_pack_disk(vm, &d->fd, &d->size) != 0)
		d->fd = -1; /* no --pack: the device answers MAGIC with 0 */
	pthread_mutex_init(&d->lock, NULL);
	d->lock_made = true;
	for (unsigned i = 0; i < VCG_BLK_QUEUES; i++) {
		struct blk_queue *q = &d->q[i];
		q->dev = d;
		q->index = i;
		q->doorbell_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->doorbell_fd < 0 || q->irq_fd < 0) {
			vmm_err("block device: eventfd: %s", strerror(errno));
			return -errno;
		}
		if (vm->vm_fd < 0 || d->fd < 0)
			continue;
		struct kvm_ioeventfd io = {.addr = VCG_BLK_DOORBELL(i), .len = 4,
					   .fd = q->doorbell_fd};
		q->ioeventfd = ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) == 0;
		if (!q->ioeventfd && i == 0)
			vmm_err("block device: KVM_IOEVENTFD: %s; doorbells exit to vc-vmm instead",
				strerror(errno));
	}
	return vm_register_mmio(vm, VCG_MMIO_BLK, MMIO_SPAN, blk_mmio, d);
}

static void print_stats(struct blk_dev *d)
{
	for (unsigned i = 0; i < VCG_BLK_QUEUES; i++) {
		struct blk_queue_stats s;
		blk_queue_get_stats(d->vm, i, &s);
		if (!s.requests && !s.batches && s.state >= 0 && !d->q[i].ring_gpa)
			continue; /* never set up */
		fprintf(stderr, "vc-vmm: block queue %u: %" PRIu64 " requests, %" PRIu64 " bytes, "
			"%" PRIu64 " batches, %" PRIu64 " doorbell wake-ups, %" PRIu64 " interrupts "
			"(%" PRIu64 " suppressed)%s\n", i, s.requests, s.bytes, s.batches, s.doorbells,
			s.interrupts, s.suppressed, s.state < 0 ? ", broken" : "");
	}
}

static void blk_exit(struct vm *vm, void *st)
{
	struct blk_dev *d = st;
	if (!d->lock_made)
		return;
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < VCG_BLK_QUEUES; i++)
		queue_off(d, &d->q[i]);
	pthread_mutex_unlock(&d->lock);
	if (vm->cfg && vm->cfg->blk_stats)
		print_stats(d);
	for (unsigned i = 0; i < VCG_BLK_QUEUES; i++) {
		struct blk_queue *q = &d->q[i];
		if (q->ioeventfd) {
			struct kvm_ioeventfd io = {.addr = VCG_BLK_DOORBELL(i), .len = 4,
						   .fd = q->doorbell_fd,
						   .flags = KVM_IOEVENTFD_FLAG_DEASSIGN};
			ioctl(vm->vm_fd, KVM_IOEVENTFD, &io);
		}
		if (q->doorbell_fd >= 0)
			close(q->doorbell_fd);
		if (q->irq_fd >= 0)
			close(q->irq_fd);
	}
	pthread_mutex_destroy(&d->lock);
	d->lock_made = false;
}

int64_t blk_sync_read(struct vm *vm, int task_slot, uint64_t offset, uint64_t gpa,
		      uint64_t len)
{
	struct blk_dev *d = vm->part[PART_BLK];
	if (!d || d->fd < 0)
		return -ENODEV;
	if (len == 0 || len > VCG_BLK_MAX_IO || offset > d->size || len > d->size - offset)
		return -EINVAL;
	if (task_slot >= 0) {
		unsigned qi = (unsigned)task_slot + 1;
		pthread_mutex_lock(&d->lock);
		const struct blk_queue *q = qi < VCG_BLK_QUEUES ? &d->q[qi] : NULL;
		bool inside = q && q->on && q->win_len && in_window(q, gpa, len);
		pthread_mutex_unlock(&d->lock);
		if (!inside)
			return -EPERM;
	}
	void *dst = vc_gmem_ptr(vm->gmem, gpa, (size_t)len, 1);
	if (!dst)
		return -EFAULT;
	for (uint64_t got = 0; got < len;) {
		ssize_t n = pread(d->fd, (char *)dst + got, len - got, (off_t)(offset + got));
		if (n <= 0)
			return -EIO;
		got += (uint64_t)n;
	}
	return (int64_t)len;
}

int blk_queue_eventfds(const struct vm *vm, unsigned q, int *doorbell, int *irq)
{
	const struct blk_dev *d = vm->part[PART_BLK];
	if (!d || q >= VCG_BLK_QUEUES)
		return -EINVAL;
	*doorbell = d->q[q].doorbell_fd;
	*irq = d->q[q].irq_fd;
	return 0;
}

int blk_queue_get_stats(const struct vm *vm, unsigned qi, struct blk_queue_stats *out)
{
	struct blk_dev *d = vm->part[PART_BLK];
	if (!d || qi >= VCG_BLK_QUEUES)
		return -EINVAL;
	struct blk_queue *q = &d->q[qi];
	/* The ring statistics are the I/O thread's; read them from the handles only once
	 * it is gone (they are kept at disable). */
	*out = (struct blk_queue_stats){
		.requests = atomic_load(&q->requests),
		.bytes = atomic_load(&q->bytes),
		.batches = atomic_load(&q->batches),
		.doorbells = q->on ? 0 : q->req_stats.wakeups,
		.interrupts = q->on ? 0 : q->comp_stats.notifications,
		.suppressed = q->on ? 0 : q->comp_stats.suppressed,
		.state = atomic_load(&q->state),
	};
	return 0;
}

const struct vmm_part blk_part = {
	.name = "block device",
	.state_size = sizeof(struct blk_dev),
	.init = blk_init,
	.exit = blk_exit,
};
