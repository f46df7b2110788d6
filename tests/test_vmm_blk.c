// SPDX-License-Identifier: MIT
// vc-vmm's block device (ref-vmm/devices/blk.c) without KVM: the test plays the guest
// over the VM's vc_gmem from its own thread, with real rings in guest RAM and the
// device's real eventfds. A doorbell store exits to the device (no ioeventfd here) and
// the device signals the eventfd its I/O thread sleeps on, as KVM would; an interrupt
// is the device writing the queue's irqfd eventfd, which the test reads as KVM would.
// Checks the bytes read against the disk file, the doze protocol's notification counts
// against always-notify, and every hostile layout and request the contract names.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <virtcore/pack.h>
#include <virtcore/ring_abi.h>

#include "../ref-vmm/guest/abi.h"
#include "helpers.h"
#include "vmm_harness.h"

#define RING_GPA 0x100000ull   /* a ring pair: two pages */
#define RING2_GPA 0x102000ull
#define BUF_GPA 0x200000ull    /* read buffers: 2 MiB */
#define BUF_LEN 0x200000ull
#define SLOTS 64u
#define VECTOR 0x30

static struct harness h;
static uint8_t *image[2];
static size_t image_size[2] = {300000, 5000};
static uint64_t image_off[2];
static char disk[PATH_MAX];

static void make_disk(void)
{
	uint64_t seed = 42;
	vc_pack_writer *w;
	th_scratch_begin("blk");
	snprintf(disk, sizeof(disk), "%s", th_path("disk.img"));
	cr_assert_eq(vc_pack_writer_open(&w, disk, NULL), 0);
	for (int i = 0; i < 2; i++) {
		image[i] = malloc(image_size[i]);
		for (size_t k = 0; k < image_size[i]; k++)
			image[i][k] = (uint8_t)th_rand64(&seed);
		char *path = th_path(i ? "two" : "one");
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		cr_assert_eq(write(fd, image[i], image_size[i]), (ssize_t)image_size[i]);
		close(fd);
		cr_assert_eq(vc_pack_writer_add_path(w, NULL, path), 0);
	}
	cr_assert_eq(vc_pack_writer_commit(w), 0);
	vc_pack_writer_close(w);
	vc_pack *p;
	struct vc_pack_image img;
	cr_assert_eq(vc_pack_open(&p, disk), 0);
	for (unsigned i = 0; i < 2; i++) {
		cr_assert_eq(vc_pack_get(&img, p, i), 0);
		image_off[i] = img.offset;
	}
	vc_pack_close(p);
}

static void setup(void)
{
	make_disk();
	harness_create_cfg(&h, &(struct vmm_config){.cmdline = "", .mem = 8 << 20, .ncpus = 1,
						    .pack_path = disk});
}

static void teardown(void)
{
	harness_destroy(&h);
	free(image[0]);
	free(image[1]);
	th_scratch_end();
}

TestSuite(blk, .init = setup, .fini = teardown);

static void *gptr(uint64_t gpa, size_t len)
{
	void *p = vc_gmem_ptr(h.vm.gmem, gpa, len, 1);
	cr_assert_not_null(p);
	return p;
}

static uint32_t reg(uint32_t r)
{
	return (uint32_t)harness_mmio_read(&h, 0, VCG_MMIO_BLK + r, 4);
}

static void set(uint32_t r, uint32_t v)
{
	harness_mmio_write(&h, 0, VCG_MMIO_BLK + r, 4, v);
}

/* The guest's side of one queue: formats the pair at @gpa and enables it. Returns what
 * ENABLE reads afterwards. */
static int enable(unsigned q, uint64_t gpa, uint32_t flags, uint64_t dma, uint64_t dma_len)
{
	void *mem = gptr(gpa, 8192);
	uint64_t req = vc_ring_abi_size(SLOTS, sizeof(struct vcg_blk_req));
	uint64_t off = (req + 127) & ~127ull;
	cr_assert_eq(vc_ring_abi_format(mem, off, SLOTS, sizeof(struct vcg_blk_req),
					VC_RING_MODE_EVENT_IDX), 0);
	cr_assert_eq(vc_ring_abi_format((char *)mem + off, 8192 - off, SLOTS,
					sizeof(struct vcg_blk_done), VC_RING_MODE_EVENT_IDX), 0);
	set(VCG_BLK_REG_QUEUE_SEL, q);
	set(VCG_BLK_REG_RING_LO, (uint32_t)gpa);
	set(VCG_BLK_REG_RING_HI, (uint32_t)(gpa >> 32));
	set(VCG_BLK_REG_RING_LEN, 8192);
	set(VCG_BLK_REG_DMA_LO, (uint32_t)dma);
	set(VCG_BLK_REG_DMA_HI, 0);
	set(VCG_BLK_REG_DMA_LEN, (uint32_t)dma_len);
	set(VCG_BLK_REG_VECTOR, VECTOR);
	set(VCG_BLK_REG_FLAGS, flags);
	set(VCG_BLK_REG_ENABLE, 1);
	return (int)reg(VCG_BLK_REG_ENABLE);
}

