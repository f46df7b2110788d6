// SPDX-License-Identifier: MIT
// rewrite benchmark: scan throughput (MB of code per second) over real relocatable
// objects — the kernel modules of Debian's linux-image package, at least 10 MB of code
// (bench/rewrite-corpus.sh fetches them once) — against `objdump -d` on the same files
// in the same run. --quick uses the test objects assembled from tests/rewrite/ instead
// (no download), to prove the benchmark works.
#include <dirent.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/rewrite.h>

#include "harness.h"

#define MAX_FILES 8192

static char *files[MAX_FILES];
static size_t nfiles;
static double code_bytes;
static size_t sites;

static void die(const char *what)
{
	fprintf(stderr, "bench_rewrite: %s\n", what);
	exit(1);
}

/* Bytes of executable sections in an ELF object (its section headers, read directly). */
static uint64_t code_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	Elf64_Ehdr eh;
	uint64_t sum = 0;
	if (!f || fread(&eh, sizeof(eh), 1, f) != 1)
		die("cannot read a corpus file");
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr sh;
		if (fseek(f, (long)(eh.e_shoff + i * sizeof(sh)), SEEK_SET) || fread(&sh, sizeof(sh), 1, f) != 1)
			die("cannot read section headers");
		if (sh.sh_type == SHT_PROGBITS && (sh.sh_flags & SHF_EXECINSTR))
			sum += sh.sh_size;
	}
	fclose(f);
	return sum;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_dir(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		die("cannot list the corpus");
	while ((e = readdir(d)) && nfiles < MAX_FILES) {
		size_t n = strlen(e->d_name), k = strlen(suffix);
		if (n > k && !strcmp(e->d_name + n - k, suffix) &&
		    asprintf(&files[nfiles], "%s/%s", dir, e->d_name) > 0)
			nfiles++;
	}
	closedir(d);
	qsort(files, nfiles, sizeof(*files), by_name);
}

/* --quick: the test sources, assembled into a scratch directory. */
static void quick_corpus(char *tmp)
{
	const char *src = getenv("VC_REWRITE_SRC");
	static const char *const names[] = {"sensitive.S", "lookalikes.S", "tables.S", "driver.c"};
	if (!src || !mkdtemp(tmp))
		die("--quick needs VC_REWRITE_SRC (tests/rewrite) and a writable /tmp");
	for (size_t i = 0; i < 4; i++) {
		char in[4096], out[4096];
		snprintf(in, sizeof(in), "%s/%s", src, names[i]);
		snprintf(out, sizeof(out), "%s/%s.o", tmp, names[i]);
		const char *argv[] = {"gcc", "-c", "-O2", "-o", out, in, NULL};
		if (vcb_command(argv, NULL) != 0)
			die("gcc failed on a test source");
	}
	add_dir(tmp, ".o");
}

static void full_corpus(void)
{
	const char *dir = getenv("VC_REWRITE_CORPUS"), *script = getenv("VC_REWRITE_CORPUS_SCRIPT");
	if (!dir || !script)
		die("VC_REWRITE_CORPUS and VC_REWRITE_CORPUS_SCRIPT are needed (meson sets them)");
	const char *argv[] = {"sh", script, dir, "12", NULL};
	if (vcb_command(argv, NULL) != 0)
		die("could not build the corpus (bench/rewrite-corpus.sh: apt-get download of a "
		    "linux-image package)");
	char ko[4096];
	snprintf(ko, sizeof(ko), "%s/ko", dir);
	add_dir(ko, ".ko");
}

static void scan_all(void)
{
	size_t n = 0;
	for (size_t i = 0; i < nfiles; i++) {
		vc_rewrite *m;
		if (vc_rewrite_load_path(&m, files[i]))
			die("vc_rewrite_load_path failed on a corpus file");
		n += vc_rewrite_count(m);
		vc_rewrite_destroy(m);
	}
	sites = n;
}

static void objdump_all(void)
{
	static const char *argv[MAX_FILES + 3] = {"objdump", "-d"};
	for (size_t i = 0; i < nfiles; i++)
		argv[2 + i] = files[i];
	argv[2 + nfiles] = NULL;
	if (vcb_command(argv, NULL) != 0)
		die("objdump -d failed");
}

static void patch_restore_all(void)
{
	for (size_t i = 0; i < nfiles; i++) {
		vc_rewrite *m;
		if (vc_rewrite_load_path(&m, files[i]))
			die("cannot scan a corpus file");
		long len = vc_rewrite_patch(m, NULL, 0);
		void *img = len > 0 ? malloc((size_t)len) : NULL;
		if (!img || vc_rewrite_patch(m, img, (size_t)len) != len ||
		    vc_rewrite_restore(img, (size_t)len, img, (size_t)len) < 0)
			die("patch or restore failed on a corpus file");
		free(img);
		vc_rewrite_destroy(m);
	}
}

int main(int argc, char **argv)
{
	vcb_init(argc, argv);
	char tmp[] = "/tmp/bench-rewrite-XXXXXX";
	if (vcb_cfg.quick)
		quick_corpus(tmp);
	else
		full_corpus();
	for (size_t i = 0; i < nfiles; i++)
		code_bytes += (double)code_size(files[i]);
	printf("corpus: %zu objects, %.2f MB of code\n", nfiles, code_bytes / 1e6);
	if (!vcb_cfg.quick && code_bytes < 10e6)
		die("the corpus holds less than 10 MB of code");

	const struct vcb_once cases[] = {
		{"objdump -d (one process, all files)", objdump_all, NULL},
		{"vc_rewrite_load_path (read, check, scan)", scan_all, NULL},
		{"scan + patch + restore", patch_restore_all, NULL},
	};
	struct vcb_table *t = vcb_table_new("rewrite", "find the sensitive instructions of "
					    "every object (MB/s = MB of code per second)",
					    cases[0].name);
	vcb_run_rounds(t, cases, 3, 0, vcb_cfg.quick ? 1 : 5, code_bytes);
	vcb_table_finish(t, stdout);
	printf("sites found: %zu\n", sites);
	if (vcb_cfg.quick) {
		for (size_t i = 0; i < nfiles; i++)
			remove(files[i]);
		remove(tmp);
	}
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	return 0;
}
