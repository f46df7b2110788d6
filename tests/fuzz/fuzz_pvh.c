// SPDX-License-Identifier: MIT
// libFuzzer target over the PVH loader: the input is a kernel ELF (the last 64 bytes
// also give a module and a command line). Any bytes either load or fail cleanly; an
// accepted image lies inside guest RAM above 1 MiB with its entry in a loaded segment,
// and the loader never writes outside the guest RAM it was given (ASan sees the host
// buffer exactly: a 3 MiB guest between two poisoned guard regions).
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/pvh.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM (3u << 20)

static uint8_t *ram;
static vc_gmem *gm;

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!gm) {
		ram = malloc(RAM);
		check(ram && vc_gmem_create(&gm) == 0 && vc_gmem_add(gm, 0, RAM, ram, 0) == 0);
	}
	struct vc_pvh_image img;
	if (vc_pvh_parse(&img, data, size, RAM) != 0) {
		check(img.nseg == 0 && img.entry == 0);
		return 0;
	}
	/* What the parser promises. */
	check(img.nseg >= 1 && img.nseg <= VC_PVH_MAX_SEGMENTS);
	int entry_in = 0;
	for (unsigned i = 0; i < img.nseg; i++) {
		const struct vc_pvh_segment *s = &img.seg[i];
		check(s->paddr >= VC_PVH_KERNEL_MIN_GPA && s->memsz <= RAM - s->paddr);
		check(s->filesz <= s->memsz && s->offset <= size && s->filesz <= size - s->offset);
		entry_in |= img.entry >= s->paddr && img.entry - s->paddr < s->memsz;
		for (unsigned j = 0; j < i; j++)
			check(s->paddr >= img.seg[j].paddr + img.seg[j].memsz ||
			      img.seg[j].paddr >= s->paddr + s->memsz);
	}
	check(entry_in);
	check(vc_pvh_load(gm, &img, data) == 0);
	/* A module and a command line from the input's tail. */
	size_t tail = size < 64 ? size : 64;
	char cmdline[33];
	memcpy(cmdline, data + size - tail, tail < 32 ? tail : 32);
	cmdline[tail < 32 ? tail : 32] = 0;
	struct vc_pvh_module mod = {"fuzz", data + size - tail, tail};
	struct vc_pvh_ram r = {RAM, 0};
	uint64_t si;
	int rc = vc_pvh_setup(&si, gm, &r, &img, cmdline, &mod, 1);
	check(rc == 0 || rc == -ENOSPC || rc == -ENOMEM);
	if (rc == 0) {
		struct vc_pvh_start_info info;
		check(vc_gmem_read(gm, si, &info, sizeof(info)) == 0);
		check(info.magic == VC_PVH_START_MAGIC && info.nr_modules == 1);
	}
	return 0;
}
