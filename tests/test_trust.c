// SPDX-License-Identifier: MIT
// trust: known answers, the freestanding SHA-256 against OpenSSL, lists (build, sign,
// load with the signature policy, tampering with every byte), keys, and the chain
// verifier's acceptance and each refusal.
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <virtcore/trust.h>

#include "helpers.h"

static void setup(void)
{
	th_scratch_begin("trust");
}

static void teardown(void)
{
	th_scratch_end();
}

TestSuite(trust, .init = setup, .fini = teardown, .timeout = 120);

static void unhex(const char *h, uint8_t *out)
{
	for (size_t i = 0; h[2 * i]; i++)
		sscanf(h + 2 * i, "%2hhx", &out[i]);
}

/* ---- digests ---- */

Test(trust, sha256_known_answers_freestanding_and_openssl)
{
	static const struct {
		const char *msg;
		const char *digest;
	} kat[] = {
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
		{"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
		 "klmnopqrlmnopqrsmnopqrstnopqrstu",
		 "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
	};
	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		uint8_t want[32], got[32];
		unhex(kat[i].digest, want);
		vc_sha256(got, kat[i].msg, strlen(kat[i].msg));
		cr_assert_arr_eq(got, want, 32, "freestanding, vector %zu", i);
		cr_assert_eq(vc_trust_measure_mem(got, VC_TRUST_ALG_SHA256, kat[i].msg,
						  strlen(kat[i].msg)), 0);
		cr_assert_arr_eq(got, want, 32, "library, vector %zu", i);
	}
	/* one million 'a', fed in uneven pieces */
	static char a[1000000];
	memset(a, 'a', sizeof(a));
	struct vc_sha256 s;
	uint8_t want[32], got[32];
	vc_sha256_init(&s);
	for (size_t off = 0, step = 1; off < sizeof(a); off += step, step = step * 3 % 1000 + 1)
		vc_sha256_update(&s, a + off, off + step > sizeof(a) ? sizeof(a) - off : step);
	vc_sha256_final(got, &s);
	unhex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", want);
	cr_assert_arr_eq(got, want, 32);

	uint8_t w384[48], g384[48];
	unhex("cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc23"
	      "58baeca134c825a7", w384);
	cr_assert_eq(vc_trust_measure_mem(g384, VC_TRUST_ALG_SHA384, "abc", 3), 0);
	cr_assert_arr_eq(g384, w384, 48);
	cr_assert_eq(vc_trust_measure_mem(g384, 7, "abc", 3), -EINVAL);
}

Test(trust, freestanding_sha256_agrees_with_openssl_on_random_input)
{
	static uint8_t buf[20000];
	uint64_t seed = 42;
	for (int round = 0; round < 400; round++) {
		size_t len = th_rand64(&seed) % sizeof(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)th_rand64(&seed);
		uint8_t a[32], b[32];
		EVP_Digest(buf, len, a, NULL, EVP_sha256(), NULL);
		struct vc_sha256 s;
		vc_sha256_init(&s);
		size_t cut = len ? th_rand64(&seed) % len : 0; /* two pieces, cut anywhere */
		vc_sha256_update(&s, buf, cut);
		vc_sha256_update(&s, buf + cut, len - cut);
		vc_sha256_final(b, &s);
		cr_assert_arr_eq(a, b, 32, "length %zu cut %zu", len, cut);
	}
}

Test(trust, measures_files_by_streaming)
{
	static uint8_t data[700001];
	uint64_t seed = 7;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)th_rand64(&seed);
	int fd = open(th_path("f"), O_WRONLY | O_CREAT, 0644);
	cr_assert_eq(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	close(fd);
	uint8_t want[48], got[48];
	uint64_t size = 0;
	for (uint32_t alg = VC_TRUST_ALG_SHA256; alg <= VC_TRUST_ALG_SHA384; alg++) {
		cr_assert_eq(vc_trust_measure_mem(want, alg, data, sizeof(data)), 0);
		cr_assert_eq(vc_trust_measure_path(got, &size, alg, th_path("f")), 0);
		cr_assert_eq(size, sizeof(data));
		cr_assert_arr_eq(got, want, vc_trust_digest_size(alg));
	}
	cr_assert_eq(vc_trust_measure_path(got, &size, VC_TRUST_ALG_SHA256, th_path("none")),
		     -ENOENT);
}

