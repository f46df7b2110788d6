// SPDX-License-Identifier: MIT
// The chain verifier: stage N+1 is checked against the list before control passes to
// it; a PCR-style register is extended with every stage that passes. One refusal breaks
// the chain for good.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "trust-internal.h"
#include "util/log.h"
#include "util/probes.h"

struct vc_trust_chain {
	const vc_trust_list *list;
	unsigned next;
	bool broken;
	unsigned dsize;
	uint8_t pcr[VC_TRUST_DIGEST_MAX];
	vc_trust_log *log; /* optional: every stage presented is recorded here */
	uint32_t log_pcr;
};

VC_API int vc_trust_chain_set_log(vc_trust_chain *c, vc_trust_log *log, uint32_t pcr)
{
	if (!c || (log && vc_trust_log_alg(log) != c->list->alg) || pcr >= VC_TRUST_PCR_COUNT)
		return -EINVAL;
	c->log = log;
	c->log_pcr = pcr;
	return 0;
}

VC_API int vc_trust_chain_create(vc_trust_chain **out, const vc_trust_list *list)
{
	if (!list || !out)
		return -EINVAL;
	vc_trust_chain *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->list = list;
	c->dsize = vc_trust_digest_size(list->alg);
	*out = c;
	return 0;
}

VC_API void vc_trust_chain_destroy(vc_trust_chain *c)
{
	free(c);
}

static int find(const vc_trust_list *l, const char *name)
{
	for (uint32_t i = 0; i < l->count; i++)
		if (strncmp(l->ent[i].name, name, sizeof(l->ent[i].name)) == 0)
			return (int)i;
	return -1;
}

static int refuse(vc_trust_chain *c, struct vc_trust_verdict *v, enum vc_trust_refusal why,
		  int rc)
{
	char want[2 * VC_TRUST_DIGEST_MAX + 1], got[2 * VC_TRUST_DIGEST_MAX + 1];

	v->refusal = why;
	c->broken = true;
	VC_PROBE2(trust_stage_refused, v->index, (int)why);
	switch (why) {
	case VC_TRUST_UNKNOWN_STAGE:
		vc__err("trust: stage %s: not in the list", v->name);
		break;
	case VC_TRUST_OUT_OF_ORDER:
		vc__err("trust: stage %s: out of order (stage %d of the list, expected %s)",
			v->name, v->index + 1, c->list->ent[v->expected_index].name);
		break;
	case VC_TRUST_SIZE_MISMATCH:
		vc__err("trust: stage %s: size mismatch (expected %llu bytes, got %llu)", v->name,
			(unsigned long long)v->expected_size, (unsigned long long)v->actual_size);
		break;
	case VC_TRUST_DIGEST_MISMATCH:
		vc__trust_hex(v->expected, v->digest_size, want);
		vc__trust_hex(v->actual, v->digest_size, got);
		vc__err("trust: stage %s: digest mismatch (expected %s, got %s)", v->name, want, got);
		break;
	default:
		break;
	}
	return rc;
}

VC_API int vc_trust_chain_verify_digest(struct vc_trust_verdict *verdict,
					vc_trust_chain *c, const char *name,
					const uint8_t *digest, uint64_t size)
{
	struct vc_trust_verdict scratch, *v = verdict ? verdict : &scratch;

	if (!c || !name || !digest)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	strncpy(v->name, name, VC_TRUST_NAME_MAX);
	v->digest_size = c->dsize;
	memcpy(v->actual, digest, c->dsize);
	v->actual_size = size;
	v->expected_index = (int)c->next;
	v->index = find(c->list, name);
	if (c->broken) {
		v->refusal = VC_TRUST_CHAIN_BROKEN;
		vc__err("trust: stage %s: refused, an earlier stage broke the chain", name);
		return -ECANCELED;
	}
	/* Measured boot: what was presented is recorded before the verdict. */
	if (c->log) {
		int rc = vc_trust_log_add(c->log, c->log_pcr, VC_TRUST_EV_IPL, digest, name,
					  (uint32_t)strnlen(name, VC_TRUST_NAME_MAX));
		if (rc)
			return rc;
	}
	if (c->next == c->list->count) {
		vc__err("trust: stage %s: every stage of the list has passed already", name);
		v->refusal = VC_TRUST_OUT_OF_ORDER;
		return -ENODATA;
	}
	if (v->index < 0)
		return refuse(c, v, VC_TRUST_UNKNOWN_STAGE, -ENOENT);
	if (v->index != (int)c->next)
		return refuse(c, v, VC_TRUST_OUT_OF_ORDER, -EPROTO);
	const struct vc_trust_entry *e = &c->list->ent[c->next];
	memcpy(v->expected, e->digest, c->dsize);
	v->expected_size = e->size;
	if (e->size != size)
		return refuse(c, v, VC_TRUST_SIZE_MISMATCH, -EKEYREJECTED);
	if (CRYPTO_memcmp(e->digest, digest, c->dsize) != 0)
		return refuse(c, v, VC_TRUST_DIGEST_MISMATCH, -EKEYREJECTED);

	/* PCR extend: register = H(register || digest), as a TPM does. */
	uint8_t cat[2 * VC_TRUST_DIGEST_MAX];
	memcpy(cat, c->pcr, c->dsize);
	memcpy(cat + c->dsize, digest, c->dsize);
	vc_trust_measure_mem(c->pcr, c->list->alg, cat, 2 * c->dsize);
	c->next++;
	v->refusal = VC_TRUST_OK;
	VC_PROBE1(trust_stage_verified, v->index);
	return 0;
}

VC_API int vc_trust_chain_verify_mem(struct vc_trust_verdict *verdict, vc_trust_chain *c,
				     const char *name, const void *data, size_t len)
{
	uint8_t d[VC_TRUST_DIGEST_MAX];

	if (!c)
		return -EINVAL;
	int rc = vc_trust_measure_mem(d, c->list->alg, data, len);
	return rc ? rc : vc_trust_chain_verify_digest(verdict, c, name, d, len);
}

VC_API int vc_trust_chain_verify_path(struct vc_trust_verdict *verdict, vc_trust_chain *c,
				      const char *name, const char *path)
{
	uint8_t d[VC_TRUST_DIGEST_MAX];
	uint64_t size;

	if (!c)
		return -EINVAL;
	int rc = vc_trust_measure_path(d, &size, c->list->alg, path);
	return rc ? rc : vc_trust_chain_verify_digest(verdict, c, name, d, size);
}

VC_API int vc_trust_chain_finish(struct vc_trust_verdict *verdict, vc_trust_chain *c)
{
	struct vc_trust_verdict scratch, *v = verdict ? verdict : &scratch;

	if (!c)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	v->index = -1;
	v->expected_index = (int)c->next;
	if (c->broken) {
		v->refusal = VC_TRUST_CHAIN_BROKEN;
		return -ECANCELED;
	}
	if (c->next < c->list->count) {
		v->refusal = VC_TRUST_MISSING_STAGE;
		strncpy(v->name, c->list->ent[c->next].name, VC_TRUST_NAME_MAX);
		vc__err("trust: stage %s: missing (%u of %u stages verified)", v->name, c->next,
			c->list->count);
		return -ENODATA;
	}
	return 0;
}

VC_API unsigned vc_trust_chain_pcr(uint8_t *out, const vc_trust_chain *c)
{
	if (!c || !out)
		return 0;
	memcpy(out, c->pcr, c->dsize);
	return c->dsize;
}

VC_API unsigned vc_trust_chain_position(const vc_trust_chain *c)
{
	return c ? c->next : 0;
}
