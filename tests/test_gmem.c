// SPDX-License-Identifier: MIT
// Tests of the guest memory map: bounds at every edge, spanning copies, read-only
// regions, overlap refusal, and a randomized comparison with a flat model.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <virtcore/gmem.h>

#include "helpers.h"

static vc_gmem *gm;
static unsigned char low[4096], high[8192], rom[4096];

static void setup(void)
{
	cr_assert_eq(vc_gmem_create(&gm), 0);
	for (size_t i = 0; i < sizeof(low); i++)
		low[i] = (unsigned char)i;
	memset(high, 0xaa, sizeof(high));
	memset(rom, 0x55, sizeof(rom));
	/* [0x1000, 0x2000) low, [0x2000, 0x4000) high (adjacent), hole, rom at 0x10000. */
	cr_assert_eq(vc_gmem_add(gm, 0x1000, sizeof(low), low, 0), 0);
	cr_assert_eq(vc_gmem_add(gm, 0x10000, sizeof(rom), rom, VC_GMEM_READONLY), 0);
	cr_assert_eq(vc_gmem_add(gm, 0x2000, sizeof(high), high, 0), 0);
}

static void teardown(void)
{
	vc_gmem_destroy(gm);
	gm = NULL;
}

TestSuite(gmem, .init = setup, .fini = teardown);

Test(gmem, regions_sorted)
{
	struct vc_gmem_region_info info;

	cr_assert_eq(vc_gmem_region_count(gm), 3);
	cr_assert_eq(vc_gmem_region(&info, gm, 0), 0);
	cr_assert_eq(info.gpa, 0x1000);
	cr_assert_eq(vc_gmem_region(&info, gm, 1), 0);
	cr_assert_eq(info.gpa, 0x2000);
	cr_assert_eq(info.hva, high);
	cr_assert_eq(vc_gmem_region(&info, gm, 2), 0);
	cr_assert_eq(info.flags, VC_GMEM_READONLY);
	cr_assert_eq(vc_gmem_region(&info, gm, 3), -ENOENT);
}

Test(gmem, ptr_bounds)
{
	cr_assert_eq(vc_gmem_ptr(gm, 0x1000, 1, 0), low);
	cr_assert_eq(vc_gmem_ptr(gm, 0x1fff, 1, 0), low + 4095);
	cr_assert_null(vc_gmem_ptr(gm, 0x1fff, 2, 0), "crosses into another region");
	cr_assert_null(vc_gmem_ptr(gm, 0xfff, 1, 0));
	cr_assert_eq(vc_gmem_ptr(gm, 0x3fff, 1, 0), high + 8191);
	cr_assert_null(vc_gmem_ptr(gm, 0x4000, 1, 0));
	cr_assert_null(vc_gmem_ptr(gm, 0x1000, SIZE_MAX, 0));
	cr_assert_null(vc_gmem_ptr(gm, UINT64_MAX, 1, 0));
	cr_assert_eq(vc_gmem_ptr(gm, 0x10000, 4096, 0), rom);
	cr_assert_null(vc_gmem_ptr(gm, 0x10000, 1, 1), "read-only region handed out writable");
}

