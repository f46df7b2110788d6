// SPDX-License-Identifier: MIT
// The guest kernel's module loader (ref-vmm/guest/kernel/kmod-elf.c), run on the host:
// real module objects load and relocate as the guest loads them; hostile ones (truncated,
// overlapping sections, relocations out of their section or out of range, undefined
// symbols, an unknown relocation type, a bad site table) are refused with the reason.
// Needs no KVM: every machine runs it.
#include <elf.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <virtcore/rewrite.h>

#include "../ref-vmm/guest/kernel/kmod-elf.h"
#include "helpers.h"

#define IMAGE_VA 0xffffffffc0010000ull

static uint8_t *object(const char *var, size_t *len)
{
	const char *path = getenv(var);
	cr_assert_not_null(path, "%s is not set: run through meson", var);
	return th_read_file(path, len);
}

/* Every import resolves to a fixed address near the image, and is remembered. */
struct imports {
	char names[8][64];
	int n;
	uint64_t base;
};

static int resolve(void *ctx, const char *name, uint64_t *addr)
{
	struct imports *im = ctx;
	if (!strncmp(name, "missin", 6)) /* what undefined_symbol() makes of printk */
		return -1;
	for (int i = 0; i < im->n; i++)
		if (!strcmp(im->names[i], name)) {
			*addr = im->base + (uint64_t)i * 16;
			return 0;
		}
	cr_assert_lt(im->n, 8);
	snprintf(im->names[im->n], sizeof(im->names[0]), "%s", name);
	*addr = im->base + (uint64_t)im->n++ * 16;
	return 0;
}

static struct kmod_elf k;

/* Checks and places @obj; returns kmod_elf_place's result (after a good check). */
static int load(const uint8_t *obj, size_t len, struct imports *im, uint8_t **image,
		struct vc_rewrite_abi_entry **sites)
{
	if (kmod_elf_check(&k, obj, len))
		return -2;
	if (k.image_size > (64u << 20))
		return -3; /* the guest refuses more than its module area; so does this test */
	*image = calloc(1, k.image_size + 1);
	*sites = calloc(k.nsites + 1, sizeof(**sites));
	return kmod_elf_place(&k, *image, IMAGE_VA, resolve, im, *sites);
}

static Elf64_Shdr *shdr(uint8_t *obj, unsigned i)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)obj;
	return (Elf64_Shdr *)(obj + eh->e_shoff) + i;
}

static unsigned section_named(uint8_t *obj, const char *name)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)obj;
	const char *names = (const char *)obj + shdr(obj, eh->e_shstrndx)->sh_offset;
	for (unsigned i = 1; i < eh->e_shnum; i++)
		if (!strcmp(names + shdr(obj, i)->sh_name, name))
			return i;
	cr_assert_fail("no section %s", name);
	return 0;
}

Test(kmod_elf, a_rewritten_module_loads_relocated_with_its_sites)
{
	size_t len;
	uint8_t *obj = object("VC_KMOD_WHY_PATCHED", &len), *image;
	struct vc_rewrite_abi_entry *sites;
	struct imports im = {.base = IMAGE_VA - 0x1000};
	cr_assert_eq(load(obj, len, &im, &image, &sites), 0, "%s", k.error);
	cr_assert_gt(k.image_size, 100);
	cr_assert_eq(k.nsites, 8, "%u sites", k.nsites);
	cr_assert_eq(im.n, 3, "imports: %d", im.n);
	/* every call to printk lands on its resolved address: check each PLT32 field */
	unsigned text = section_named(obj, ".text"), rela = section_named(obj, ".rela.text");
	const Elf64_Rela *r = (const Elf64_Rela *)(obj + shdr(obj, rela)->sh_offset);
	const Elf64_Sym *syms = (const Elf64_Sym *)(obj + shdr(obj, shdr(obj, rela)->sh_link)->sh_offset);
	const char *strtab = (const char *)obj + shdr(obj, shdr(obj, shdr(obj, rela)->sh_link)->sh_link)->sh_offset;
	int calls = 0;
	for (size_t i = 0; i < shdr(obj, rela)->sh_size / sizeof(*r); i++) {
		if (ELF64_R_TYPE(r[i].r_info) != R_X86_64_PLT32)
			continue;
		const char *name = strtab + syms[ELF64_R_SYM(r[i].r_info)].st_name;
		uint64_t want = 0;
		cr_assert_eq(resolve(&im, name, &want), 0);
		int32_t field;
		memcpy(&field, image + k.sec_off[text] + r[i].r_offset, 4);
		uint64_t p = IMAGE_VA + k.sec_off[text] + r[i].r_offset;
		cr_assert_eq(p + (uint64_t)(int64_t)field - (uint64_t)r[i].r_addend, want, "%s", name);
		calls++;
	}
	cr_assert_gt(calls, 5);
	/* the sites are the table's, and their bytes in the image are the trap */
	for (uint32_t i = 0; i < k.nsites; i++)
		cr_assert_eq(image[k.sec_off[sites[i].section] + sites[i].offset], 0xcc);
	uint64_t init;
	cr_assert_eq(kmod_elf_symbol(&k, IMAGE_VA, "init_module", &init), 0);
	cr_assert_eq(init, IMAGE_VA + k.sec_off[text] + 0, "init_module at %lx", (unsigned long)init);
	cr_assert_eq(kmod_elf_symbol(&k, IMAGE_VA, "kmod_bench", &init), -1);
	free(image), free(sites), free(obj);
}

