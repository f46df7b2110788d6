// SPDX-License-Identifier: MIT
// spt benchmark: a scheduler's root-switch trace over 64 guest address spaces (4-level
// tables, realistic working sets, a kernel half shared by all), replayed with the shadow
// cache against rebuilding the shadow on every switch (the seed's "before"); warm
// translations against the reference walk; memory per cached root.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/spt.h>

#include "harness.h"

#define SPACES 64
#define USER_PAGES 64  /* per address space: code, heap, stack, mmap */
#define KERNEL_PAGES 16 /* shared, 2 MiB pages */
#define WORKING_SET (USER_PAGES + KERNEL_PAGES)
#define MEM (16u << 20)
#define TRACE 4096 /* switches, replayed in a loop: the "million switches" are its reps */

static uint8_t *mem;
static vc_gmem *gm;
static uint64_t next_frame = 0x1000;
static struct vc_spt_cpu cpus[SPACES];
static uint64_t ws[SPACES][WORKING_SET];
static unsigned trace[TRACE];

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_spt: %s: %s\n", what, vc_strerror(rc));
	exit(1);
}

static uint64_t table(void)
{
	uint64_t f = next_frame;
	next_frame += 4096;
	if (next_frame > MEM)
		die("guest memory", -12);
	return f;
}

static uint64_t *entry(uint64_t t, unsigned idx)
{
	return (uint64_t *)(mem + t + 8 * idx);
}

/* Maps @gva to @gpa (4 KiB) under @pml4, making the tables it needs. */
static void map(uint64_t pml4, uint64_t gva, uint64_t gpa)
{
	static const unsigned shifts[3] = {39, 30, 21};
	uint64_t t = pml4;
	for (unsigned l = 0; l < 3; l++) {
		uint64_t *e = entry(t, (gva >> shifts[l]) & 511);
		if (!*e)
			*e = table() | 7;
		t = *e & ~0xfffull & ((1ull << 52) - 1);
	}
	*entry(t, (gva >> 12) & 511) = gpa | 7 | (1ull << 63);
}

/* 64 processes like a Linux guest's: the same user layout at the same addresses, their
 * own pages; the kernel half (PML4 entry 511) one shared PDPT with 2 MiB pages. */
static void build_guest(void)
{
	static const uint64_t regions[4] = {0x400000, 0x1e00000, 0x7f0000000000, 0x7ffffff00000};
	uint64_t kernel_pdpt = table(), kernel_pd = table();
	*entry(kernel_pdpt, 510) = kernel_pd | 3;
	for (unsigned i = 0; i < 512; i++)
		*entry(kernel_pd, i) = (0x40000000ull + ((uint64_t)i << 21)) | 0x83; /* 2 MiB */
	uint64_t rng = 12345;
	for (unsigned s = 0; s < SPACES; s++) {
		uint64_t pml4 = table();
		*entry(pml4, 511) = kernel_pdpt | 3;
		cpus[s] = (struct vc_spt_cpu){.mode = VC_SPT_MODE_LONG4, .cr3 = pml4, .wp = 1, .nxe = 1};
		for (unsigned p = 0; p < USER_PAGES; p++) {
			uint64_t gva = regions[p % 4] + (uint64_t)(p / 4) * 4096 * 3;
			map(pml4, gva, 0x80000000ull + ((uint64_t)s * USER_PAGES + p) * 4096);
			ws[s][p] = gva + 0x10;
		}
		for (unsigned k = 0; k < KERNEL_PAGES; k++)
			ws[s][USER_PAGES + k] = 0xffffffff80000000ull + (uint64_t)k * 0x2345000;
	}
	/* The trace: a run queue with some locality (a few hot processes, then anyone). */
	for (unsigned i = 0; i < TRACE; i++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		trace[i] = (unsigned)(rng >> 33) % (i % 3 ? 8 : SPACES);
	}
}

static vc_spt *spt;
static vc_spt_vcpu *vcpu;
static unsigned pos;

static void load(unsigned s)
{
	int rc = vc_spt_load(vcpu, &cpus[s]);
	if (rc)
		die("load", rc);
}

static void touch_working_set(unsigned s)
{
	struct vc_spt_result r;
	for (unsigned k = 0; k < WORKING_SET; k++) {
		int rc = vc_spt_translate(&r, vcpu, ws[s][k], VC_SPT_USER * (k < USER_PAGES));
		if (rc || r.fault)
			die("translate", rc ? rc : -14);
		vcb_keep(r.gpa);
	}
}

/* One op: a switch to the next process of the trace, its shadow found in the cache. */
static void op_switch_cached(void *ctx, uint64_t n)
{
	(void)ctx;
	for (uint64_t i = 0; i < n; i++)
		load(trace[pos++ % TRACE]);
}

/* One op: a switch without a cache: the old shadow goes, the new one is built for the
 * process's working set (every entry filled from the guest's tables). */
static void op_switch_rebuild(void *ctx, uint64_t n)
{
	(void)ctx;
	for (uint64_t i = 0; i < n; i++) {
		unsigned s = trace[pos++ % TRACE];
		vc_spt_flush(spt);
		load(s);
		touch_working_set(s);
	}
}

