// SPDX-License-Identifier: MIT
// The block device driver (the contract is guest/abi.h): one queue for the kernel, a
// ring pair in one page, completions on VEC_BLK. A read is cut at page boundaries of
// the task's buffer (the device writes guest-physical memory), its pieces published a
// ring's worth at a time with at most one doorbell, and waited for with `hlt` while the
// completion ring is empty and its doze announced: the device interrupts only then. The
// interrupt may arrive on another CPU (the VMM's policy picks it): that CPU wakes the
// others (cpu.c).
#include <virtcore/ring_abi.h>

#include "kernel.h"

#define EIO 5
#define EFAULT 14
#define EBUSY 16
#define ENODEV 19
#define SLOTS 64u
#define PTE_NX (1ull << 63)

static struct {
	uint64_t base; /* the config page, from the command line's vc.blk= */
	int present;
	uint64_t size;
	struct vc_ring_view req, comp;
	uint64_t next_id;
	uint64_t doorbells, waits;
} blk;

/* Each task's own queue: its completion ring, seen from the kernel (identity map). */
static struct vc_ring_abi_hdr *task_comp[VCG_BLK_QUEUES];

static volatile uint32_t *reg(uint32_t r)
{
	return (volatile uint32_t *)(uintptr_t)(blk.base + r);
}

/* Formats a ring pair of SLOTS requests and completions in @page; the completion
 * ring's offset. */
static uint64_t format_pair(uint8_t *page)
{
	uint64_t req_size = vc_ring_abi_size(SLOTS, sizeof(struct vcg_blk_req));
	uint64_t comp_off = (req_size + 127) & ~127ull;
	if (vc_ring_abi_format(page, comp_off, SLOTS, sizeof(struct vcg_blk_req),
			       VC_RING_MODE_EVENT_IDX) ||
	    vc_ring_abi_format(page + comp_off, 4096 - comp_off, SLOTS,
			       sizeof(struct vcg_blk_done), VC_RING_MODE_EVENT_IDX))
		panic("block device: a queue does not fit a page");
	return comp_off;
}

/* Programs queue @q and enables it: what ENABLE reads back (1: serving). */
static int32_t enable_queue(unsigned q, uint64_t ring_gpa, uint64_t dma_gpa, uint32_t dma_len,
			    uint32_t flags)
{
	*reg(VCG_BLK_REG_QUEUE_SEL) = q;
	*reg(VCG_BLK_REG_RING_LO) = (uint32_t)ring_gpa;
	*reg(VCG_BLK_REG_RING_HI) = (uint32_t)(ring_gpa >> 32);
	*reg(VCG_BLK_REG_RING_LEN) = 4096;
	*reg(VCG_BLK_REG_DMA_LO) = (uint32_t)dma_gpa;
	*reg(VCG_BLK_REG_DMA_HI) = (uint32_t)(dma_gpa >> 32);
	*reg(VCG_BLK_REG_DMA_LEN) = dma_len;
	*reg(VCG_BLK_REG_VECTOR) = VEC_BLK;
	*reg(VCG_BLK_REG_DEST) = 0;
	*reg(VCG_BLK_REG_FLAGS) = flags;
	*reg(VCG_BLK_REG_ENABLE) = 1;
	return (int32_t)*reg(VCG_BLK_REG_ENABLE);
}

int blk_init(uint64_t base, int quiet)
{
	blk.base = base;
	if (*reg(VCG_BLK_REG_MAGIC) != VCG_BLK_MAGIC) {
		kprintf("vc-guest: no block device at %lx (vc.blk=): ignored\n", base);
		return -ENODEV;
	}
	blk.size = *reg(VCG_BLK_REG_SIZE_LO) | (uint64_t)*reg(VCG_BLK_REG_SIZE_HI) << 32;

	/* Requests (64 x 32 bytes) then completions (64 x 16), 128-byte aligned: one page. */
	uint8_t *page = page_alloc();
	uint64_t comp_off = format_pair(page);
	if (vc_ring_abi_attach(&blk.req, page, comp_off, 1) ||
	    vc_ring_abi_attach(&blk.comp, page + comp_off, 4096 - comp_off, 0))
		panic("block device: cannot attach to the kernel's queue");

	lapic_init();
	/* The kernel's queue may write all of RAM (window length 0). */
	int32_t state = enable_queue(0, (uint64_t)(uintptr_t)page, 0, 0, 0);
	if (state != 1)
		panic("block device: the VMM refused the kernel's queue (%d)", state);
	blk.present = 1;
	if (!quiet)
		kprintf("vc-guest: block device: %lu bytes, queue 0 on vector 0x%x\n", blk.size,
			VEC_BLK);
	return 0;
}

int64_t blk_size(void)
{
	return blk.present ? (int64_t)blk.size : -ENODEV;
}

/* Waits until a completion is there: announce the doze, and if the ring is still empty,
 * halt with interrupts on (`sti; hlt` has no window: the interrupt comes after the
 * `hlt`) until the device's interrupt, which it raises only for a dozing consumer. */
static int wait_completions(void)
{
	for (;;) {
		int n = vc_ring_abi_avail(&blk.comp);
		if (n == 0)
			n = vc_ring_abi_prepare_doze(&blk.comp);
		if (n != 0)
			return n;
		blk.waits++;
		kernel_halt();
		vc_ring_abi_end_doze(&blk.comp);
	}
}

