// SPDX-License-Identifier: MIT
// Options structs across the ABI, through the shared library as a program sees it: a
// struct from an older header (smaller sz) gets defaults, one from a newer header
// (larger sz) is accepted while its extra bytes are zero and refused with -E2BIG (and a
// detail naming the struct) as soon as one is set; reserved fields likewise.
#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <virtcore/virtcore.h>

/* A struct as a newer header would declare it: ours, then fields we do not know. */
#define FUTURE(type)                                                   \
	union {                                                        \
		struct type o;                                         \
		unsigned char bytes[sizeof(struct type) + 16];         \
	}

/* Fresh: zero, with sz covering the newer fields too. */
#define FRESH(u)                                                       \
	do {                                                           \
		memset(&(u), 0, sizeof(u));                            \
		(u).o.sz = sizeof(u);                                  \
	} while (0)

static void expect_refused(int rc, const char *type)
{
	cr_assert_eq(rc, -E2BIG, "%s: a set unknown byte gave %d, not -E2BIG", type, rc);
	const char *d = vc_error_last();
	cr_assert(d && strstr(d, type), "%s: the detail does not name it: %s", type, d ? d : "");
}

/* Mode 0: all newer bytes zero (accepted); 1: a newer byte set; 2: the reserved field. */
enum { ZERO, NEWER, RESERVED, OLDER };

static int irq_with(int mode)
{
	FUTURE(vc_irq_opts) u;
	FRESH(u);
	if (mode == NEWER)
		u.bytes[sizeof(struct vc_irq_opts) + 5] = 1;
	if (mode == RESERVED)
		u.o.pad = 1;
	if (mode == OLDER)
		u.o.sz = offsetof(struct vc_irq_opts, flags); /* before flags existed */
	vc_irq *irq = NULL;
	int rc = vc_irq_create(&irq, &u.o);
	vc_irq_destroy(irq);
	return rc;
}

static int spt_with(int mode)
{
	FUTURE(vc_spt_opts) u;
	FRESH(u);
	if (mode == NEWER)
		u.bytes[sizeof(struct vc_spt_opts) + 15] = 0x80;
	if (mode == OLDER)
		u.o.sz = sizeof(size_t);
	vc_gmem *gm;
	cr_assert_eq(vc_gmem_create(&gm), 0);
	vc_spt *spt = NULL;
	int rc = vc_spt_create(&spt, gm, &u.o);
	vc_spt_destroy(spt);
	vc_gmem_destroy(gm);
	return rc;
}

static alignas(8) unsigned char ring_mem[64 * 1024];

static int ring_format_with(int mode)
{
	FUTURE(vc_ring_format_opts) u;
	FRESH(u);
	if (mode == NEWER)
		u.bytes[sizeof(struct vc_ring_format_opts)] = 1;
	if (mode == RESERVED)
		u.o.pad = 7;
	if (mode == OLDER)
		u.o.sz = offsetof(struct vc_ring_format_opts, mode);
	return vc_ring_format(ring_mem, sizeof(ring_mem), &u.o);
}

static int ring_attach_with(int mode)
{
	cr_assert_eq(vc_ring_format(ring_mem, sizeof(ring_mem), NULL), 0);
	FUTURE(vc_ring_attach_opts) u;
	FRESH(u);
	u.o.role = VC_RING_PRODUCER;
	if (mode == NEWER)
		u.bytes[sizeof(struct vc_ring_attach_opts) + 9] = 1;
	if (mode == OLDER)
		u.o.sz = offsetof(struct vc_ring_attach_opts, spin_max_ns);
	vc_ring *r = NULL;
	int rc = vc_ring_attach(&r, ring_mem, sizeof(ring_mem), &u.o);
	vc_ring_detach(r);
	return rc;
}

static int timerpage_with(int mode)
{
	static alignas(4096) unsigned char page[4096];
	FUTURE(vc_timerpage_opts) u;
	FRESH(u);
	if (mode == NEWER)
		u.bytes[sizeof(struct vc_timerpage_opts) + 2] = 1;
	if (mode == RESERVED)
		u.o.pad = 1;
	if (mode == OLDER)
		u.o.sz = offsetof(struct vc_timerpage_opts, tsc_hz);
	vc_timerpage *tp = NULL;
	int rc = vc_timerpage_create(&tp, page, sizeof(page), &u.o);
	vc_timerpage_destroy(tp);
	return rc;
}

static int pack_with(int mode)
{
	char dir[] = "/tmp/vc-opts-XXXXXX", path[64];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/disk.img", dir);
	FUTURE(vc_pack_create_opts) u;
	FRESH(u);
	if (mode == NEWER)
		u.bytes[sizeof(struct vc_pack_create_opts) + 1] = 1;
	if (mode == RESERVED)
		u.o.pad = 1;
	if (mode == OLDER)
		u.o.sz = offsetof(struct vc_pack_create_opts, mode);
	vc_pack_writer *w = NULL;
	int rc = vc_pack_writer_open(&w, path, &u.o);
	vc_pack_writer_close(w); /* uncommitted: nothing stays */
	cr_assert_eq(rmdir(dir), 0, "the refused or closed writer left a file behind");
	return rc;
}

