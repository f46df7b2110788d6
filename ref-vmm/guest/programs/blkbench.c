// SPDX-License-Identifier: MIT
// blkbench:MODE/SIZE/DEPTH/MIB[/check] — reads MIB MiB of the disk, from its data area
// (past the 1 MiB index), in SIZE-byte requests with DEPTH in flight, from this CPL3 task:
//   ring    its own queue, requests straight into the ring, doze on both sides;
//   always  the same queue with a doorbell on every submit and an interrupt on every
//           completion (the baseline the doze flag is measured against);
//   hcall   one synchronous VCG_HC_BLK_READ hypercall per request through the task's
//           doorbell (one exit each; DEPTH is ignored).
// MIB 0 sets the queue up and reads nothing (the VMM's exits for that are the baseline
// a benchmark subtracts). With `check` the buffers never overlap while in flight and an FNV-1a of the bytes, in
// disk order, is printed (a test compares it with the host's). Prints one line:
// "blkbench: MODE SIZE DEPTH: R requests, B bytes, T tsc, D doorbells, W waits, fnv H".
#include "../user/ulib.h"

#define WINDOW (USER_BLK_DMA_PAGES * 4096ull)

static uint64_t fnv = 0xcbf29ce484222325ull;

static void fnv_add(const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		fnv = (fnv ^ p[i]) * 0x100000001b3ull;
}

static long field(const char **s)
{
	long v = 0;
	while (**s >= '0' && **s <= '9')
		v = v * 10 + (*(*s)++ - '0');
	if (**s == '/')
		(*s)++;
	return v;
}

static int is(const char *s, uint64_t len, const char *word)
{
	if (strlen(word) != len)
		return 0;
	for (uint64_t i = 0; i < len; i++)
		if (s[i] != word[i])
			return 0;
	return 1;
}

static int64_t hcall_read(uint64_t offset, uint64_t gpa, uint64_t len)
{
	volatile struct vcg_hcall *b = (volatile struct vcg_hcall *)USER_HCALL_VA;
	b->nr = VCG_HC_BLK_READ;
	b->args[0] = offset;
	b->args[1] = gpa;
	b->args[2] = len;
	b->ret = -38;
	*(volatile uint32_t *)USER_DOORBELL_VA = (uint32_t)hcall_gpa;
	return b->ret;
}

int main(void)
{
	const char *a = arg(), *mode = a;
	while (*a && *a != '/')
		a++;
	uint64_t mlen = (uint64_t)(a - mode);
	if (*a)
		a++;
	uint64_t size = (uint64_t)field(&a), depth = (uint64_t)field(&a);
	uint64_t total = (uint64_t)field(&a) << 20;
	int check = a[0] == 'c';
	int hcall = is(mode, mlen, "hcall"), always = is(mode, mlen, "always");
	long disk = disk_size();
	uint64_t data = 1 << 20, span = disk > (long)data ? (uint64_t)disk - data : 0;

	if (disk < 0 || !(hcall || always || is(mode, mlen, "ring")) || !size || size > WINDOW || WINDOW % size || !depth || depth > 64 ||
	    !span || (check && depth * size > WINDOW)) {
		printf("blkbench: usage blkbench:ring|always|hcall/SIZE/DEPTH/MIB[/check] (disk %ld)\n",
		       disk);
		return 2;
	}
	span -= span % size;
	struct blkq q;
	int rc = blkq_open(&q, always ? VCG_BLK_F_ALWAYS_NOTIFY : 0);
	if (rc) {
		printf("blkbench: no queue of our own (%d)\n", rc);
		return 1;
	}
	const uint8_t *window = (const uint8_t *)USER_BLK_DMA_VA;
	uint64_t n = total / size, sent = 0, done = 0;
	uint64_t t0 = rdtsc();
	if (hcall) {
		for (; done < n; done++) {
			uint64_t off = data + (done * size) % span, buf = (done * size) % WINDOW;
			if (hcall_read(off, q.window_gpa + buf, size) != (int64_t)size) {
				printf("blkbench: hypercall read %lu failed\n", (unsigned long)done);
				return 1;
			}
			if (check)
				fnv_add(window + buf, size);
		}
	} else {
		struct vcg_blk_req r[64];
		struct vcg_blk_done d[64];
		while (done < n) {
			uint32_t k = 0;
			for (; sent + k < n && sent + k - done < depth; k++) {
				uint64_t i = sent + k;
				r[k] = (struct vcg_blk_req){.id = i, .offset = data + (i * size) % span,
							    .gpa = q.window_gpa + (i * size) % WINDOW,
							    .len = (uint32_t)size, .op = VCG_BLK_OP_READ};
			}
			sent += blkq_submit(&q, r, k);
			/* Wait only when nothing more may be sent. */
			int got = blkq_reap(&q, d, 64, sent - done == depth || sent == n);
			if (got < 0) {
				printf("blkbench: the queue broke (%d)\n", got);
				return 1;
			}
			for (int i = 0; i < got; i++, done++) {
				if (d[i].id != done || d[i].status != (int64_t)size) {
					printf("blkbench: request %lu: status %ld\n", (unsigned long)d[i].id,
					       (long)d[i].status);
					return 1;
				}
				if (check)
					fnv_add(window + (done * size) % WINDOW, size);
			}
		}
	}
	uint64_t t1 = rdtsc();
	printf("blkbench: %s %lu %lu: %lu requests, %lu bytes, %lu tsc, %lu doorbells, %lu waits, "
	       "fnv %016lx\n", hcall ? "hcall" : always ? "always" : "ring", (unsigned long)size,
	       (unsigned long)depth, (unsigned long)n, (unsigned long)(n * size),
	       (unsigned long)(t1 - t0), (unsigned long)q.doorbells, (unsigned long)q.waits,
	       (unsigned long)fnv);
	return 0;
}