/* One op: a switch with the cache, then the working set translated (all warm). */
static void op_switch_cached_touch(void *ctx, uint64_t n)
{
	(void)ctx;
	for (uint64_t i = 0; i < n; i++) {
		unsigned s = trace[pos++ % TRACE];
		load(s);
		touch_working_set(s);
	}
}

static unsigned cur;

static void op_translate(void *ctx, uint64_t n)
{
	(void)ctx;
	struct vc_spt_result r;
	for (uint64_t i = 0; i < n; i++) {
		vc_spt_translate(&r, vcpu, ws[cur][(i * 7) % WORKING_SET], VC_SPT_READ);
		vcb_keep(r.gpa);
	}
}

static void op_walk(void *ctx, uint64_t n)
{
	(void)ctx;
	struct vc_spt_walk w;
	for (uint64_t i = 0; i < n; i++) {
		vc_spt_walk(&w, gm, &cpus[cur], ws[cur][(i * 7) % WORKING_SET], VC_SPT_READ, 0);
		vcb_keep(w.gpa);
	}
}

/* One op: the guest changes one PTE and the VMM reports it (8 bytes, or the frame). */
static uint64_t pte_gpa;
static void op_report_entry(void *ctx, uint64_t n)
{
	(void)ctx;
	for (uint64_t i = 0; i < n; i++)
		vc_spt_guest_write(spt, pte_gpa, 8);
}

static void op_report_frame(void *ctx, uint64_t n)
{
	(void)ctx;
	for (uint64_t i = 0; i < n; i++)
		vc_spt_guest_write(spt, pte_gpa & ~0xfffull, 4096);
}

int main(int argc, char **argv)
{
	vcb_init(argc, argv);
	mem = aligned_alloc(4096, MEM);
	if (!mem)
		die("memory", -12);
	memset(mem, 0, MEM);
	int rc = vc_gmem_create(&gm);
	if (rc || (rc = vc_gmem_add(gm, 0, MEM, mem, 0)))
		die("gmem", rc);
	build_guest();
	if ((rc = vc_spt_create(&spt, gm, NULL)) || (rc = vc_spt_vcpu_create(&vcpu, spt)))
		die("create", rc);

	/* Warm: every process once, with its working set. */
	for (unsigned s = 0; s < SPACES; s++) {
		load(s);
		touch_working_set(s);
	}
	struct vc_spt_stats st;
	vc_spt_get_stats(spt, &st, sizeof st);
	double per_root = (double)st.bytes / st.roots, pages_per_root = (double)st.pages / st.roots;
	uint64_t guest_tables = next_frame - 0x1000;

	struct vcb_table *t = vcb_table_new("spt", "root switch, 64 address spaces "
					    "(80-page working sets, shared kernel half)",
					    "rebuild shadow per switch");
	vcb_run(t, "rebuild shadow per switch", op_switch_rebuild, NULL);
	vcb_note(t, "rebuild shadow per switch", "fills/op", (double)WORKING_SET);
	/* the rebuild left one process's shadow: warm every one again */
	for (unsigned s = 0; s < SPACES; s++) {
		load(s);
		touch_working_set(s);
	}
	vc_spt_get_stats(spt, &st, sizeof st);
	uint64_t misses = st.root_misses, fills = st.fills;
	vcb_run(t, "cached: vc_spt_load (hit)", op_switch_cached, NULL);
	vcb_run(t, "cached: load + 80 warm translations", op_switch_cached_touch, NULL);
	vc_spt_get_stats(spt, &st, sizeof st);
	vcb_note(t, "cached: vc_spt_load (hit)", "misses", (double)(st.root_misses - misses));
	vcb_note(t, "cached: load + 80 warm translations", "fills", (double)(st.fills - fills));
	vcb_table_finish(t, stdout);

	cur = 5;
	load(cur);
	t = vcb_table_new("spt", "translate one address, warm (4-level)", "vc_spt_walk (reference)");
	vcb_run(t, "vc_spt_walk (reference)", op_walk, NULL);
	vcb_run(t, "vc_spt_translate (cached)", op_translate, NULL);
	vcb_table_finish(t, stdout);

	struct vc_spt_walk w;
	vc_spt_walk(&w, gm, &cpus[cur], ws[cur][0], 0, 0);
	pte_gpa = w.entry_gpa[3];
	t = vcb_table_new("spt", "report a guest page-table write", "vc_spt_translate (cached)");
	vcb_run(t, "vc_spt_translate (cached)", op_translate, NULL);
	vcb_run(t, "vc_spt_guest_write, one PTE", op_report_entry, NULL);
	vcb_run(t, "vc_spt_guest_write, its 4 KiB frame", op_report_frame, NULL);
	vcb_table_finish(t, stdout);

	printf("memory: %.0f bytes per cached root (%.1f shadow pages: the root and the "
	       "tables only it reaches, shared ones counted once), %lu roots, %lu pages, "
	       "%lu bytes in all; the guest's own tables: %lu bytes\n",
	       per_root, pages_per_root, (unsigned long)st.roots, (unsigned long)st.pages,
	       (unsigned long)st.bytes, (unsigned long)guest_tables);
	printf("BENCH {\"bench\":\"spt\",\"name\":\"memory per root\",\"bytes\":%.0f,"
	       "\"pages\":%.2f}\n", per_root, pages_per_root);
	vc_spt_destroy(spt);
	vc_gmem_destroy(gm);
	free(mem);
	return 0;
}
