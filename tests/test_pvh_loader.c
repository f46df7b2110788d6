// SPDX-License-Identifier: MIT
// Unit tests of vc-vmm's PVH loader: ELF parsing against hostile headers, and the
// start-info layout it writes into guest memory.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <virtcore/pvh.h>

#include "elf_builder.h"

#define RAM (64ull << 20)

static uint8_t file[65536];
static char err[256]; /* vc_error_last() of the last call, for messages */

/* vc_pvh_parse(), keeping the library's detail in err. */
static int parse_bytes(const void *bytes, size_t n, struct vc_pvh_image *img)
{
	vc_error_clear();
	int rc = vc_pvh_parse(img, bytes, n, RAM);
	snprintf(err, sizeof(err), "%s", vc_error_last());
	return rc;
}

/* vc_pvh_setup(): the start info's address, or -errno with the detail in err. */
static int64_t setup(const vc_gmem *gm, const struct vc_pvh_ram *r, const struct vc_pvh_image *img,
		     const char *cmdline, const struct vc_pvh_module *mods, unsigned nmods)
{
	uint64_t si = 0;
	vc_error_clear();
	int rc = vc_pvh_setup(&si, gm, r, img, cmdline, mods, nmods);
	snprintf(err, sizeof(err), "%s", vc_error_last());
	return rc ? rc : (int64_t)si;
}

static struct eb_opts good(void)
{
	struct eb_opts o = {.nseg = 2};
	o.seg[0] = (struct eb_seg){0x100000, 0x1000, 0x1000, -1, 0};
	o.seg[1] = (struct eb_seg){0x101000, 0x800, 0x3000, -1, 0};
	o.entry = 0x100020;
	return o;
}

static int parse(const struct eb_opts *o, struct vc_pvh_image *img)
{
	size_t n = eb_build(file, sizeof(file), o);
	err[0] = 0;
	return parse_bytes(file, n, img);
}

Test(pvh, parses_elf64_and_elf32)
{
	struct vc_pvh_image img;
	struct eb_opts o = good();

	cr_assert_eq(parse(&o, &img), 0, "%s", err);
	cr_assert_eq(img.entry, 0x100020);
	cr_assert_eq(img.nseg, 2);
	cr_assert_eq(img.lowest, 0x100000);
	cr_assert_eq(img.end, 0x104000);
	cr_assert_eq(img.seg[1].memsz, 0x3000);
	o.elf32 = 1;
	cr_assert_eq(parse(&o, &img), 0, "%s", err);
	cr_assert_eq(img.entry, 0x100020);
	o = good();
	o.note_descsz = 8; /* Linux writes the entry as a pointer-sized value */
	cr_assert_eq(parse(&o, &img), 0, "%s", err);
	cr_assert_eq(img.entry, 0x100020);
}

static void expect_refused(struct eb_opts *o, int code, const char *words)
{
	struct vc_pvh_image img;
	int rc = parse(o, &img);
	cr_assert_eq(rc, code, "expected %d, got %d (%s)", code, rc, err);
	cr_assert(strstr(err, words), "error \"%s\" should mention \"%s\"", err, words);
}

Test(pvh, refuses_non_elf_and_wrong_arch)
{
	struct vc_pvh_image img;
	cr_assert_eq(parse_bytes((const uint8_t *)"#!/bin/sh\n", 10, &img), -ENOEXEC);
	cr_assert(strstr(err, "not an ELF"));
	cr_assert_eq(parse_bytes(file, 3, &img), -ENOEXEC, "3 bytes");

	struct eb_opts o = good();
	o.machine = EM_AARCH64;
	expect_refused(&o, -ENOEXEC, "x86-64");
	o = good();
	size_t n = eb_build(file, sizeof(file), &o);
	file[EI_DATA] = ELFDATA2MSB;
	cr_assert_eq(parse_bytes(file, n, &img), -ENOEXEC);
	cr_assert(strstr(err, "little-endian"));
	n = eb_build(file, sizeof(file), &o);
	cr_assert_eq(parse_bytes(file, 40, &img), -ENOEXEC, "truncated header");
	file[EI_CLASS] = 7;
	cr_assert_eq(parse_bytes(file, n, &img), -ENOEXEC);
}

