// SPDX-License-Identifier: MIT
// rewrite: objects assembled and compiled at test time (tests/rewrite/), objdump as the
// oracle for which instructions are sensitive and how they are spelled; classes; flags
// from __ex_table, __jump_table and relocations; the rewritten bytes, the table, and the
// verdicts of readelf, objdump and eu-elflint; byte-identical restore; refusals; every
// kind of bad input, including every truncation of a real object.
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Zydis/Zydis.h>
#include <elf.h>
#include <virtcore/rewrite.h>

#include "../lib/rewrite/rewrite-internal.h"
#include "helpers.h"

static const char *src_dir(void)
{
	const char *d = getenv("VC_REWRITE_SRC");
	cr_assert_not_null(d, "VC_REWRITE_SRC (tests/rewrite) is not set: run through meson");
	return d;
}

static void run(const char *cmd)
{
	int rc = system(cmd);
	cr_assert_eq(rc, 0, "command failed (%d): %s", rc, cmd);
}

/* Assembles or compiles tests/rewrite/@name into th_dir; returns the object's path. */
static const char *build_object(const char *name)
{
	char cmd[8192];
	const char *obj = th_path(name);
	const char *dot = strrchr(name, '.');
	snprintf(cmd, sizeof(cmd), "gcc -c %s -ffunction-sections -o '%s.o' '%s/%s'",
		 dot && !strcmp(dot, ".c") ? "-O2" : "", obj, src_dir(), name);
	run(cmd);
	static char paths[4][PATH_MAX];
	static int k;
	char *p = paths[k++ % 4];
	snprintf(p, PATH_MAX, "%s.o", obj);
	return p;
}

