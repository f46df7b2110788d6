// SPDX-License-Identifier: MIT
// libFuzzer target over the spt cache's event API: the input is a budget, then a program
// of events on a 68 KiB guest (table writes, reported or not, CPU state loads on two
// vCPUs, translations, INVLPG, flushes). Nothing may crash or read outside guest memory
// (ASan sees the host buffers exactly), and whenever every write has been reported, each
// translation must equal the reference walker's.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/spt.h>

#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FRAMES 16u
#define MEM (FRAMES * 4096u)
#define HIGH_GPA 0x100000u /* a second, one-page region: tables may straddle maps */


/* Most entries and roots land on our frames, so the walks go deep; some land anywhere.
 * Only the frame number is tamed: every other bit (flags, PAT, ignored and available
 * bits, 62:52, XD) comes from the input on its own, and bits 51:21 now and then too, so
 * entries reach bits above MAXPHYADDR and large-page reserved bits the input chose. */
static uint64_t tame(uint64_t v, unsigned how)
{
	if (how % 4 == 0)
		return v;
	uint64_t frame = (v >> 12) % (FRAMES + 2);
	uint64_t base = frame == FRAMES ? HIGH_GPA : frame << 12;
	uint64_t keep = 0xfffull | ~0ull << 52;
	if (how % 4 == 1)
		keep |= 0x000fffffffe00000ull & v >> 7; /* a sparse, input-chosen few of 51:21 */
	return (v & keep) | base;
}

static void same_or_die(const struct vc_spt_walk *w, int rw, const struct vc_spt_result *r, int rc)
{
	if (rc != rw)
		abort();
	if (rc)
		return;
	if (r->fault != w->fault || r->error_code != w->error_code ||
	    r->noncanonical != w->noncanonical)
		abort();
	if (!r->fault && !r->noncanonical &&
	    (r->gpa != w->gpa || r->page_size != w->page_size || r->writable != w->writable ||
	     r->user != w->user || r->executable != w->executable))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	/* exact-size host buffers: one byte past either is an ASan report */
	uint8_t *mem = calloc(1, MEM), *high = calloc(1, 4096);
	vc_gmem *gm;
	vc_spt *spt;
	vc_spt_vcpu *v[2];
	struct vc_spt_cpu cpu[2] = {{.mode = VC_SPT_MODE_LONG4}, {.mode = VC_SPT_MODE_32}};
	int loaded[2] = {0, 0}, unreported = 0;

	if (!mem || !high || vc_gmem_create(&gm) || vc_gmem_add(gm, 0, MEM, mem, 0) ||
	    vc_gmem_add(gm, HIGH_GPA, 4096, high, 0))
		abort();
	unsigned b = (unsigned)take(&in, 1);
	VC_OPTS(vc_spt_opts, o, .budget = b ? b * 2048ull : 0);
	if (vc_spt_create(&spt, gm, &o) || vc_spt_vcpu_create(&v[0], spt) ||
	    vc_spt_vcpu_create(&v[1], spt))
		abort();

	while (in.n) {
		unsigned op = (unsigned)take(&in, 1), i = op >> 7;
		switch (op & 7) {
		case 0: { /* the guest writes an entry */
			uint64_t gpa = take(&in, 2) % (MEM + 4096 - 7);
			if (gpa >= MEM)
				gpa = HIGH_GPA + (gpa - MEM);
			gpa &= ~3ull;
			unsigned esize = op & 8 ? 4 : 8;
			if (gpa >= HIGH_GPA ? gpa - HIGH_GPA + esize > 4096 : gpa + esize > MEM)
				break;
			uint64_t val = tame(take(&in, 8), op >> 4);
			uint8_t *host = gpa >= HIGH_GPA ? high + (gpa - HIGH_GPA) : mem + gpa;
			memcpy(host, &val, esize);
			if (op & 0x40) {
				if (vc_spt_guest_write(spt, gpa, esize))
					abort();
			} else {
				unreported = 1;
			}
			break;
		}
		case 1: { /* a CR3 load or a change of CR0/CR4/EFER */
			uint64_t f = take(&in, 3);
			struct vc_spt_cpu c = {
				.mode = (enum vc_spt_mode)(1 + f % 4),
				.cr3 = tame(take(&in, 8), (unsigned)(f >> 2)),
				.wp = f >> 4 & 1, .nxe = f >> 5 & 1, .pse = f >> 6 & 1,
				.smep = f >> 7 & 1, .smap = f >> 8 & 1, .ac = f >> 9 & 1,
				.pke = f >> 10 & 1, .amd = f >> 22 & 1, .no_1g = f >> 23 & 1,
				.maxphyaddr = (f >> 11) % 8 == 0 ? 0 : 32 + (unsigned)(f >> 14) % 21,
			};
			if (vc_spt_load(v[i], &c))
				abort(); /* every field is valid by construction */
			cpu[i] = c;
			loaded[i] = 1;
			break;
		}
		case 2:
		case 3:
		case 4: { /* a translation */
			uint64_t gva = take(&in, 8);
			unsigned access = (unsigned)take(&in, 1) & 15;
			if (cpu[i].mode == VC_SPT_MODE_32 || cpu[i].mode == VC_SPT_MODE_PAE)
				gva &= 0xffffffffull;
			struct vc_spt_result r;
			int rc = vc_spt_translate(&r, v[i], gva, access);
			if (!loaded[i]) {
				if (rc != -22)
					abort();
				break;
			}
			struct vc_spt_walk w;
			int rw = vc_spt_walk(&w, gm, &cpu[i], gva, access, 0);
			if (!unreported)
				same_or_die(&w, rw, &r, rc);
			break;
		}
		case 5:
			vc_spt_invlpg(v[i], take(&in, 8));
			break;
		case 6:
			vc_spt_flush(spt);
			unreported = 0;
			break;
		case 7: /* a dirty-log harvest: every frame reported */
			if (vc_spt_guest_write(spt, 0, MEM) || vc_spt_guest_write(spt, HIGH_GPA, 4096))
				abort();
			unreported = 0;
			break;
		}
	}
	struct vc_spt_stats st;
	vc_spt_get_stats(spt, &st, sizeof st);
	if (st.lookups < st.uncached || (st.root_hits + st.root_misses) > st.root_loads)
		abort();
	vc_spt_destroy(spt);
	vc_gmem_destroy(gm);
	free(mem);
	free(high);
	return 0;
}
