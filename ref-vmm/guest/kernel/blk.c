// SPDX-License-Identifier: MIT
// The block device driver (the contract is guest/abi.h): one queue for the kernel, a
// ring pair in one page, completions on VEC_BLK. A read is cut at page boundaries of
// the task's buffer (the device writes guest-physical memory), its pieces published a
// ring's worth at a time with at most one doorbell, and waited for with `hlt` while the
// completion ring is empty and its doze announced: the device interrupts only then.
#include <virtcore/ring_abi.h>

#include "kernel.h"

#define EIO 5
#define EFAULT 14
#define ENODEV 19
#define SLOTS 64u

static struct {
	int present;
	uint64_t size;
	struct vc_ring_view req, comp;
	uint64_t next_id;
	uint64_t doorbells, waits;
} blk;

static volatile uint32_t *reg(uint32_t r)
{
	return (volatile uint32_t *)(uintptr_t)(VCG_MMIO_BLK + r);
}

int blk_init(int quiet)
{
	if (!console_has_hcall() || *reg(VCG_BLK_REG_MAGIC) != VCG_BLK_MAGIC)
		return -ENODEV; /* not vc-vmm, or no --pack */
	blk.size = *reg(VCG_BLK_REG_SIZE_LO) | (uint64_t)*reg(VCG_BLK_REG_SIZE_HI) << 32;

	/* Requests (64 x 32 bytes) then completions (64 x 16), 128-byte aligned: one page. */
	uint8_t *page = page_alloc();
	uint64_t req_size = vc_ring_abi_size(SLOTS, sizeof(struct vcg_blk_req));
	uint64_t comp_off = (req_size + 127) & ~127ull;
	if (vc_ring_abi_format(page, comp_off, SLOTS, sizeof(struct vcg_blk_req),
			       VC_RING_MODE_EVENT_IDX) ||
	    vc_ring_abi_format(page + comp_off, 4096 - comp_off, SLOTS,
			       sizeof(struct vcg_blk_done), VC_RING_MODE_EVENT_IDX) ||
	    vc_ring_abi_attach(&blk.req, page, comp_off, 1) ||
	    vc_ring_abi_attach(&blk.comp, page + comp_off, 4096 - comp_off, 0))
		panic("block device: the queue does not fit a page");

	lapic_init();
	uint64_t gpa = (uint64_t)(uintptr_t)page;
	*reg(VCG_BLK_REG_QUEUE_SEL) = 0;
	*reg(VCG_BLK_REG_RING_LO) = (uint32_t)gpa;
	*reg(VCG_BLK_REG_RING_HI) = (uint32_t)(gpa >> 32);
	*reg(VCG_BLK_REG_RING_LEN) = 4096;
	*reg(VCG_BLK_REG_DMA_LEN) = 0; /* the kernel's queue may write all of RAM */
	*reg(VCG_BLK_REG_VECTOR) = VEC_BLK;
	*reg(VCG_BLK_REG_DEST) = 0;
	*reg(VCG_BLK_REG_FLAGS) = 0;
	*reg(VCG_BLK_REG_ENABLE) = 1;
	int32_t state = (int32_t)*reg(VCG_BLK_REG_ENABLE);
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
		__asm__ volatile("sti; hlt; cli" ::: "memory");
		vc_ring_abi_end_doze(&blk.comp);
	}
}

int64_t blk_read_user(uint64_t offset, uint64_t uva, uint64_t len)
{
	if (!blk.present)
		return -ENODEV;
	if (offset > blk.size || len > blk.size - offset)
		return -EIO;
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
			*(volatile uint32_t *)(uintptr_t)VCG_BLK_DOORBELL(0) = 1;
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
