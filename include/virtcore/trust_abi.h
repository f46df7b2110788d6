/* SPDX-License-Identifier: MIT */
/*
 * trust: the reference-value list as it lies in memory (in a file, or at a fixed guest
 * address where the VMM copies it), and the freestanding pieces a guest boot stage needs
 * to verify the next stage against it: a SHA-256 and a list parser. No libc, no
 * allocation; fixed-width little-endian fields; docs/trust-format.md tells the story.
 *
 * The guest trusts the list because the VMM verified its signature before placing it;
 * a guest stage checks digests only (Ed25519 verification stays on the host).
 */
#ifndef VIRTCORE_TRUST_ABI_H
#define VIRTCORE_TRUST_ABI_H

#include <stddef.h>
#include <stdint.h>

/** The list's magic: the 8 bytes "VCTRUST\0". */
#define VC_TRUST_MAGIC "VCTRUST"
/** Format version; a reader refuses any other. */
#define VC_TRUST_VERSION 1u
/**
 * Longest stage name in bytes (the field holds it NUL-terminated). Names are UTF-8
 * (shortest form) without spaces, control characters (C0, DEL, C1) or '=': they appear in
 * `NAME=FILE` arguments, the text form and messages (vc_trust_abi_name_ok()).
 */
#define VC_TRUST_NAME_MAX 47u
/** Stages in one list. */
#define VC_TRUST_MAX_STAGES 64u
/** Largest digest (SHA-384). */
#define VC_TRUST_DIGEST_MAX 48u

/** Hash algorithms, numbered as the TPM 2.0 TPM_ALG_ID (also used in the event log). */
#define VC_TRUST_ALG_SHA256 0x000Bu
#define VC_TRUST_ALG_SHA384 0x000Cu

/** Signature algorithms (header @c sig_alg). */
#define VC_TRUST_SIG_NONE 0u
#define VC_TRUST_SIG_ED25519 1u

/** What a stage is; informative (verification compares names, digests and sizes). */
enum vc_trust_role {
	VC_TRUST_ROLE_STAGE = 0,      /**< a boot stage that runs (loader, Stage1, Stage2, ...) */
	VC_TRUST_ROLE_FIRMWARE = 1,   /**< the first code (BIOS, firmware) */
	VC_TRUST_ROLE_KERNEL = 2,
	VC_TRUST_ROLE_INITRD = 3,
	VC_TRUST_ROLE_MODULE = 4,
	VC_TRUST_ROLE_CONFIG = 5,     /**< data a stage reads: command lines, configuration */
	VC_TRUST_ROLE_MAX = 5,
};

/*
 * Parser errors, equal to the Linux errno values so that guest code returns the same codes
 * as the library without <errno.h>.
 */
#define VC_TRUST_ERR_BADMSG (-74)  /**< -EBADMSG: not a valid list */
#define VC_TRUST_ERR_NOENT (-2)    /**< -ENOENT: no such stage */

/** The list header (64 bytes). The signed bytes are [0, body_size). */
struct vc_trust_header {
	char magic[8];         /* 0: VC_TRUST_MAGIC, NUL-padded */
	uint32_t version;      /* 8: VC_TRUST_VERSION */
	uint32_t header_size;  /* 12: 64 */
	uint32_t entry_size;   /* 16: 128 */
	uint32_t count;        /* 20: stages, 1..VC_TRUST_MAX_STAGES */
	uint32_t body_size;    /* 24: header_size + count * entry_size */
	uint32_t sig_alg;      /* 28: VC_TRUST_SIG_* */
	uint32_t sig_size;     /* 32: bytes after the body: 0, or 96 for Ed25519 */
	uint32_t alg;          /* 36: the hash every stage uses (VC_TRUST_ALG_*) */
	uint8_t reserved[24];  /* 40: zero */
};

/** One stage (128 bytes), in chain order. */
struct vc_trust_entry {
	char name[48];         /* 0: UTF-8, 1..47 bytes, NUL-padded */
	uint32_t role;         /* 48: enum vc_trust_role */
	uint16_t alg;          /* 52: equals the header's alg */
	uint16_t digest_size;  /* 54: 32 (SHA-256) or 48 (SHA-384) */
	uint64_t size;         /* 56: the stage's exact size in bytes */
	uint8_t digest[64];    /* 64: digest_size bytes, then zero */
};