/* ---- keys and lists ---- */

static vc_trust_list *three_stage_list(uint32_t alg)
{
	vc_trust_list *l;
	cr_assert_eq(vc_trust_list_create(&l, alg), 0);
	const char *names[] = {"Stage1", "Start", "Stage1_5"};
	for (int i = 0; i < 3; i++) {
		uint8_t d[48];
		char data[32];
		snprintf(data, sizeof(data), "code of %s", names[i]);
		vc_trust_measure_mem(d, alg, data, strlen(data));
		cr_assert_eq(vc_trust_list_add(l, names[i], VC_TRUST_ROLE_STAGE, d, strlen(data)), 0);
	}
	return l;
}

Test(trust, keys_round_trip_through_pem)
{
	vc_trust_key *k, *priv, *pub;
	uint8_t a[32], b[32], c[32];
	cr_assert_eq(vc_trust_key_generate(&k), 0);
	cr_assert_eq(vc_trust_key_save(k, th_path("k.pem"), th_path("k.pub")), 0);
	struct stat st;
	cr_assert_eq(stat(th_path("k.pem"), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "the private key is readable by others");
	cr_assert_eq(vc_trust_key_load(&priv, th_path("k.pem")), 0);
	cr_assert_eq(vc_trust_key_load(&pub, th_path("k.pub")), 0);
	vc_trust_key_id(a, k);
	vc_trust_key_id(b, priv);
	vc_trust_key_id(c, pub);
	cr_assert_arr_eq(a, b, 32);
	cr_assert_arr_eq(a, c, 32);
	cr_assert_eq(vc_trust_key_save(pub, th_path("x.pem"), NULL), -EINVAL);

	vc_trust_list *l = three_stage_list(VC_TRUST_ALG_SHA256);
	cr_assert_eq(vc_trust_list_sign(l, pub), -EINVAL, "a public key cannot sign");
	cr_assert_eq(vc_trust_list_sign(l, priv), 0);
	vc_trust_list_destroy(l);

	FILE *f = fopen(th_path("junk.pem"), "w");
	fputs("-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n", f);
	fclose(f);
	vc_trust_key *bad = NULL;
	cr_assert_eq(vc_trust_key_load(&bad, th_path("junk.pem")), -EBADMSG);
	cr_assert_eq(vc_trust_key_load(&bad, th_path("missing.pem")), -ENOENT);
	vc_trust_key_destroy(k);
	vc_trust_key_destroy(priv);
	vc_trust_key_destroy(pub);
}

Test(trust, signed_list_loads_only_with_its_key)
{
	vc_trust_key *k, *other;
	cr_assert_eq(vc_trust_key_generate(&k), 0);
	cr_assert_eq(vc_trust_key_generate(&other), 0);
	vc_trust_list *l = three_stage_list(VC_TRUST_ALG_SHA384), *got;
	uint8_t buf[16384];

	/* unsigned */
	long n = vc_trust_list_serialize(l, buf, sizeof(buf));
	cr_assert_eq(n, 64 + 3 * 128);
	VC_OPTS(vc_trust_load_opts, with_key, .key = k);
	VC_OPTS(vc_trust_load_opts, unverified, .flags = VC_TRUST_LOAD_UNVERIFIED);
	cr_assert_eq(vc_trust_list_load(&got, buf, (size_t)n, &with_key), -EKEYREJECTED);
	cr_assert(strstr(th_last_log, "unsigned"), "%s", th_last_log);
	cr_assert_eq(vc_trust_list_load(&got, buf, (size_t)n, NULL), -EINVAL);
	cr_assert_eq(vc_trust_list_load(&got, buf, (size_t)n, &unverified), 0);
	cr_assert_eq(vc_trust_list_count(got), 3);
	cr_assert(!vc_trust_list_signed(got));
	vc_trust_list_destroy(got);

	/* signed */
	cr_assert_eq(vc_trust_list_sign(l, k), 0);
	n = vc_trust_list_serialize(l, buf, sizeof(buf));
	cr_assert_eq(n, 64 + 3 * 128 + 96);
	cr_assert_eq(vc_trust_list_load(&got, buf, (size_t)n, &with_key), 0, "%s", th_last_log);
	cr_assert(vc_trust_list_signed(got));
	struct vc_trust_stage st;
	cr_assert_eq(vc_trust_list_get(&st, got, 2), 0);
	cr_assert_str_eq(st.name, "Stage1_5");
	cr_assert_eq(st.alg, VC_TRUST_ALG_SHA384);
	cr_assert_eq(st.digest_size, 48);
	cr_assert_eq(vc_trust_list_get(&st, got, 3), -ENOENT);
	vc_trust_list_destroy(got);

	VC_OPTS(vc_trust_load_opts, wrong_key, .key = other);
	cr_assert_eq(vc_trust_list_load(&got, buf, (size_t)n, &wrong_key), -EKEYREJECTED);
	cr_assert(strstr(th_last_log, "pinned key"), "%s", th_last_log);

	/* Every single byte changed: refused, as malformed or as badly signed. */
	for (long i = 0; i < n; i++) {
		buf[i] ^= 0x01;
		int rc = vc_trust_list_load(&got, buf, (size_t)n, &with_key);
		cr_assert(rc == -EBADMSG || rc == -EKEYREJECTED, "byte %ld: %d", i, rc);
		buf[i] ^= 0x01;
	}
	/* Truncated anywhere, or with a byte after it. */
	for (long len = 0; len < n; len += 7)
		cr_assert_eq(vc_trust_list_load(&got, buf, (size_t)len, &with_key), -EBADMSG,
			     "length %ld", len);
	buf[n] = 0;
	cr_assert_eq(vc_trust_list_load(&got, buf, (size_t)n + 1, &with_key), -EBADMSG);

	/* Changing the list drops the signature. */
	uint8_t d[48] = {0};
	cr_assert_eq(vc_trust_list_add(l, "Stage2", VC_TRUST_ROLE_STAGE, d, 1), 0);
	cr_assert(!vc_trust_list_signed(l));
	vc_trust_list_destroy(l);
	vc_trust_key_destroy(k);
	vc_trust_key_destroy(other);
}

Test(trust, list_rules_files_and_text)
{
	vc_trust_list *l;
	uint8_t d[32] = {1};
	cr_assert_eq(vc_trust_list_create(&l, 99), -EINVAL);
	cr_assert_eq(vc_trust_list_create(&l, VC_TRUST_ALG_SHA256), 0);
	uint8_t buf[1024];
	cr_assert_eq(vc_trust_list_serialize(l, buf, sizeof(buf)), -ENODATA);
	cr_assert_eq(vc_trust_list_add(l, "", 0, d, 1), -EINVAL);
	cr_assert_eq(vc_trust_list_add(l, "has space", 0, d, 1), -EINVAL);
	cr_assert_eq(vc_trust_list_add(l, "a=b", 0, d, 1), -EINVAL);
	cr_assert_eq(vc_trust_list_add(l, "x", (enum vc_trust_role)9, d, 1), -EINVAL);
	char long_name[49];
	memset(long_name, 'n', 48);
	long_name[48] = 0;
	cr_assert_eq(vc_trust_list_add(l, long_name, 0, d, 1), -EINVAL);
	long_name[47] = 0;
	cr_assert_eq(vc_trust_list_add(l, long_name, VC_TRUST_ROLE_KERNEL, d, 1), 0);
	cr_assert_eq(vc_trust_list_add(l, long_name, 0, d, 1), -EEXIST);
	for (unsigned i = 1; i < VC_TRUST_MAX_STAGES; i++) {
		char name[16];
		snprintf(name, sizeof(name), "s%u", i);
		cr_assert_eq(vc_trust_list_add(l, name, 0, d, i), 0);
	}
	cr_assert_eq(vc_trust_list_add(l, "one-more", 0, d, 1), -E2BIG);
	cr_assert_eq(vc_trust_list_serialize(l, buf, 100), -ENOSPC);

	cr_assert_eq(vc_trust_list_save(l, th_path("list")), 0);
	VC_OPTS(vc_trust_load_opts, unverified, .flags = VC_TRUST_LOAD_UNVERIFIED);
	vc_trust_list *back;
	cr_assert_eq(vc_trust_list_load_path(&back, th_path("list"), &unverified), 0);
	cr_assert_eq(vc_trust_list_count(back), VC_TRUST_MAX_STAGES);

	long tlen = vc_trust_list_text(back, NULL, 0);
	cr_assert_gt(tlen, 0);
	char *text = malloc((size_t)tlen + 1);
	cr_assert_eq(vc_trust_list_text(back, text, (size_t)tlen + 1), tlen);
	cr_assert(strstr(text, "# vc-trust list v1, sha256, 64 stages, unsigned\n"), "%s", text);
	cr_assert(strstr(text, "\n0 nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn kernel 1 sha256:"
			       "0100000000"), "%s", text);
	cr_assert_eq(vc_trust_list_text(back, text, 10), -ENOSPC);
	free(text);
	vc_trust_list_destroy(back);
	vc_trust_list_destroy(l);
}

Test(trust, freestanding_parser_refuses_malformed_entries)
{
	vc_trust_list *l = three_stage_list(VC_TRUST_ALG_SHA256);
	static uint64_t raw[256];
	uint8_t *b = (uint8_t *)raw;
	long n = vc_trust_list_serialize(l, raw, sizeof(raw));
	struct vc_trust_view v;
	cr_assert_eq(vc_trust_abi_parse(&v, raw, (size_t)n), 0);
	cr_assert_eq(vc_trust_abi_find(&v, "Start"), 1);
	cr_assert_eq(vc_trust_abi_find(&v, "Stage2"), VC_TRUST_ERR_NOENT);
	cr_assert_eq(vc_trust_abi_check(&v, 1, "code of Start", 13), 1);
	cr_assert_eq(vc_trust_abi_check(&v, 1, "code of Start!", 14), 0);
	cr_assert_eq(vc_trust_abi_check(&v, 1, "code of Stard", 13), 0);

	struct vc_trust_entry *e = (struct vc_trust_entry *)(b + 64);
	const struct {
		size_t off;
		uint8_t val;
	} bad[] = {
		{64 + 3, ' '},                  /* space in a name */
		{64 + 2, '='},                  /* '=' in a name */
		{64 + 10, 'x'},                 /* byte after the name's NUL */
		{64 + 48, 6},                   /* unknown role */
		{64 + 52, 0x0C},                /* entry alg differs from the header's */
		{64 + 54, 48},                  /* digest size */
		{64 + 64 + 40, 1},              /* digest padding */
		{40, 1},                        /* header reserved */
		{20, 0},                        /* count 0 */
		{28, 1},                        /* says signed, sig_size 0 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t old = b[bad[i].off];
		b[bad[i].off] = bad[i].val;
		int rc = vc_trust_abi_parse(&v, raw, (size_t)n);
		if (old != bad[i].val)
			cr_assert_eq(rc, VC_TRUST_ERR_BADMSG, "case %zu", i);
		b[bad[i].off] = old;
	}
	/* duplicate names */
	memcpy(e[1].name, e[0].name, sizeof(e[0].name));
	cr_assert_eq(vc_trust_abi_parse(&v, raw, (size_t)n), VC_TRUST_ERR_BADMSG);
	vc_trust_list_destroy(l);
}

/* ---- the chain ---- */

Test(trust, chain_accepts_the_list_in_order_and_extends_the_register)
{
	vc_trust_list *l = three_stage_list(VC_TRUST_ALG_SHA256);
	vc_trust_chain *c;
	struct vc_trust_verdict v;
	cr_assert_eq(vc_trust_chain_create(&c, l), 0);
	uint8_t pcr[32] = {0}, d[32], cat[64];
	const char *names[] = {"Stage1", "Start", "Stage1_5"};
	for (int i = 0; i < 3; i++) {
		char data[32];
		snprintf(data, sizeof(data), "code of %s", names[i]);
		cr_assert_eq(vc_trust_chain_verify_mem(&v, c, names[i], data, strlen(data)), 0,
			     "%s", th_last_log);
		cr_assert_eq(v.refusal, VC_TRUST_OK);
		vc_sha256(d, data, strlen(data));
		memcpy(cat, pcr, 32);
		memcpy(cat + 32, d, 32);
		vc_sha256(pcr, cat, 64);
	}
	uint8_t got[32];
	cr_assert_eq(vc_trust_chain_pcr(got, c), 32);
	cr_assert_arr_eq(got, pcr, 32);
	cr_assert_eq(vc_trust_chain_position(c), 3);
	cr_assert_eq(vc_trust_chain_finish(&v, c), 0);
	cr_assert_eq(vc_trust_chain_verify_mem(&v, c, "Stage1", "x", 1), -ENODATA);
	vc_trust_chain_destroy(c);
	vc_trust_list_destroy(l);
}

static void expect_refusal(const char *names[], const char *datas[], int n, int rc,
			   enum vc_trust_refusal why, const char *log)
{
	vc_trust_list *l = three_stage_list(VC_TRUST_ALG_SHA256);
	vc_trust_chain *c;
	struct vc_trust_verdict v;
	cr_assert_eq(vc_trust_chain_create(&c, l), 0);
	for (int i = 0; i < n - 1; i++)
		cr_assert_eq(vc_trust_chain_verify_mem(&v, c, names[i], datas[i], strlen(datas[i])), 0);
	th_last_log[0] = '\0';
	cr_assert_eq(vc_trust_chain_verify_mem(&v, c, names[n - 1], datas[n - 1],
					       strlen(datas[n - 1])), rc);
	cr_assert_eq(v.refusal, why);
	cr_assert_str_eq(v.name, names[n - 1]);
	cr_assert(strstr(th_last_log, log), "expected \"%s\" in \"%s\"", log, th_last_log);
	/* broken for good: even the right next stage is refused now */
	cr_assert_eq(vc_trust_chain_verify_mem(&v, c, "Start", "code of Start", 13), -ECANCELED);
	cr_assert_eq(v.refusal, VC_TRUST_CHAIN_BROKEN);
	cr_assert_eq(vc_trust_chain_finish(&v, c), -ECANCELED);
	vc_trust_chain_destroy(c);
	vc_trust_list_destroy(l);
}

Test(trust, chain_refuses_each_way_and_says_why)
{
	const char *unknown[] = {"Stage1", "Stage9"};
	const char *unknown_d[] = {"code of Stage1", "anything"};
	expect_refusal(unknown, unknown_d, 2, -ENOENT, VC_TRUST_UNKNOWN_STAGE,
		       "stage Stage9: not in the list");

	const char *order[] = {"Stage1", "Stage1_5"};
	const char *order_d[] = {"code of Stage1", "code of Stage1_5"};
	expect_refusal(order, order_d, 2, -EPROTO, VC_TRUST_OUT_OF_ORDER,
		       "stage Stage1_5: out of order (stage 3 of the list, expected Start)");

	const char *size[] = {"Stage1"};
	const char *size_d[] = {"code of Stage1 plus"};
	expect_refusal(size, size_d, 1, -EKEYREJECTED, VC_TRUST_SIZE_MISMATCH,
		       "stage Stage1: size mismatch (expected 14 bytes, got 19)");

	const char *dig[] = {"Stage1", "Start"};
	const char *dig_d[] = {"code of Stage1", "code of Stark"};
	uint8_t want[32], got[32];
	char msg[300];
	vc_sha256(want, "code of Start", 13);
	vc_sha256(got, "code of Stark", 13);
	snprintf(msg, sizeof(msg), "stage Start: digest mismatch (expected ");
	for (int i = 0; i < 32; i++)
		snprintf(msg + strlen(msg), 3, "%02x", want[i]);
	strcat(msg, ", got ");
	for (int i = 0; i < 32; i++)
		snprintf(msg + strlen(msg), 3, "%02x", got[i]);
	expect_refusal(dig, dig_d, 2, -EKEYREJECTED, VC_TRUST_DIGEST_MISMATCH, msg);
}

Test(trust, chain_finish_names_the_missing_stage)
{
	vc_trust_list *l = three_stage_list(VC_TRUST_ALG_SHA256);
	vc_trust_chain *c;
	struct vc_trust_verdict v;
	cr_assert_eq(vc_trust_chain_create(&c, l), 0);
	cr_assert_eq(vc_trust_chain_verify_mem(&v, c, "Stage1", "code of Stage1", 14), 0);
	cr_assert_eq(vc_trust_chain_finish(&v, c), -ENODATA);
	cr_assert_eq(v.refusal, VC_TRUST_MISSING_STAGE);
	cr_assert_str_eq(v.name, "Start");
	cr_assert(strstr(th_last_log, "stage Start: missing (1 of 3"), "%s", th_last_log);
	vc_trust_chain_destroy(c);
	vc_trust_list_destroy(l);
}

/* ---- the event log ---- */

Test(trust, event_log_round_trip_and_replay)
{
	for (uint32_t alg = VC_TRUST_ALG_SHA256; alg <= VC_TRUST_ALG_SHA384; alg++) {
		vc_trust_log *log, *back;
		unsigned ds = vc_trust_digest_size(alg);
		uint8_t d[48], pcr[48] = {0}, cat[96], got[48];
		cr_assert_eq(vc_trust_log_create(&log, alg), 0);
		for (int i = 0; i < 5; i++) {
			char name[16];
			snprintf(name, sizeof(name), "stage%d", i);
			vc_trust_measure_mem(d, alg, name, strlen(name));
			cr_assert_eq(vc_trust_log_add(log, i == 3 ? 8 : 9, VC_TRUST_EV_IPL, d, name,
						      (uint32_t)strlen(name)), 0);
			if (i != 3) {
				memcpy(cat, pcr, ds);
				memcpy(cat + ds, d, ds);
				vc_trust_measure_mem(pcr, alg, cat, 2 * ds);
			}
		}
		cr_assert_eq(vc_trust_log_add(log, 24, VC_TRUST_EV_IPL, d, NULL, 0), -EINVAL);
		cr_assert_eq(vc_trust_log_add(log, 9, VC_TRUST_EV_NO_ACTION, d, NULL, 0), -EINVAL);
		static uint8_t buf[4096];
		long n = vc_trust_log_serialize(log, buf, sizeof(buf));
		/* header 32 + 33, then 5 events of 18 + digest + "stageN" */
		cr_assert_eq(n, 65 + 5 * (18 + (long)ds + 6));
		cr_assert_eq(vc_trust_log_load(&back, buf, (size_t)n), 0, "%s", th_last_log);
		cr_assert_eq(vc_trust_log_count(back), 5);
		cr_assert_eq(vc_trust_log_pcr(got, back, 9), ds);
		cr_assert_arr_eq(got, pcr, ds);
		struct vc_trust_event ev;
		cr_assert_eq(vc_trust_log_event(&ev, back, 3), 0);
		cr_assert_eq(ev.pcr, 8);
		cr_assert_eq(ev.type, VC_TRUST_EV_IPL);
		cr_assert_eq(ev.data_size, 6);
		cr_assert_eq(memcmp(ev.data, "stage3", 6), 0);
		cr_assert_eq(vc_trust_log_event(&ev, back, 5), -ENOENT);
		vc_trust_log_destroy(back);
		vc_trust_log_destroy(log);
	}
}

Test(trust, event_log_reader_is_strict)
{
	vc_trust_log *log, *back;
	uint8_t d[32] = {9};
	cr_assert_eq(vc_trust_log_create(&log, VC_TRUST_ALG_SHA256), 0);
	cr_assert_eq(vc_trust_log_add(log, 9, VC_TRUST_EV_IPL, d, "a", 1), 0);
	cr_assert_eq(vc_trust_log_add(log, 9, VC_TRUST_EV_IPL, d, "b", 1), 0);
	static uint8_t buf[4096], mod[4096];
	long n = vc_trust_log_serialize(log, buf, sizeof(buf));
	const long ev1 = 65, ev2 = 65 + 18 + 32 + 1;
	static const struct {
		long off;
		uint32_t val;
		int width;
		const char *why;
	} bad[] = {
		{4, 1, 4, "EV_NO_ACTION in PCR 0"},        /* header type */
		{32, 'X', 1, "no \"Spec ID Event03\""},
		{32 + 24, 2, 4, "2 digest banks"},         /* algorithms: 2 (size mismatch first) */
		{32 + 28, 0x0004, 2, "not SHA-256"},       /* SHA-1 */
		{32 + 21, 1, 1, "version"},
		{ev1, 24, 4, "names PCR 24"},
		{ev2 + 4, 3, 4, "EV_NO_ACTION is allowed only as the header"},
		{ev1 + 8, 2, 4, "not the header's one bank"},
		{ev1 + 12, 0x000C, 2, "not the header's one bank"},
		{ev2 + 14 + 32, 2000, 4, "does not fit"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(mod, buf, (size_t)n);
		memcpy(mod + bad[i].off, &bad[i].val, (size_t)bad[i].width);
		th_last_log[0] = '\0';
		cr_assert_eq(vc_trust_log_load(&back, mod, (size_t)n), -EBADMSG, "case %zu", i);
		cr_assert(strstr(th_last_log, bad[i].why) || (i == 2 && strstr(th_last_log, "size")),
			  "case %zu: expected \"%s\" in \"%s\"", i, bad[i].why, th_last_log);
	}
	/* Found by fuzz-trust: a header claiming 8 algorithms in a 33-byte event made the
	 * reader look for vendorInfoSize past the buffer (caught by ASan in build-san). */
	uint8_t *hdr_only = malloc(65);
	memcpy(hdr_only, buf, 65);
	uint32_t eight = 8;
	memcpy(hdr_only + 32 + 24, &eight, 4);
	cr_assert_eq(vc_trust_log_load(&back, hdr_only, 65), -EBADMSG);
	free(hdr_only);
	/* trailing padding (tpm2_eventlog would show phantom events): refused */
	memcpy(mod, buf, (size_t)n);
	memset(mod + n, 0, 64);
	cr_assert_eq(vc_trust_log_load(&back, mod, (size_t)n + 64), -EBADMSG);
	/* cut anywhere */
	for (long len = 0; len < n; len++) {
		int rc = vc_trust_log_load(&back, buf, (size_t)len);
		if (len == 65 || len == ev2) { /* ends exactly after an event: a shorter log */
			cr_assert_eq(rc, 0, "length %ld", len);
			vc_trust_log_destroy(back);
		} else {
			cr_assert_eq(rc, -EBADMSG, "length %ld", len);
		}
	}
	vc_trust_log_destroy(log);
}

Test(trust, chain_logs_every_stage_presented)
{
	vc_trust_list *l = three_stage_list(VC_TRUST_ALG_SHA256);
	vc_trust_chain *c;
	vc_trust_log *log, *log384;
	cr_assert_eq(vc_trust_chain_create(&c, l), 0);
	cr_assert_eq(vc_trust_log_create(&log384, VC_TRUST_ALG_SHA384), 0);
	cr_assert_eq(vc_trust_chain_set_log(c, log384, 9), -EINVAL, "bank must match the list");
	cr_assert_eq(vc_trust_log_create(&log, VC_TRUST_ALG_SHA256), 0);
	cr_assert_eq(vc_trust_chain_set_log(c, log, 9), 0);
	cr_assert_eq(vc_trust_chain_verify_mem(NULL, c, "Stage1", "code of Stage1", 14), 0);
	cr_assert_eq(vc_trust_chain_verify_mem(NULL, c, "Start", "code of Start", 13), 0);
	cr_assert_eq(vc_trust_chain_verify_mem(NULL, c, "Stage1_5", "code of Stage1_5", 16), 0);
	uint8_t a[32], b[32];
	vc_trust_chain_pcr(a, c);
	vc_trust_log_pcr(b, log, 9);
	cr_assert_arr_eq(a, b, 32, "the register and the log's PCR 9 agree");
	cr_assert_eq(vc_trust_log_count(log), 3);

	/* a refused stage is in the log too (measured, then refused) */
	vc_trust_chain *c2;
	vc_trust_log *log2;
	cr_assert_eq(vc_trust_chain_create(&c2, l), 0);
	cr_assert_eq(vc_trust_log_create(&log2, VC_TRUST_ALG_SHA256), 0);
	cr_assert_eq(vc_trust_chain_set_log(c2, log2, 9), 0);
	cr_assert_eq(vc_trust_chain_verify_mem(NULL, c2, "Stage1", "tampered code", 13),
		     -EKEYREJECTED);
	cr_assert_eq(vc_trust_log_count(log2), 1);
	vc_trust_chain_destroy(c2);
	vc_trust_log_destroy(log2);
	vc_trust_chain_destroy(c);
	vc_trust_log_destroy(log);
	vc_trust_log_destroy(log384);
	vc_trust_list_destroy(l);
}

/* #26: stage names are UTF-8 without controls (docs/trust-format.md): C1 controls and bytes
 * that are not UTF-8 were accepted by list_add and by the parser. */
Test(trust, stage_names_are_utf8_without_controls)
{
	vc_trust_list *l = three_stage_list(VC_TRUST_ALG_SHA256), *got;
	uint8_t d[32] = {0}, buf[16384];
	cr_assert_eq(vc_trust_list_add(l, "St\xc2\x85x", VC_TRUST_ROLE_STAGE, d, 1), -EINVAL);
	cr_assert_eq(vc_trust_list_add(l, "St\xffx", VC_TRUST_ROLE_STAGE, d, 1), -EINVAL);
	cr_assert_eq(vc_trust_list_add(l, "St\xc0\xafx", VC_TRUST_ROLE_STAGE, d, 1), -EINVAL,
		     "an overlong '/'");
	cr_assert_eq(vc_trust_list_add(l, "St\xc3\xa4ge", VC_TRUST_ROLE_STAGE, d, 1), 0);
	VC_OPTS(vc_trust_load_opts, unverified, .flags = VC_TRUST_LOAD_UNVERIFIED);
	long n = vc_trust_list_serialize(l, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq(vc_trust_list_load(&got, buf, (size_t)n, &unverified), 0);
	vc_trust_list_destroy(got);
	cr_assert_eq(memcmp(buf + 64 + 128, "Start", 5), 0, "the second entry's name");
	memcpy(buf + 64 + 128, "St\xc2\x85t", 5);
	cr_assert_eq(vc_trust_list_load(&got, buf, (size_t)n, &unverified), -EBADMSG);
	struct vc_trust_view v;
	cr_assert_eq(vc_trust_abi_parse(&v, buf, (size_t)n), VC_TRUST_ERR_BADMSG);
	vc_trust_list_destroy(l);
}
