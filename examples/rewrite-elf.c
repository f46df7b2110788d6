// SPDX-License-Identifier: MIT
// rewrite: scan a relocatable object for sensitive instructions, write the trapped copy,
// find a site by a trapping address the way a VMM would, and restore the original.
// Usage: rewrite-elf [OBJECT.o]; without one it assembles a small driver with cc.
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <virtcore/rewrite.h>

static const char driver_asm[] =
	"\t.text\n\t.globl port_read\nport_read:\n"
	"\tpushf\n\tcli\n\tmov %di, %dx\n\tin (%dx), %al\n\tpopf\n\tret\n"
	"\t.globl read_tsc\nread_tsc:\n\trdtsc\n\tshl $32, %rdx\n\tor %rdx, %rax\n\tret\n";

static const char *make_object(char *dir)
{
	static char obj[4200];
	char src[4200], cmd[9000];
	if (!mkdtemp(dir))
		return NULL;
	snprintf(src, sizeof(src), "%s/driver.S", dir);
	snprintf(obj, sizeof(obj), "%s/driver.o", dir);
	FILE *f = fopen(src, "w");
	if (!f || fputs(driver_asm, f) < 0 || fclose(f))
		return NULL;
	snprintf(cmd, sizeof(cmd), "cc -c -o '%s' '%s'", obj, src);
	return system(cmd) == 0 ? obj : NULL;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/rewrite-elf-XXXXXX";
	const char *path = argc > 1 ? argv[1] : make_object(dir);
	vc_rewrite *m;
	int rc;

	if (!path || (rc = vc_rewrite_load_path(&m, path))) {
		fprintf(stderr, "rewrite-elf: %s: %s\n", path ? path : "cc", path ? vc_strerror(rc)
									   : "cannot assemble");
		return 1;
	}
	size_t n = vc_rewrite_count(m);
	printf("%s: %zu sensitive instruction%s\n", path, n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		struct vc_rewrite_site s;
		vc_rewrite_get(&s, m, i);
		printf("  %s+%#llx  %-7s %u byte%s  %s%s\n", s.section_name,
		       (unsigned long long)s.offset, s.mnemonic, s.length, s.length == 1 ? " " : "s",
		       vc_rewrite_class_name(s.cls), s.flags ? " (referenced: see vc-rewrite scan)" : "");
	}

	/* The caller owns the output: ask for the size, then rewrite into a buffer. */
	long len = vc_rewrite_patch(m, NULL, 0);
	void *img = len > 0 ? malloc((size_t)len) : NULL;
	if (len > 0)
		len = img ? vc_rewrite_patch(m, img, (size_t)len) : -ENOMEM;
	if (len < 0) {
		fprintf(stderr, "rewrite-elf: patch: %s\n", vc_strerror((int)len));
		free(img);
		return 1;
	}
	/* A VMM gets #BP with RIP one past the int3: the site is the one holding RIP - 1. */
	if (n) {
		struct vc_rewrite_site s;
		vc_rewrite_get(&s, m, n - 1);
		uint64_t rip = s.offset + 1;
		long at = vc_rewrite_find(m, s.section, rip - 1);
		printf("trap at %s+%#llx: site %ld, emulate %s, resume at +%#llx\n", s.section_name,
		       (unsigned long long)(rip - 1), at, s.mnemonic,
		       (unsigned long long)(s.offset + s.length));
	}
	/* the original is never larger than the rewritten object */
	void *orig = malloc((size_t)len);
	long olen = orig ? vc_rewrite_restore(img, (size_t)len, orig, (size_t)len) : -ENOMEM;
	rc = olen < 0 ? (int)olen : 0;
	printf("rewritten: %ld bytes with .vc.sensitive; restored: %s (%ld bytes)\n", len,
	       rc ? vc_strerror(rc) : "ok", rc ? 0 : olen);
	free(img);
	free(orig);
	vc_rewrite_destroy(m);
	if (argc < 2) {
		char p[4300];
		snprintf(p, sizeof(p), "%s/driver.S", dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/driver.o", dir);
		unlink(p);
		rmdir(dir);
	}
	return rc ? 1 : 0;
}
