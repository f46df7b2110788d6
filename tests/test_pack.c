// SPDX-License-Identifier: MIT
// pack: round trips of many image sets, the writer's refusals, and hostile disks (raw
// corruption and fully consistent but lying indexes). The standard-tool oracles (sfdisk,
// blkid, partx, sgdisk) run on vc-pack's output in tests/pack/check_vc_pack.py.
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <virtcore/pack.h>

#include "helpers.h"
#include "pack/pack-internal.h"
#include "util/crc32.h"

static void setup(void)
{
	th_scratch_begin("pack");
}

static void teardown(void)
{
	th_scratch_end();
}

TestSuite(pack, .init = setup, .fini = teardown, .timeout = 120);

/* ---- image sets ---- */

enum kind { RANDOM, HOLE, SPARSE }; /* SPARSE: holes with data at both ends and inside */

struct spec {
	const char *name;
	uint64_t size;
	enum kind kind;
};

static void fill_random(uint8_t *buf, size_t n, uint64_t *seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)th_rand64(seed);
}

/* Writes image @s as the file src/NAME. */
static void make_image(const struct spec *s, uint64_t seed)
{
	char name[300];
	snprintf(name, sizeof(name), "src/%s", s->name);
	mkdir(th_path("src"), 0755);
	int fd = open(th_path(name), O_RDWR | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0, "%s: %s", name, strerror(errno));
	cr_assert_eq(ftruncate(fd, (off_t)s->size), 0);
	uint8_t buf[8192];
	if (s->kind == RANDOM) {
		for (uint64_t off = 0; off < s->size; off += sizeof(buf)) {
			size_t n = s->size - off < sizeof(buf) ? s->size - off : sizeof(buf);
			fill_random(buf, n, &seed);
			cr_assert_eq(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
		}
	} else if (s->kind == SPARSE && s->size) {
		uint64_t at[3] = {0, s->size / 2, s->size > 100 ? s->size - 100 : 0};
		for (int i = 0; i < 3; i++) {
			size_t n = s->size - at[i] < 100 ? s->size - at[i] : 100;
			fill_random(buf, n, &seed);
			cr_assert_eq(pwrite(fd, buf, n, (off_t)at[i]), (ssize_t)n);
		}
	}
	close(fd);
}

static void sha256_file(const char *path, uint8_t out[32])
{
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0, "%s", path);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t buf[65536];
	ssize_t n;
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(c, buf, (size_t)n);
	EVP_DigestFinal_ex(c, out, NULL);
	EVP_MD_CTX_free(c);
	close(fd);
}

static bool same_file(const char *a, const char *b)
{
	uint8_t x[32], y[32];
	sha256_file(a, x);
	sha256_file(b, y);
	return memcmp(x, y, 32) == 0;
}

static int pack_specs(const char *disk, const struct spec *s, int n, uint32_t align,
		      uint64_t disk_size, uint32_t flags)
{
	VC_OPTS(vc_pack_create_opts, o, .align = align, .disk_size = disk_size, .flags = flags);
	vc_pack_writer *w;
	int rc = vc_pack_writer_open(&w, disk, &o);
	if (rc)
		return rc;
	for (int i = 0; i < n; i++) {
		char name[300];
		snprintf(name, sizeof(name), "src/%s", s[i].name);
		rc = vc_pack_writer_add_path(w, NULL, th_path(name));
		cr_assert_eq(rc, 0, "add %s: %s (%s)", s[i].name, vc_strerror(rc), th_last_log);
	}
	rc = vc_pack_writer_commit(w);
	vc_pack_writer_close(w);
	return rc;
}

/* Opens @disk and checks it holds exactly @s, in order, byte for byte. */
/* The freestanding reader in pack_format.h (what a guest uses over a block device) reads
 * the index as the library does: same images, same places. */
