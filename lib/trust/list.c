// SPDX-License-Identifier: MIT
// The reference-value list: building, signing (Ed25519), serialising, loading with the
// signature policy, and the text form.
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trust-internal.h"
#include "util/log.h"
#include "util/opts.h"

#define MAX_LIST_SIZE (sizeof(struct vc_trust_header) + \
		       VC_TRUST_MAX_STAGES * sizeof(struct vc_trust_entry) + \
		       sizeof(struct vc_trust_sig))

static const char *const role_names[] = {"stage", "firmware", "kernel", "initrd", "module",
					 "config"};

VC_API const char *vc_trust_role_name(enum vc_trust_role role)
{
	return (unsigned)role <= VC_TRUST_ROLE_MAX ? role_names[role] : "?";
}

VC_API int vc_trust_list_create(vc_trust_list **out, uint32_t alg)
{
	if (!out || !vc_trust_digest_size(alg))
		return -EINVAL;
	vc_trust_list *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->alg = alg;
	*out = l;
	return 0;
}

VC_API void vc_trust_list_destroy(vc_trust_list *l)
{
	free(l);
}

VC_API int vc_trust_list_add(vc_trust_list *l, const char *name, enum vc_trust_role role,
			     const uint8_t *digest, uint64_t size)
{
	size_t len = name ? strlen(name) : 0;

	bool name_ok = vc_trust_abi_name_ok(name ? name : "", len);
	if (!l || !digest || !name_ok || (unsigned)role > VC_TRUST_ROLE_MAX) {
		vc__err("trust: stage name \"%s\" must be 1 to %u bytes of UTF-8 without spaces, "
			"control characters or '='", name ? name : "", VC_TRUST_NAME_MAX);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < l->count; i++)
		if (strncmp(l->ent[i].name, name, sizeof(l->ent[i].name)) == 0) {
			vc__err("trust: stage %s is already in the list", name);
			return -EEXIST;
		}
	if (l->count == VC_TRUST_MAX_STAGES) {
		vc__err("trust: a list holds at most %u stages", VC_TRUST_MAX_STAGES);
		return -E2BIG;
	}
	struct vc_trust_entry *e = &l->ent[l->count++];
	memset(e, 0, sizeof(*e));
	memcpy(e->name, name, len);
	e->role = role;
	e->alg = (uint16_t)l->alg;
	e->digest_size = (uint16_t)vc_trust_digest_size(l->alg);
	e->size = size;
	memcpy(e->digest, digest, e->digest_size);
	l->is_signed = false;
	return 0;
}

VC_API int vc_trust_list_add_path(vc_trust_list *l, const char *name,
				  enum vc_trust_role role, const char *path)
{
	uint8_t d[VC_TRUST_DIGEST_MAX];
	uint64_t size;

	if (!l)
		return -EINVAL;
	int rc = vc_trust_measure_path(d, &size, l->alg, path);
	return rc ? rc : vc_trust_list_add(l, name, role, d, size);
}

void vc__trust_body(const vc_trust_list *l, bool signed_form, uint8_t *out, size_t *len)
{
	struct vc_trust_header h;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, VC_TRUST_MAGIC, sizeof(VC_TRUST_MAGIC));
	h.version = VC_TRUST_VERSION;
	h.header_size = sizeof(h);
	h.entry_size = sizeof(struct vc_trust_entry);
	h.count = l->count;
	h.body_size = (uint32_t)(sizeof(h) + l->count * sizeof(struct vc_trust_entry));
	h.sig_alg = signed_form ? VC_TRUST_SIG_ED25519 : VC_TRUST_SIG_NONE;
	h.sig_size = signed_form ? sizeof(struct vc_trust_sig) : 0;
	h.alg = l->alg;
	memcpy(out, &h, sizeof(h));
	memcpy(out + sizeof(h), l->ent, l->count * sizeof(struct vc_trust_entry));
	*len = h.body_size;
}

VC_API int vc_trust_list_sign(vc_trust_list *l, const vc_trust_key *key)
{
	uint8_t body[MAX_LIST_SIZE];
	size_t len, siglen = sizeof(l->sig.signature);

	if (!l || !key || !key->has_private || l->count == 0) {
		vc__err("trust: signing needs a non-empty list and a private key");
		return -EINVAL;
	}
	vc__trust_body(l, true, body, &len);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->pkey) == 1 &&
		 EVP_DigestSign(ctx, l->sig.signature, &siglen, body, len) == 1 && siglen == 64;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		vc__err("trust: Ed25519 signing failed in OpenSSL");
		return -EIO;
	}
	vc_trust_key_id(l->sig.key_id, key);
	l->is_signed = true;
	return 0;
}

VC_API long vc_trust_list_serialize(const vc_trust_list *l, void *buf, size_t len)
{
	uint8_t body[MAX_LIST_SIZE];
	size_t n;

	if (!l)
		return -EINVAL;
	if (l->count == 0)
		return -ENODATA;
	vc__trust_body(l, l->is_signed, body, &n);
	if (l->is_signed) {
		memcpy(body + n, &l->sig, sizeof(l->sig));
		n += sizeof(l->sig);
	}
	if (buf) {
		if (len < n)
			return -ENOSPC;
		memcpy(buf, body, n);
	}
	return (long)n;
}