static void spill(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static vc_rewrite *open_object(const char *path)
{
	vc_rewrite *m;
	int rc = vc_rewrite_load_path(&m, path);
	cr_assert_eq(rc, 0, "%s: %s (%s)", path, vc_strerror(rc), th_last_log);
	return m;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "section offset mnemonic" of every site, sorted, as the oracle prints them. */
static char *our_lines(const vc_rewrite *m)
{
	size_t n = vc_rewrite_count(m), cap = 64 * (n + 1);
	char **rows = calloc(n + 1, sizeof(*rows)), *out = calloc(1, cap);
	for (size_t i = 0; i < n; i++) {
		struct vc_rewrite_site s;
		cr_assert_eq(vc_rewrite_get(&s, m, i), 0);
		cr_assert(asprintf(&rows[i], "%s %llu %s\n", s.section_name,
				   (unsigned long long)s.offset, s.mnemonic) > 0);
	}
	qsort(rows, n, sizeof(*rows), cmp_str);
	for (size_t i = 0; i < n; i++) {
		strcat(out, rows[i]);
		free(rows[i]);
	}
	free(rows);
	return out;
}

/* The oracle script's output: what objdump -d shows. */
static char *oracle_lines(const char *obj)
{
	char cmd[8192], *out;
	size_t len;
	snprintf(cmd, sizeof(cmd), "python3 '%s/objdump_oracle.py' '%s' > '%s' && sort -o '%s' '%s'",
		 src_dir(), obj, th_path("oracle.txt"), th_path("oracle.txt"), th_path("oracle.txt"));
	run(cmd);
	char *raw = th_read_file(th_path("oracle.txt"), &len);
	out = calloc(1, len + 1);
	memcpy(out, raw, len);
	free(raw);
	/* sort(1) and qsort may order differently: compare as sets of lines */
	return out;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void assert_same_set(const char *want, const char *got, const char *what)
{
	cr_assert_eq(count_lines(want), count_lines(got), "%s: objdump shows %zu sites, we found "
		     "%zu\nobjdump:\n%s\nours:\n%s", what, count_lines(want), count_lines(got), want, got);
	for (const char *p = want; *p;) {
		const char *nl = strchr(p, '\n');
		char line[256];
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p + 1), p);
		cr_assert(strstr(got, line), "%s: objdump shows \"%.*s\", we do not", what,
			  (int)(nl - p), p);
		p = nl + 1;
	}
}

TestSuite(rewrite, .init = NULL);

static void begin(void) { th_scratch_begin("rewrite"); }
static void end(void) { th_scratch_end(); }

Test(rewrite, objdump_agrees_on_every_object, .init = begin, .fini = end)
{
	static const char *const sources[] = {"sensitive.S", "lookalikes.S", "tables.S",
					      "driver.c"};
	static const size_t at_least[] = {120, 0, 5, 10};
	for (size_t i = 0; i < 4; i++) {
		const char *obj = build_object(sources[i]);
		vc_rewrite *m = open_object(obj);
		char *want = oracle_lines(obj), *got = our_lines(m);
		assert_same_set(want, got, sources[i]);
		cr_assert_geq(vc_rewrite_count(m), at_least[i], "%s", sources[i]);
		if (i == 1)
			cr_assert_eq(vc_rewrite_count(m), 0, "look-alikes are not sensitive:\n%s", got);
		free(want);
		free(got);
		vc_rewrite_destroy(m);
	}
}

/* The class a site's mnemonic (and, for mov/push/pop, its opcode) implies. */
static enum vc_rewrite_class expected_class(const struct vc_rewrite_site *s)
{
	static const struct {
		const char *mn;
		enum vc_rewrite_class cls;
	} table[] = {
		{"cli", VC_REWRITE_INTERRUPT_FLAG}, {"sti", VC_REWRITE_INTERRUPT_FLAG},
		{"pushf", VC_REWRITE_FLAGS}, {"pushfw", VC_REWRITE_FLAGS}, {"popf", VC_REWRITE_FLAGS},
		{"popfw", VC_REWRITE_FLAGS}, {"hlt", VC_REWRITE_HALT}, {"in", VC_REWRITE_IO},
		{"out", VC_REWRITE_IO}, {"insb", VC_REWRITE_IO}, {"insw", VC_REWRITE_IO},
		{"insl", VC_REWRITE_IO}, {"outsb", VC_REWRITE_IO}, {"outsw", VC_REWRITE_IO},
		{"outsl", VC_REWRITE_IO}, {"rdmsr", VC_REWRITE_MSR}, {"wrmsr", VC_REWRITE_MSR},
		{"lgdt", VC_REWRITE_DESCRIPTOR_TABLE}, {"sgdt", VC_REWRITE_DESCRIPTOR_TABLE},
		{"lidt", VC_REWRITE_DESCRIPTOR_TABLE}, {"sidt", VC_REWRITE_DESCRIPTOR_TABLE},
		{"lldt", VC_REWRITE_DESCRIPTOR_TABLE}, {"sldt", VC_REWRITE_DESCRIPTOR_TABLE},
		{"ltr", VC_REWRITE_DESCRIPTOR_TABLE}, {"str", VC_REWRITE_DESCRIPTOR_TABLE},
		{"smsw", VC_REWRITE_MACHINE_STATUS}, {"lmsw", VC_REWRITE_MACHINE_STATUS},
		{"clts", VC_REWRITE_MACHINE_STATUS}, {"invlpg", VC_REWRITE_TLB},
		{"invpcid", VC_REWRITE_TLB}, {"wbinvd", VC_REWRITE_CACHE}, {"invd", VC_REWRITE_CACHE},
		{"cpuid", VC_REWRITE_CPUID}, {"rdtsc", VC_REWRITE_TIMESTAMP},
		{"rdtscp", VC_REWRITE_TIMESTAMP}, {"rdpmc", VC_REWRITE_PERF_COUNTER},
		{"swapgs", VC_REWRITE_SWAPGS}, {"sysretq", VC_REWRITE_SYSTEM_RETURN},
		{"sysretl", VC_REWRITE_SYSTEM_RETURN}, {"sysexitq", VC_REWRITE_SYSTEM_RETURN},
		{"sysexitl", VC_REWRITE_SYSTEM_RETURN}, {"iret", VC_REWRITE_SYSTEM_RETURN},
		{"iretq", VC_REWRITE_SYSTEM_RETURN}, {"iretw", VC_REWRITE_SYSTEM_RETURN},
		{"xsetbv", VC_REWRITE_XCR}, {"lar", VC_REWRITE_SEGMENT_CHECK},
		{"lsl", VC_REWRITE_SEGMENT_CHECK}, {"verr", VC_REWRITE_SEGMENT_CHECK},
		{"verw", VC_REWRITE_SEGMENT_CHECK}, {"push", VC_REWRITE_SEGMENT_REG},
		{"pop", VC_REWRITE_SEGMENT_REG}, {"pushw", VC_REWRITE_SEGMENT_REG},
		{"popw", VC_REWRITE_SEGMENT_REG},
	};
	if (!strcmp(s->mnemonic, "mov")) {
		unsigned k = 0;
		while (k < s->length && (s->bytes[k] == 0x66 || s->bytes[k] == 0x2e ||
					 s->bytes[k] == 0x64 || s->bytes[k] == 0x65 ||
					 (s->bytes[k] & 0xf0) == 0x40))
			k++;
		if (s->bytes[k] == 0x8c || s->bytes[k] == 0x8e)
			return VC_REWRITE_SEGMENT_REG;
		cr_assert_eq(s->bytes[k], 0x0f, "mov at %#llx", (unsigned long long)s->offset);
		return s->bytes[k + 1] == 0x20 || s->bytes[k + 1] == 0x22 ? VC_REWRITE_CONTROL_REG
									  : VC_REWRITE_DEBUG_REG;
	}
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].mn, s->mnemonic))
			return table[i].cls;
	cr_assert_fail("unexpected mnemonic %s", s->mnemonic);
	return 0;
}

