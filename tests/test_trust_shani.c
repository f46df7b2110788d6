// SPDX-License-Identifier: MIT
// The freestanding SHA-256 built with VC_TRUST_ABI_SHANI: the SHA-extensions path and the
// portable path must both agree with OpenSSL (and so with each other).
#define VC_TRUST_ABI_SHANI
#include <criterion/criterion.h>
#include <string.h>

#include <openssl/evp.h>
#include <virtcore/trust_abi.h>

#include "helpers.h"

Test(trust_shani, both_paths_agree_with_openssl)
{
#ifndef VC__SHA256_HAVE_SHANI
	cr_skip_test("not x86: no SHA extensions path to test");
#else
	if (!vc__sha256_cpu_has_shani())
		cr_skip_test("this CPU has no SHA extensions");
	static uint8_t buf[70000];
	uint64_t seed = 99;
	for (int round = 0; round < 300; round++) {
		size_t len = th_rand64(&seed) % sizeof(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)th_rand64(&seed);
		uint8_t want[32], fast[32], slow[32];
		EVP_Digest(buf, len, want, NULL, EVP_sha256(), NULL);
		vc_sha256(fast, buf, len);
		cr_assert_arr_eq(fast, want, 32, "SHA-NI path, length %zu", len);

		/* the C path alone: padding done here, every block through vc__sha256_blocks_c */
		uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
		uint8_t tail[128] = {0};
		size_t full = len / 64 * 64, rest = len - full;
		size_t tail_len = rest < 56 ? 64 : 128;
		vc__sha256_blocks_c(h, buf, len / 64);
		memcpy(tail, buf + full, rest);
		tail[rest] = 0x80;
		for (int i = 0; i < 8; i++)
			tail[tail_len - 1 - i] = (uint8_t)(((uint64_t)len * 8) >> (8 * i));
		vc__sha256_blocks_c(h, tail, tail_len / 64);
		for (int i = 0; i < 8; i++) {
			slow[4 * i] = (uint8_t)(h[i] >> 24);
			slow[4 * i + 1] = (uint8_t)(h[i] >> 16);
			slow[4 * i + 2] = (uint8_t)(h[i] >> 8);
			slow[4 * i + 3] = (uint8_t)h[i];
		}
		cr_assert_arr_eq(slow, want, 32, "C path, length %zu", len);
	}
#endif
}
