// SPDX-License-Identifier: MIT
// The TCG PC Client crypto-agile event log (TCG PC Client Platform Firmware Profile,
// section 10): a Spec ID Event03 header in the SHA-1 event format, then TCG_PCR_EVENT2
// entries with one digest each. Written exactly (no padding), read strictly.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "trust-internal.h"
#include "util/log.h"

#define SPEC_ID_SIG "Spec ID Event03" /* 16 bytes with its NUL */
#define HEADER_FIXED 32u              /* pcr, type, SHA-1 digest, event size */
#define MAX_LOG (16u << 20)

struct vc_trust_log {
	uint32_t alg;
	unsigned dsize;
	uint8_t *buf;
	size_t len, cap;
	size_t *offs; /* start of each event after the header */
	unsigned count, offs_cap;
};

static int reserve(vc_trust_log *l, size_t more)
{
	if (l->len + more <= l->cap)
		return 0;
	size_t cap = l->cap ? l->cap : 4096;
	while (cap < l->len + more)
		cap *= 2;
	uint8_t *p = realloc(l->buf, cap);
	if (!p)
		return -ENOMEM;
	l->buf = p;
	l->cap = cap;
	return 0;
}

static int push_offset(vc_trust_log *l, size_t off)
{
	if (l->count == l->offs_cap) {
		unsigned cap = l->offs_cap ? l->offs_cap * 2 : 16;
		size_t *p = realloc(l->offs, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->offs = p;
		l->offs_cap = cap;
	}
	l->offs[l->count++] = off;
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

VC_API int vc_trust_log_create(vc_trust_log **out, uint32_t alg)
{
	unsigned dsize = vc_trust_digest_size(alg);

	if (!out || !dsize)
		return -EINVAL;
	vc_trust_log *l = calloc(1, sizeof(*l));
	if (!l || reserve(l, HEADER_FIXED + 33)) {
		free(l);
		return -ENOMEM;
	}
	l->alg = alg;
	l->dsize = dsize;
	/* TCG_PCClientPCREvent: PCR 0, EV_NO_ACTION, 20 zero bytes, then the event. */
	uint8_t *p = l->buf;
	memset(p, 0, HEADER_FIXED + 33);
	put32(p + 4, VC_TRUST_EV_NO_ACTION);
	put32(p + 28, 33);
	/* TCG_EfiSpecIDEventStruct */
	uint8_t *e = p + HEADER_FIXED;
	memcpy(e, SPEC_ID_SIG, 16);
	put32(e + 16, 0); /* platformClass: client */
	e[20] = 0;        /* specVersionMinor */
	e[21] = 2;        /* specVersionMajor */
	e[22] = 0;        /* specErrata */
	e[23] = 2;        /* uintnSize: UINT64 */
	put32(e + 24, 1); /* numberOfAlgorithms */
	put16(e + 28, (uint16_t)alg);
	put16(e + 30, (uint16_t)dsize);
	e[32] = 0;        /* vendorInfoSize */
	l->len = HEADER_FIXED + 33;
	*out = l;
	return 0;
}

VC_API void vc_trust_log_destroy(vc_trust_log *l)
{
	if (!l)
		return;
	free(l->buf);
	free(l->offs);
	free(l);
}

VC_API int vc_trust_log_add(vc_trust_log *l, uint32_t pcr, uint32_t type,
			    const uint8_t *digest, const void *data, uint32_t data_size)
{
	if (!l || !digest || pcr >= VC_TRUST_PCR_COUNT || type == VC_TRUST_EV_NO_ACTION ||
	    data_size > VC_TRUST_EVENT_MAX || (data_size && !data))
		return -EINVAL;
	size_t need = 4 + 4 + 4 + 2 + l->dsize + 4 + data_size;
	if (reserve(l, need) || push_offset(l, l->len))
		return -ENOMEM;
	uint8_t *p = l->buf + l->len;
	put32(p, pcr);
	put32(p + 4, type);
	put32(p + 8, 1); /* TPML_DIGEST_VALUES.count */
	put16(p + 12, (uint16_t)l->alg);
	memcpy(p + 14, digest, l->dsize);
	put32(p + 14 + l->dsize, data_size);
	if (data_size)
		memcpy(p + 18 + l->dsize, data, data_size);
	l->len += need;
	return 0;
}

VC_API long vc_trust_log_serialize(const vc_trust_log *l, void *buf, size_t len)
{
	if (!l)
		return -EINVAL;
	if (buf) {
		if (len < l->len)
			return -ENOSPC;
		memcpy(buf, l->buf, l->len);
	}
	return (long)l->len;
}

VC_API int vc_trust_log_save(const vc_trust_log *l, const char *path)
{
	if (!l || !path)
		return -EINVAL;
	return vc__trust_write_file(path, l->buf, l->len, 0644);
}

#define BAD(...)                                                                   \
	do {                                                                       \
		vc__err("trust: event log: " __VA_ARGS__);                         \
		return -EBADMSG;                                                   \
	} while (0)

/* The Spec ID header: fills alg/dsize, returns its length. */
static int parse_header(const uint8_t *b, size_t len, uint32_t *alg, unsigned *dsize,
			size_t *hdr_len)
{
	static const uint8_t zero20[20];

	if (len < HEADER_FIXED)
		BAD("shorter than its header (%zu bytes)", len);
	if (get32(b) != 0 || get32(b + 4) != VC_TRUST_EV_NO_ACTION || memcmp(b + 8, zero20, 20))
		BAD("the first event is not an EV_NO_ACTION in PCR 0 with a zero digest");
	uint32_t esize = get32(b + 28);
	if (esize < 33 || esize > len - HEADER_FIXED)
		BAD("Spec ID event size %u does not fit", esize);
	const uint8_t *e = b + HEADER_FIXED;
	if (memcmp(e, SPEC_ID_SIG, 16) != 0)
		BAD("no \"Spec ID Event03\" signature: not a crypto-agile log");
	if (e[21] != 2 || (e[23] != 1 && e[23] != 2))
		BAD("Spec ID version %u.%u or uintnSize %u unknown", e[21], e[20], e[23]);
	uint32_t n = get32(e + 24);
	if (n < 1 || n > 8)
		BAD("%u algorithms in the Spec ID header (1 to 8 allowed)", n);
	/* vendorInfoSize follows the algorithm table: read it only once it is inside. */
	if (esize < 28 + 4 * n + 1 || esize != 28 + 4 * n + 1 + e[28 + 4 * n])
		BAD("Spec ID event size %u does not match its contents", esize);
	if (n != 1)
		BAD("%u digest banks; this reader takes logs with one (SHA-256 or SHA-384)", n);
	*alg = get16(e + 28);
	*dsize = vc_trust_digest_size(*alg);
	if (!*dsize || get16(e + 30) != *dsize)
		BAD("algorithm %#x with digest size %u is not SHA-256 or SHA-384", *alg,
		    get16(e + 30));
	*hdr_len = HEADER_FIXED + esize;
	return 0;
}

static int parse_events(vc_trust_log *l, size_t off)
{
	const uint8_t *b = l->buf;
	const size_t fixed = 4 + 4 + 4 + 2 + l->dsize + 4;

	while (off < l->len) {
		unsigned i = l->count;
		if (l->len - off < fixed)
			BAD("event %u is cut short (%zu bytes left)", i, l->len - off);
		uint32_t pcr = get32(b + off), type = get32(b + off + 4);
		if (pcr >= VC_TRUST_PCR_COUNT)
			BAD("event %u names PCR %u", i, pcr);
		if (type == VC_TRUST_EV_NO_ACTION)
			BAD("event %u: EV_NO_ACTION is allowed only as the header", i);
		if (get32(b + off + 8) != 1 || get16(b + off + 12) != l->alg)
			BAD("event %u: its digests are not the header's one bank", i);
		uint32_t dsz = get32(b + off + fixed - 4);
		if (dsz > VC_TRUST_EVENT_MAX || dsz > l->len - off - fixed)
			BAD("event %u: data size %u does not fit", i, dsz);
		if (push_offset(l, off))
			return -ENOMEM;
		off += fixed + dsz;
	}
	return 0;
}

VC_API int vc_trust_log_load(vc_trust_log **out, const void *buf, size_t len)
{
	uint32_t alg;
	unsigned dsize;
	size_t hdr_len;

	if (!buf || !out)
		return -EINVAL;
	if (len > MAX_LOG)
		BAD("%zu bytes is more than %u", len, MAX_LOG);
	int rc = parse_header(buf, len, &alg, &dsize, &hdr_len);
	if (rc)
		return rc;
	vc_trust_log *l = calloc(1, sizeof(*l));
	if (!l || reserve(l, len ? len : 1)) {
		free(l);
		return -ENOMEM;
	}
	memcpy(l->buf, buf, len);
	l->len = len;
	l->alg = alg;
	l->dsize = dsize;
	rc = parse_events(l, hdr_len);
	if (rc) {
		vc_trust_log_destroy(l);
		return rc;
	}
	*out = l;
	return 0;
}

VC_API int vc_trust_log_load_path(vc_trust_log **out, const char *path)
{
	uint8_t *buf;
	size_t len;

	if (!path || !out)
		return -EINVAL;
	int rc = vc__trust_read_file(path, MAX_LOG + 1, &buf, &len);
	if (rc)
		return rc;
	rc = vc_trust_log_load(out, buf, len); /* refuses more than MAX_LOG */
	free(buf);
	return rc;
}

VC_API uint32_t vc_trust_log_alg(const vc_trust_log *l)
{
	return l ? l->alg : 0;
}

VC_API unsigned vc_trust_log_count(const vc_trust_log *l)
{
	return l ? l->count : 0;
}

VC_API int vc_trust_log_event(struct vc_trust_event *ev, const vc_trust_log *l,
			      unsigned index)
{
	if (!l || !ev)
		return -EINVAL;
	if (index >= l->count)
		return -ENOENT;
	const uint8_t *p = l->buf + l->offs[index];
	memset(ev, 0, sizeof(*ev));
	ev->pcr = get32(p);
	ev->type = get32(p + 4);
	ev->digest_size = l->dsize;
	memcpy(ev->digest, p + 14, l->dsize);
	ev->data_size = get32(p + 14 + l->dsize);
	ev->data = p + 18 + l->dsize;
	return 0;
}

VC_API unsigned vc_trust_log_pcr(uint8_t *out, const vc_trust_log *l, uint32_t pcr)
{
	uint8_t cat[2 * VC_TRUST_DIGEST_MAX];

	if (!l || !out || pcr >= VC_TRUST_PCR_COUNT)
		return 0;
	memset(out, 0, l->dsize);
	for (unsigned i = 0; i < l->count; i++) {
		struct vc_trust_event ev;
		vc_trust_log_event(&ev, l, i);
		if (ev.pcr != pcr)
			continue;
		memcpy(cat, out, l->dsize);
		memcpy(cat + l->dsize, ev.digest, l->dsize);
		vc_trust_measure_mem(out, l->alg, cat, 2 * l->dsize);
	}
	return l->dsize;
}