struct guest_q {
	unsigned q;
	struct vc_ring_view req, comp;
	int irq_fd;
	bool always; /* ring the doorbell on every publish (the baseline) */
	uint64_t doorbells, interrupts, dozes;
};

static void attach(struct guest_q *g, unsigned q, uint64_t gpa, bool always)
{
	void *mem = gptr(gpa, 8192);
	uint64_t off = (vc_ring_abi_size(SLOTS, sizeof(struct vcg_blk_req)) + 127) & ~127ull;
	int doorbell;
	memset(g, 0, sizeof(*g));
	g->q = q;
	g->always = always;
	cr_assert_eq(vc_ring_abi_attach(&g->req, mem, off, 1), 0);
	cr_assert_eq(vc_ring_abi_attach(&g->comp, (char *)mem + off, 8192 - off, 0), 0);
	cr_assert_eq(blk_queue_eventfds(&h.vm, q, &doorbell, &g->irq_fd), 0);
}

static void submit(struct guest_q *g, const struct vcg_blk_req *r, uint32_t n)
{
	cr_assert_geq(vc_ring_abi_space(&g->req), (int)n);
	for (uint32_t i = 0; i < n; i++)
		memcpy(vc_ring_abi_slot(&g->req, g->req.own + i), &r[i], sizeof(*r));
	if (vc_ring_abi_publish(&g->req, n) == 1 || g->always) {
		harness_mmio_write(&h, 0, VCG_BLK_DOORBELL(g->q), 4, 1);
		g->doorbells++;
	}
}

/* Takes @n completions, dozing (and waiting for the interrupt) whenever none is there. */
static void reap(struct guest_q *g, struct vcg_blk_done *out, uint32_t n)
{
	uint32_t got = 0;
	while (got < n) {
		int avail = vc_ring_abi_avail(&g->comp);
		cr_assert_geq(avail, 0);
		if (avail == 0 && (avail = vc_ring_abi_prepare_doze(&g->comp)) == 0) {
			g->dozes++;
			struct pollfd p = {g->irq_fd, POLLIN, 0};
			cr_assert_eq(poll(&p, 1, 5000), 1, "no completion interrupt in 5 s");
			eventfd_t v;
			eventfd_read(g->irq_fd, &v);
			g->interrupts += v;
			vc_ring_abi_end_doze(&g->comp);
			continue;
		}
		cr_assert_geq(avail, 0);
		for (int i = 0; i < avail && got < n; i++, got++)
			memcpy(&out[got], vc_ring_abi_slot(&g->comp, g->comp.own + (uint32_t)i),
			       sizeof(*out));
		vc_ring_abi_consume(&g->comp, (uint32_t)avail);
	}
}

Test(blk, describes_the_disk)
{
	struct stat st;
	cr_assert_eq(stat(disk, &st), 0);
	cr_assert_eq(reg(VCG_BLK_REG_MAGIC), VCG_BLK_MAGIC);
	cr_assert_eq(reg(VCG_BLK_REG_SIZE_LO) | (uint64_t)reg(VCG_BLK_REG_SIZE_HI) << 32,
		     (uint64_t)st.st_size);
	cr_assert_eq(reg(VCG_BLK_REG_MAX_IO), VCG_BLK_MAX_IO);
	cr_assert_eq(reg(VCG_BLK_REG_QUEUES), VCG_BLK_QUEUES);
	set(VCG_BLK_REG_QUEUE_SEL, 3);
	cr_assert_eq(reg(VCG_BLK_REG_ENABLE), 0);
}