Test(gmem, copies_span_adjacent_regions)
{
	unsigned char buf[16];

	cr_assert_eq(vc_gmem_read(gm, 0x1ff8, buf, sizeof(buf)), 0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(buf[i], (unsigned char)(0xff8 + i));
	for (int i = 8; i < 16; i++)
		cr_assert_eq(buf[i], 0xaa);
	memset(buf, 0x11, sizeof(buf));
	cr_assert_eq(vc_gmem_write(gm, 0x1ffc, buf, 8), 0);
	cr_assert_eq(low[4095], 0x11);
	cr_assert_eq(high[3], 0x11);
	cr_assert_eq(high[4], 0xaa);
}

Test(gmem, failed_copy_changes_nothing)
{
	unsigned char buf[32];

	memset(buf, 0x77, sizeof(buf));
	/* Runs off the end of high into the hole: nothing may be written. */
	cr_assert_eq(vc_gmem_write(gm, 0x3ff0, buf, sizeof(buf)), -EFAULT);
	for (int i = 8192 - 16; i < 8192; i++)
		cr_assert_eq(high[i], 0xaa);
	cr_assert_eq(vc_gmem_write(gm, 0x10000, buf, 1), -EACCES);
	cr_assert_eq(rom[0], 0x55);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(vc_gmem_read(gm, 0x3ff0, buf, sizeof(buf)), -EFAULT);
	cr_assert_eq(vc_gmem_read(gm, UINT64_MAX - 3, buf, 8), -EFAULT, "wrap-around");
	cr_assert_eq(vc_gmem_read(gm, 0x10000, buf, 4), 0);
	cr_assert_eq(buf[0], 0x55);
	cr_assert_eq(vc_gmem_read(gm, 0x1000, NULL, 4), -EINVAL);
}

Test(gmem, add_refuses_overlap_and_bad_args)
{
	static unsigned char other[4096];

	cr_assert_eq(vc_gmem_add(gm, 0x1800, 0x1000, other, 0), -EEXIST);
	cr_assert_eq(vc_gmem_add(gm, 0x0, 0x1001, other, 0), -EEXIST);
	cr_assert_eq(vc_gmem_add(gm, 0x3fff, 2, other, 0), -EEXIST);
	cr_assert_eq(vc_gmem_add(gm, 0x0, 0x1000, other, 0), 0, "exactly adjacent below is fine");
	cr_assert_eq(vc_gmem_add(gm, 0x5000, 0, other, 0), -EINVAL);
	cr_assert_eq(vc_gmem_add(gm, 0x5000, 16, NULL, 0), -EINVAL);
	cr_assert_eq(vc_gmem_add(gm, 0x5000, 16, other, 0x80), -EINVAL);
	cr_assert_eq(vc_gmem_add(gm, UINT64_MAX - 7, 16, other, 0), -EINVAL);
	cr_assert_eq(vc_gmem_add(gm, UINT64_MAX - 15, 16, other, 0), 0, "ends exactly at 2^64");
	cr_assert_eq(vc_gmem_ptr(gm, UINT64_MAX, 1, 1), other + 15);
	cr_assert_eq(vc_gmem_remove(gm, 0x1001), -ENOENT);
	cr_assert_eq(vc_gmem_remove(gm, 0x1000), 0);
	cr_assert_null(vc_gmem_ptr(gm, 0x1000, 1, 0));
	cr_assert_eq(vc_gmem_region_count(gm), 4);
}

/* Random regions over a small guest space, checked byte by byte against a flat model. */
Test(gmem, random_against_model, .init = NULL, .fini = NULL)
{
	enum { SPACE = 1 << 16 };
	static unsigned char model_owner[SPACE]; /* 0 = hole, else region index + 1 */
	uint64_t seed = 42;

	for (int round = 0; round < 50; round++) {
		vc_gmem *m;
		unsigned char *backing[16] = {0};
		uint64_t base[16];
		int n = 0;

		cr_assert_eq(vc_gmem_create(&m), 0);
		memset(model_owner, 0, sizeof(model_owner));
		for (int tries = 0; tries < 40 && n < 16; tries++) {
			uint64_t b = th_rand64(&seed) % SPACE, s = 1 + th_rand64(&seed) % 4096;
			if (b + s > SPACE)
				continue;
			int free_range = 1;
			for (uint64_t a = b; a < b + s; a++)
				free_range &= model_owner[a] == 0;
			unsigned char *mem = malloc(s);
			int rc = vc_gmem_add(m, b, s, mem, 0);
			cr_assert_eq(rc, free_range ? 0 : -EEXIST, "add [%lu,+%lu)", (unsigned long)b,
				     (unsigned long)s);
			if (rc) {
				free(mem);
				continue;
			}
			for (uint64_t a = b; a < b + s; a++)
				model_owner[a] = (unsigned char)(n + 1);
			backing[n] = mem;
			base[n] = b;
			n++;
		}
		for (int q = 0; q < 2000; q++) {
			uint64_t a = th_rand64(&seed) % SPACE;
			size_t len = 1 + th_rand64(&seed) % 64;
			int owner = model_owner[a];
			int inside = owner != 0 && a + len <= SPACE;
			for (size_t k = 0; inside && k < len; k++)
				inside = model_owner[a + k] == owner;
			void *p = vc_gmem_ptr(m, a, len, 1);
			if (inside)
				cr_assert_eq(p, backing[owner - 1] + (a - base[owner - 1]));
			else
				cr_assert_null(p);
			int mapped = a + len <= SPACE;
			for (size_t k = 0; mapped && k < len; k++)
				mapped = model_owner[a + k] != 0;
			unsigned char buf[64];
			cr_assert_eq(vc_gmem_read(m, a, buf, len), mapped ? 0 : -EFAULT);
		}
		for (int i = 0; i < n; i++)
			free(backing[i]);
		vc_gmem_destroy(m);
	}
}

/* The bitmap of region @index after a harvest, as one word (the test regions are small). */
static uint64_t harvest_word(unsigned index)
{
	uint64_t bits[4] = {0};
	cr_assert_geq(vc_gmem_dirty_harvest(gm, bits, 4, index), 0);
	return bits[0];
}

Test(gmem, dirty_tracking_marks_every_write_path)
{
	uint8_t b = 1;
	/* Off: writes leave no marks, and a harvest only counts the caller's bits. */
	cr_assert_eq(vc_gmem_write(gm, 0x1000, &b, 1), 0);
	cr_assert_eq(vc_gmem_dirty_tracking(gm), 0);
	cr_assert_eq(harvest_word(0), 0);

	cr_assert_eq(vc_gmem_dirty_enable(gm), 0);
	cr_assert_eq(vc_gmem_dirty_enable(gm), 0, "enabling twice is harmless");
	cr_assert_eq(vc_gmem_dirty_tracking(gm), 1);
	/* A write spanning low's last byte and high's first two pages. */
	uint8_t buf[4098] = {0};
	cr_assert_eq(vc_gmem_write(gm, 0x1fff, buf, sizeof(buf)), 0);
	cr_assert_eq(harvest_word(0), 1, "low: its one page");
	cr_assert_eq(harvest_word(1), 3, "high: pages 0 and 1");
	cr_assert_eq(harvest_word(1), 0, "a harvest clears what it took");
	/* A writable lookup marks; a read-only one does not. */
	cr_assert_not_null(vc_gmem_ptr(gm, 0x3000, 16, 1));
	cr_assert_not_null(vc_gmem_ptr(gm, 0x2000, 16, 0));
	cr_assert_eq(harvest_word(1), 2);
	/* Reads never mark. */
	cr_assert_eq(vc_gmem_read(gm, 0x2000, buf, 64), 0);
	cr_assert_eq(harvest_word(1), 0);
	/* Explicit marks, across regions; a range partly unmapped marks nothing. */
	cr_assert_eq(vc_gmem_mark_dirty(gm, 0x1800, 0x1000), 0);
	cr_assert_eq(vc_gmem_mark_dirty(gm, 0x3800, 0x1000), -EFAULT);
	cr_assert_eq(harvest_word(0), 1);
	cr_assert_eq(harvest_word(1), 1, "only the first range's page of high");
	/* A failed write marks nothing. */
	cr_assert_eq(vc_gmem_write(gm, 0x10000, &b, 1), -EACCES);
	cr_assert_eq(vc_gmem_write(gm, 0x3fff, buf, 2), -EFAULT);
	cr_assert_eq(harvest_word(1), 0);
	cr_assert_eq(harvest_word(2), 0);
}

Test(gmem, dirty_harvest_is_the_union_with_the_callers_bits)
{
	cr_assert_eq(vc_gmem_dirty_enable(gm), 0);
	uint8_t b = 7;
	cr_assert_eq(vc_gmem_write(gm, 0x3000, &b, 1), 0);
	uint64_t bits[1] = {1}; /* page 0 from the hypervisor's log */
	cr_assert_eq(vc_gmem_dirty_harvest(gm, bits, 1, 1), 2, "two dirty pages in the union");
	cr_assert_eq(bits[0], 3);
	/* A region added after enabling is tracked too; a removed one frees its bitmap. */
	static unsigned char more[3 * 4096];
	cr_assert_eq(vc_gmem_add(gm, 0x20000, sizeof(more), more, 0), 0);
	cr_assert_eq(vc_gmem_write(gm, 0x22000, &b, 1), 0);
	cr_assert_eq(harvest_word(3), 4);
	cr_assert_eq(vc_gmem_remove(gm, 0x20000), 0);
}

Test(gmem, dirty_harvest_refuses_bad_arguments)
{
	uint64_t bits[1] = {0};
	cr_assert_eq(vc_gmem_dirty_enable(gm), 0);
	cr_assert_eq(vc_gmem_dirty_harvest(gm, bits, 1, 9), -ENOENT);
	cr_assert_eq(vc_gmem_dirty_harvest(gm, NULL, 1, 0), -EINVAL);
	cr_assert_eq(vc_gmem_dirty_harvest(gm, bits, 0, 0), -EINVAL, "too small: refused");
	cr_assert_eq(vc_gmem_dirty_harvest(NULL, bits, 1, 0), -EINVAL);
	cr_assert_eq(vc_gmem_dirty_enable(NULL), -EINVAL);
	cr_assert_eq(vc_gmem_mark_dirty(NULL, 0, 1), -EINVAL);
	cr_assert_eq(vc_gmem_mark_dirty(gm, UINT64_MAX, 2), -EFAULT, "wraps around 2^64");
	cr_assert_eq(vc_gmem_dirty_tracking(NULL), 0);
}

/* Writers on two threads and a harvester: no mark is ever lost. */
#include <pthread.h>
#include <stdatomic.h>
static atomic_int stop_writers;
static void *writer(void *arg)
{
	uintptr_t page = (uintptr_t)arg;
	uint8_t b = 1;
	while (!atomic_load(&stop_writers))
		vc_gmem_write(gm, 0x2000 + page * 4096, &b, 1);
	/* The last write after the harvester stopped looking is still marked. */
	vc_gmem_write(gm, 0x2000 + page * 4096, &b, 1);
	return NULL;
}

Test(gmem, concurrent_marks_are_never_lost)
{
	cr_assert_eq(vc_gmem_dirty_enable(gm), 0);
	pthread_t t[2];
	for (uintptr_t i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, writer, (void *)i);
	uint64_t seen = 0;
	for (int i = 0; i < 20000; i++)
		seen |= harvest_word(1);
	atomic_store(&stop_writers, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(harvest_word(1), 3, "each writer's last write is marked");
	(void)seen;
}