Test(rewrite, every_class_is_found_and_named, .init = begin, .fini = end)
{
	vc_rewrite *m = open_object(build_object("sensitive.S"));
	unsigned seen[VC_REWRITE_CLASS_COUNT] = {0};
	for (size_t i = 0; i < vc_rewrite_count(m); i++) {
		struct vc_rewrite_site s;
		cr_assert_eq(vc_rewrite_get(&s, m, i), 0);
		cr_assert_eq(s.cls, expected_class(&s), "%s at %#llx: class %s", s.mnemonic,
			     (unsigned long long)s.offset, vc_rewrite_class_name(s.cls));
		cr_assert(s.length >= 1 && s.length <= 15);
		seen[s.cls]++;
	}
	for (unsigned c = 1; c < VC_REWRITE_CLASS_COUNT; c++) {
		cr_assert_gt(seen[c], 0, "no %s instruction found", vc_rewrite_class_name(c));
		cr_assert_str_neq(vc_rewrite_class_name(c), "unknown");
	}
	cr_assert_str_eq(vc_rewrite_class_name(0), "unknown");
	cr_assert_str_eq(vc_rewrite_class_name(VC_REWRITE_CLASS_COUNT), "unknown");
	struct vc_rewrite_site s;
	cr_assert_eq(vc_rewrite_get(&s, m, vc_rewrite_count(m)), -ENOENT);
	vc_rewrite_destroy(m);
}

Test(rewrite, tables_and_relocations_are_flagged, .init = begin, .fini = end)
{
	vc_rewrite *m = open_object(build_object("tables.S"));
	static const struct {
		const char *section, *mnemonic;
		unsigned flags;
	} want[] = {
		{".text", "rdmsr", VC_REWRITE_SITE_EX_TABLE},
		{".text", "cli", VC_REWRITE_SITE_JUMP_TABLE},
		{".text", "lgdt", VC_REWRITE_SITE_RELOC}, /* bytes 3-6: the PC32 displacement */
		{".text", "mov", 0},
		{".text.unlikely", "wbinvd", 0},
	};
	cr_assert_eq(vc_rewrite_count(m), 5);
	for (size_t i = 0; i < 5; i++) {
		struct vc_rewrite_site s;
		cr_assert_eq(vc_rewrite_get(&s, m, i), 0);
		cr_assert_str_eq(s.section_name, want[i].section);
		cr_assert_str_eq(s.mnemonic, want[i].mnemonic);
		cr_assert_eq(s.flags, want[i].flags, "%s: flags %#x", s.mnemonic, s.flags);
		cr_assert_eq(s.reloc_mask, i == 2 ? 0x78u : 0u, "%s: reloc_mask %#x", s.mnemonic,
			     s.reloc_mask);
	}
	vc_rewrite_destroy(m);
}

/* Which sites a loader may later replace by a jump, and how many bytes that borrows. */
Test(rewrite, promotion_verdicts, .init = begin, .fini = end)
{
	vc_rewrite *m = open_object(build_object("promote.S"));
	static const struct {
		const char *mnemonic;
		enum vc_rewrite_promote promote;
		unsigned displaced;
	} want[] = {
		{"cli", VC_REWRITE_PROMOTE_YES, 7},
		{"sti", VC_REWRITE_PROMOTE_UNMOVABLE, 0},
		{"pushf", VC_REWRITE_PROMOTE_UNMOVABLE, 0},
		{"popf", VC_REWRITE_PROMOTE_TARGET, 0},
		{"wbinvd", VC_REWRITE_PROMOTE_YES, 4}, /* hlt and mov %rax,%cr3: sites, in turn */
		{"hlt", VC_REWRITE_PROMOTE_YES, 5},
		{"mov", VC_REWRITE_PROMOTE_YES, 2},
		{"invlpg", VC_REWRITE_PROMOTE_TABLE, 0},
		{"out", VC_REWRITE_PROMOTE_YES, 3},
		{"rdmsr", VC_REWRITE_PROMOTE_TARGET, 0},
		{"sgdt", VC_REWRITE_PROMOTE_YES, 0},
		{"rdtsc", VC_REWRITE_PROMOTE_END, 0},
	};
	const size_t n = sizeof(want) / sizeof(want[0]);
	cr_assert_eq(vc_rewrite_count(m), n);
	for (size_t i = 0; i < n; i++) {
		struct vc_rewrite_site s;
		cr_assert_eq(vc_rewrite_get(&s, m, i), 0);
		cr_assert_str_eq(s.mnemonic, want[i].mnemonic);
		cr_assert_eq(s.promote, want[i].promote, "%s: %s", s.mnemonic,
			     vc_rewrite_promote_name(s.promote));
		cr_assert_eq(s.displaced, want[i].displaced, "%s: displaced %u", s.mnemonic,
			     s.displaced);
	}
	cr_assert_str_eq(vc_rewrite_promote_name(VC_REWRITE_PROMOTE_YES), "yes");
	cr_assert_str_eq(vc_rewrite_promote_name(VC_REWRITE_PROMOTE_END + 1), "unknown");
	vc_rewrite_destroy(m);
}

