// SPDX-License-Identifier: MIT
// pack-boot-disk: what a host does to hand a guest several boot images as one disk, and
// what a VMM does to find one inside it. Packs three images (a "kernel", an "initrd" with
// a hole in it, a "config" streamed from a pipe) into a temporary disk, reopens it,
// locates the kernel by name (offset and size inside the disk: enough to load it straight
// from the disk), verifies every digest and extracts the config.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, memfd_create */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <virtcore/pack.h>

static int fail(const char *what, int rc)
{
	fprintf(stderr, "pack-boot-disk: %s: %s\n", what, vc_strerror(rc));
	return 1;
}

static void log_line(enum vc_log_level level, const char *msg, void *ud)
{
	(void)ud;
	if (level == VC_LOG_ERROR)
		fprintf(stderr, "  libvirtcore: %s\n", msg);
}

int main(void)
{
	char dir[] = "/tmp/pack-boot-disk-XXXXXX", disk[64];
	if (!mkdtemp(dir))
		return 1;
	snprintf(disk, sizeof(disk), "%s/boot.img", dir);
	vc_set_log_fn(log_line, NULL);

	/* Three images from descriptors: two memfds and a pipe. */
	int kernel = memfd_create("kernel", 0), initrd = memfd_create("initrd", 0), p[2];
	static char text[200000];
	memset(text, 'k', sizeof(text));
	if (kernel < 0 || initrd < 0 || pipe(p) ||
	    write(kernel, text, sizeof(text)) != (ssize_t)sizeof(text) ||
	    ftruncate(initrd, 4 << 20) || pwrite(initrd, "end", 3, (4 << 20) - 3) != 3 ||
	    write(p[1], "console=ttyS0\n", 14) != 14)
		return 1;
	close(p[1]);

	vc_pack_writer *w;
	int rc = vc_pack_writer_open(&w, disk, NULL);
	if (rc)
		return fail("create", rc);
	if ((rc = vc_pack_writer_add_fd(w, "kernel", kernel)) ||
	    (rc = vc_pack_writer_add_fd(w, "initrd", initrd)) ||
	    (rc = vc_pack_writer_add_fd(w, "config", p[0]))) {
		vc_pack_writer_close(w); /* before commit: nothing is left behind */
		return fail("add", rc);
	}
	rc = vc_pack_writer_commit(w);
	vc_pack_writer_close(w);
	if (rc)
		return fail("commit", rc);

	vc_pack *pk;
	struct vc_pack_info info;
	struct vc_pack_image img;
	if ((rc = vc_pack_open(&pk, disk)))
		return fail("open", rc);
	vc_pack_info(&info, pk);
	printf("%s: %u images, %llu bytes of images in a %llu-byte disk\n", disk, info.count,
	       (unsigned long long)info.used, (unsigned long long)info.disk_size);
	for (unsigned i = 0; i < info.count; i++) {
		char hex[65];
		vc_pack_get(&img, pk, i);
		vc_pack_hex(hex, img.sha256);
		printf("  partition %u: %-7s %8llu bytes at %8llu  sha256 %.16s...\n", i + 1,
		       img.name, (unsigned long long)img.size, (unsigned long long)img.offset, hex);
	}
	if (vc_pack_find(&img, pk, "kernel") < 0)
		return fail("find kernel", -2);
	printf("a VMM loads the kernel from bytes [%llu, %llu) of the disk\n",
	       (unsigned long long)img.offset, (unsigned long long)(img.offset + img.size));
	if ((rc = vc_pack_verify(NULL, pk)))
		return fail("verify", rc);

	int out = memfd_create("config-out", 0);
	char cfg[64] = {0};
	int idx = vc_pack_find(NULL, pk, "config");
	if (idx < 0 || (rc = vc_pack_extract_fd(pk, (unsigned)idx, out)) ||
	    pread(out, cfg, sizeof(cfg) - 1, 0) < 0)
		return fail("extract config", rc ? rc : idx);
	printf("every digest verified; config says: %s", cfg);
	vc_pack_close(pk);

	unlink(disk);
	rmdir(dir);
	return 0;
}
