// SPDX-License-Identifier: MIT
// spt: a toy guest with two address spaces (4-level tables in 1 MiB of guest memory,
// the same virtual address mapped to different pages), translated through the shadow
// cache: root switches that hit, a page-table write reported to the cache, a fault.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/spt.h>

#define MEM (1u << 20)
#define PTE_FLAGS 7u /* present, writable, user */

static uint8_t *mem;

static void put(uint64_t gpa, uint64_t value)
{
	memcpy(mem + gpa, &value, sizeof(value));
}

/* PML4 at @root, then PDPT, PD and PT in the next three frames: @gva -> @page. */
static void map_one(uint64_t root, uint64_t gva, uint64_t page)
{
	put(root + 8 * ((gva >> 39) & 511), (root + 0x1000) | PTE_FLAGS);
	put(root + 0x1000 + 8 * ((gva >> 30) & 511), (root + 0x2000) | PTE_FLAGS);
	put(root + 0x2000 + 8 * ((gva >> 21) & 511), (root + 0x3000) | PTE_FLAGS);
	put(root + 0x3000 + 8 * ((gva >> 12) & 511), page | PTE_FLAGS);
}

static int check(int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, "spt-translate: %s: %s\n", what, vc_strerror(rc));
		exit(1);
	}
	return rc;
}

static void show(vc_spt_vcpu *vcpu, const char *space, uint64_t gva, unsigned access)
{
	struct vc_spt_result r;
	check(vc_spt_translate(&r, vcpu, gva, access), "translate");
	if (r.fault)
		printf("%s: %#llx -> #PF, error code %#x\n", space, (unsigned long long)gva,
		       r.error_code);
	else
		printf("%s: %#llx -> guest-physical %#llx (%s%s)\n", space, (unsigned long long)gva,
		       (unsigned long long)r.gpa, r.writable ? "rw" : "ro", r.user ? ", user" : "");
}

int main(void)
{
	vc_gmem *gm;
	vc_spt *spt;
	vc_spt_vcpu *vcpu;
	const uint64_t gva = 0x7f0000001234ull;

	mem = calloc(1, MEM);
	if (!mem)
		return 1;
	check(vc_gmem_create(&gm), "gmem");
	check(vc_gmem_add(gm, 0, MEM, mem, 0), "gmem");
	map_one(0x10000, gva, 0x80000); /* process A */
	map_one(0x20000, gva, 0x90000); /* process B: same address, its own page */

	check(vc_spt_create(&spt, gm, NULL), "create");
	check(vc_spt_vcpu_create(&vcpu, spt), "vcpu");
	struct vc_spt_cpu a = {.mode = VC_SPT_MODE_LONG4, .cr3 = 0x10000, .wp = 1, .nxe = 1};
	struct vc_spt_cpu b = a;
	b.cr3 = 0x20000;

	/* The guest schedules A, B, A, B...: after the first two, every switch is a hit. */
	for (int i = 0; i < 3; i++) {
		check(vc_spt_load(vcpu, &a), "load A");
		show(vcpu, "A", gva, VC_SPT_USER);
		check(vc_spt_load(vcpu, &b), "load B");
		show(vcpu, "B", gva, VC_SPT_USER | VC_SPT_WRITE);
	}

	/* B's kernel makes the page read-only; the VMM saw the write (dirty log, a trap)
	 * and reports it, so the cache drops exactly the entry made from it. */
	put(0x20000 + 0x3000 + 8 * ((gva >> 12) & 511), 0x90000 | 5);
	check(vc_spt_guest_write(spt, 0x20000 + 0x3000, 4096), "report");
	show(vcpu, "B", gva, VC_SPT_USER | VC_SPT_WRITE);
	show(vcpu, "B", gva + 0x1000, VC_SPT_USER); /* nothing mapped there */

	struct vc_spt_stats st;
	vc_spt_get_stats(spt, &st, sizeof st);
	printf("root loads %llu: %llu hits (%llu in the vCPU's recent roots), %llu misses; "
	       "%llu lookups, %llu entries filled, %llu invalidated; %llu shadow pages, "
	       "%llu bytes\n",
	       (unsigned long long)st.root_loads, (unsigned long long)st.root_hits,
	       (unsigned long long)st.root_mru_hits, (unsigned long long)st.root_misses,
	       (unsigned long long)st.lookups, (unsigned long long)st.fills,
	       (unsigned long long)st.invalidations, (unsigned long long)st.pages,
	       (unsigned long long)st.bytes);
	vc_spt_destroy(spt);
	vc_gmem_destroy(gm);
	free(mem);
	return 0;
}