Test(rewrite, find_by_address, .init = begin, .fini = end)
{
	vc_rewrite *m = open_object(build_object("sensitive.S"));
	struct vc_rewrite_site s, prev = {0};
	for (size_t i = 0; i < vc_rewrite_count(m); i++) {
		cr_assert_eq(vc_rewrite_get(&s, m, i), 0);
		for (unsigned k = 0; k < s.length; k++)
			cr_assert_eq(vc_rewrite_find(m, s.section, s.offset + k), (long)i);
		if (i && prev.offset + prev.length < s.offset) /* a gap: lock add, lea... */
			cr_assert_eq(vc_rewrite_find(m, s.section, s.offset - 1), -ENOENT);
		prev = s;
	}
	cr_assert_eq(vc_rewrite_find(m, 999, 0), -ENOENT);
	cr_assert_eq(vc_rewrite_find(m, s.section, s.offset + s.length + 1000), -ENOENT);
	vc_rewrite_destroy(m);
}

/* Section @name's header in an ELF image. */
static Elf64_Shdr section(const uint8_t *img, const char *name)
{
	Elf64_Ehdr eh;
	Elf64_Shdr sh, names;
	memcpy(&eh, img, sizeof(eh));
	memcpy(&names, img + eh.e_shoff + eh.e_shstrndx * sizeof(sh), sizeof(sh));
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		memcpy(&sh, img + eh.e_shoff + i * sizeof(sh), sizeof(sh));
		if (!strcmp((const char *)img + names.sh_offset + sh.sh_name, name))
			return sh;
	}
	cr_assert_fail("no section %s", name);
	return sh;
}

/* The rewritten object in a buffer of its own (size query, then the rewrite). */
static uint8_t *patched(const vc_rewrite *m, size_t *plen)
{
	long n = vc_rewrite_patch(m, NULL, 0);
	cr_assert_gt(n, 0, "size query: %s (%s)", vc_strerror((int)n), th_last_log);
	uint8_t *img = malloc((size_t)n);
	cr_assert_not_null(img);
	cr_assert_eq(vc_rewrite_patch(m, img, (size_t)n - 1), -ENOSPC, "one byte short");
	cr_assert_eq(vc_rewrite_patch(m, img, (size_t)n), n, "%s", th_last_log);
	*plen = (size_t)n;
	return img;
}

