// SPDX-License-Identifier: MIT
// bench_trust: measuring a 1 GiB file with vc_trust_measure_path() against
// `openssl dgst -sha256` and `sha256sum` on the same file in the same run; the
// freestanding SHA-256 (SHA extensions and portable C) against OpenSSL in memory; and
// what loading a signed list costs.
#define VC_TRUST_ABI_SHANI
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <virtcore/trust.h>

#include "harness.h"

#define TRIALS 7

static char file[256];
static uint64_t file_size;

static void die(const char *what)
{
	fprintf(stderr, "bench_trust: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void spawn_quiet(const char *const argv[])
{
	if (vcb_command(argv, NULL) != 0)
		fprintf(stderr, "bench_trust: %s failed\n", argv[0]), exit(1);
}

static void make_file(void)
{
	uint64_t x = 0x2545f4914f6cdd1dull;
	size_t chunk = 1u << 20;
	void *buf = malloc(chunk);
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (!buf || fd < 0)
		die(file);
	for (uint64_t off = 0; off < file_size; off += chunk) {
		vcb_fill_random(buf, chunk, &x);
		if (write(fd, buf, chunk) != (ssize_t)chunk)
			die("write");
	}
	close(fd);
	free(buf);
}

static void run_openssl(void)
{
	const char *argv[] = {"openssl", "dgst", "-sha256", file, NULL};
	spawn_quiet(argv);
}

static void run_sha256sum(void)
{
	const char *argv[] = {"sha256sum", file, NULL};
	spawn_quiet(argv);
}

static void run_measure(void)
{
	uint8_t d[32];
	if (vc_trust_measure_path(d, NULL, VC_TRUST_ALG_SHA256, file))
		exit(1);
}

static void file_table(void)
{
	const struct vcb_once c[] = {
		{.name = "openssl dgst -sha256", .fn = run_openssl},
		{.name = "vc_trust_measure_path", .fn = run_measure},
		{.name = "sha256sum (coreutils)", .fn = run_sha256sum},
	};
	struct vcb_table *t = vcb_table_new("trust", "SHA-256 of a file in the page cache",
					    "openssl dgst -sha256");

	run_measure(); /* the file is in the page cache from here on */
	vcb_run_rounds(t, c, 3, 0, vcb_cfg.quick ? 1 : TRIALS, (double)file_size);
	vcb_table_finish(t, stdout);
}

/* ---- in memory ---- */

#define MEM_LEN (1u << 20)
static uint8_t mem[MEM_LEN];

static void op_openssl(void *ctx, uint64_t ops)
{
	uint8_t d[32];
	(void)ctx;
	while (ops--)
		EVP_Digest(mem, MEM_LEN, d, NULL, EVP_sha256(), NULL);
	vcb_keep(d[0]);
}

static void op_freestanding(void *ctx, uint64_t ops)
{
	uint8_t d[32];
	(void)ctx;
	while (ops--)
		vc_sha256(d, mem, MEM_LEN);
	vcb_keep(d[0]);
}

static void op_portable(void *ctx, uint64_t ops)
{
	uint32_t h[8] = {0};
	(void)ctx;
	while (ops--)
		vc__sha256_blocks_c(h, mem, MEM_LEN / 64);
	vcb_keep(h[0]);
}

static void mem_table(void)
{
	for (size_t i = 0; i < MEM_LEN; i++)
		mem[i] = (uint8_t)(i * 131 + (i >> 9));
	struct vcb_table *t = vcb_table_new("trust", "SHA-256 of 1 MiB in memory", "OpenSSL EVP");
	const struct vcb_stats *base = vcb_run(t, "OpenSSL EVP", op_openssl, NULL);
	const struct vcb_stats *fast = vcb_run(t,
		vc__sha256_cpu_has_shani() ? "freestanding vc_sha256 (SHA extensions)"
					   : "freestanding vc_sha256 (no SHA extensions here)",
		op_freestanding, NULL);
	const struct vcb_stats *slow = vcb_run(t, "freestanding, portable C path", op_portable, NULL);
	vcb_note(t, "OpenSSL EVP", "MB/s", MEM_LEN / 1e6 / (base->median * 1e-9));
	vcb_note(t, vc__sha256_cpu_has_shani() ? "freestanding vc_sha256 (SHA extensions)"
					       : "freestanding vc_sha256 (no SHA extensions here)",
		 "MB/s", MEM_LEN / 1e6 / (fast->median * 1e-9));
	vcb_note(t, "freestanding, portable C path", "MB/s", MEM_LEN / 1e6 / (slow->median * 1e-9));
	vcb_table_finish(t, stdout);
}

/* ---- lists ---- */

static uint8_t list_buf[16384];
static long list_len;
static vc_trust_key *key;

/* @ctx: the struct vc_trust_load_opts to load with. */
static void op_load(void *ctx, uint64_t ops)
{
	while (ops--) {
		vc_trust_list *l;
		if (vc_trust_list_load(&l, list_buf, (size_t)list_len, ctx))
			exit(1);
		vc_trust_list_destroy(l);
	}
}

static void list_table(void)
{
	vc_trust_list *l;
	uint8_t d[32] = {0};
	if (vc_trust_key_generate(&key) || vc_trust_list_create(&l, VC_TRUST_ALG_SHA256))
		exit(1);
	for (int i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof(name), "stage%d", i);
		d[0] = (uint8_t)i;
		vc_trust_list_add(l, name, VC_TRUST_ROLE_STAGE, d, 4096);
	}
	vc_trust_list_sign(l, key);
	list_len = vc_trust_list_serialize(l, list_buf, sizeof(list_buf));
	struct vcb_table *t = vcb_table_new("trust", "load an 8-stage list", "parse only (unverified)");
	VC_OPTS(vc_trust_load_opts, unverified, .flags = VC_TRUST_LOAD_UNVERIFIED);
	VC_OPTS(vc_trust_load_opts, pinned, .key = key);
	vcb_run(t, "parse only (unverified)", op_load, &unverified);
	vcb_run(t, "parse + Ed25519 verify (pinned key)", op_load, &pinned);
	vcb_table_finish(t, stdout);
	vc_trust_list_destroy(l);
	vc_trust_key_destroy(key);
}

int main(int argc, char **argv)
{
	vcb_init(argc, argv);
	file_size = vcb_cfg.quick ? 8u << 20 : 1u << 30;
	const char *base = getenv("VC_BENCH_DIR") ? getenv("VC_BENCH_DIR") : "/var/tmp";
	snprintf(file, sizeof(file), "%s/bench_trust.%d", base, (int)getpid());
	make_file();
	printf("bench_trust: a %llu MiB file in %s\n", (unsigned long long)(file_size >> 20), file);
	file_table();
	unlink(file);
	mem_table();
	list_table();
	return 0;
}
