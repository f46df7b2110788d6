// SPDX-License-Identifier: MIT
// bench_pack: packing 8 files (1 GiB) into one disk and getting them out again, side by
// side with `cp` and `tar` on the same files in the same run; and extracting one image,
// whose cost must follow that image's size, not the disk's.
//
// Every case writes to the page cache only (nobody fsyncs); between cases the outputs are
// removed and sync() runs outside the timed region, so one case's writeback does not land
// in the next one's time. The sources stay cached: this measures the copy, not the disk.
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <virtcore/pack.h>

#include "harness.h"

#define NFILES 8
#define MAX_TRIALS 7

static char work[256];
static char files[NFILES + 1][300]; /* + the small image */
static uint64_t file_size;
static const uint64_t small_size = 1u << 20;

static void die(const char *what)
{
	fprintf(stderr, "bench_pack: %s: %s\n", what, strerror(errno));
	exit(1);
}

static char *at(const char *name)
{
	static char buf[4][400];
	static int next;
	char *p = buf[next++ % 4];
	snprintf(p, sizeof(buf[0]), "%s/%s", work, name);
	return p;
}

/* Runs argv (in @dir if not NULL); dies unless it exits 0. */
static void spawn(const char *const argv[], const char *dir)
{
	if (vcb_command(argv, dir) != 0)
		fprintf(stderr, "bench_pack: %s failed\n", argv[0]), exit(1);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static void rm_rf(const char *p)
{
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void fresh_dir(const char *name)
{
	rm_rf(at(name));
	if (mkdir(at(name), 0755) != 0)
		die(name);
}

static void make_sources(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t chunk = 1u << 20;
	void *buf = malloc(chunk);

	if (!buf)
		die("malloc");
	fresh_dir("src");
	for (int i = 0; i <= NFILES; i++) {
		uint64_t size = i < NFILES ? file_size : small_size;
		snprintf(files[i], sizeof(files[i]), "%s/src/%s%d", work, i < NFILES ? "f" : "small", i);
		int fd = open(files[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			die(files[i]);
		for (uint64_t off = 0; off < size; off += chunk) {
			vcb_fill_random(buf, chunk, &x);
			if (write(fd, buf, chunk) != (ssize_t)chunk)
				die("write");
		}
		close(fd);
	}
	free(buf);
	sync();
}

/* ---- the cases; each does the whole job once ---- */

static void run_cp(void)
{
	const char *argv[NFILES + 4] = {"cp"};
	for (int i = 0; i < NFILES; i++)
		argv[1 + i] = files[i];
	argv[1 + NFILES] = at("cp-out");
	spawn(argv, NULL);
}

/* The same work as packing by hand: copy, then a digest per file. */
static void run_cp_sha256sum(void)
{
	const char *argv[NFILES + 2] = {"sha256sum"};
	run_cp();
	for (int i = 0; i < NFILES; i++)
		argv[1 + i] = files[i];
	spawn(argv, NULL);
}

static void run_tar_c(void)
{
	const char *argv[NFILES + 6] = {"tar", "-cf", at("a.tar"), "-C", at("src")};
	for (int i = 0; i < NFILES; i++)
		argv[5 + i] = strrchr(files[i], '/') + 1;
	spawn(argv, NULL);
}

static void pack(const char *disk, uint32_t flags, int n)
{
	VC_OPTS(vc_pack_create_opts, o, .flags = flags);
	vc_pack_writer *w = NULL;
	int rc = vc_pack_writer_open(&w, disk, &o);
	for (int i = 0; rc == 0 && i < n; i++)
		rc = vc_pack_writer_add_path(w, NULL, files[i]);
	if (!rc)
		rc = vc_pack_writer_commit(w);
	vc_pack_writer_close(w);
	if (rc)
		fprintf(stderr, "bench_pack: pack: %s\n", vc_strerror(rc)), exit(1);
}

static void run_pack(void)
{
	pack(at("d.img"), 0, NFILES);
}

static void run_pack_serial(void)
{
	pack(at("d.img"), VC_PACK_CREATE_SERIAL, NFILES);
}

static void run_cp_back(void)
{
	run_cp(); /* extraction's peer: the same bytes copied out of a directory */
}

static void run_tar_x(void)
{
	const char *argv[] = {"tar", "-xf", at("a.tar"), NULL};
	spawn(argv, at("tar-out"));
}

static void extract_one(vc_pack *p, unsigned i, const char *dir)
{
	struct vc_pack_image img;
	char out[600];
	vc_pack_get(&img, p, i);
	snprintf(out, sizeof(out), "%s/%s", dir, img.name);
	int rc = vc_pack_extract_path(p, i, out, 0);
	if (rc)
		fprintf(stderr, "bench_pack: extract: %s\n", vc_strerror(rc)), exit(1);
}

static void run_extract_all(void)
{
	vc_pack *p;
	if (vc_pack_open(&p, at("d.img")) || vc_pack_extract_all(p, at("x-out"), 0))
		exit(1);
	vc_pack_close(p);
}

/* One image out of the 9-image disk, opening the disk each time (as a tool would). */
static void extract_by_name(const char *name)
{
	vc_pack *p;
	if (vc_pack_open(&p, at("d9.img")))
		exit(1);
	int i = vc_pack_find(NULL, p, name);
	if (i < 0)
		exit(1);
	extract_one(p, (unsigned)i, at("one-out"));
	vc_pack_close(p);
}

static void run_extract_big(void) { extract_by_name("f7"); }
static void run_extract_small(void) { extract_by_name("small8"); }

static void run_tar_x_small(void)
{
	const char *argv[] = {"tar", "-xf", at("a9.tar"), "small8", NULL};
	spawn(argv, at("one-out"));
}

static void run_true(void)
{
	const char *argv[] = {"true", NULL};
	spawn(argv, NULL);
}

/* Untimed, before each case: remove what earlier cases wrote (freeing a GiB of page
 * cache is tens of milliseconds nobody's copy should be charged with), then sync() so
 * their writeback does not land in this case's time. */
static void prep_keep_inputs(void)
{
	fresh_dir("cp-out");
	fresh_dir("tar-out");
	fresh_dir("x-out");
	fresh_dir("one-out");
	sync();
}

static void prep(void)
{
	unlink(at("a.tar"));
	unlink(at("d.img"));
	prep_keep_inputs();
}

int main(int argc, char **argv)
{
	vcb_init(argc, argv);
	int trials = vcb_cfg.quick ? 1 : MAX_TRIALS;
	file_size = vcb_cfg.quick ? 2u << 20 : 128u << 20;
	const char *base = getenv("VC_BENCH_DIR") ? getenv("VC_BENCH_DIR") : "/var/tmp";
	snprintf(work, sizeof(work), "%s/bench_pack.XXXXXX", base);
	if (!mkdtemp(work))
		die(work);
	make_sources();
	double total = (double)file_size * NFILES;
	printf("bench_pack: %d files of %llu MiB in %s, %d trials per case\n", NFILES,
	       (unsigned long long)(file_size >> 20), work, trials);

	struct vcb_table *t = vcb_table_new("pack", "pack 8 files into one", "cp");
	struct vcb_once packing[] = {
		{.name = "cp", .fn = run_cp, .prep = prep},
		{.name = "cp, then sha256sum (same work)", .fn = run_cp_sha256sum, .prep = prep},
		{.name = "tar -cf", .fn = run_tar_c, .prep = prep},
		{.name = "vc_pack (parallel, default)", .fn = run_pack, .prep = prep},
		{.name = "vc_pack serial", .fn = run_pack_serial, .prep = prep},
	};
	vcb_run_rounds(t, packing, 5, 0, trials, total);
	vcb_table_finish(t, stdout);

	/* The inputs of extraction: the last trial's disk and archive stay. */
	run_tar_c();
	t = vcb_table_new("pack", "extract all 8", "tar -xf");
	struct vcb_once extracting[] = {
		{.name = "cp (copy the files back)", .fn = run_cp_back, .prep = prep_keep_inputs},
		{.name = "tar -xf", .fn = run_tar_x, .prep = prep_keep_inputs},
		{.name = "vc_pack_extract_all", .fn = run_extract_all, .prep = prep_keep_inputs},
	};
	vcb_run_rounds(t, extracting, 3, 1, trials, total);
	vcb_table_finish(t, stdout);

	/* A disk and a tar archive of the 8 files plus a 1 MiB one at the end. */
	pack(at("d9.img"), 0, NFILES + 1);
	const char *tar9[NFILES + 7] = {"tar", "-cf", at("a9.tar"), "-C", at("src")};
	for (int i = 0; i <= NFILES; i++)
		tar9[5 + i] = strrchr(files[i], '/') + 1;
	spawn(tar9, NULL);
	t = vcb_table_new("pack", "extract one image from a 9-image disk", "vc_pack 1 of 8 big");
	struct vcb_once one[] = {
		{.name = "vc_pack 1 of 8 big", .fn = run_extract_big, .prep = prep_keep_inputs},
		{.name = "vc_pack the 1 MiB one", .fn = run_extract_small, .prep = prep_keep_inputs},
		{.name = "tar -xf the 1 MiB member (last)", .fn = run_tar_x_small, .prep = prep_keep_inputs},
		{.name = "spawn /bin/true (process cost)", .fn = run_true, .prep = prep_keep_inputs},
	};
	vcb_run_rounds(t, one, 4, 0, trials, 0);
	vcb_table_finish(t, stdout);
	printf("size ratio 1 MiB / big image: %.4f\n", (double)small_size / (double)file_size);

	rm_rf(work);
	return 0;
}