static void check_patched(const char *obj)
{
	size_t len, plen;
	uint8_t *orig = th_read_file(obj, &len);
	vc_rewrite *m = open_object(obj);
	uint8_t *img = patched(m, &plen);
	cr_assert_gt(plen, len);

	/* every byte of the original part: trapped in a site, unchanged elsewhere */
	uint8_t *expect = malloc(len);
	memcpy(expect, orig, len);
	Elf64_Ehdr eh;
	memcpy(&eh, img, sizeof(eh));
	cr_assert_eq(eh.e_shoff % 8, 0);
	Elf64_Ehdr oh;
	memcpy(&oh, orig, sizeof(oh));
	const uint64_t orig_shoff = oh.e_shoff;
	oh.e_shoff = eh.e_shoff;
	oh.e_shnum = (Elf64_Half)(oh.e_shnum + 1);
	memcpy(expect, &oh, sizeof(oh));
	const Elf64_Shdr tab = section(img, VC_REWRITE_SECTION);
	struct vc_rewrite_abi_header h;
	memcpy(&h, img + tab.sh_offset, sizeof(h));
	cr_assert_eq(memcmp(h.magic, VC_REWRITE_MAGIC, 8), 0);
	cr_assert_eq(h.count, vc_rewrite_count(m));
	cr_assert_eq(h.orig_size, len);
	cr_assert_eq(tab.sh_size, sizeof(h) + h.count * sizeof(struct vc_rewrite_abi_entry));
	const struct vc_rewrite_abi_entry *e = (const void *)(img + tab.sh_offset + sizeof(h));
	for (size_t i = 0; i < vc_rewrite_count(m); i++) {
		struct vc_rewrite_site s;
		vc_rewrite_get(&s, m, i);
		cr_assert(e[i].section == s.section && e[i].offset == s.offset &&
			  e[i].length == s.length && e[i].cls == s.cls &&
			  (e[i].flags & 0xff & ~VC_REWRITE_SITE_PROMOTABLE) == s.flags);
		/* the promotion verdict travels with the site */
		cr_assert_eq(!!(e[i].flags & VC_REWRITE_SITE_PROMOTABLE), s.promote == VC_REWRITE_PROMOTE_YES);
		cr_assert_eq(VC_REWRITE_SITE_DISPLACED(e[i].flags), s.displaced);
		cr_assert_eq(memcmp(e[i].original, s.bytes, s.length), 0);
		Elf64_Shdr code;
		memcpy(&code, orig + orig_shoff + s.section * sizeof(code), sizeof(code));
		uint8_t *at = expect + code.sh_offset + s.offset;
		cr_assert_eq(!!s.reloc_mask, !!(s.flags & VC_REWRITE_SITE_RELOC));
		at[0] = VC_REWRITE_TRAP;
		for (unsigned k = 1; k < s.length; k++)
			if (!(s.reloc_mask >> k & 1))
				at[k] = VC_REWRITE_PAD; /* relocated bytes stay for the loader */
		for (unsigned k = 0; k < s.length; k++)
			cr_assert_eq(vc_rewrite_abi_find(e, h.count, s.section, s.offset + k), &e[i]);
	}
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(img[i], expect[i], "%s: byte %zu is %#x, expected %#x", obj, i, img[i],
			     expect[i]);
	cr_assert_null(vc_rewrite_abi_find(e, h.count, 9999, 0));

	/* the tools accept it */
	char cmd[8192];
	spill(th_path("patched.o"), img, plen);
	snprintf(cmd, sizeof(cmd), "readelf -a -W '%s' >/dev/null 2>'%s' && ! test -s '%s' && "
		 "objdump -d '%s' >/dev/null && eu-elflint --gnu-ld -q '%s'",
		 th_path("patched.o"), th_path("readelf.err"), th_path("readelf.err"),
		 th_path("patched.o"), th_path("patched.o"));
	run(cmd);

	/* and gives back the original */
	cr_assert_eq(vc_rewrite_restore(img, plen, NULL, 0), (long)len, "%s", th_last_log);
	uint8_t *back = malloc(plen);
	cr_assert_eq(vc_rewrite_restore(img, plen, back, len - 1), -ENOSPC, "one byte short");
	cr_assert_eq(vc_rewrite_restore(img, plen, back, len), (long)len, "%s", th_last_log);
	cr_assert_eq(memcmp(back, orig, len), 0, "%s: restore is not byte-identical", obj);
	memcpy(back, img, plen); /* in place, as vc-rewrite restore does */
	cr_assert_eq(vc_rewrite_restore(back, plen, back, plen), (long)len);
	cr_assert_eq(memcmp(back, orig, len), 0, "%s: in-place restore differs", obj);
	free(back);

	/* a rewritten object is refused for rewriting again */
	vc_rewrite *again;
	cr_assert_eq(vc_rewrite_load(&again, img, plen), 0);
	cr_assert(vc_rewrite_is_patched(again));
	cr_assert_eq(vc_rewrite_patch(again, NULL, 0), -EEXIST);
	vc_rewrite_destroy(again);
	free(expect);
	free(img);
	free(orig);
	vc_rewrite_destroy(m);
}

Test(rewrite, patch_traps_every_site_and_restore_undoes_it, .init = begin, .fini = end)
{
	check_patched(build_object("sensitive.S"));
	check_patched(build_object("tables.S"));
	check_patched(build_object("driver.c"));
	check_patched(build_object("lookalikes.S")); /* no site: an empty table */
	check_patched(build_object("data-only.S"));  /* no code section at all */
}

