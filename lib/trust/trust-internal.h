/* SPDX-License-Identifier: MIT */
/* What the trust sources share. */
#ifndef VC_TRUST_INTERNAL_H
#define VC_TRUST_INTERNAL_H

#include <stdbool.h>

#include <openssl/evp.h>
#include <virtcore/trust.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "trust needs a little-endian host");

struct vc_trust_key {
	EVP_PKEY *pkey;
	bool has_private;
};

struct vc_trust_list {
	uint32_t alg;
	uint32_t count;
	struct vc_trust_entry ent[VC_TRUST_MAX_STAGES];
	bool is_signed;
	struct vc_trust_sig sig;
};

/* The EVP digest of a list algorithm, or NULL. */
const EVP_MD *vc__trust_md(uint32_t alg);

/* The body (header + entries) as it is signed, with the header saying @signed_form. */
void vc__trust_body(const vc_trust_list *l, bool signed_form, uint8_t *out, size_t *len);

/* Lowercase hex of @n bytes into @out (2n + 1 bytes). */
void vc__trust_hex(const uint8_t *p, size_t n, char *out);

/* Opens @path read-only (close-on-exec), logging why not: the fd, or -errno. */
int vc__trust_open(const char *path);

/* Reads at most @limit bytes of the file at @path into a malloc'd *@data (free it), the
 * length read into *@len. A longer file is cut at @limit: callers ask for one byte more
 * than they accept, so the parser sees it is too long. 0 or -errno. */
int vc__trust_read_file(const char *path, size_t limit, uint8_t **data, size_t *len);

/* Writes @len bytes to @path through a temporary file and a rename, with @mode. */
int vc__trust_write_file(const char *path, const void *data, size_t len, unsigned mode);

#endif /* VC_TRUST_INTERNAL_H */
