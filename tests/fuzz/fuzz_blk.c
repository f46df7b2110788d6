// SPDX-License-Identifier: MIT
// libFuzzer target over vc-vmm's block device (ref-vmm/devices/blk.c) as a hostile guest
// drives it: the input sets the queue's registers (ring place and length, window, flags)
// and fills the guest memory the device reads, either raw (headers, indices, slots all
// the fuzzer's) or over well-formed rings whose request slots, indices and doze words
// it writes. Then the doorbell, the device's I/O thread serving what it finds, and a
// disable. Guest RAM and the disk are exact-size buffers: any access outside them is an
// ASan report; the device must never read or write outside them, hang, or crash, and a
// queue it serves must answer only what was asked.
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <virtcore/ring_abi.h>

#include "guest/abi.h"
#include "fuzz_input.h"
#include "vmm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM (256u << 10)   /* guest RAM at gpa 0 */
#define SLOTS 16u

extern const struct vmm_part blk_part;

/* What blk.c needs from the rest of vc-vmm: the disk, the MMIO bus, messages. */
static int disk_fd = -1;
static uint64_t disk_size;
static mmio_fn mmio;
static void *mmio_opaque;

int vm_pack_disk(const struct vm *vm, int *fd, uint64_t *size)
{
	(void)vm;
	*fd = disk_fd;
	*size = disk_size;
	return 0;
}

int vm_register_mmio(struct vm *vm, uint64_t base, uint64_t len, mmio_fn fn, void *opaque)
{
	(void)vm, (void)base, (void)len;
	mmio = fn;
	mmio_opaque = opaque;
	return 0;
}

void vmm_err(const char *fmt, ...)
{
	(void)fmt;
}

/* The interrupt router is only used with a KVM VM (vm_fd >= 0), which the fuzzer has not. */
int irq_device_add(struct vm *vm, uint32_t id, uint32_t mode, int fd, uint8_t vector)
{
	(void)vm, (void)id, (void)mode, (void)fd, (void)vector;
	abort();
}

int irq_device_remove(struct vm *vm, uint32_t id)
{
	(void)vm, (void)id;
	abort();
}

static void reg_write(uint32_t reg, uint32_t v)
{
	mmio(NULL, mmio_opaque, VCG_MMIO_BLK + reg, true, (uint8_t *)&v, 4);
}