Test(pvh, refuses_without_pvh_note)
{
	struct eb_opts o = good();
	o.no_note = 1;
	expect_refused(&o, -ENOEXEC, "no PVH entry note");
	o = good();
	o.note_type = 1; /* some other Xen note */
	expect_refused(&o, -ENOEXEC, "no PVH entry note");
	/* #26: a program (segments at 0, no note) is "not a PVH kernel", not "a segment
	 * outside guest RAM [0x100000, 0xffffffffffffffff)" */
	o = good();
	o.no_note = 1;
	o.seg[0].paddr = 0;
	expect_refused(&o, -ENOEXEC, "no PVH entry note");
	o = good();
	o.note_descsz = 6;
	expect_refused(&o, -ENOEXEC, "malformed note");
	o = good();
	o.entry = 0x200000; /* not inside a segment */
	expect_refused(&o, -ENOEXEC, "not inside a loaded segment");
}

Test(pvh, refuses_headers_outside_the_file)
{
	struct eb_opts o = good();
	o.phoff = 1ull << 40;
	struct vc_pvh_image img;
	size_t n = eb_build(file, sizeof(file), &o);
	cr_assert_eq(parse_bytes(file, n, &img), -ENOEXEC);
	cr_assert(strstr(err, "outside the file"), "%s", err);
	o = good();
	o.phoff = UINT64_MAX - 8; /* phoff + size wraps */
	n = eb_build(file, sizeof(file), &o);
	cr_assert_eq(parse_bytes(file, n, &img), -ENOEXEC);
}

Test(pvh, refuses_hostile_segments)
{
	struct eb_opts o = good();
	o.seg[0].offset = 60000;
	o.seg[0].filesz = 0x10000; /* runs past the end of the file */
	o.seg[0].memsz = 0x10000;
	expect_refused(&o, -ENOEXEC, "outside the file");

	o = good();
	o.seg[0].offset = (int64_t)(UINT64_MAX >> 1);
	expect_refused(&o, -ENOEXEC, "outside the file");

	o = good();
	o.seg[1].filesz = 0x4000; /* file size above memory size */
	o.seg[1].memsz = 0x3000;
	expect_refused(&o, -ENOEXEC, "file size above memory size");

	o = good();
	o.seg[0].paddr = 0x7000; /* over the boot information below 1 MiB */
	o.entry = 0x7000;
	expect_refused(&o, -EFBIG, "is below 0x100000, where a PVH kernel's memory starts");

	o = good();
	o.seg[1].paddr = RAM - 0x1000; /* ends past the end of RAM */
	expect_refused(&o, -EFBIG, "outside guest RAM");

	o = good();
	o.seg[1].memsz = UINT64_MAX - 0x1000; /* paddr + memsz wraps */
	expect_refused(&o, -EFBIG, "outside guest RAM");

	o = good();
	o.seg[1].paddr = 0x100800; /* overlaps segment 0 */
	expect_refused(&o, -ENOEXEC, "overlaps");
}

Test(pvh, refuses_too_many_or_no_segments)
{
	struct eb_opts o = {.nseg = EB_MAX_SEG};
	for (unsigned i = 0; i < o.nseg; i++)
		o.seg[i] = (struct eb_seg){0x100000 + i * 0x1000, 0x10, 0x1000, -1, 0};
	o.entry = 0x100000;
	expect_refused(&o, -E2BIG, "more than");
	o = good();
	o.seg[0].type = PT_DYNAMIC;
	o.seg[1].type = PT_DYNAMIC;
	o.entry = 0x100000;
	expect_refused(&o, -ENOEXEC, "no loadable segments");
}

/* ---- start info ---- */

static uint8_t *ram;
static vc_gmem *gm;