/* Reads both images in 4 KiB requests, @depth at a time; counts requests and batches. */
static void read_images(struct guest_q *g, uint32_t depth, uint64_t *requests,
			uint64_t *batches)
{
	struct vcg_blk_req r[SLOTS];
	struct vcg_blk_done d[SLOTS];
	uint64_t id = 0;
	*requests = *batches = 0;
	memset(gptr(BUF_GPA, BUF_LEN), 0, BUF_LEN);
	for (int i = 0; i < 2; i++) {
		for (uint64_t at = 0; at < image_size[i];) {
			uint32_t n = 0;
			for (; n < depth && at < image_size[i]; n++) {
				uint32_t len = image_size[i] - at < 4096 ? (uint32_t)(image_size[i] - at) : 4096;
				r[n] = (struct vcg_blk_req){.id = ++id, .offset = image_off[i] + at,
							    .gpa = BUF_GPA + at, .len = len,
							    .op = VCG_BLK_OP_READ};
				at += len;
			}
			submit(g, r, n);
			reap(g, d, n);
			for (uint32_t k = 0; k < n; k++) {
				cr_assert_eq(d[k].id, r[k].id, "completions come in request order");
				cr_assert_eq(d[k].status, r[k].len);
			}
			*requests += n;
			*batches += 1;
		}
		cr_assert_eq(memcmp(gptr(BUF_GPA, image_size[i]), image[i], image_size[i]), 0,
			     "image %d read back differs", i);
	}
}

Test(blk, reads_the_images_and_notifies_only_a_dozing_side)
{
	struct guest_q doze, always;
	uint64_t n_doze, n_always, b_doze, b_always;
	struct blk_queue_stats s;

	cr_assert_eq(enable(0, RING_GPA, 0, 0, 0), 1);
	attach(&doze, 0, RING_GPA, false);
	read_images(&doze, 16, &n_doze, &b_doze);
	cr_assert_eq(enable(1, RING2_GPA, VCG_BLK_F_ALWAYS_NOTIFY, BUF_GPA, BUF_LEN), 1);
	attach(&always, 1, RING2_GPA, true);
	read_images(&always, 16, &n_always, &b_always);
	cr_assert_eq(n_doze, n_always);

	/* Doze: a doorbell at most once per batch of 16 (none when the device's thread is
	 * still spinning) and an interrupt at most once per doze of ours (how many dozes
	 * there are depends on timing); always-notify: a doorbell per batch and an
	 * interrupt per completion. */
	cr_log_info("doze: %llu requests, %llu doorbells, %llu interrupts; always: %llu "
		    "doorbells, %llu interrupts", (unsigned long long)n_doze,
		    (unsigned long long)doze.doorbells, (unsigned long long)doze.interrupts,
		    (unsigned long long)always.doorbells, (unsigned long long)always.interrupts);
	cr_assert_leq(doze.doorbells, b_doze);
	cr_assert_leq(doze.interrupts, doze.dozes, "an interrupt without a doze");
	cr_assert_eq(always.doorbells, b_always);
	set(VCG_BLK_REG_QUEUE_SEL, 1);
	set(VCG_BLK_REG_ENABLE, 0); /* the thread ends: its ring counters are final */
	cr_assert_eq(blk_queue_get_stats(&h.vm, 1, &s), 0);
	cr_assert_eq(s.requests, n_always);
	cr_assert_eq(s.suppressed, 0, "always-notify suppresses nothing");
	cr_assert_eq(s.interrupts, s.requests, "an interrupt per completion");
	cr_assert_eq(reg(VCG_BLK_REG_ENABLE), 0);
	set(VCG_BLK_REG_QUEUE_SEL, 0);
	set(VCG_BLK_REG_ENABLE, 0);
	cr_assert_eq(blk_queue_get_stats(&h.vm, 0, &s), 0);
	cr_assert_eq(s.requests, n_doze);
	cr_assert_eq(s.bytes, image_size[0] + image_size[1]);
	cr_assert_eq(s.interrupts + s.suppressed, s.requests, "one decision per completion");
	eventfd_t late = 0;
	eventfd_read(doze.irq_fd, &late); /* one may come after our last wait */
	cr_assert_eq(s.interrupts, doze.interrupts + late, "the device's count is what came");
}

/* #26: vc-vmm verifies the disk and gives the guest the same bytes. Before, the modules
 * came from a MAP_PRIVATE mapping of the file and the block device from the file itself:
 * an in-place edit after the check reached the guest, a truncation killed vc-vmm. */
Test(blk, the_guest_gets_the_verified_bytes_whatever_happens_to_the_file)
{
	struct guest_q q;
	uint64_t requests, batches;
	int fd = open(disk, O_WRONLY);
	cr_assert_geq(fd, 0);
	uint8_t junk[4096];
	memset(junk, 0xa5, sizeof(junk));
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pwrite(fd, junk, sizeof(junk), (off_t)image_off[i]), (ssize_t)sizeof(junk));
	cr_assert_eq(ftruncate(fd, (off_t)image_off[0] + 8192), 0);
	close(fd);

	for (unsigned i = 0; i < 2; i++) {
		cr_assert_eq(h.vm.mods[i].size, image_size[i]);
		cr_assert_eq(memcmp(h.vm.mods[i].data, image[i], image_size[i]), 0,
			     "boot module %u is not the verified image", i);
	}
	cr_assert_eq(enable(0, RING_GPA, 0, 0, 0), 1);
	attach(&q, 0, RING_GPA, false);
	read_images(&q, 16, &requests, &batches); /* compares with the originals */
	set(VCG_BLK_REG_QUEUE_SEL, 0);
	set(VCG_BLK_REG_ENABLE, 0);
}