static void begin(void)
{
	th_scratch_begin("kmod-elf");
}

/* A site whose displacement a relocation fills: the loader puts the relocated bytes back
 * into the table's copy of the instruction, so the emulator sees what was loaded. */
Test(kmod_elf, relocated_bytes_of_a_site_are_put_back, .init = begin, .fini = th_scratch_end)
{
	char src[PATH_MAX], obj_path[PATH_MAX], cmd[3 * PATH_MAX];
	snprintf(src, sizeof(src), "%s", th_path("reloc.S"));
	snprintf(obj_path, sizeof(obj_path), "%s", th_path("reloc.o"));
	FILE *f = fopen(src, "w");
	cr_assert_not_null(f);
	fputs("\t.text\n\t.globl init_module\ninit_module:\n\tsgdt gdt_copy(%rip)\n\tret\n"
	      "\t.data\ngdt_copy:\t.quad 0, 0\n\t.section .note.GNU-stack,\"\",@progbits\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "gcc -c -o '%s' '%s'", obj_path, src);
	cr_assert_eq(system(cmd), 0);
	vc_rewrite *m;
	cr_assert_eq(vc_rewrite_load_path(&m, obj_path), 0);
	long n = vc_rewrite_patch(m, NULL, 0);
	cr_assert_gt(n, 0);
	uint8_t *patched = malloc((size_t)n), *image;
	cr_assert_eq(vc_rewrite_patch(m, patched, (size_t)n), n);
	vc_rewrite_destroy(m);

	struct vc_rewrite_abi_entry *sites;
	struct imports im = {.base = IMAGE_VA};
	cr_assert_eq(load(patched, (size_t)n, &im, &image, &sites), 0, "%s", k.error);
	cr_assert_eq(k.nsites, 1);
	cr_assert(sites[0].flags & VC_REWRITE_SITE_RELOC);
	const uint8_t *orig = sites[0].original;
	cr_assert(orig[0] == 0x0f && orig[1] == 0x01 && orig[2] == 0x05, "sgdt disp32(%%rip)");
	int32_t disp;
	memcpy(&disp, orig + 3, 4);
	unsigned data = section_named(patched, ".data"), text = section_named(patched, ".text");
	uint64_t site_end = IMAGE_VA + k.sec_off[text] + 7;
	cr_assert_eq(site_end + (uint64_t)(int64_t)disp, IMAGE_VA + k.sec_off[data],
		     "the displacement points at gdt_copy as loaded");
	free(image), free(sites), free(patched);
}

/* A copy of the rewritten module with one thing broken by @mutate; it must be refused
 * with @reason in the error, by the check or by placing. */
static void refused(void (*mutate)(uint8_t *obj, size_t *len), const char *reason)
{
	size_t len;
	uint8_t *obj = object("VC_KMOD_WHY_PATCHED", &len), *image = NULL;
	struct vc_rewrite_abi_entry *sites = NULL;
	struct imports im = {.base = IMAGE_VA - 0x1000};
	mutate(obj, &len);
	cr_assert_neq(load(obj, len, &im, &image, &sites), 0, "accepted; wanted: %s", reason);
	cr_assert(strstr(k.error, reason), "error \"%s\", wanted \"%s\"", k.error, reason);
	free(image), free(sites), free(obj);
}

static void truncate_half(uint8_t *obj, size_t *len)
{
	(void)obj;
	*len /= 2;
}

static void not_elf(uint8_t *obj, size_t *len)
{
	(void)len;
	obj[1] = 'X';
}

static void executable(uint8_t *obj, size_t *len)
{
	(void)len;
	((Elf64_Ehdr *)obj)->e_type = ET_EXEC;
}

static void text_past_end(uint8_t *obj, size_t *len)
{
	(void)len;
	shdr(obj, section_named(obj, ".text"))->sh_size = 1u << 30;
}

static void sections_overlap(uint8_t *obj, size_t *len)
{
	(void)len;
	Elf64_Shdr *text = shdr(obj, section_named(obj, ".text"));
	shdr(obj, section_named(obj, ".rodata.str1.1"))->sh_offset = text->sh_offset + 8;
}

static Elf64_Rela *first_rela(uint8_t *obj)
{
	return (Elf64_Rela *)(obj + shdr(obj, section_named(obj, ".rela.text"))->sh_offset);
}

static void reloc_outside(uint8_t *obj, size_t *len)
{
	(void)len;
	first_rela(obj)->r_offset = shdr(obj, section_named(obj, ".text"))->sh_size - 2;
}

static void reloc_unknown_type(uint8_t *obj, size_t *len)
{
	(void)len;
	Elf64_Rela *r = first_rela(obj);
	r->r_info = ELF64_R_INFO(ELF64_R_SYM(r->r_info), R_X86_64_GOTPCREL);
}

static void reloc_bad_symbol(uint8_t *obj, size_t *len)
{
	(void)len;
	Elf64_Rela *r = first_rela(obj);
	r->r_info = ELF64_R_INFO(100000, ELF64_R_TYPE(r->r_info));
}

/* printk becomes "missing": the resolver knows no such name */
static void undefined_symbol(uint8_t *obj, size_t *len)
{
	(void)len;
	unsigned st = section_named(obj, ".strtab");
	char *names = (char *)obj + shdr(obj, st)->sh_offset;
	for (size_t i = 0; i + 6 < shdr(obj, st)->sh_size; i++)
		if (!memcmp(names + i, "printk", 7)) {
			memcpy(names + i, "missin", 6);
			return;
		}
	cr_assert_fail("no printk in .strtab");
}

/* A PC32 field whose symbol is 4 GiB away: the value cannot fit. */
static void out_of_range(uint8_t *obj, size_t *len)
{
	(void)len;
	Elf64_Rela *r = first_rela(obj);
	while (ELF64_R_TYPE(r->r_info) != R_X86_64_PLT32 && ELF64_R_TYPE(r->r_info) != R_X86_64_PC32)
		r++;
	r->r_addend += 0x100000000ll;
}

static void site_outside_code(uint8_t *obj, size_t *len)
{
	(void)len;
	Elf64_Shdr *t = shdr(obj, section_named(obj, VC_REWRITE_SECTION));
	struct vc_rewrite_abi_entry *e = (void *)(obj + t->sh_offset + sizeof(struct vc_rewrite_abi_header));
	e[1].offset = 1u << 20;
}

Test(kmod_elf, hostile_objects_are_refused_with_the_reason)
{
	refused(truncate_half, "");
	refused(not_elf, "not an ELF object");
	refused(executable, "not a 64-bit little-endian x86-64 relocatable object");
	refused(text_past_end, "ends past the file");
	refused(sections_overlap, "overlap in the file");
	refused(reloc_outside, "is outside its section");
	refused(reloc_unknown_type, "of type 9, which this loader does not apply");
	refused(reloc_bad_symbol, "relocation against symbol 100000");
	refused(undefined_symbol, "undefined symbol \"missin\"");
	refused(out_of_range, "out of range");
	refused(site_outside_code, "site 1 is outside loaded code, or out of order");
}

/* Random damage anywhere in the headers never gets past the checks into a crash (the
 * sanitizer build would see one). */
Test(kmod_elf, damaged_headers_never_crash_the_loader)
{
	size_t len;
	uint8_t *orig = object("VC_KMOD_WHY_PATCHED", &len);
	srand(7);
	for (int round = 0; round < 3000; round++) {
		uint8_t *obj = malloc(len), *image = NULL;
		struct vc_rewrite_abi_entry *sites = NULL;
		struct imports im = {.base = IMAGE_VA - 0x1000};
		memcpy(obj, orig, len);
		Elf64_Ehdr *eh = (Elf64_Ehdr *)obj;
		for (int n = 0; n < 4; n++) { /* the ELF header or a section header */
			size_t at = rand() % 2 ? (size_t)rand() % sizeof(*eh)
					       : eh->e_shoff + (size_t)rand() % (eh->e_shnum * sizeof(Elf64_Shdr));
			if (at < len)
				obj[at] = (uint8_t)rand();
		}
		if (load(obj, len, &im, &image, &sites) == -2)
			cr_assert_neq(k.error[0], 0);
		free(image), free(sites), free(obj);
	}
	free(orig);
}
