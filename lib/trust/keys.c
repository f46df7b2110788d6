// SPDX-License-Identifier: MIT
// Ed25519 keys through OpenSSL: generate, load and save as PEM, key ids.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "../util/output.h"
#include "trust-internal.h"
#include "util/log.h"

static int wrap(EVP_PKEY *pkey, bool has_private, vc_trust_key **out)
{
	vc_trust_key *k = calloc(1, sizeof(*k));

	if (!k) {
		EVP_PKEY_free(pkey);
		return -ENOMEM;
	}
	k->pkey = pkey;
	k->has_private = has_private;
	*out = k;
	return 0;
}

VC_API int vc_trust_key_generate(vc_trust_key **out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_PKEY *pkey = NULL;

	if (!out)
		return -EINVAL;
	if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &pkey) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		vc__err("trust: Ed25519 key generation failed in OpenSSL");
		return -EIO;
	}
	EVP_PKEY_CTX_free(ctx);
	return wrap(pkey, true, out);
}

VC_API int vc_trust_key_load(vc_trust_key **out, const char *path)
{
	if (!path || !out)
		return -EINVAL;
	int fd = vc__trust_open(path);
	if (fd < 0)
		return fd;
	FILE *f = fdopen(fd, "r");
	if (!f) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	bool has_private = true;
	EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	if (!pkey) {
		rewind(f);
		pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
		has_private = false;
	}
	fclose(f);
	if (!pkey || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		vc__err("trust: %s: not a PEM Ed25519 %s", path,
			pkey ? "key (another algorithm)" : "private or public key");
		EVP_PKEY_free(pkey);
		return -EBADMSG;
	}
	return wrap(pkey, has_private, out);
}

/* Renders a PEM into memory (private or public half). */
static int pem_bytes(const vc_trust_key *key, bool private_half, char **data, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int ok = bio && (private_half
				 ? PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL)
				 : PEM_write_bio_PUBKEY(bio, key->pkey));
	char *p;
	long n = ok ? BIO_get_mem_data(bio, &p) : 0;

	if (n <= 0 || !(*data = malloc((size_t)n))) {
		BIO_free(bio);
		return -ENOMEM;
	}
	memcpy(*data, p, (size_t)n);
	*len = (size_t)n;
	BIO_free(bio);
	return 0;
}

/* Starts writing @path (errors reported). */
static int begin_output(struct vc__output *o, const char *path, unsigned mode)
{
	const char *what;
	int rc = vc__output_begin(o, AT_FDCWD, path, mode, "vctrust", &what);
	if (rc == -EINVAL || rc == -EISDIR)
		vc__err("trust: %s is %s: only a regular file (or a symlink to one) is written, "
			"and it was left as it was", path, what);
	else if (rc)
		vc__err("trust: cannot write %s: %s", path, vc_strerror(rc));
	return rc;
}

static int write_output(struct vc__output *o, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len) {
		ssize_t n = write(o->fd, p, len);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			p += n, len -= (size_t)n;
	}
	return 0;
}

int vc__trust_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
	struct vc__output out;
	int rc = begin_output(&out, path, mode);
	if (rc)
		return rc;
	rc = write_output(&out, data, len);
	if (!rc)
		rc = vc__output_commit(&out, false);
	else
		vc__output_abandon(&out);
	if (rc)
		vc__err("trust: cannot write %s: %s", path, vc_strerror(rc));
	return rc;
}

/* One key file: its PEM bytes into a begun output. */
static int write_pem(struct vc__output *o, const vc_trust_key *key, bool private_part)
{
	char *data;
	size_t len;
	int rc = pem_bytes(key, private_part, &data, &len);
	if (rc)
		return rc;
	rc = write_output(o, data, len);
	if (private_part)
		OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}

VC_API int vc_trust_key_save(const vc_trust_key *key, const char *private_path,
			     const char *public_path)
{
	struct vc__output priv = {.dirfd = AT_FDCWD, .fd = -1};
	struct vc__output pub = {.dirfd = AT_FDCWD, .fd = -1};
	int rc = 0;

	if (!key || (private_path && !key->has_private))
		return -EINVAL;
	/* Both outputs exist (unnamed) before either is written and both are checked: a
	 * public path that cannot be written leaves no private key behind, and one path for
	 * both would have the public key replace the private one. */
	if (private_path)
		rc = begin_output(&priv, private_path, 0600);
	if (!rc && public_path)
		rc = begin_output(&pub, public_path, 0644);
	if (!rc && private_path && public_path && vc__output_same_place(&priv, &pub)) {
		vc__err("trust: %s and %s are the same file: the public key would replace the "
			"private one", private_path, public_path);
		rc = -EINVAL;
	}
	if (!rc && private_path)
		rc = write_pem(&priv, key, true);
	if (!rc && public_path)
		rc = write_pem(&pub, key, false);
	if (!rc && private_path && (rc = vc__output_commit(&priv, false)))
		vc__err("trust: cannot write %s: %s", private_path, vc_strerror(rc));
	if (!rc && public_path && (rc = vc__output_commit(&pub, false)))
		vc__err("trust: cannot write %s: %s", public_path, vc_strerror(rc));
	vc__output_abandon(&priv);
	vc__output_abandon(&pub);
	return rc;
}

VC_API void vc_trust_key_id(uint8_t id[32], const vc_trust_key *key)
{
	uint8_t raw[32];
	size_t len = sizeof(raw);

	memset(id, 0, 32);
	if (key && EVP_PKEY_get_raw_public_key(key->pkey, raw, &len) == 1 && len == 32)
		EVP_Digest(raw, len, id, NULL, EVP_sha256(), NULL);
}

VC_API void vc_trust_key_destroy(vc_trust_key *key)
{
	if (!key)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