Test(blk, refuses_hostile_ring_layouts_and_keeps_running)
{
	/* not page-aligned, outside RAM, too long, a bad vector */
	set(VCG_BLK_REG_QUEUE_SEL, 2);
	set(VCG_BLK_REG_RING_LO, 0x100800);
	set(VCG_BLK_REG_RING_HI, 0);
	set(VCG_BLK_REG_RING_LEN, 8192);
	set(VCG_BLK_REG_ENABLE, 1);
	cr_assert_eq((int)reg(VCG_BLK_REG_ENABLE), -EINVAL);
	set(VCG_BLK_REG_RING_LO, 0x7ff000); /* the last page of 8 MiB: runs past RAM */
	set(VCG_BLK_REG_ENABLE, 1);
	cr_assert_eq((int)reg(VCG_BLK_REG_ENABLE), -EFAULT);
	set(VCG_BLK_REG_RING_LO, 0x100000);
	set(VCG_BLK_REG_RING_LEN, VCG_BLK_RING_MAX + 4096);
	set(VCG_BLK_REG_ENABLE, 1);
	cr_assert_eq((int)reg(VCG_BLK_REG_ENABLE), -EINVAL);
	/* no ring there (zeroed memory), then a ring with the wrong slot size */
	memset(gptr(RING_GPA, 8192), 0, 8192);
	set(VCG_BLK_REG_RING_LEN, 8192);
	set(VCG_BLK_REG_ENABLE, 1);
	cr_assert_eq((int)reg(VCG_BLK_REG_ENABLE), -EBADMSG);
	void *mem = gptr(RING_GPA, 8192);
	cr_assert_eq(vc_ring_abi_format(mem, 2048, 32, 48, VC_RING_MODE_EVENT_IDX), 0);
	cr_assert_eq(vc_ring_abi_format((char *)mem + 2048, 4096, 32, 16, VC_RING_MODE_EVENT_IDX), 0);
	set(VCG_BLK_REG_ENABLE, 1);
	cr_assert_eq((int)reg(VCG_BLK_REG_ENABLE), -EINVAL);
	set(VCG_BLK_REG_VECTOR, 7);
	cr_assert_eq(enable(2, RING_GPA, 0, 0, 0), 1, "a good layout after bad ones is served");
	set(VCG_BLK_REG_VECTOR, 7);
	set(VCG_BLK_REG_ENABLE, 1);
	cr_assert_eq((int)reg(VCG_BLK_REG_ENABLE), -EINVAL, "vector 7 is an exception's");
}

/* One hostile request on queue 0: the queue breaks (-EIO), nothing is answered, and
 * queue 1 still serves. */
static void hostile(struct vcg_blk_req bad, const char *what)
{
	struct guest_q g, ok;
	struct vcg_blk_req good = {.id = 1, .offset = image_off[1], .gpa = BUF_GPA, .len = 4096,
				   .op = VCG_BLK_OP_READ};
	struct vcg_blk_done d;
	cr_assert_eq(enable(0, RING_GPA, 0, BUF_GPA, BUF_LEN), 1);
	attach(&g, 0, RING_GPA, false);
	submit(&g, &good, 1);
	reap(&g, &d, 1);
	cr_assert_eq(d.status, 4096);
	submit(&g, &bad, 1);
	set(VCG_BLK_REG_QUEUE_SEL, 0);
	for (int i = 0; i < 500 && (int)reg(VCG_BLK_REG_ENABLE) == 1; i++)
		usleep(1000);
	cr_assert_eq((int)reg(VCG_BLK_REG_ENABLE), -EIO, "%s: the queue still serves", what);
	cr_assert_eq(vc_ring_abi_avail(&g.comp), 0, "%s: answered", what);
	submit(&g, &good, 1); /* nothing more is answered */
	usleep(20000);
	cr_assert_eq(vc_ring_abi_avail(&g.comp), 0, "%s: a broken queue answered", what);
	cr_assert_eq(enable(1, RING2_GPA, 0, 0, 0), 1);
	attach(&ok, 1, RING2_GPA, false);
	submit(&ok, &good, 1);
	reap(&ok, &d, 1);
	cr_assert_eq(d.status, 4096, "%s: the other queue stopped serving", what);
}