static int64_t read_user(uint64_t offset, uint64_t uva, uint64_t len);

/* The kernel's queue serves one read at a time: its waits let go of the kernel lock, and
 * a task on another CPU may ask meanwhile. */
int64_t blk_read_user(uint64_t offset, uint64_t uva, uint64_t len)
{
	static int busy;
	if (!blk.present)
		return -ENODEV;
	if (offset > blk.size || len > blk.size - offset)
		return -EIO;
	while (busy)
		kernel_halt();
	busy = 1;
	int64_t rc = read_user(offset, uva, len);
	busy = 0;
	smp_wake_others();
	return rc;
}

static int64_t read_user(uint64_t offset, uint64_t uva, uint64_t len)
{
	uint64_t done = 0;
	while (done < len) {
		/* A ring's worth of page pieces, published with one index store. */
		int space = vc_ring_abi_space(&blk.req);
		if (space <= 0)
			panic("block device: the request ring is broken (%d)", space);
		uint32_t n = 0;
		uint64_t at = done;
		uint64_t first_id = blk.next_id;
		while (n < (uint32_t)space && at < len) {
			uint64_t va = uva + at, pa = user_phys_writable(va);
			uint64_t piece = 4096 - (va & 0xfff);
			if (piece > len - at)
				piece = len - at;
			if (!pa)
				return done ? (int64_t)done : -EFAULT;
			struct vcg_blk_req *r = vc_ring_abi_slot(&blk.req, blk.req.own + n);
			*r = (struct vcg_blk_req){.id = blk.next_id++, .offset = offset + at, .gpa = pa,
						  .len = (uint32_t)piece, .op = VCG_BLK_OP_READ};
			at += piece;
			n++;
		}
		if (n == 0)
			break;
		if (vc_ring_abi_publish(&blk.req, n) == 1) {
			*(volatile uint32_t *)(uintptr_t)VCG_BLK_DOORBELL_AT(blk.base, 0) = 1;
			blk.doorbells++;
		}
		/* Completions come in request order, one per request. */
		int failed = 0;
		for (uint32_t got = 0; got < n;) {
			int avail = wait_completions();
			if (avail < 0)
				panic("block device: the completion ring is broken (%d)", avail);
			for (int i = 0; i < avail; i++, got++) {
				const struct vcg_blk_done *d =
					vc_ring_abi_slot(&blk.comp, blk.comp.own + (uint32_t)i);
				if (d->id != first_id + got)
					panic("block device: completion %lu for request %lu", d->id,
					      first_id + got);
				failed |= d->status < 0; /* the disk read failed on the host */
			}
			vc_ring_abi_consume(&blk.comp, (uint32_t)avail);
		}
		if (failed)
			return -EIO;
		done = at;
	}
	return (int64_t)done;
}

int64_t blk_task_queue(uint32_t flags)
{
	unsigned q = (unsigned)task_current_id() + 1;
	if (!blk.present)
		return -ENODEV;
	if (q >= VCG_BLK_QUEUES || task_comp[q])
		return -EBUSY; /* one queue per task, for the first tasks */
	uint8_t *window = page_alloc();
	for (int i = 1; i < USER_BLK_DMA_PAGES; i++)
		if (page_alloc() != window + 4096 * i)
			panic("block device: the task's window is not contiguous");
	uint8_t *page = page_alloc();
	uint64_t comp_off = format_pair(page);
	for (int i = 0; i < USER_BLK_DMA_PAGES; i++)
		task_map(USER_BLK_DMA_VA + 4096ull * i,
			 (uint64_t)(uintptr_t)(window + 4096 * i) | PTE_P | PTE_W | PTE_U | PTE_NX);
	task_map(USER_BLK_RING_VA, (uint64_t)(uintptr_t)page | PTE_P | PTE_W | PTE_U | PTE_NX);
	task_map(USER_BLK_DOORBELL_VA, VCG_BLK_DOORBELL_AT(blk.base, q) | PTE_P | PTE_W | PTE_U | PTE_PCD |
					       PTE_PWT | PTE_NX);
	int32_t state = enable_queue(q, (uint64_t)(uintptr_t)page, (uint64_t)(uintptr_t)window,
				     USER_BLK_DMA_PAGES * 4096u, flags);
	if (state != 1)
		return state < 0 ? state : -EIO;
	task_comp[q] = (struct vc_ring_abi_hdr *)(page + comp_off);
	return (int64_t)(uintptr_t)window;
}

int64_t blk_task_wait(struct trapframe *tf)
{
	unsigned q = (unsigned)task_current_id() + 1;
	struct vc_ring_abi_hdr *h = q < VCG_BLK_QUEUES ? task_comp[q] : NULL;
	if (!h)
		return -ENODEV;
	for (;;) {
		/* The task's doze, announced for it: notify when its next index comes. */
		uint32_t cons = __atomic_load_n(&h->cons_idx, __ATOMIC_RELAXED);
		__atomic_store_n(&h->wake_idx, cons, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_load_n(&h->prod_idx, __ATOMIC_ACQUIRE) != cons)
			return 0;
		if (task_runnable_others()) {
			tf->rax = 0;
			sched_yield_from(tf);
			return 1;
		}
		blk.waits++;
		kernel_halt();
	}
}