Test(rewrite, restore_refuses_what_it_cannot_undo, .init = begin, .fini = end)
{
	size_t len, plen;
	const char *obj = build_object("tables.S");
	uint8_t *orig = th_read_file(obj, &len);
	vc_rewrite *m = open_object(obj);
	uint8_t *img = patched(m, &plen);
	uint8_t *back = malloc(plen);
	cr_assert_eq(vc_rewrite_restore(orig, len, back, plen), -ENOENT, "not rewritten");

	struct vc_rewrite_site s;
	vc_rewrite_get(&s, m, 1); /* the cli */
	Elf64_Ehdr eh;
	Elf64_Shdr code;
	memcpy(&eh, orig, sizeof(eh));
	memcpy(&code, orig + eh.e_shoff + s.section * sizeof(code), sizeof(code));
	img[code.sh_offset + s.offset] = 0x90; /* the trap is gone */
	cr_assert_eq(vc_rewrite_restore(img, plen, back, plen), -EBADMSG);
	cr_assert(strstr(th_last_log, "no longer holds its trap"), "%s", th_last_log);
	img[code.sh_offset + s.offset] = VC_REWRITE_TRAP;

	const Elf64_Shdr tab = section(img, VC_REWRITE_SECTION);
	img[tab.sh_offset] ^= 1; /* magic */
	cr_assert_eq(vc_rewrite_restore(img, plen, back, plen), -EBADMSG);
	img[tab.sh_offset] ^= 1;
	struct vc_rewrite_abi_header h;
	memcpy(&h, img + tab.sh_offset, sizeof(h));
	h.orig_size = plen; /* an original as large as the rewritten file */
	memcpy(img + tab.sh_offset, &h, sizeof(h));
	cr_assert_eq(vc_rewrite_restore(img, plen, back, plen), -EBADMSG);
	h.orig_size = len;
	h.count = 1000; /* more entries than the section holds */
	memcpy(img + tab.sh_offset, &h, sizeof(h));
	cr_assert_eq(vc_rewrite_restore(img, plen, back, plen), -EBADMSG);
	h.count = 5;
	memcpy(img + tab.sh_offset, &h, sizeof(h));
	/* the first entry's offset (its first field) moved outside its section */
	const uint64_t outside = ~0ull - 2;
	memcpy(img + tab.sh_offset + sizeof(h) + offsetof(struct vc_rewrite_abi_entry, offset),
	       &outside, sizeof(outside));
	cr_assert_eq(vc_rewrite_restore(img, plen, back, plen), -EBADMSG);
	cr_assert_eq(vc_rewrite_restore(NULL, 0, back, plen), -EINVAL);
	free(back);
	free(img);
	free(orig);
	vc_rewrite_destroy(m);
}

Test(rewrite, a_relocation_on_the_trap_byte_is_refused, .init = begin, .fini = end)
{
	vc_rewrite *m = open_object(build_object("relocfirst.S"));
	uint8_t img[64 * 1024];
	memset(img, 0x5a, sizeof(img));
	cr_assert_eq(vc_rewrite_count(m), 1);
	cr_assert_eq(vc_rewrite_patch(m, NULL, 0), -ENOTSUP, "the size query refuses too");
	cr_assert_eq(vc_rewrite_patch(m, img, sizeof(img)), -ENOTSUP);
	cr_assert(strstr(th_last_log, "first byte"), "%s", th_last_log);
	for (size_t i = 0; i < sizeof(img); i++)
		cr_assert_eq(img[i], 0x5a, "the buffer was written at byte %zu", i);
	vc_rewrite_destroy(m);
}

/* Opens @len bytes of @img; returns the code, checks the log names the problem. */
static int try_open(const void *img, size_t len, const char *says)
{
	vc_rewrite *m = (void *)1;
	th_last_log[0] = 0;
	int rc = vc_rewrite_load(&m, img, len);
	if (rc)
		cr_assert_null(m);
	else
		vc_rewrite_destroy(m);
	if (says)
		cr_assert(strstr(th_last_log, says), "expected \"%s\" in \"%s\"", says, th_last_log);
	return rc;
}