static int trust_with(int mode)
{
	vc_trust_list *l;
	cr_assert_eq(vc_trust_list_create(&l, VC_TRUST_ALG_SHA256), 0);
	uint8_t d[32] = {1};
	cr_assert_eq(vc_trust_list_add(l, "kernel", VC_TRUST_ROLE_KERNEL, d, 1), 0);
	static alignas(8) unsigned char buf[4096];
	long n = vc_trust_list_serialize(l, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	vc_trust_list_destroy(l);
	FUTURE(vc_trust_load_opts) u;
	FRESH(u);
	u.o.flags = VC_TRUST_LOAD_UNVERIFIED;
	if (mode == NEWER)
		u.bytes[sizeof(struct vc_trust_load_opts) + 4] = 1;
	if (mode == RESERVED)
		u.o.pad = 1;
	if (mode == OLDER) /* key and flags, not the reserved field */
		u.o.sz = offsetof(struct vc_trust_load_opts, pad);
	int rc = vc_trust_list_load(&l, buf, (size_t)n, &u.o);
	if (!rc)
		vc_trust_list_destroy(l);
	return rc;
}

static int trace_with(int mode)
{
	FUTURE(vc_trace_opts) u;
	FRESH(u);
	u.o.pid = -1; /* invalid on purpose: a zero tail must get past the options check only */
	if (mode == NEWER)
		u.bytes[sizeof(struct vc_trace_opts) + 3] = 1;
	if (mode == RESERVED)
		u.o.pad = 1;
	vc_trace *t = NULL;
	int rc = vc_trace_open(&t, &u.o);
	vc_trace_close(t);
	return rc;
}

static int prefetch_with(int mode)
{
	FUTURE(vc_prefetch_opts) u;
	FRESH(u);
	if (mode == NEWER)
		u.bytes[sizeof(struct vc_prefetch_opts) + 7] = 1;
	if (mode == RESERVED)
		u.o.pad = 1;
	if (mode == OLDER)
		u.o.sz = offsetof(struct vc_prefetch_opts, sets);
	vc_prefetch *pf = NULL;
	int rc = vc_prefetch_create(&pf, &u.o);
	vc_prefetch_destroy(pf);
	return rc;
}

struct opts_case {
	const char *module, *type;
	int (*with)(int mode);
	int has_reserved, zero_rc;
};

static const struct opts_case cases[] = {
	{"irq", "struct vc_irq_opts", irq_with, 1, 0},
	{"spt", "struct vc_spt_opts", spt_with, 0, 0},
	{"ring", "struct vc_ring_format_opts", ring_format_with, 1, 0},
	{"ring", "struct vc_ring_attach_opts", ring_attach_with, 0, 0},
	{"timerpage", "struct vc_timerpage_opts", timerpage_with, 1, 0},
	{"pack", "struct vc_pack_create_opts", pack_with, 1, 0},
	{"trust", "struct vc_trust_load_opts", trust_with, 1, 0},
	{"trace", "struct vc_trace_opts", trace_with, 1, -EINVAL},
	{"prefetch", "struct vc_prefetch_opts", prefetch_with, 1, 0},
};

Test(opts, a_struct_from_a_newer_header_is_refused_only_when_it_asks_for_more)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct opts_case *c = &cases[i];
		if (vc_has_module(c->module) != 1) {
			cr_assert_eq(c->with(ZERO), -EOPNOTSUPP, "%s", c->type);
			continue;
		}
		int rc = c->with(ZERO);
		cr_assert_eq(rc, c->zero_rc, "%s: zero newer bytes gave %d (%s)", c->type, rc,
			     vc_error_last() ? vc_error_last() : "");
		expect_refused(c->with(NEWER), c->type);
		if (c->has_reserved)
			expect_refused(c->with(RESERVED), c->type);
		if (c->zero_rc == 0)
			cr_assert_eq(c->with(OLDER), 0, "%s: an older, smaller struct", c->type);
	}
}

Test(opts, a_size_that_is_no_size_is_einval)
{
	struct vc_irq_opts o = {.sz = 3};
	vc_irq *irq = NULL;
	cr_assert_eq(vc_irq_create(&irq, &o), -EINVAL);
	o.sz = 1u << 20;
	cr_assert_eq(vc_irq_create(&irq, &o), -EINVAL);
	cr_assert_null(irq);
}

Test(opts, vc_opts_leaves_no_byte_unset)
{
	/* Dirty the stack where the struct will live, then declare it with VC_OPTS. */
	volatile unsigned char dirt[256];
	memset((void *)dirt, 0xa5, sizeof(dirt));
	VC_OPTS(vc_pack_create_opts, o, .align = VC_PACK_ALIGN_4K);
	const unsigned char *b = (const unsigned char *)&o;
	const size_t align_at = offsetof(struct vc_pack_create_opts, align);
	(void)dirt;
	cr_assert_eq(o.sz, sizeof(o));
	for (size_t i = sizeof(size_t); i < sizeof(o); i++)
		if (i < align_at || i >= align_at + sizeof(o.align))
			cr_assert_eq(b[i], 0, "byte %zu is %#x", i, b[i]);
}
