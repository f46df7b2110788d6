// SPDX-License-Identifier: MIT
// Physical pages: a bump allocator over the RAM above the kernel image, below the
// first boot module. Pages are never freed (tasks live until the VM exits).
#include "kernel.h"

extern char _end[];

static uint64_t next_page, limit;
static const struct vc_pvh_start_info *boot_info;

void mm_init(const struct vc_pvh_start_info *si)
{
	boot_info = si;
	uint64_t start = ((uint64_t)(uintptr_t)_end + 0xfff) & ~0xfffull;

	limit = 0;
	const struct vc_pvh_memmap_entry *mm = (const void *)(uintptr_t)si->memmap_paddr;
	for (uint32_t i = 0; si->version >= 1 && i < si->memmap_entries; i++)
		if (mm[i].type == VC_PVH_MEMMAP_RAM && mm[i].addr <= start &&
		    mm[i].addr + mm[i].size > start)
			limit = mm[i].addr + mm[i].size;
	if (!limit)
		panic("no RAM above the kernel at %lx in the memory map", start);
	/* Keep the boot modules and the start info out of the pool. */
	const struct vc_pvh_modlist_entry *mod = (const void *)(uintptr_t)si->modlist_paddr;
	for (uint32_t i = 0; i < si->nr_modules; i++)
		if (mod[i].paddr >= start && mod[i].paddr < limit)
			limit = mod[i].paddr & ~0xfffull;
	if (limit > 0x100000000ull)
		limit = 0x100000000ull; /* the kernel maps the first 4 GiB */
	next_page = start;
}

void *page_alloc(void)
{
	if (next_page + 4096 > limit)
		panic("out of guest memory");
	void *page = (void *)(uintptr_t)next_page, *d = page;
	uint64_t n = 512;
	next_page += 4096;
	/* One instruction, 512 emulated iterations; PVH does not promise zeroed RAM. */
	__asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0ull) : "memory");
	return page;
}

int mm_is_ram(uint64_t pa, uint64_t len)
{
	const struct vc_pvh_memmap_entry *mm = (const void *)(uintptr_t)boot_info->memmap_paddr;
	for (uint32_t i = 0; boot_info->version >= 1 && i < boot_info->memmap_entries; i++)
		if (mm[i].type == VC_PVH_MEMMAP_RAM && pa >= mm[i].addr &&
		    len <= mm[i].size && pa - mm[i].addr <= mm[i].size - len)
			return 1;
	return 0;
}

uint64_t mm_free_bytes(void)
{
	return limit - next_page;
}

/* The next level's table behind entry @e, made when absent. */
static uint64_t *next_level(uint64_t *e, uint64_t flags)
{
	if (!(*e & PTE_P))
		*e = (uint64_t)(uintptr_t)page_alloc() | flags;
	return (uint64_t *)(uintptr_t)(*e & 0x000ffffffffff000ull);
}

uint64_t *mm_page_table(uint64_t *pml4, uint64_t va, int user)
{
	const uint64_t flags = PTE_P | PTE_W | (user ? PTE_U : 0);
	uint64_t *pdpt = next_level(&pml4[(va >> 39) & 511], flags);
	uint64_t *pd = next_level(&pdpt[(va >> 30) & 511], flags);
	return next_level(&pd[(va >> 21) & 511], flags);
}

void *page_alloc_run(unsigned n)
{
	uint8_t *first = page_alloc();
	for (unsigned i = 1; i < n; i++)
		if ((uint8_t *)page_alloc() != first + (uint64_t)i * 4096)
			panic("page_alloc_run: pages not contiguous");
	return first;
}