Test(rewrite, bad_inputs_get_clear_errors, .init = begin, .fini = end)
{
	size_t len;
	uint8_t *orig = th_read_file(build_object("tables.S"), &len);
	uint8_t *img = malloc(len);
	Elf64_Ehdr eh;
	memcpy(&eh, orig, sizeof(eh));

	cr_assert_eq(try_open("hello, world", 12, "not an ELF file"), -ENOEXEC);
	cr_assert_eq(try_open("", 0, "not an ELF file"), -ENOEXEC);
	for (size_t n = 4; n < 16; n++) /* the magic, then less than the ident bytes */
		cr_assert_eq(try_open("\x7f" "ELF\2\1\1\0\0\0\0\0\0\0\0", n, "truncated"), -EBADMSG);
	cr_assert_eq(try_open("\xfd" "7zXZ\0\0\0", 8, "xz-compressed"), -ENOEXEC);
	cr_assert_eq(try_open("\x1f\x8b\x08\0", 4, "gzip-compressed"), -ENOEXEC);
	cr_assert_eq(try_open("\x28\xb5\x2f\xfd\0", 5, "zstd-compressed"), -ENOEXEC);

	struct {
		size_t at;
		uint8_t value;
		int rc;
		const char *says;
	} edits[] = {
		{EI_CLASS, ELFCLASS32, -EPROTONOSUPPORT, "32-bit"},
		{EI_DATA, ELFDATA2MSB, -EPROTONOSUPPORT, "big-endian"},
		{offsetof(Elf64_Ehdr, e_machine), EM_AARCH64, -EPROTONOSUPPORT, "not x86-64"},
		{offsetof(Elf64_Ehdr, e_type), ET_EXEC, -EPROTONOSUPPORT, "not a relocatable"},
		{offsetof(Elf64_Ehdr, e_type), ET_DYN, -EPROTONOSUPPORT, "not a relocatable"},
		{offsetof(Elf64_Ehdr, e_shnum), 0, -EPROTONOSUPPORT, "extended section numbering"},
		{offsetof(Elf64_Ehdr, e_shentsize), 40, -EBADMSG, "headers of 40 bytes"},
		{offsetof(Elf64_Ehdr, e_shstrndx), 200, -EBADMSG, "not a section"},
		{offsetof(Elf64_Ehdr, e_shoff) + 3, 0x10, -EBADMSG, "end past the file"},
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		memcpy(img, orig, len);
		img[edits[i].at] = edits[i].value;
		if (edits[i].at == offsetof(Elf64_Ehdr, e_shnum))
			img[edits[i].at + 1] = 0;
		cr_assert_eq(try_open(img, len, edits[i].says), edits[i].rc, "edit %zu", i);
	}

	/* a section (.text, index 1) whose bytes lie past the end of the file */
	Elf64_Shdr sh;
	memcpy(img, orig, len);
	memcpy(&sh, img + eh.e_shoff + sizeof(sh), sizeof(sh));
	sh.sh_offset = len - 2;
	memcpy(img + eh.e_shoff + sizeof(sh), &sh, sizeof(sh));
	cr_assert_eq(try_open(img, len, "ends past the file"), -EBADMSG);
	/* code overlapping another section, and the ELF header */
	for (int target = 0; target < 2; target++) {
		memcpy(img, orig, len);
		Elf64_Shdr other;
		memcpy(&sh, img + eh.e_shoff + sizeof(sh), sizeof(sh)); /* .text */
		memcpy(&other, img + eh.e_shoff + eh.e_shstrndx * sizeof(sh), sizeof(sh));
		sh.sh_offset = target ? 0 : other.sh_offset;
		sh.sh_size = 8;
		memcpy(img + eh.e_shoff + sizeof(sh), &sh, sizeof(sh));
		cr_assert_eq(try_open(img, len, target ? "overlaps the ELF header" : "overlaps .shstrtab"),
			     -EBADMSG);
	}
	/* a relocation outside its section */
	memcpy(img, orig, len);
	for (unsigned i = 1; i < eh.e_shnum; i++) {
		memcpy(&sh, img + eh.e_shoff + i * sizeof(sh), sizeof(sh));
		if (sh.sh_type == SHT_RELA) {
			Elf64_Rela r;
			memcpy(&r, img + sh.sh_offset, sizeof(r));
			r.r_offset = 1u << 30;
			memcpy(img + sh.sh_offset, &r, sizeof(r));
			break;
		}
	}
	cr_assert_eq(try_open(img, len, "is outside"), -EBADMSG);

	/* every truncation of a real object fails cleanly (its section headers are last) */
	for (size_t n = 0; n < len; n++)
		cr_assert_lt(try_open(orig, n, NULL), 0, "truncated to %zu bytes", n);
	cr_assert_eq(try_open(orig, len, NULL), 0);

	vc_rewrite *m;
	cr_assert_eq(vc_rewrite_load_path(&m, th_path("missing.o")), -ENOENT);
	cr_assert_eq(vc_rewrite_load_path(&m, th_dir), -EISDIR);
	cr_assert_eq(vc_rewrite_load(&m, NULL, 5), -EINVAL);
	cr_assert_eq(vc_rewrite_load(NULL, orig, len), -EINVAL);
	free(img);
	free(orig);
}