static void ram_setup(void)
{
	ram = calloc(1, RAM);
	cr_assert_not_null(ram);
	cr_assert_eq(vc_gmem_create(&gm), 0);
	cr_assert_eq(vc_gmem_add(gm, 0, RAM, ram, 0), 0);
}

static void ram_teardown(void)
{
	vc_gmem_destroy(gm);
	free(ram);
}

Test(pvh, loads_segments_and_zero_fills, .init = ram_setup, .fini = ram_teardown)
{
	struct vc_pvh_image img;
	struct eb_opts o = good();
	size_t n = eb_build(file, sizeof(file), &o);
	cr_assert_eq(parse_bytes(file, n, &img), 0);
	memset(ram + 0x101000, 0xee, 0x3000);
	cr_assert_eq(vc_pvh_load(gm, &img, file), 0);
	cr_assert_eq(ram[0x100000], 0x90);
	cr_assert_eq(ram[0x100fff], 0x90);
	cr_assert_eq(ram[0x1017ff], 0x91);
	cr_assert_eq(ram[0x101800], 0, "bss must be zeroed");
	cr_assert_eq(ram[0x103fff], 0);
}

Test(pvh, start_info_layout, .init = ram_setup, .fini = ram_teardown)
{
	struct vc_pvh_image img = {.entry = 0x100000, .nseg = 1, .lowest = 0x100000, .end = 0x200000};
	const char m0[] = "first module\n", m1[] = "second";
	struct vc_pvh_module mods[2] = {{"one.txt", m0, sizeof(m0) - 1}, {"two", m1, sizeof(m1) - 1}};
	struct vc_pvh_ram r = {RAM, 0};

	int64_t si = setup(gm, &r, &img, "run=hello quiet", mods, 2);
	cr_assert_eq(si, VC_PVH_START_INFO_GPA, "%s", err);
	struct vc_pvh_start_info info;
	memcpy(&info, ram + si, sizeof(info));
	cr_assert_eq(info.magic, VC_PVH_START_MAGIC);
	cr_assert_eq(info.version, 1);
	cr_assert_eq(info.nr_modules, 2);
	cr_assert_str_eq((char *)ram + info.cmdline_paddr, "run=hello quiet");
	cr_assert_eq(info.memmap_entries, 3);
	struct vc_pvh_memmap_entry map[3];
	memcpy(map, ram + info.memmap_paddr, sizeof(map));
	cr_assert_eq(map[0].type, VC_PVH_MEMMAP_RAM);
	cr_assert_eq(map[0].addr, 0);
	cr_assert_eq(map[1].type, VC_PVH_MEMMAP_RESERVED);
	cr_assert_eq(map[2].addr, 0x100000);
	cr_assert_eq(map[2].addr + map[2].size, RAM);

	struct vc_pvh_modlist_entry list[2];
	memcpy(list, ram + info.modlist_paddr, sizeof(list));
	cr_assert_eq(list[0].paddr, RAM - 4096, "first module at the top of RAM");
	cr_assert_eq(list[1].paddr, RAM - 8192);
	cr_assert_eq(list[0].size, sizeof(m0) - 1);
	cr_assert_eq(memcmp(ram + list[0].paddr, m0, sizeof(m0) - 1), 0);
	cr_assert_eq(memcmp(ram + list[1].paddr, m1, sizeof(m1) - 1), 0);
	cr_assert_str_eq((char *)ram + list[0].cmdline_paddr, "one.txt");
	cr_assert_str_eq((char *)ram + list[1].cmdline_paddr, "two");

	r.high_size = 1 << 20;
	cr_assert_eq(setup(gm, &r, &img, "", NULL, 0), VC_PVH_START_INFO_GPA);
	memcpy(&info, ram + si, sizeof(info));
	cr_assert_eq(info.memmap_entries, 4, "RAM above 4 GiB gets its own entry");
	cr_assert_eq(info.modlist_paddr, 0);
}

