/* SPDX-License-Identifier: MIT */
/*
 * The guest kernel's module loader, the part that reads the object: an x86-64 ELF
 * relocatable object (`.o`, built like a kernel module) checked, laid out, copied and
 * relocated into an image the caller placed. Freestanding and free of kernel state, so
 * tests/test_kmod_elf.c runs it on the host against real and hostile objects.
 *
 * Nothing in the object is trusted: every offset, size, index, name and relocation is
 * checked before use; a refusal says why in @error and leaves the image unused.
 */
#ifndef VCG_KMOD_ELF_H
#define VCG_KMOD_ELF_H

#include <stddef.h>
#include <stdint.h>

#include <virtcore/rewrite_format.h>

#define KMOD_ELF_MAX_SECTIONS 128
#define KMOD_ELF_NOT_LOADED UINT64_MAX

struct kmod_elf {
	const uint8_t *obj;
	uint64_t size;
	unsigned shnum;
	unsigned symtab;               /* section index of the symbol table */
	uint64_t image_size;           /* bytes the loaded sections need */
	uint64_t sec_off[KMOD_ELF_MAX_SECTIONS]; /* in the image, or KMOD_ELF_NOT_LOADED */
	uint64_t sec_size[KMOD_ELF_MAX_SECTIONS];
	uint8_t sec_code[KMOD_ELF_MAX_SECTIONS];  /* 1: loaded and executable */
	const uint8_t *sites;          /* the .vc.sensitive entries in obj, or NULL */
	uint32_t nsites;
	char error[160];
};

/* Resolves an undefined symbol: 0 and *@addr, or nonzero (refused as undefined). */
typedef int (*kmod_resolve_fn)(void *ctx, const char *name, uint64_t *addr);

/* Checks the object's headers, sections, symbol table, relocation sections and its
 * .vc.sensitive table if it has one, and lays the loaded sections out (each at its
 * alignment, in section order). 0, or -1 with k->error. */
int kmod_elf_check(struct kmod_elf *k, const uint8_t *obj, uint64_t size);

/* Copies the loaded sections into @image (k->image_size bytes, zeroed for NOBITS), which
 * runs at @image_va, and applies every relocation of a loaded section (R_X86_64_64, PC32,
 * PLT32, 32, 32S, PC64), undefined symbols through @resolve. With a site table, copies
 * it to @sites (k->nsites entries) with each site's relocated bytes put back into its
 * original instruction, so the emulator sees the instruction as loaded. 0, or -1. */
int kmod_elf_place(struct kmod_elf *k, uint8_t *image, uint64_t image_va, kmod_resolve_fn resolve,
		   void *ctx, struct vc_rewrite_abi_entry *sites);

/* The address of global function @name defined in a loaded section: 0 and *@addr, or -1. */
int kmod_elf_symbol(const struct kmod_elf *k, uint64_t image_va, const char *name, uint64_t *addr);

#endif