/* The fast length decoder must agree with Zydis wherever it answers, and answer only
 * for instructions that cannot be sensitive. */
static void check_fast_length(const ZydisDecoder *z, const uint8_t *p, size_t avail,
			      unsigned long *answered)
{
	unsigned n = vc__rewrite_fast_length(p, avail);
	if (!n)
		return;
	ZydisDecodedInstruction in;
	cr_assert(ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(z, NULL, p, avail, &in)),
		  "fast length %u for bytes Zydis cannot decode: %02x %02x %02x %02x", n, p[0],
		  p[1], p[2], p[3]);
	cr_assert_eq(n, in.length, "fast length %u, Zydis %u: %02x %02x %02x %02x %02x", n,
		     in.length, p[0], p[1], p[2], p[3], p[4]);
	/* and never a sensitive instruction (Zydis' Intel names) */
	static const char *const sensitive[] = {
		"cli", "sti", "pushf", "pushfd", "pushfq", "popf", "popfd", "popfq", "hlt", "in",
		"out", "insb", "insw", "insd", "outsb", "outsw", "outsd", "rdmsr", "wrmsr", "lgdt",
		"sgdt", "lidt", "sidt", "lldt", "sldt", "ltr", "str", "smsw", "lmsw", "clts",
		"invlpg", "invpcid", "wbinvd", "invd", "cpuid", "rdtsc", "rdtscp", "rdpmc",
		"swapgs", "sysret", "sysexit", "iret", "iretd", "iretq", "xsetbv", "lar", "lsl",
		"verr", "verw"};
	const char *name = ZydisMnemonicGetString(in.mnemonic);
	for (size_t i = 0; i < sizeof(sensitive) / sizeof(sensitive[0]); i++)
		cr_assert_str_neq(name, sensitive[i], "the fast path took a sensitive %s", name);
	const int mov_special = in.mnemonic == ZYDIS_MNEMONIC_MOV &&
				(in.opcode == 0x8c || in.opcode == 0x8e ||
				 (in.opcode_map == ZYDIS_OPCODE_MAP_0F && in.opcode >= 0x20 && in.opcode <= 0x23));
	const int seg_push_pop = (in.mnemonic == ZYDIS_MNEMONIC_PUSH || in.mnemonic == ZYDIS_MNEMONIC_POP) &&
				 in.opcode_map == ZYDIS_OPCODE_MAP_0F;
	cr_assert(!mov_special && !seg_push_pop, "the fast path took a segment/CR/DR move");
	(*answered)++;
}

Test(rewrite, fast_lengths_agree_with_zydis, .init = begin, .fini = end)
{
	ZydisDecoder z;
	cr_assert(ZYAN_SUCCESS(ZydisDecoderInit(&z, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)));
	unsigned long answered = 0, total = 0;
	/* every instruction of compiled and assembled code, in a linear sweep */
	static const char *const sources[] = {"driver.c", "sensitive.S", "lookalikes.S"};
	for (size_t f = 0; f < 3; f++) {
		size_t len;
		uint8_t *img = th_read_file(build_object(sources[f]), &len);
		Elf64_Ehdr eh;
		memcpy(&eh, img, sizeof(eh));
		for (unsigned i = 0; i < eh.e_shnum; i++) {
			Elf64_Shdr sh;
			memcpy(&sh, img + eh.e_shoff + i * sizeof(sh), sizeof(sh));
			if (sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_EXECINSTR))
				continue;
			for (size_t at = 0; at < sh.sh_size; total++) {
				ZydisDecodedInstruction in;
				const uint8_t *p = img + sh.sh_offset + at;
				check_fast_length(&z, p, sh.sh_size - at, &answered);
				at += ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&z, NULL, p, sh.sh_size - at, &in))
					      ? in.length : 1;
			}
		}
		free(img);
	}
	cr_assert_gt(answered, 50, "the fast path answered only %lu of %lu", answered, total);
	/* random bytes, and random bytes after each prefix and escape */
	uint64_t rng = 12345;
	uint8_t buf[32];
	for (unsigned i = 0; i < 2000000; i++) {
		for (size_t k = 0; k < sizeof(buf); k += 8) {
			uint64_t r = th_rand64(&rng);
			memcpy(buf + k, &r, 8);
		}
		static const uint8_t lead[] = {0x66, 0x67, 0x48, 0x41, 0x0f, 0xf3, 0xf2, 0x2e, 0x64};
		if (i % 2)
			buf[0] = lead[i / 2 % sizeof(lead)];
		check_fast_length(&z, buf, 1 + th_rand64(&rng) % sizeof(buf), &answered);
	}
}