static void abi_reader_agrees(const char *disk, vc_pack *p)
{
	static struct vc_pack_entry ent[VC_PACK_MAX_IMAGES];
	struct vc_pack_header h;
	struct stat st;
	int fd = open(disk, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(pread(fd, &h, sizeof(h), VC_PACK_HEADER_OFFSET), (ssize_t)sizeof(h));
	cr_assert_eq(pread(fd, ent, sizeof(ent), VC_PACK_ENTRIES_OFFSET), (ssize_t)sizeof(ent));
	close(fd);
	cr_assert_eq(vc_pack_abi_header(&h, (uint64_t)st.st_size), 0);
	cr_assert_eq(vc_pack_abi_entries(&h, ent), 0);
	cr_assert_eq(h.count, vc_pack_count(p));
	for (unsigned i = 0; i < h.count; i++) {
		struct vc_pack_image img;
		cr_assert_eq(vc_pack_get(&img, p, i), 0);
		int k = vc_pack_abi_find(&h, ent, img.name, strlen(img.name));
		cr_assert_eq(k, (int)i, "%s: found at %d", img.name, k);
		cr_assert(ent[k].offset == img.offset && ent[k].size == img.size);
	}
	cr_assert_eq(vc_pack_abi_find(&h, ent, "no such image", 13), VC_PACK_ABI_ERR_NOENT);
	cr_assert_eq(vc_pack_abi_header(&h, (uint64_t)st.st_size + 512), VC_PACK_ABI_ERR_BADMSG);
	/* any one byte changed in the header or the entries is caught */
	for (unsigned b = 0; b < sizeof(h); b += 37) {
		((uint8_t *)&h)[b] ^= 0x10;
		cr_assert_eq(vc_pack_abi_header(&h, (uint64_t)st.st_size), VC_PACK_ABI_ERR_BADMSG,
			     "header byte %u", b);
		((uint8_t *)&h)[b] ^= 0x10;
	}
	for (unsigned b = 0; b < sizeof(ent); b += 4099) {
		((uint8_t *)ent)[b] ^= 1;
		cr_assert_eq(vc_pack_abi_entries(&h, ent), VC_PACK_ABI_ERR_BADMSG, "entry byte %u", b);
		((uint8_t *)ent)[b] ^= 1;
	}
	/* an image past the data area, with the CRC made right again, is caught too */
	if (h.count) {
		ent[0].offset = h.data_end;
		h.entries_crc32 = vc_pack_abi_crc32(0, ent, sizeof(ent));
		cr_assert_eq(vc_pack_abi_entries(&h, ent), VC_PACK_ABI_ERR_BADMSG);
	}
}

static void check_roundtrip(const char *disk_arg, const struct spec *s, int n, uint32_t align)
{
	char disk[PATH_MAX]; /* th_path()'s buffers rotate: keep our own copy */
	snprintf(disk, sizeof(disk), "%s", disk_arg);
	vc_pack *p;
	int rc = vc_pack_open(&p, disk);
	cr_assert_eq(rc, 0, "open: %s (%s)", vc_strerror(rc), th_last_log);
	cr_assert_eq(vc_pack_count(p), (unsigned)n);
	mkdir(th_path("out"), 0755);
	uint64_t prev_end = VC_PACK_INDEX_SIZE;
	for (int i = 0; i < n; i++) {
		struct vc_pack_image img;
		char src[300], out[300];
		uint8_t want[32];

		cr_assert_eq(vc_pack_get(&img, p, (unsigned)i), 0);
		cr_assert_str_eq(img.name, s[i].name);
		cr_assert_eq(img.size, s[i].size, "%s: size %lu", s[i].name, (unsigned long)img.size);
		cr_assert_eq(img.offset % align, 0);
		cr_assert_geq(img.offset, prev_end);
		prev_end = img.offset + img.size;
		snprintf(src, sizeof(src), "src/%s", s[i].name);
		snprintf(out, sizeof(out), "out/%s", s[i].name);
		sha256_file(th_path(src), want);
		cr_assert_arr_eq(img.sha256, want, 32, "%s: digest", s[i].name);
		cr_assert_eq(vc_pack_find(NULL, p, s[i].name), i);
		rc = vc_pack_extract_path(p, (unsigned)i, th_path(out), 0600);
		cr_assert_eq(rc, 0, "extract %s: %s (%s)", s[i].name, vc_strerror(rc), th_last_log);
		cr_assert(same_file(th_path(src), th_path(out)), "%s differs", s[i].name);
		struct stat st;
		cr_assert_eq(stat(th_path(out), &st), 0);
		cr_assert_eq((uint64_t)st.st_size, s[i].size);
		cr_assert_eq(st.st_mode & 0777, 0600);
		if (s[i].kind != RANDOM && s[i].size >= 1 << 20) /* holes stayed holes */
			cr_assert_lt((uint64_t)st.st_blocks * 512, s[i].size / 4, "%s not sparse",
				     s[i].name);
	}
	cr_assert_eq(vc_pack_find(NULL, p, "no such image"), -ENOENT);
	cr_assert_eq(vc_pack_verify(NULL, p), 0, "verify: %s", th_last_log);

	/* All at once (several threads) gives the same files. */
	th_remove_tree(th_path("all"));
	mkdir(th_path("all"), 0755);
	rc = vc_pack_extract_all(p, th_path("all"), 0);
	cr_assert_eq(rc, 0, "extract_all: %s (%s)", vc_strerror(rc), th_last_log);
	for (int i = 0; i < n; i++) {
		char src[300], out[300];
		snprintf(src, sizeof(src), "src/%s", s[i].name);
		snprintf(out, sizeof(out), "all/%s", s[i].name);
		cr_assert(same_file(th_path(src), th_path(out)), "extract_all: %s differs", s[i].name);
	}
	abi_reader_agrees(disk, p);
	vc_pack_close(p);
}

static void roundtrip(const struct spec *s, int n, uint64_t seed)
{
	for (int i = 0; i < n; i++)
		make_image(&s[i], seed + (uint64_t)i);
	const uint32_t aligns[] = {VC_PACK_ALIGN_4K, VC_PACK_ALIGN_1M};
	for (int a = 0; a < 2; a++) {
		for (uint32_t flags = 0; flags <= VC_PACK_CREATE_SERIAL;
		     flags += VC_PACK_CREATE_SERIAL) {
			int rc = pack_specs(th_path("disk.img"), s, n, aligns[a], 0, flags);
			cr_assert_eq(rc, 0, "pack: %s (%s)", vc_strerror(rc), th_last_log);
			check_roundtrip(th_path("disk.img"), s, n, aligns[a]);
		}
	}
}

Test(pack, roundtrip_edge_sizes)
{
	const struct spec s[] = {
		{"empty", 0, RANDOM},
		{"one-byte", 1, RANDOM},
		{"sector-minus-1", 511, RANDOM},
		{"page-minus-1", 4095, RANDOM},
		{"page", 4096, RANDOM},
		{"page-plus-1", 4097, RANDOM},
		{"chunk-plus-3", 256 * 1024 + 3, RANDOM},
		{"mib-plus-1", (1 << 20) + 1, RANDOM},
		{"empty-again", 0, RANDOM},
	};
	roundtrip(s, sizeof(s) / sizeof(s[0]), 1);
}

Test(pack, roundtrip_sparse)
{
	const struct spec s[] = {
		{"all-hole", 8u << 20, HOLE},
		{"holes-inside", (6u << 20) + 123, SPARSE},
		{"random", 70000, RANDOM},
		{"tiny-sparse", 300, SPARSE},
	};
	roundtrip(s, sizeof(s) / sizeof(s[0]), 2);
	/* The disk itself stays sparse: 14 MiB of images, a few hundred KiB written. */
	struct stat st;
	cr_assert_eq(stat(th_path("disk.img"), &st), 0);
	cr_assert_lt((uint64_t)st.st_blocks * 512, 4u << 20);
}

Test(pack, roundtrip_many_images_and_utf8_names)
{
	static struct spec s[150];
	static char names[150][300];
	for (int i = 0; i < 150; i++) {
		if (i % 3 == 0)
			snprintf(names[i], sizeof(names[i]), "image-%03d.bin", i);
		else if (i % 3 == 1) /* longer than GPT's 36 UTF-16 units, with 4-byte chars */
			snprintf(names[i], sizeof(names[i]),
				 "ünïcødé-\xf0\x9f\x98\x80-a-name-far-longer-than-gpt-allows-%03d", i);
		else
			snprintf(names[i], sizeof(names[i]), "%03d with spaces = and 'quotes'", i);
		s[i] = (struct spec){names[i], (uint64_t)(i * 977) % 20000, RANDOM};
	}
	roundtrip(s, 150, 3);
}

Test(pack, name_of_255_bytes_and_fixed_size_disk)
{
	char name[256];
	memset(name, 'n', 255);
	name[255] = '\0';
	const struct spec s[] = {{name, 5000, RANDOM}, {"second", 1, RANDOM}};
	make_image(&s[0], 4);
	make_image(&s[1], 5);
	/* Index + two 4 KiB-aligned spans + backup: exactly what fits. */
	uint64_t size = VC_PACK_INDEX_SIZE + 8192 + 4096 + VC_PACK_BACKUP_SIZE;
	cr_assert_eq(pack_specs(th_path("disk.img"), s, 2, 0, size, 0), 0, "%s", th_last_log);
	struct stat st;
	cr_assert_eq(stat(th_path("disk.img"), &st), 0);
	cr_assert_eq((uint64_t)st.st_size, size);
	check_roundtrip(th_path("disk.img"), s, 2, VC_PACK_ALIGN_4K);
}

/* ---- the writer's refusals ---- */

static bool temp_files_left(void)
{
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -q vcpack-", th_dir);
	return system(cmd) == 0;
}

Test(pack, bad_names_are_refused_and_the_writer_goes_on)
{
	const struct spec img = {"ok", 10, RANDOM};
	make_image(&img, 6);
	char long_name[257];
	memset(long_name, 'x', 256);
	long_name[256] = '\0';
	static const struct {
		const char *name;
		int rc;
	} bad[] = {
		{"", -EINVAL},
		{".", -EILSEQ},
		{"..", -EILSEQ},
		{"a/b", -EILSEQ},
		{"tab\there", -EILSEQ},
		{"del\x7f", -EILSEQ},
		{"c1-\xc2\x85", -EILSEQ},          /* U+0085, a C1 control */
		{"overlong-\xc0\xaf", -EILSEQ},    /* '/' encoded in two bytes */
		{"surrogate-\xed\xa0\x80", -EILSEQ},
		{"truncated-\xe2\x82", -EILSEQ},
		{"too-big-\xf4\x90\x80\x80", -EILSEQ}, /* U+110000 */
		{"latin1-\xe9", -EILSEQ},
	};
	vc_pack_writer *w;
	cr_assert_eq(vc_pack_writer_open(&w, th_path("disk.img"), NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		th_last_log[0] = '\0';
		int rc = vc_pack_writer_add_path(w, bad[i].name, th_path("src/ok"));
		cr_assert_eq(rc, bad[i].rc, "name %zu: %d", i, rc);
		cr_assert_neq(th_last_log[0], '\0', "name %zu: no reason logged", i);
	}
	cr_assert_eq(vc_pack_writer_add_path(w, long_name, th_path("src/ok")), -ENAMETOOLONG);
	cr_assert_eq(vc_pack_writer_add_path(w, NULL, th_path("src/ok")), 0);
	cr_assert_eq(vc_pack_writer_add_path(w, "ok", th_path("src/ok")), -EEXIST);
	cr_assert_eq(vc_pack_writer_add_path(w, "missing", th_path("src/nope")), -ENOENT);
	cr_assert_eq(vc_pack_writer_add_path(w, "dir-is-fine?", th_path("src/ok")), 0);
	cr_assert_eq(vc_pack_writer_commit(w), 0, "%s", th_last_log);
	/* a committed writer takes nothing more, and closing it keeps the disk */
	cr_assert_eq(vc_pack_writer_add_path(w, "late", th_path("src/ok")), -EINVAL);
	cr_assert_eq(vc_pack_writer_commit(w), -EINVAL);
	vc_pack_writer_close(w);
	vc_pack *p;
	cr_assert_eq(vc_pack_open(&p, th_path("disk.img")), 0);
	cr_assert_eq(vc_pack_count(p), 2);
	vc_pack_close(p);
	cr_assert(!temp_files_left());
}

Test(pack, at_most_255_images)
{
	const struct spec img = {"x", 1, RANDOM};
	make_image(&img, 7);
	vc_pack_writer *w;
	cr_assert_eq(vc_pack_writer_open(&w, th_path("disk.img"), NULL), 0);
	for (int i = 0; i < 255; i++) {
		char name[16];
		snprintf(name, sizeof(name), "i%d", i);
		cr_assert_eq(vc_pack_writer_add_path(w, name, th_path("src/x")), 0);
	}
	cr_assert_eq(vc_pack_writer_add_path(w, "one-more", th_path("src/x")), -E2BIG);
	cr_assert_eq(vc_pack_writer_commit(w), 0);
	vc_pack_writer_close(w);
	vc_pack *p;
	cr_assert_eq(vc_pack_open(&p, th_path("disk.img")), 0);
	cr_assert_eq(vc_pack_count(p), 255);
	cr_assert_eq(vc_pack_verify(NULL, p), 0);
	vc_pack_close(p);
}

Test(pack, bad_options)
{
	vc_pack_writer *w;
	VC_OPTS(vc_pack_create_opts, a, .align = 8192);
	VC_OPTS(vc_pack_create_opts, b, .disk_size = 1000000 + 1);
	VC_OPTS(vc_pack_create_opts, c, .disk_size = 512 * 100);
	VC_OPTS(vc_pack_create_opts, d, .flags = 1u << 7);
	cr_assert_eq(vc_pack_writer_open(&w, th_path("d"), &a), -EINVAL);
	cr_assert_eq(vc_pack_writer_open(&w, th_path("d"), &b), -EINVAL);
	cr_assert_eq(vc_pack_writer_open(&w, th_path("d"), &c), -ENOSPC);
	cr_assert_eq(vc_pack_writer_open(&w, th_path("d"), &d), -EINVAL);
	cr_assert_eq(vc_pack_writer_open(&w, th_path("no/such/dir/d"), NULL), -ENOENT);
	cr_assert_eq(vc_pack_writer_open(&w, NULL, NULL), -EINVAL);
	cr_assert(!temp_files_left());
}

Test(pack, disk_too_small_leaves_the_old_disk_untouched)
{
	const struct spec s[] = {{"big", 64 * 1024, RANDOM}};
	make_image(&s[0], 8);
	int fd = open(th_path("disk.img"), O_WRONLY | O_CREAT, 0644);
	cr_assert_eq(write(fd, "old contents", 12), 12);
	close(fd);

	VC_OPTS(vc_pack_create_opts, o, .disk_size = VC_PACK_INDEX_SIZE + 32768 + VC_PACK_BACKUP_SIZE);
	vc_pack_writer *w;
	cr_assert_eq(vc_pack_writer_open(&w, th_path("disk.img"), &o), 0);
	cr_assert_eq(vc_pack_writer_add_path(w, NULL, th_path("src/big")), -ENOSPC);
	cr_assert(strstr(th_last_log, "does not fit"), "%s", th_last_log);
	vc_pack_writer_close(w);

	char buf[32] = {0};
	fd = open(th_path("disk.img"), O_RDONLY);
	cr_assert_eq(read(fd, buf, sizeof(buf)), 12);
	close(fd);
	cr_assert_str_eq(buf, "old contents");
	cr_assert(!temp_files_left());
}

/* ---- fds: pipes, memfds ---- */

struct feeder {
	int fd;
	uint64_t len;
	uint64_t seed;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	uint8_t buf[4096];
	for (uint64_t off = 0; off < f->len; off += sizeof(buf)) {
		size_t n = f->len - off < sizeof(buf) ? f->len - off : sizeof(buf);
		fill_random(buf, n, &f->seed);
		if (write(f->fd, buf, n) != (ssize_t)n)
			break;
	}
	close(f->fd);
	return NULL;
}

static void expected_digest(uint64_t len, uint64_t seed, uint8_t out[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t buf[4096];
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (uint64_t off = 0; off < len; off += sizeof(buf)) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);
		fill_random(buf, n, &seed);
		EVP_DigestUpdate(c, buf, n);
	}
	EVP_DigestFinal_ex(c, out, NULL);
	EVP_MD_CTX_free(c);
}

Test(pack, pipes_and_memfds)
{
	int pfd[2];
	pthread_t t;
	const uint64_t stream_len = (1u << 20) + 17;
	cr_assert_eq(pipe(pfd), 0);
	struct feeder f = {pfd[1], stream_len, 9};
	pthread_create(&t, NULL, feed, &f);

	/* memfd -> ext4/tmpfs file: copy_file_range() refuses (EXDEV), read/write takes over */
	int mfd = memfd_create("image", 0);
	uint8_t data[10000];
	uint64_t seed = 10;
	fill_random(data, sizeof(data), &seed);
	cr_assert_eq(write(mfd, data, sizeof(data)), (ssize_t)sizeof(data));

	vc_pack_writer *w;
	cr_assert_eq(vc_pack_writer_open(&w, th_path("disk.img"), NULL), 0);
	cr_assert_eq(vc_pack_writer_add_fd(w, NULL, mfd), -EINVAL);
	cr_assert_eq(vc_pack_writer_add_fd(w, "stream", pfd[0]), 0, "%s", th_last_log);
	cr_assert_eq(vc_pack_writer_add_fd(w, "memfd", mfd), 0);
	int wr = open(th_path("wronly"), O_WRONLY | O_CREAT, 0644);
	cr_assert_eq(vc_pack_writer_add_fd(w, "wronly", wr), -EBADF);
	close(wr);
	cr_assert_eq(vc_pack_writer_commit(w), 0, "%s", th_last_log);
	vc_pack_writer_close(w);
	pthread_join(t, NULL);
	close(pfd[0]);
	cr_assert_eq(lseek(mfd, 0, SEEK_CUR), (off_t)sizeof(data), "the caller's offset moved");

	vc_pack *p;
	struct vc_pack_image img;
	uint8_t want[32];
	cr_assert_eq(vc_pack_open(&p, th_path("disk.img")), 0);
	cr_assert_eq(vc_pack_find(&img, p, "stream"), 0);
	cr_assert_eq(img.size, stream_len);
	expected_digest(stream_len, 9, want);
	cr_assert_arr_eq(img.sha256, want, 32);
	cr_assert_eq(vc_pack_find(&img, p, "memfd"), 1);
	cr_assert_eq(img.size, sizeof(data));
	SHA256(data, sizeof(data), want);
	cr_assert_arr_eq(img.sha256, want, 32);

	/* Extract into a memfd (the fallback again) and into a pipe (sequential). */
	int out = memfd_create("out", 0);
	cr_assert_eq(write(out, "stale bytes longer than nothing", 31), 31);
	cr_assert_eq(vc_pack_extract_fd(p, 1, out), 0, "%s", th_last_log);
	uint8_t back[sizeof(data) + 1];
	cr_assert_eq(pread(out, back, sizeof(back), 0), (ssize_t)sizeof(data));
	cr_assert_arr_eq(back, data, sizeof(data));
	close(out);

	cr_assert_eq(pipe(pfd), 0);
	cr_assert_eq(fcntl(pfd[0], F_SETPIPE_SZ, 1 << 16) > 0, true);
	cr_assert_eq(vc_pack_extract_fd(p, 1, pfd[1]), 0);
	close(pfd[1]);
	cr_assert_eq(read(pfd[0], back, sizeof(back)), (ssize_t)sizeof(data));
	cr_assert_arr_eq(back, data, sizeof(data));
	close(pfd[0]);
	cr_assert_eq(vc_pack_extract_fd(p, 2, 1), -ENOENT);
	vc_pack_close(p);
	close(mfd);
}

Test(pack, stream_larger_than_the_fixed_disk)
{
	int pfd[2];
	pthread_t t;
	signal(SIGPIPE, SIG_IGN); /* the feeder outlives the reader */
	cr_assert_eq(pipe(pfd), 0);
	struct feeder f = {pfd[1], 256 * 1024, 11};
	pthread_create(&t, NULL, feed, &f);
	VC_OPTS(vc_pack_create_opts, o, .disk_size = VC_PACK_INDEX_SIZE + 65536 + VC_PACK_BACKUP_SIZE);
	vc_pack_writer *w;
	cr_assert_eq(vc_pack_writer_open(&w, th_path("disk.img"), &o), 0);
	cr_assert_eq(vc_pack_writer_add_fd(w, "stream", pfd[0]), -ENOSPC);
	close(pfd[0]);
	pthread_join(t, NULL);
	const struct spec s[] = {{"small", 100, RANDOM}};
	make_image(&s[0], 12);
	cr_assert_eq(vc_pack_writer_add_path(w, NULL, th_path("src/small")), 0);
	cr_assert_eq(vc_pack_writer_commit(w), 0);
	vc_pack_writer_close(w);
	check_roundtrip(th_path("disk.img"), s, 1, VC_PACK_ALIGN_4K);
}

/* ---- hostile disks ---- */

struct disk {
	uint64_t size;
	uint8_t front[VC__PACK_FRONT_SIZE];
	uint8_t back[VC_PACK_BACKUP_SIZE];
	struct vc__pack_meta meta;
};

/* A valid three-image disk, loaded into @d. */
static void valid_disk(struct disk *d)
{
	const struct spec s[] = {{"alpha", 5000, RANDOM}, {"beta", 9000, RANDOM},
				 {"gamma", 1, RANDOM}};
	for (int i = 0; i < 3; i++)
		make_image(&s[i], 20 + (uint64_t)i);
	cr_assert_eq(pack_specs(th_path("disk.img"), s, 3, 0, 0, 0), 0);
	int fd = open(th_path("disk.img"), O_RDONLY);
	struct stat st;
	fstat(fd, &st);
	d->size = (uint64_t)st.st_size;
	cr_assert_eq(vc__pack_pread_all(fd, d->front, sizeof(d->front), 0), 0);
	cr_assert_eq(vc__pack_pread_all(fd, d->back, sizeof(d->back), d->size - sizeof(d->back)), 0);
	close(fd);
	cr_assert_eq(vc__pack_parse(d->front, d->back, d->size, &d->meta), 0);
}

static void write_disk(const struct disk *d, const char *name)
{
	int fd = open(th_path(name), O_RDWR | O_CREAT | O_TRUNC, 0644);
	cr_assert_eq(ftruncate(fd, (off_t)d->size), 0);
	/* keep the image data: copy the original disk first */
	int src = open(th_path("disk.img"), O_RDONLY);
	uint8_t sha[32];
	uint64_t len = d->size < 8u << 20 ? d->size : 8u << 20;
	cr_assert_eq(vc__pack_copy(src, 0, fd, 0, len, sha, NULL), 0);
	close(src);
	cr_assert_eq(vc__pack_pwrite_all(fd, d->front, sizeof(d->front), 0), 0);
	cr_assert_eq(vc__pack_pwrite_all(fd, d->back, sizeof(d->back), d->size - sizeof(d->back)), 0);
	close(fd);
}

/* Opens the disk written from @d: must fail with -EBADMSG, saying @why, and change
 * nothing on the disk. */
static void expect_rejected(const struct disk *d, const char *why)
{
	write_disk(d, "bad.img");
	uint8_t before[32], after[32];
	sha256_file(th_path("bad.img"), before);
	vc_pack *p = NULL;
	th_last_log[0] = '\0';
	int rc = vc_pack_open(&p, th_path("bad.img"));
	cr_assert_eq(rc, -EBADMSG, "%s: open gave %d (%s)", why, rc, th_last_log);
	cr_assert_null(p);
	cr_assert(strstr(th_last_log, why), "expected \"%s\" in \"%s\"", why, th_last_log);
	sha256_file(th_path("bad.img"), after);
	cr_assert_arr_eq(before, after, 32, "open modified the disk");
}

/* Re-seals @d after its meta was edited: every CRC valid, the GPT rendered to agree. */
static void reseal(struct disk *d)
{
	struct vc__pack_meta *m = &d->meta;
	uint8_t uuid[16];
	memcpy(uuid, m->hdr.disk_uuid, 16);
	vc__pack_seal(m, m->hdr.disk_size, m->hdr.align, m->hdr.count, uuid);
	vc__pack_render(m, d->front, d->back);
}

static void reseal_header_only(struct disk *d)
{
	struct vc_pack_header *h = (void *)(d->front + VC_PACK_HEADER_OFFSET);
	h->header_crc32 = 0;
	h->header_crc32 = vc__crc32(0, h, sizeof(*h));
}

Test(pack, raw_corruption_is_caught)
{
	static struct disk d0, d;
	valid_disk(&d0);
	struct vc_pack_header *h = (void *)(d.front + VC_PACK_HEADER_OFFSET);
	struct vc_pack_gpt_header *gp = (void *)(d.front + VC_PACK_GPT_HEADER_OFFSET);
	struct vc_pack_gpt_header *gb = (void *)(d.back + VC_PACK_GPT_ARRAY_SIZE);

	d = d0, d.front[511] = 0;
	expect_rejected(&d, "no protective MBR");
	d = d0, h->magic[0] ^= 1;
	expect_rejected(&d, "bad magic");
	d = d0, h->count ^= 1;
	expect_rejected(&d, "index header CRC mismatch");
	d = d0, h->version = 2, reseal_header_only(&d);
	expect_rejected(&d, "index version 2");
	d = d0, d.front[VC_PACK_ENTRIES_OFFSET + 600] ^= 0x40;
	expect_rejected(&d, "index entries CRC mismatch");
	d = d0, h->reserved[7] = 1, reseal_header_only(&d);
	expect_rejected(&d, "reserved bytes");
	d = d0, h->align = 8192, reseal_header_only(&d);
	expect_rejected(&d, "alignment");
	d = d0, h->count = 256, reseal_header_only(&d);
	expect_rejected(&d, "at most 255");
	d = d0, gp->first_usable_lba++;
	expect_rejected(&d, "primary GPT header: CRC mismatch");
	d = d0, gb->signature[0] = 'X';
	expect_rejected(&d, "backup GPT header: no \"EFI PART\"");
	d = d0, d.front[VC_PACK_GPT_ARRAY_OFFSET + 56] ^= 1; /* name of partition 1 */
	expect_rejected(&d, "primary GPT partition 1 does not match");

	/* Primary and backup disagree: a backup name edited, its CRCs made right again. */
	d = d0;
	d.back[128 + 56] = 'B'; /* partition 2's name */
	gb->entries_crc32 = vc__crc32(0, d.back, VC_PACK_GPT_ARRAY_SIZE);
	gb->header_crc32 = 0;
	gb->header_crc32 = vc__crc32(0, gb, sizeof(*gb));
	expect_rejected(&d, "backup GPT header does not match");
	/* ... and with the array CRC left as the index expects, the entry itself is caught */
	d = d0;
	memcpy(d.back + 2 * 128 + 56, "X\0", 2);
	expect_rejected(&d, "backup GPT partition 3 does not match");
}

Test(pack, truncated_and_extended_disks)
{
	static struct disk d;
	valid_disk(&d);
	vc_pack *p;
	int fd = open(th_path("disk.img"), O_RDWR);
	cr_assert_eq(ftruncate(fd, (off_t)d.size - 512), 0);
	cr_assert_eq(vc_pack_open(&p, th_path("disk.img")), -EBADMSG);
	cr_assert(strstr(th_last_log, "backup GPT") || strstr(th_last_log, "truncated"), "%s", th_last_log);
	cr_assert_eq(ftruncate(fd, (off_t)d.size + 4096), 0);
	cr_assert_eq(vc_pack_open(&p, th_path("disk.img")), -EBADMSG);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	cr_assert_eq(vc_pack_open(&p, th_path("disk.img")), -EBADMSG);
	cr_assert(strstr(th_last_log, "too small"), "%s", th_last_log);
	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(vc_pack_open(&p, th_path("disk.img")), -EBADMSG);
	close(fd);
	cr_assert_eq(vc_pack_open(&p, th_path("nothing-here")), -ENOENT);
}

Test(pack, consistent_but_lying_indexes_are_caught)
{
	static struct disk d0, d;
	valid_disk(&d0);
	struct vc_pack_entry *e = d.meta.ent;
	const uint64_t end = d0.meta.hdr.data_end;

	d = d0, e[1].offset = e[0].offset, reseal(&d);
	expect_rejected(&d, "overlaps the image before it");
	d = d0, e[0].offset = 0, reseal(&d);
	expect_rejected(&d, "overlaps the index");
	d = d0, e[0].offset = VC_PACK_INDEX_SIZE - 4096, reseal(&d);
	expect_rejected(&d, "overlaps the index");
	d = d0, e[1].offset += 512, reseal(&d);
	expect_rejected(&d, "is not aligned");
	d = d0, e[2].size = UINT64_MAX, reseal(&d);
	expect_rejected(&d, "run past the end");
	d = d0, e[2].size = UINT64_MAX - e[2].offset + 1, reseal(&d);
	expect_rejected(&d, "run past the end");
	d = d0, e[2].size = end - e[2].offset + 1, reseal(&d);
	expect_rejected(&d, "run past the end");
	d = d0, e[2].offset = UINT64_MAX & ~(uint64_t)4095, reseal(&d);
	expect_rejected(&d, "run past the end");
	d = d0, memcpy(e[2].name, "alpha", 6), e[2].name_len = 5, reseal(&d);
	expect_rejected(&d, "both named alpha");
	d = d0, memcpy(e[1].name, "../x\0", 5), e[1].name_len = 4, reseal(&d);
	expect_rejected(&d, "bad name");
	d = d0, memcpy(e[1].name, "..", 3), e[1].name_len = 2, reseal(&d);
	expect_rejected(&d, "bad name");
	d = d0, e[1].name[1] = (char)0xff, reseal(&d);
	expect_rejected(&d, "bad name");
	d = d0, e[1].name_len = 0, reseal(&d);
	expect_rejected(&d, "bad name");
	d = d0, e[1].name_len = 300, reseal(&d);
	expect_rejected(&d, "bad name");
	d = d0, e[1].name_len = 2, reseal(&d); /* "be" + "ta" left after the name */
	expect_rejected(&d, "reserved bytes");
	d = d0, e[0].flags = 1, reseal(&d);
	expect_rejected(&d, "reserved bytes");
	d = d0, d.meta.hdr.count = 2, e[2].size = 1, reseal(&d); /* seal zeroes entry 3 */
	write_disk(&d, "fewer.img");
	vc_pack *p;
	cr_assert_eq(vc_pack_open(&p, th_path("fewer.img")), 0); /* a shorter list is valid */
	cr_assert_eq(vc_pack_count(p), 2);
	vc_pack_close(p);
	/* A disk size that disagrees with the file. */
	d = d0, d.meta.hdr.disk_size += 4096, reseal(&d);
	write_disk(&d0, "bad.img");
	int fd = open(th_path("bad.img"), O_RDWR);
	cr_assert_eq(vc__pack_pwrite_all(fd, d.front, sizeof(d.front), 0), 0);
	close(fd);
	cr_assert_eq(vc_pack_open(&p, th_path("bad.img")), -EBADMSG);
	cr_assert(strstr(th_last_log, "truncated"), "%s", th_last_log);
}

Test(pack, corrupt_data_is_caught_by_verify_and_extract)
{
	static struct disk d;
	valid_disk(&d);
	int fd = open(th_path("disk.img"), O_RDWR);
	uint8_t b;
	cr_assert_eq(pread(fd, &b, 1, (off_t)d.meta.ent[1].offset + 4321), 1);
	b ^= 0x80;
	cr_assert_eq(pwrite(fd, &b, 1, (off_t)d.meta.ent[1].offset + 4321), 1);
	close(fd);

	vc_pack *p;
	unsigned bad = 99;
	cr_assert_eq(vc_pack_open(&p, th_path("disk.img")), 0);
	cr_assert_eq(vc_pack_verify(&bad, p), -EBADMSG);
	cr_assert_eq(bad, 1);
	cr_assert(strstr(th_last_log, "beta is corrupt"), "%s", th_last_log);
	cr_assert_eq(vc_pack_extract_path(p, 1, th_path("beta"), 0), -EBADMSG);
	cr_assert_eq(access(th_path("beta"), F_OK), -1, "a corrupt image was left behind");
	cr_assert(!temp_files_left());
	cr_assert_eq(vc_pack_extract_path(p, 0, th_path("alpha"), 0), 0);
	mkdir(th_path("all"), 0755);
	cr_assert_eq(vc_pack_extract_all(p, th_path("all"), 0), -EBADMSG);
	cr_assert_eq(access(th_path("all/beta"), F_OK), -1, "a corrupt image was left behind");
	cr_assert_eq(vc_pack_extract_all(p, th_path("no-such-dir"), 0), -ENOENT);
	vc_pack_close(p);
}

Test(pack, open_fd_info_and_argument_checks)
{
	static struct disk d;
	valid_disk(&d);
	int fd = open(th_path("disk.img"), O_RDONLY);
	vc_pack *p;
	cr_assert_eq(lseek(fd, 100, SEEK_SET), 100);
	cr_assert_eq(vc_pack_open_fd(&p, fd), 0);
	cr_assert_eq(vc_pack_verify(NULL, p), 0);
	cr_assert_eq(lseek(fd, 0, SEEK_CUR), 100, "the caller's offset moved");
	close(fd); /* the disk keeps its own descriptor */
	struct vc_pack_info info;
	cr_assert_eq(vc_pack_info(&info, p), 0);
	cr_assert_eq(info.count, 3);
	cr_assert_eq(info.used, 5000 + 9000 + 1);
	cr_assert_eq(info.disk_size, d.size);
	cr_assert_eq(info.align, VC_PACK_ALIGN_4K);
	cr_assert_eq(info.data_start, VC_PACK_INDEX_SIZE);
	cr_assert_arr_eq(info.disk_uuid, d.meta.hdr.disk_uuid, 16);
	struct vc_pack_image img;
	cr_assert_eq(vc_pack_get(&img, p, 3), -ENOENT);
	cr_assert_eq(vc_pack_get(&img, p, 2), 0);
	cr_assert_str_eq(img.name, "gamma");
	cr_assert_eq(img.index, 2);
	cr_assert_eq(vc_pack_extract_path(p, 7, th_path("x"), 0), -ENOENT);
	cr_assert_eq(vc_pack_extract_path(p, 0, th_path("x"), 070000), -EINVAL);
	char hex[65];
	vc_pack_hex(hex, img.sha256);
	cr_assert_eq(strlen(hex), 64);
	vc_pack_close(p);
	vc_pack_close(NULL);
	vc_pack_writer_close(NULL);
	int w = open(th_path("disk.img"), O_WRONLY);
	cr_assert_eq(vc_pack_open_fd(&p, w), -EBADF);
	close(w);
	cr_assert_eq(vc_pack_count(NULL), 0);
}

Test(pack, abort_while_copying_leaves_nothing)
{
	const struct spec s[] = {{"big1", 24u << 20, RANDOM}, {"big2", 8u << 20, RANDOM}};
	make_image(&s[0], 30);
	make_image(&s[1], 31);
	vc_pack_writer *w;
	cr_assert_eq(vc_pack_writer_open(&w, th_path("disk.img"), NULL), 0);
	cr_assert_eq(vc_pack_writer_add_path(w, NULL, th_path("src/big1")), 0);
	cr_assert_eq(vc_pack_writer_add_path(w, NULL, th_path("src/big2")), 0);
	vc_pack_writer_close(w); /* the workers are mid-copy (or done): either way nothing stays */
	cr_assert_eq(access(th_path("disk.img"), F_OK), -1);
	cr_assert(!temp_files_left());
}

/* Whether th_dir's filesystem has unnamed files (O_TMPFILE); most do (ext4, xfs, btrfs,
 * tmpfs), NFS and FAT do not and get hidden named ones, removed on every failure. */
static bool unnamed_files_here(void)
{
	int fd = open(th_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* #26: a create interrupted (killed outright, not even a chance to clean up) leaves
 * nothing beside the target: before, a ".vcpack-*.tmp" of the disk's size stayed. */
Test(pack, a_killed_writer_leaves_nothing)
{
	if (!unnamed_files_here()) {
		cr_log_warn("%s has no O_TMPFILE: named temporaries (not checked here)", th_dir);
		return;
	}
	const struct spec s = {"big", 4u << 20, RANDOM};
	make_image(&s, 40);
	vc_pack_writer *w;
	cr_assert_eq(vc_pack_writer_open(&w, th_path("disk.img"), NULL), 0);
	cr_assert_eq(vc_pack_writer_add_path(w, NULL, th_path("src/big")), 0);
	cr_assert(!temp_files_left(), "the disk being written has a name before its commit");
	vc_pack_writer_close(w);

	pid_t child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		if (vc_pack_writer_open(&w, th_path("disk.img"), NULL) == 0 &&
		    vc_pack_writer_add_path(w, NULL, th_path("src/big")) == 0)
			raise(SIGKILL);
		_exit(1);
	}
	int status;
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the child did not get that far");
	cr_assert(!temp_files_left(), "a killed writer left its temporary disk");
	cr_assert_eq(access(th_path("disk.img"), F_OK), -1);

	/* the same for an extraction killed before its rename: nothing under the name */
	cr_assert_eq(vc_pack_writer_open(&w, th_path("disk.img"), NULL), 0);
	cr_assert_eq(vc_pack_writer_add_path(w, NULL, th_path("src/big")), 0);
	cr_assert_eq(vc_pack_writer_commit(w), 0);
	vc_pack_writer_close(w);
	vc_pack *p;
	cr_assert_eq(vc_pack_open(&p, th_path("disk.img")), 0);
	cr_assert_eq(vc_pack_extract_path(p, 0, th_path("out"), 0), 0);
	cr_assert(!temp_files_left());
	vc_pack_close(p);
}

/* #26: extraction into a directory is relative to it, opened once; an empty DIR (an unset
 * shell variable) is refused, not taken as "/". */
Test(pack, extract_into_a_directory_fd_and_refuse_an_empty_one)
{
	const struct spec s[] = {{"one", 5000, RANDOM}, {"two", 70000, RANDOM}};
	make_image(&s[0], 41);
	make_image(&s[1], 42);
	vc_pack_writer *w;
	cr_assert_eq(vc_pack_writer_open(&w, th_path("disk.img"), NULL), 0);
	cr_assert_eq(vc_pack_writer_add_path(w, NULL, th_path("src/one")), 0);
	cr_assert_eq(vc_pack_writer_add_path(w, NULL, th_path("src/two")), 0);
	cr_assert_eq(vc_pack_writer_commit(w), 0);
	vc_pack_writer_close(w);
	vc_pack *p;
	cr_assert_eq(vc_pack_open(&p, th_path("disk.img")), 0);
	th_last_log[0] = 0;
	cr_assert_eq(vc_pack_extract_all(p, "", 0), -EINVAL);
	cr_assert(strstr(th_last_log, "empty directory name"), "%s", th_last_log);
	cr_assert_eq(vc_pack_extract_at(p, 0, AT_FDCWD, "", 0), -EINVAL);
	cr_assert_eq(mkdir(th_path("out"), 0755), 0);
	int dirfd = open(th_path("out"), O_RDONLY | O_DIRECTORY);
	cr_assert_geq(dirfd, 0);
	cr_assert_eq(vc_pack_extract_at(p, 1, dirfd, "two", 0), 0);
	cr_assert_eq(vc_pack_extract_at(p, 0, dirfd, "sub/x", 0), -ENOENT); /* no sub/ */
	close(dirfd);
	cr_assert_eq(vc_pack_extract_all(p, th_path("out"), 0), 0);
	vc_pack_close(p);
	for (int i = 0; i < 2; i++) {
		char from[PATH_MAX], to[PATH_MAX];
		snprintf(from, sizeof(from), "%s", th_path(i ? "src/two" : "src/one"));
		snprintf(to, sizeof(to), "%s", th_path(i ? "out/two" : "out/one"));
		cr_assert(same_file(from, to), "%s differs", to);
	}
	cr_assert(!temp_files_left());
}

/* A failure in one of extract_all's worker threads is reported with its detail in the
 * caller's thread (error detail is per thread: it used to stay in the worker's). */
Test(pack, extract_all_reports_a_workers_failure_in_the_callers_thread)
{
	const struct spec s[] = {{"i0", 70000, RANDOM}, {"i1", 70000, RANDOM},
				 {"i2", 70000, RANDOM}, {"i3", 70000, RANDOM}};
	vc_pack_writer *w;
	cr_assert_eq(vc_pack_writer_open(&w, th_path("disk.img"), NULL), 0);
	for (int i = 0; i < 4; i++) {
		make_image(&s[i], 50 + (uint64_t)i);
		char src[64];
		snprintf(src, sizeof(src), "src/%s", s[i].name);
		cr_assert_eq(vc_pack_writer_add_path(w, NULL, th_path(src)), 0);
	}
	cr_assert_eq(vc_pack_writer_commit(w), 0);
	vc_pack_writer_close(w);
	vc_pack *p;
	cr_assert_eq(vc_pack_open(&p, th_path("disk.img")), 0);
	cr_assert_eq(mkdir(th_path("out"), 0755), 0);
	cr_assert_eq(mkfifo(th_path("out/i3"), 0600), 0);
	for (int round = 0; round < 20; round++) {
		th_last_log[0] = 0;
		vc_error_clear();
		cr_assert_eq(vc_pack_extract_all(p, th_path("out"), 0), -EINVAL);
		cr_assert(strstr(vc_error_last(), "is a FIFO"), "round %d: \"%s\"", round,
			  vc_error_last());
	}
	vc_pack_close(p);
}