/** The Ed25519 signature trailer (96 bytes), right after the body when signed. */
struct vc_trust_sig {
	uint8_t key_id[32];    /* SHA-256 of the raw 32-byte public key that signed */
	uint8_t signature[64]; /* Ed25519 over the body bytes */
};

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define VC_TRUST_ASSERT(c, m) _Static_assert(c, m)
#elif defined(__cplusplus) && __cplusplus >= 201103L
#define VC_TRUST_ASSERT(c, m) static_assert(c, m)
#else
#define VC_TRUST_ASSERT(c, m)
#endif
VC_TRUST_ASSERT(sizeof(struct vc_trust_header) == 64, "trust header is 64 bytes");
VC_TRUST_ASSERT(sizeof(struct vc_trust_entry) == 128, "trust entry is 128 bytes");
VC_TRUST_ASSERT(sizeof(struct vc_trust_sig) == 96, "trust signature is 96 bytes");

/* ---- freestanding SHA-256 (FIPS 180-4) ---- */

/** An incremental SHA-256. */
struct vc_sha256 {
	uint32_t h[8];
	uint64_t bytes;
	uint8_t buf[64];
	uint32_t used;
};

static inline uint32_t vc__sha256_ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static inline uint32_t vc__sha256_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* FIPS 180-4 round constants. */
static const uint32_t vc__sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* Compresses @p blocks 64-byte blocks into @p h: portable C. */
static inline void vc__sha256_blocks_c(uint32_t h[8], const uint8_t *p, size_t blocks)
{
	for (; blocks; blocks--, p += 64) {
		uint32_t w[64], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5],
				g = h[6], hh = h[7];
		for (int i = 0; i < 16; i++)
			w[i] = vc__sha256_be32(p + 4 * i);
		for (int i = 16; i < 64; i++) {
			uint32_t s0 = vc__sha256_ror(w[i - 15], 7) ^ vc__sha256_ror(w[i - 15], 18) ^
				      (w[i - 15] >> 3);
			uint32_t s1 = vc__sha256_ror(w[i - 2], 17) ^ vc__sha256_ror(w[i - 2], 19) ^
				      (w[i - 2] >> 10);
			w[i] = w[i - 16] + s0 + w[i - 7] + s1;
		}
		for (int i = 0; i < 64; i++) {
			uint32_t s1 = vc__sha256_ror(e, 6) ^ vc__sha256_ror(e, 11) ^ vc__sha256_ror(e, 25);
			uint32_t ch = (e & f) ^ (~e & g);
			uint32_t t1 = hh + s1 + ch + vc__sha256_k[i] + w[i];
			uint32_t s0 = vc__sha256_ror(a, 2) ^ vc__sha256_ror(a, 13) ^ vc__sha256_ror(a, 22);
			uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
			uint32_t t2 = s0 + maj;
			hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
		}
		h[0] += a, h[1] += b, h[2] += c, h[3] += d;
		h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
	}
}

/*
 * With VC_TRUST_ABI_SHANI defined before this header is included, on x86, the SHA
 * extensions are used when the CPU has them (checked once with CPUID). Opt-in because it
 * needs <immintrin.h> (a hosted header with GCC) and SSE registers: a freestanding guest
 * built with -mgeneral-regs-only, or whose kernel does not enable SSE, keeps the C path.
 */
#if defined(VC_TRUST_ABI_SHANI) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#include <immintrin.h>
#define VC__SHA256_HAVE_SHANI 1

static inline int vc__sha256_cpu_has_shani(void)
{
	static int cached = -1;
	if (cached < 0) {
		unsigned a, b, c, d;
		int sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
		int sse = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 9)) && (c & (1u << 19));
		cached = sha && sse; /* SHA, SSSE3 (pshufb, palignr), SSE4.1 (pblendw) */
	}
	return cached;
}

/* Four rounds per step, message schedule with sha256msg1/msg2 (Intel's SHA extensions
 * paper, section 4): the state lives as ABEF/CDGH pairs, as sha256rnds2 wants it. */