static int check_signature(vc_trust_list *l, const struct vc_trust_view *v,
			   const vc_trust_key *key)
{
	char want_id[65], got_id[65];
	uint8_t id[32];

	if (!v->sig) {
		vc__err("trust: the list is unsigned, and a signature is required");
		return -EKEYREJECTED;
	}
	vc_trust_key_id(id, key);
	if (memcmp(id, v->sig->key_id, 32) != 0) {
		vc__trust_hex(v->sig->key_id, 32, got_id);
		vc__trust_hex(id, 32, want_id);
		vc__err("trust: the list is signed by key %.16s..., the pinned key is %.16s...",
			got_id, want_id);
		return -EKEYREJECTED;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pkey) == 1 &&
		 EVP_DigestVerify(ctx, v->sig->signature, sizeof(v->sig->signature),
				  (const uint8_t *)v->hdr, v->hdr->body_size) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		vc__err("trust: bad signature: the list was changed after it was signed");
		return -EKEYREJECTED;
	}
	(void)l;
	return 0;
}

VC_API int vc_trust_list_load(vc_trust_list **out, const void *buf, size_t len,
			      const struct vc_trust_load_opts *opts)
{
	struct vc_trust_load_opts o;
	struct vc_trust_view v;
	uint64_t aligned[MAX_LIST_SIZE / 8 + 1];

	if (!buf || !out)
		return -EINVAL;
	int rc = VC__OPTS_COPY(o, opts, vc_trust_load_opts, flags);
	if (rc)
		return rc;
	if ((o.flags & ~(uint32_t)VC_TRUST_LOAD_UNVERIFIED) ||
	    (!o.key && !(o.flags & VC_TRUST_LOAD_UNVERIFIED))) {
		vc__err("trust: load needs a public key, or VC_TRUST_LOAD_UNVERIFIED");
		return -EINVAL;
	}
	if (len > MAX_LIST_SIZE) {
		vc__err("trust: %zu bytes is larger than any list (%zu)", len, MAX_LIST_SIZE);
		return -EBADMSG;
	}
	memcpy(aligned, buf, len); /* the parser reads fields in place */
	if (vc_trust_abi_parse(&v, aligned, len) != 0) {
		vc__err("trust: not a valid reference-value list (bad magic, version, sizes or "
			"entries, or truncated)");
		return -EBADMSG;
	}
	if (v.total_size != len) {
		vc__err("trust: %zu bytes after the end of the list", len - v.total_size);
		return -EBADMSG;
	}
	vc_trust_list *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->alg = v.alg;
	l->count = v.count;
	memcpy(l->ent, v.ent, v.count * sizeof(*v.ent));
	if (v.sig) {
		l->sig = *v.sig;
		l->is_signed = true;
	}
	if (o.key) {
		int rc = check_signature(l, &v, o.key);
		if (rc) {
			free(l);
			return rc;
		}
	}
	*out = l;
	return 0;
}

VC_API int vc_trust_list_load_path(vc_trust_list **out, const char *path,
				   const struct vc_trust_load_opts *opts)
{
	uint8_t *buf;
	size_t len;

	if (!path)
		return -EINVAL;
	int rc = vc__trust_read_file(path, MAX_LIST_SIZE + 1, &buf, &len);
	if (rc)
		return rc;
	rc = vc_trust_list_load(out, buf, len, opts);
	free(buf);
	return rc;
}

VC_API int vc_trust_list_save(const vc_trust_list *l, const char *path)
{
	uint8_t buf[MAX_LIST_SIZE];
	long n = vc_trust_list_serialize(l, buf, sizeof(buf));

	return n < 0 ? (int)n : vc__trust_write_file(path, buf, (size_t)n, 0644);
}

VC_API unsigned vc_trust_list_count(const vc_trust_list *l)
{
	return l ? l->count : 0;
}

VC_API uint32_t vc_trust_list_alg(const vc_trust_list *l)
{
	return l ? l->alg : 0;
}

VC_API int vc_trust_list_signed(const vc_trust_list *l)
{
	return l && l->is_signed;
}

VC_API int vc_trust_list_get(struct vc_trust_stage *st, const vc_trust_list *l,
			     unsigned index)
{
	if (!l || !st)
		return -EINVAL;
	if (index >= l->count)
		return -ENOENT;
	const struct vc_trust_entry *e = &l->ent[index];
	memset(st, 0, sizeof(*st));
	memcpy(st->name, e->name, VC_TRUST_NAME_MAX);
	st->role = (enum vc_trust_role)e->role;
	st->alg = e->alg;
	st->digest_size = e->digest_size;
	memcpy(st->digest, e->digest, e->digest_size);
	st->size = e->size;
	return 0;
}

VC_API long vc_trust_list_text(const vc_trust_list *l, char *buf, size_t len)
{
	const char *alg = l && l->alg == VC_TRUST_ALG_SHA384 ? "sha384" : "sha256";
	char *text = NULL, id[65];
	size_t size = 0;
	FILE *f;

	if (!l || !(f = open_memstream(&text, &size)))
		return -ENOMEM;
	fprintf(f, "# vc-trust list v%u, %s, %u stage%s, ", VC_TRUST_VERSION, alg, l->count,
		l->count == 1 ? "" : "s");
	if (l->is_signed) {
		vc__trust_hex(l->sig.key_id, 32, id);
		fprintf(f, "signed (Ed25519) by key %s\n", id);
	} else {
		fprintf(f, "unsigned\n");
	}
	for (uint32_t i = 0; i < l->count; i++) {
		char d[2 * VC_TRUST_DIGEST_MAX + 1];
		vc__trust_hex(l->ent[i].digest, l->ent[i].digest_size, d);
		fprintf(f, "%" PRIu32 " %s %s %" PRIu64 " %s:%s\n", i, l->ent[i].name,
			vc_trust_role_name((enum vc_trust_role)l->ent[i].role), l->ent[i].size,
			alg, d);
	}
	fclose(f);
	long n = (long)size;
	if (buf) {
		if (len <= size)
			n = -ENOSPC;
		else
			memcpy(buf, text, size + 1);
	}
	free(text);
	return n;
}