Test(blk, a_request_past_the_disk_breaks_the_queue)
{
	struct stat st;
	cr_assert_eq(stat(disk, &st), 0);
	hostile((struct vcg_blk_req){.id = 2, .offset = (uint64_t)st.st_size - 100,
				     .gpa = BUF_GPA, .len = 4096, .op = VCG_BLK_OP_READ},
		"past the disk");
}

Test(blk, a_wrapping_offset_breaks_the_queue)
{
	hostile((struct vcg_blk_req){.id = 2, .offset = UINT64_MAX - 100, .gpa = BUF_GPA,
				     .len = 4096, .op = VCG_BLK_OP_READ}, "wrapping offset");
}

Test(blk, a_write_outside_the_window_breaks_the_queue)
{
	hostile((struct vcg_blk_req){.id = 2, .offset = 0, .gpa = BUF_GPA - 4096, .len = 4096,
				     .op = VCG_BLK_OP_READ}, "outside the window");
}

Test(blk, a_wrapping_buffer_breaks_the_queue)
{
	hostile((struct vcg_blk_req){.id = 2, .offset = 0, .gpa = UINT64_MAX - 100, .len = 4096,
				     .op = VCG_BLK_OP_READ}, "wrapping buffer");
}

Test(blk, bad_lengths_and_ops_break_the_queue)
{
	hostile((struct vcg_blk_req){.id = 2, .offset = 0, .gpa = BUF_GPA, .len = 0,
				     .op = VCG_BLK_OP_READ}, "empty");
}

Test(blk, a_long_request_breaks_the_queue)
{
	hostile((struct vcg_blk_req){.id = 2, .offset = 0, .gpa = BUF_GPA,
				     .len = VCG_BLK_MAX_IO + 1, .op = VCG_BLK_OP_READ}, "too long");
}

Test(blk, a_write_request_breaks_the_queue)
{
	hostile((struct vcg_blk_req){.id = 2, .offset = 0, .gpa = BUF_GPA, .len = 512, .op = 2},
		"a write");
}

Test(blk, impossible_indices_break_the_queue)
{
	struct guest_q g, ok;
	struct vcg_blk_done d;
	struct vcg_blk_req good = {.id = 1, .offset = image_off[1], .gpa = BUF_GPA, .len = 4096,
				   .op = VCG_BLK_OP_READ};
	cr_assert_eq(enable(0, RING_GPA, 0, 0, 0), 1);
	attach(&g, 0, RING_GPA, false);
	/* The guest claims 1,000 requests in a 64-slot ring, and rings. */
	__atomic_store_n(&g.req.hdr->prod_idx, g.req.own + 1000, __ATOMIC_RELEASE);
	harness_mmio_write(&h, 0, VCG_BLK_DOORBELL(0), 4, 1);
	set(VCG_BLK_REG_QUEUE_SEL, 0);
	for (int i = 0; i < 500 && (int)reg(VCG_BLK_REG_ENABLE) == 1; i++)
		usleep(1000);
	cr_assert_eq((int)reg(VCG_BLK_REG_ENABLE), -EIO);
	/* the doze word scribbled on queue 1 costs that queue at most a notification */
	cr_assert_eq(enable(1, RING2_GPA, 0, 0, 0), 1);
	attach(&ok, 1, RING2_GPA, false);
	__atomic_store_n(&ok.comp.hdr->wake_idx, 0xdeadbeef, __ATOMIC_RELAXED);
	__atomic_store_n(&ok.comp.hdr->doze_flag, 77, __ATOMIC_RELAXED);
	submit(&ok, &good, 1);
	reap(&ok, &d, 1);
	cr_assert_eq(d.status, 4096);
	cr_assert_eq(memcmp(gptr(BUF_GPA, 4096), image[1], 4096), 0);
}

Test(blk, without_a_disk_the_device_says_so)
{
	struct harness bare;
	harness_destroy(&h); /* one harness at a time: the console is per process */
	harness_create(&bare, 8 << 20, 1);
	cr_assert_eq(harness_mmio_read(&bare, 0, VCG_MMIO_BLK + VCG_BLK_REG_MAGIC, 4), 0);
	harness_mmio_write(&bare, 0, VCG_MMIO_BLK + VCG_BLK_REG_ENABLE, 4, 1);
	cr_assert_eq((int)harness_mmio_read(&bare, 0, VCG_MMIO_BLK + VCG_BLK_REG_ENABLE, 4),
		     -ENODEV);
	harness_destroy(&bare);
	harness_create(&h, 8 << 20, 1); /* for teardown */
}