__attribute__((target("sha,ssse3,sse4.1"))) static inline void
vc__sha256_blocks_shani(uint32_t h[8], const uint8_t *p, size_t blocks)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1); /* CDAB */
	__m128i s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B); /* EFGH */
	__m128i s0 = _mm_alignr_epi8(t, s1, 8);      /* ABEF */
	s1 = _mm_blend_epi16(s1, t, 0xF0);           /* CDGH */

	for (; blocks; blocks--, p += 64) {
		__m128i save0 = s0, save1 = s1, w[4];
		for (int i = 0; i < 16; i++) {
			__m128i m;
			if (i < 4) {
				w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)),
							bswap);
			} else {
				/* W[4i..4i+3] from the four previous groups */
				__m128i x = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
				x = _mm_add_epi32(x, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
				w[i & 3] = _mm_sha256msg2_epu32(x, w[(i + 3) & 3]);
			}
			m = _mm_add_epi32(w[i & 3],
					  _mm_loadu_si128((const __m128i *)&vc__sha256_k[4 * i]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, m);
			s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));
		}
		s0 = _mm_add_epi32(s0, save0);
		s1 = _mm_add_epi32(s1, save1);
	}
	t = _mm_shuffle_epi32(s0, 0x1B);             /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xB1);            /* DCHG */
	s0 = _mm_blend_epi16(t, s1, 0xF0);           /* DCBA */
	s1 = _mm_alignr_epi8(s1, t, 8);              /* HGFE */
	_mm_storeu_si128((__m128i *)&h[0], s0);
	_mm_storeu_si128((__m128i *)&h[4], s1);
}
#endif

/** Compresses @p blocks 64-byte blocks into @p h (SHA extensions when enabled, above). */
static inline void vc_sha256_blocks(uint32_t h[8], const uint8_t *p, size_t blocks)
{
#ifdef VC__SHA256_HAVE_SHANI
	if (vc__sha256_cpu_has_shani()) {
		vc__sha256_blocks_shani(h, p, blocks);
		return;
	}
#endif
	vc__sha256_blocks_c(h, p, blocks);
}

/** Starts a digest. */
static inline void vc_sha256_init(struct vc_sha256 *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	for (int i = 0; i < 8; i++)
		s->h[i] = iv[i];
	s->bytes = 0;
	s->used = 0;
}

/** Adds @p len bytes. */
static inline void vc_sha256_update(struct vc_sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = (const uint8_t *)data;

	s->bytes += len;
	if (s->used) {
		while (len && s->used < 64) {
			s->buf[s->used++] = *p++;
			len--;
		}
		if (s->used < 64)
			return;
		vc_sha256_blocks(s->h, s->buf, 1);
		s->used = 0;
	}
	if (len >= 64) {
		vc_sha256_blocks(s->h, p, len / 64);
		p += len / 64 * 64;
		len %= 64;
	}
	while (len--)
		s->buf[s->used++] = *p++;
}

