// SPDX-License-Identifier: MIT
// --dry-run: the boot plan as the guest will find it, read back from guest RAM after the
// loader ran (start info, memory map, modules, command line), as text or one JSON document.
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "guest/abi.h"
#include "vmm.h"

#include <virtcore/trust.h>

/* A module's SHA-256 as hex, or "" when this vc-vmm was built without the trust module. */
static void module_digest(const void *data, uint64_t size, char hex[65])
{
	hex[0] = '\0';
	uint8_t d[32];
	if (vc_trust_measure_mem(d, VC_TRUST_ALG_SHA256, data, size) == 0)
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* A JSON string: quotes, backslashes and control characters escaped; bytes >= 0x80
 * pass through (names and command lines are UTF-8 or refused earlier). */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Text output: control characters shown as \xNN so one line stays one line. */
static void text_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static const char *memmap_type(uint32_t type)
{
	return type == VC_PVH_MEMMAP_RAM ? "ram" : type == VC_PVH_MEMMAP_RESERVED ? "reserved"
										 : "other";
}

/* Reads a NUL-terminated string of at most @cap - 1 bytes from guest RAM. */
static void read_string(const vc_gmem *gm, uint64_t gpa, char *buf, size_t cap)
{
	buf[0] = '\0';
	for (size_t i = 0; i + 1 < cap; i++) {
		if (vc_gmem_read(gm, gpa + i, &buf[i], 1) || !buf[i])
			break;
		buf[i + 1] = '\0';
	}
}

int plan_print(FILE *f, bool json, const struct plan *p)
{
	const struct vm *vm = p->vm;
	const vc_gmem *gm = vm->gmem;
	const long trust_size = trust_list_size(vm);
	struct vc_pvh_start_info si;
	if (vc_gmem_read(gm, p->start_info_gpa, &si, sizeof(si)) || si.magic != VC_PVH_START_MAGIC ||
	    si.memmap_entries > 8 || si.nr_modules > VC_PVH_MAX_MODULES) {
		vmm_err("internal: the start info at %#" PRIx64 " does not read back", p->start_info_gpa);
		return -1;
	}
	struct vc_pvh_memmap_entry map[8];
	struct vc_pvh_modlist_entry mods[VC_PVH_MAX_MODULES];
	if (vc_gmem_read(gm, si.memmap_paddr, map, si.memmap_entries * sizeof(map[0])) ||
	    (si.nr_modules &&
	     vc_gmem_read(gm, si.modlist_paddr, mods, si.nr_modules * sizeof(mods[0])))) {
		vmm_err("internal: the memory map or module list does not read back");
		return -1;
	}
	static char cmdline[VC_PVH_CMDLINE_MAX];
	read_string(gm, si.cmdline_paddr, cmdline, sizeof(cmdline));
	const struct vc_pvh_image *img = p->img;

	if (json) {
		fprintf(f, "{\n  \"kernel\": {\"path\": ");
		json_string(f, vm->cfg->kernel_path);
		fprintf(f, ", \"entry\": %" PRIu32 ", \"segments\": [", img->entry);
		for (unsigned i = 0; i < img->nseg; i++)
			fprintf(f, "%s\n    {\"gpa\": %" PRIu64 ", \"filesz\": %" PRIu64
				   ", \"memsz\": %" PRIu64 "}",
				i ? "," : "", img->seg[i].paddr, img->seg[i].filesz, img->seg[i].memsz);
		fprintf(f, "]},\n  \"memory\": {\"size\": %" PRIu64 ", \"map\": [", vm->cfg->mem);
		for (unsigned i = 0; i < si.memmap_entries; i++)
			fprintf(f, "%s\n    {\"gpa\": %" PRIu64 ", \"size\": %" PRIu64 ", \"type\": \"%s\"}",
				i ? "," : "", map[i].addr, map[i].size, memmap_type(map[i].type));
		fprintf(f, "]},\n  \"cpus\": %u,\n  \"start_info\": %" PRIu64 ",\n", vm->cfg->ncpus,
			p->start_info_gpa);
		fprintf(f, "  \"cmdline\": {\"gpa\": %" PRIu64 ", \"text\": ", si.cmdline_paddr);
		json_string(f, cmdline);
		fprintf(f, "},\n  \"modules\": [");
		for (unsigned i = 0; i < si.nr_modules; i++) {
			char name[256], hex[65];
			read_string(gm, mods[i].cmdline_paddr, name, sizeof(name));
			module_digest(vm->mods[i].data, vm->mods[i].size, hex);
			fprintf(f, "%s\n    {\"index\": %u, \"name\": ", i ? "," : "", i);
			json_string(f, name);
			fprintf(f, ", \"gpa\": %" PRIu64 ", \"size\": %" PRIu64 ", \"sha256\": ",
				mods[i].paddr, mods[i].size);
			if (hex[0])
				fprintf(f, "\"%s\"}", hex);
			else
				fprintf(f, "null}");
		}
		fprintf(f, "],\n  \"trust_list\": ");
		if (trust_size)
			fprintf(f, "{\"gpa\": %u, \"size\": %ld}\n}\n", VCG_TRUST_LIST_GPA,
				trust_size);
		else
			fprintf(f, "null\n}\n");
	} else {
		fprintf(f, "vc-vmm: boot plan (dry run: no VM is created)\n");
		fprintf(f, "memory      %" PRIu64 " KiB, %u vCPU%s\n", vm->cfg->mem >> 10, vm->cfg->ncpus,
			vm->cfg->ncpus == 1 ? "" : "s");
		for (unsigned i = 0; i < si.memmap_entries; i++)
			fprintf(f, "  map       [%#" PRIx64 ", %#" PRIx64 ") %s\n", map[i].addr,
				map[i].addr + map[i].size, memmap_type(map[i].type));
		fprintf(f, "kernel      %s, entry %#" PRIx32 "\n", vm->cfg->kernel_path, img->entry);
		for (unsigned i = 0; i < img->nseg; i++)
			fprintf(f, "  segment   [%#" PRIx64 ", %#" PRIx64 ") %" PRIu64
				   " bytes from the file\n",
				img->seg[i].paddr, img->seg[i].paddr + img->seg[i].memsz,
				img->seg[i].filesz);
		fprintf(f, "start info  %#" PRIx64 "\n", p->start_info_gpa);
		fprintf(f, "cmdline     %#" PRIx64 " ", si.cmdline_paddr);
		text_string(f, cmdline);
		fputc('\n', f);
		for (unsigned i = 0; i < si.nr_modules; i++) {
			char name[256], hex[65];
			read_string(gm, mods[i].cmdline_paddr, name, sizeof(name));
			module_digest(vm->mods[i].data, vm->mods[i].size, hex);
			fprintf(f, "module %-4u [%#" PRIx64 ", %#" PRIx64 ") %" PRIu64 " bytes ", i,
				mods[i].paddr, mods[i].paddr + mods[i].size, mods[i].size);
			text_string(f, name);
			fprintf(f, " sha256 %s\n", hex[0] ? hex : "(built without the trust module)");
		}
		if (trust_size)
			fprintf(f, "trust list  [%#x, %#lx) %ld bytes\n", VCG_TRUST_LIST_GPA,
				VCG_TRUST_LIST_GPA + trust_size, trust_size);
		else
			fprintf(f, "trust list  none\n");
	}
	fflush(f);
	if (ferror(f)) {
		vmm_err("cannot write the boot plan");
		return -1;
	}
	return 0;
}