static int32_t reg_read(uint32_t reg)
{
	int32_t v = 0;
	mmio(NULL, mmio_opaque, VCG_MMIO_BLK + reg, false, (uint8_t *)&v, 4);
	return v;
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	if (disk_fd < 0) {
		/* A 192 KiB disk of a known pattern, once: the device only reads it. */
		disk_size = 192u << 10;
		disk_fd = memfd_create("disk", MFD_CLOEXEC);
		uint8_t *d = malloc(disk_size);
		for (uint64_t i = 0; i < disk_size; i++)
			d[i] = (uint8_t)(i * 7);
		if (disk_fd < 0 || pwrite(disk_fd, d, disk_size, 0) != (ssize_t)disk_size)
			abort();
		free(d);
	}
	uint8_t *ram = calloc(1, RAM);
	struct vm vm;
	memset(&vm, 0, sizeof(vm));
	vm.kvm_fd = vm.vm_fd = -1;
	void *state = calloc(1, blk_part.state_size);
	if (!ram || !state || vc_gmem_create(&vm.gmem) || vc_gmem_add(vm.gmem, 0, RAM, ram, 0))
		abort();
	vm.part[PART_BLK] = state;
	if (blk_part.init(&vm, state))
		abort();

	unsigned mode = (unsigned)take(&in, 1);
	uint64_t ring_gpa = (take(&in, 2) % (RAM / 4096 + 2)) * 4096 + (mode & 0x80 ? take(&in, 2) : 0);
	uint32_t ring_len = mode & 0x40 ? (uint32_t)take(&in, 4) : 8192;
	uint64_t dma = take(&in, 3), dma_len = take(&in, 3);
	uint32_t flags = (uint32_t)take(&in, 1), vector = (uint32_t)take(&in, 1);
	uint64_t room = ring_gpa < RAM ? RAM - ring_gpa : 0;
	struct vcg_blk_req sent[SLOTS];
	int overlap = 0; /* a request's buffer covers the rings: the answers may be garbled */

	if ((mode & 3) == 0) {
		/* Raw: the fuzzer's bytes are the ring pair. */
		size_t n = in.n < room ? in.n : room;
		memcpy(ram + ring_gpa, in.p, n);
		in.p += n, in.n -= n;
	} else if (room >= 8192 && ring_gpa % 8 == 0) {
		/* Well-formed rings; the fuzzer writes the requests, the producer index and
		 * the doze words. */
		uint8_t *mem = ram + ring_gpa;
		uint64_t off = (vc_ring_abi_size(SLOTS, sizeof(struct vcg_blk_req)) + 127) & ~127ull;
		uint32_t rmode = mode & 4 ? VC_RING_MODE_FLAG : VC_RING_MODE_EVENT_IDX;
		if (vc_ring_abi_format(mem, off, SLOTS, sizeof(struct vcg_blk_req), rmode) ||
		    vc_ring_abi_format(mem + off, 8192 - off, SLOTS, sizeof(struct vcg_blk_done),
				       rmode))
			abort();
		struct vc_ring_abi_hdr *req = (struct vc_ring_abi_hdr *)mem;
		struct vc_ring_abi_hdr *comp = (struct vc_ring_abi_hdr *)(mem + off);
		for (uint32_t i = 0; i < SLOTS; i++) {
			struct vcg_blk_req r = {
				.id = i,
				.offset = take(&in, 1) & 1 ? take(&in, 8) : take(&in, 3),
				.gpa = take(&in, 1) & 1 ? take(&in, 8) : take(&in, 3),
				.len = (uint32_t)(take(&in, 1) & 1 ? take(&in, 4) : take(&in, 2)),
				.op = take(&in, 1) & 0xf0 ? VCG_BLK_OP_READ : (uint32_t)take(&in, 4),
			};
			memcpy(mem + VC_RING_HDR_SIZE + i * sizeof(r), &r, sizeof(r));
			sent[i] = r;
			overlap |= r.gpa < ring_gpa + 8192 && r.gpa + r.len > ring_gpa;
		}
		uint32_t prod = (uint32_t)take(&in, 1);
		req->prod_idx = mode & 8 ? (uint32_t)take(&in, 4) : prod % (SLOTS + 1);
		if (mode & 16) {
			comp->wake_idx = (uint32_t)take(&in, 4);
			comp->doze_flag = (uint32_t)take(&in, 4);
			req->cons_idx = (uint32_t)take(&in, 4);
		}
	}
	uint32_t q = (uint32_t)take(&in, 1) % VCG_BLK_QUEUES;
	reg_write(VCG_BLK_REG_QUEUE_SEL, q);
	reg_write(VCG_BLK_REG_RING_LO, (uint32_t)ring_gpa);
	reg_write(VCG_BLK_REG_RING_HI, (uint32_t)(ring_gpa >> 32));
	reg_write(VCG_BLK_REG_RING_LEN, ring_len);
	reg_write(VCG_BLK_REG_DMA_LO, (uint32_t)dma);
	reg_write(VCG_BLK_REG_DMA_LEN, (uint32_t)dma_len);
	reg_write(VCG_BLK_REG_FLAGS, flags);
	reg_write(VCG_BLK_REG_VECTOR, vector);
	reg_write(VCG_BLK_REG_ENABLE, 1);
	int32_t state_after = reg_read(VCG_BLK_REG_ENABLE);
	if (state_after == 1) {
		/* The doorbell (it exits here: no ioeventfd), then let the thread serve until
		 * it has taken everything or broken the queue, for at most ~20 ms. */
		mmio(NULL, mmio_opaque, VCG_BLK_DOORBELL(q), true, (uint8_t *)&(uint32_t){1}, 4);
		for (int i = 0; i < 2000 && reg_read(VCG_BLK_REG_ENABLE) == 1; i++) {
			const struct vc_ring_abi_hdr *h = (const struct vc_ring_abi_hdr *)(ram + ring_gpa);
			if (__atomic_load_n(&h->cons_idx, __ATOMIC_ACQUIRE) ==
			    __atomic_load_n(&h->prod_idx, __ATOMIC_ACQUIRE))
				break;
			nanosleep(&(struct timespec){0, 10000}, NULL);
		}
	} else if (state_after != -EINVAL && state_after != -EFAULT && state_after != -EBADMSG &&
		   state_after != -EIO) {
		abort(); /* a refusal is one of the documented three, or it broke at once */
	}
	reg_write(VCG_BLK_REG_ENABLE, 0);
	if (reg_read(VCG_BLK_REG_ENABLE) != 0)
		abort();
	if (state_after == 1 && (mode & 3) != 0 && !(mode & 16) && !overlap &&
	    room >= 8192 && ring_gpa % 8 == 0) {
		/* Well-formed rings the fuzzer did not scribble on: every answer is for the
		 * request of its place, in order, and says the whole length was read. */
		const uint8_t *mem = ram + ring_gpa;
		uint64_t off = (vc_ring_abi_size(SLOTS, sizeof(struct vcg_blk_req)) + 127) & ~127ull;
		const struct vc_ring_abi_hdr *comp = (const struct vc_ring_abi_hdr *)(mem + off);
		uint32_t answered = comp->prod_idx;
		if (answered > SLOTS)
			abort();
		for (uint32_t i = 0; i < answered; i++) {
			struct vcg_blk_done d;
			memcpy(&d, mem + off + VC_RING_HDR_SIZE + i * sizeof(d), sizeof(d));
			if (d.id != i || d.status != (int64_t)sent[i].len)
				abort();
		}
	}
	blk_part.exit(&vm, state);
	free(state);
	vc_gmem_destroy(vm.gmem);
	free(ram);
	return 0;
}