/** Finishes: the 32-byte digest in @p out. */
static inline void vc_sha256_final(uint8_t out[32], struct vc_sha256 *s)
{
	uint64_t bits = s->bytes * 8;

	s->buf[s->used++] = 0x80;
	if (s->used > 56) {
		while (s->used < 64)
			s->buf[s->used++] = 0;
		vc_sha256_blocks(s->h, s->buf, 1);
		s->used = 0;
	}
	while (s->used < 56)
		s->buf[s->used++] = 0;
	for (int i = 0; i < 8; i++)
		s->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	vc_sha256_blocks(s->h, s->buf, 1);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

/** One-shot SHA-256 of @p len bytes. */
static inline void vc_sha256(uint8_t out[32], const void *data, size_t len)
{
	struct vc_sha256 s;
	vc_sha256_init(&s);
	vc_sha256_update(&s, data, len);
	vc_sha256_final(out, &s);
}

/* ---- freestanding list parser ---- */

/** A validated list (pointers into the caller's buffer). */
struct vc_trust_view {
	const struct vc_trust_header *hdr;
	const struct vc_trust_entry *ent; /* hdr->count entries */
	const struct vc_trust_sig *sig;   /* NULL when unsigned */
	uint32_t count;
	uint32_t alg;
	size_t total_size;                /* body + signature */
};

/**
 * Whether the @p len bytes at @p s are a valid stage name (VC_TRUST_NAME_MAX): 1 to 47
 * bytes of shortest-form UTF-8, no U+0000..U+0020, U+007F..U+009F or '='.
 */
static inline int vc_trust_abi_name_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	if (len == 0 || len > VC_TRUST_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len;) {
		unsigned c = p[i], n, cp, min;
		if (c < 0x80) {
			if (c <= 0x20 || c == 0x7f || c == '=')
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 2, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		if (len - i < n)
			return 0;
		for (unsigned k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0)
			return 0; /* overlong, beyond Unicode, a surrogate, a C1 control */
		i += n;
	}
	return 1;
}

static inline int vc__trust_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/**
 * Validates the list in @p buf (@p len bytes, 8-byte aligned) and fills @p v. Checks
 * everything but the signature: magic, version, sizes (within @p len, no overflow),
 * count, every entry (name 1..47 bytes, NUL-padded; known role; the header's algorithm;
 * digest zero-padded; reserved zero), names unique.
 * @return 0 or VC_TRUST_ERR_BADMSG.
 */
static inline int vc_trust_abi_parse(struct vc_trust_view *v, const void *buf, size_t len)
{
	const uint8_t *b = (const uint8_t *)buf;
	const struct vc_trust_header *h = (const struct vc_trust_header *)buf;
	static const char magic[8] = VC_TRUST_MAGIC;

	if (len < sizeof(*h))
		return VC_TRUST_ERR_BADMSG;
	for (int i = 0; i < 8; i++)
		if (h->magic[i] != magic[i])
			return VC_TRUST_ERR_BADMSG;
	if (h->version != VC_TRUST_VERSION || h->header_size != sizeof(*h) ||
	    h->entry_size != sizeof(struct vc_trust_entry) || h->count == 0 ||
	    h->count > VC_TRUST_MAX_STAGES ||
	    h->body_size != sizeof(*h) + h->count * sizeof(struct vc_trust_entry) ||
	    !vc__trust_zero(h->reserved, sizeof(h->reserved)))
		return VC_TRUST_ERR_BADMSG;
	if (!((h->sig_alg == VC_TRUST_SIG_NONE && h->sig_size == 0) ||
	      (h->sig_alg == VC_TRUST_SIG_ED25519 && h->sig_size == sizeof(struct vc_trust_sig))))
		return VC_TRUST_ERR_BADMSG;
	if (h->alg != VC_TRUST_ALG_SHA256 && h->alg != VC_TRUST_ALG_SHA384)
		return VC_TRUST_ERR_BADMSG;
	if ((size_t)h->body_size + h->sig_size > len)
		return VC_TRUST_ERR_BADMSG; /* truncated */
	uint16_t dsize = h->alg == VC_TRUST_ALG_SHA256 ? 32 : 48;

	const struct vc_trust_entry *e = (const struct vc_trust_entry *)(b + sizeof(*h));
	for (uint32_t i = 0; i < h->count; i++) {
		const struct vc_trust_entry *x = &e[i];
		size_t nlen = 0;
		while (nlen < sizeof(x->name) && x->name[nlen])
			nlen++;
		if (!vc_trust_abi_name_ok(x->name, nlen) ||
		    !vc__trust_zero((const uint8_t *)x->name + nlen, sizeof(x->name) - nlen) ||
		    x->role > VC_TRUST_ROLE_MAX || x->alg != h->alg || x->digest_size != dsize ||
		    !vc__trust_zero(x->digest + dsize, sizeof(x->digest) - dsize))
			return VC_TRUST_ERR_BADMSG;
		for (uint32_t j = 0; j < i; j++) {
			size_t k = 0;
			while (k < sizeof(x->name) && e[j].name[k] == x->name[k] && x->name[k])
				k++;
			if (k < sizeof(x->name) && e[j].name[k] == x->name[k])
				return VC_TRUST_ERR_BADMSG; /* same name twice */
		}
	}
	v->hdr = h;
	v->ent = e;
	v->sig = h->sig_size ? (const struct vc_trust_sig *)(b + h->body_size) : 0;
	v->count = h->count;
	v->alg = h->alg;
	v->total_size = (size_t)h->body_size + h->sig_size;
	return 0;
}

/**
 * Finds stage @p name (NUL-terminated) in a parsed list.
 * @return its index, or VC_TRUST_ERR_NOENT.
 */
static inline int vc_trust_abi_find(const struct vc_trust_view *v, const char *name)
{
	for (uint32_t i = 0; i < v->count; i++) {
		size_t k = 0;
		while (k < sizeof(v->ent[i].name) && v->ent[i].name[k] == name[k] && name[k])
			k++;
		if (k < sizeof(v->ent[i].name) && v->ent[i].name[k] == name[k])
			return (int)i;
	}
	return VC_TRUST_ERR_NOENT;
}

/**
 * Checks @p len bytes at @p data against stage @p index of a parsed SHA-256 list: 1 if
 * the size and digest match, 0 if not (or the list is not SHA-256, or no such stage).
 */
static inline int vc_trust_abi_check(const struct vc_trust_view *v, uint32_t index,
				     const void *data, size_t len)
{
	uint8_t d[32];
	unsigned diff = 0;

	if (index >= v->count || v->alg != VC_TRUST_ALG_SHA256 || v->ent[index].size != len)
		return 0;
	vc_sha256(d, data, len);
	for (int i = 0; i < 32; i++)
		diff |= d[i] ^ v->ent[index].digest[i];
	return diff == 0;
}

#endif /* VIRTCORE_TRUST_ABI_H */