Test(pvh, start_info_errors, .init = ram_setup, .fini = ram_teardown)
{
	struct vc_pvh_image img = {.entry = 0x100000, .nseg = 1, .lowest = 0x100000, .end = RAM - 0x3000};
	struct vc_pvh_ram r = {RAM, 0};
	static uint8_t big[0x4000];
	struct vc_pvh_module m = {"big.img", big, sizeof(big)};

	cr_assert_eq(setup(gm, &r, &img, "", &m, 1), -ENOSPC);
	cr_assert(strstr(err, "big.img") && strstr(err, "does not fit"), "%s", err);
	m.size = UINT64_MAX - 10; /* hostile size: no wrap-around */
	cr_assert_eq(setup(gm, &r, &img, "", &m, 1), -ENOSPC);

	char line[VC_PVH_CMDLINE_MAX + 1];
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = 0;
	cr_assert_eq(setup(gm, &r, &img, line, NULL, 0), -E2BIG);
	img.end = RAM + 1;
	cr_assert_eq(setup(gm, &r, &img, "", NULL, 0), -ENOMEM);
	cr_assert(strstr(err, "too little memory"), "%s", err);
}

Test(pvh, parses_the_bundled_guest)
{
	const char *path = getenv("VC_GUEST");
	if (!path)
		cr_skip_test("VC_GUEST is not set (run through meson test)");
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	struct vc_pvh_image img;
	cr_assert_eq(parse_bytes(buf, n, &img), 0, "%s", err);
	cr_assert_geq(img.entry, 0x100000);
}

Test(pvh, load_checks_every_segment_before_writing, .init = ram_setup, .fini = ram_teardown)
{
	struct vc_pvh_image img;
	struct eb_opts o = good();
	size_t n = eb_build(file, sizeof(file), &o);
	cr_assert_eq(parse_bytes(file, n, &img), 0);
	/* A hand-made image (a VMM may build one) whose second segment leaves RAM. */
	img.seg[1].paddr = RAM - 0x1000;
	memset(ram + 0x100000, 0xee, 0x1000);
	vc_error_clear();
	cr_assert_eq(vc_pvh_load(gm, &img, file), -EFAULT);
	cr_assert(strstr(vc_error_last(), "pvh: segment 1"), "%s", vc_error_last());
	cr_assert_eq(ram[0x100000], 0xee, "the first segment was not written either");
	img.seg[1].paddr = 0x101000;
	img.seg[1].filesz = img.seg[1].memsz + 1;
	cr_assert_eq(vc_pvh_load(gm, &img, file), -EFAULT, "filesz above memsz");
	img.nseg = VC_PVH_MAX_SEGMENTS + 1;
	cr_assert_eq(vc_pvh_load(gm, &img, file), -EINVAL);
}

Test(pvh, null_arguments_and_a_failed_parse_leaves_nothing)
{
	struct vc_pvh_image img;
	memset(&img, 0xa5, sizeof(img));
	cr_assert_eq(vc_pvh_parse(&img, "\x7f" "ELF", 4, RAM), -ENOEXEC);
	cr_assert_eq(img.nseg, 0, "zeroed on failure");
	cr_assert_eq(img.entry, 0);
	cr_assert_eq(vc_pvh_parse(NULL, file, sizeof(file), RAM), -EINVAL);
	cr_assert_eq(vc_pvh_parse(&img, NULL, 10, RAM), -EINVAL);
	cr_assert_eq(vc_pvh_load(NULL, &img, file), -EINVAL);
	uint64_t si;
	struct vc_pvh_ram r = {RAM, 0};
	cr_assert_eq(vc_pvh_setup(&si, NULL, &r, &img, "", NULL, 0), -EINVAL);
	cr_assert_eq(vc_pvh_setup(NULL, NULL, &r, &img, "", NULL, 0), -EINVAL);
	vc_gmem *g;
	cr_assert_eq(vc_gmem_create(&g), 0);
	cr_assert_eq(vc_pvh_setup(&si, g, &r, &img, "", NULL, 1), -EINVAL, "modules NULL, count 1");
	vc_gmem_destroy(g);
}
