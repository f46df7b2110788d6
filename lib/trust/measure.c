// SPDX-License-Identifier: MIT
// Measuring: OpenSSL EVP digests of memory and of files streamed in chunks.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "trust-internal.h"
#include "util/input.h"
#include "util/log.h"

/* Big enough to amortise read(); small enough to stay in L2 while it is hashed. */
#define CHUNK (256u * 1024u)

const EVP_MD *vc__trust_md(uint32_t alg)
{
	switch (alg) {
	case VC_TRUST_ALG_SHA256:
		return EVP_sha256();
	case VC_TRUST_ALG_SHA384:
		return EVP_sha384();
	default:
		return NULL;
	}
}

VC_API unsigned vc_trust_digest_size(uint32_t alg)
{
	return alg == VC_TRUST_ALG_SHA256 ? 32 : alg == VC_TRUST_ALG_SHA384 ? 48 : 0;
}

VC_API int vc_trust_measure_mem(uint8_t *out, uint32_t alg, const void *data, size_t len)
{
	const EVP_MD *md = vc__trust_md(alg);

	if (!md || (!data && len) || !out)
		return -EINVAL;
	return EVP_Digest(data, len, out, NULL, md, NULL) ? 0 : -ENOMEM;
}

VC_API int vc_trust_measure_fd(uint8_t *out, uint64_t *size, uint32_t alg, int fd)
{
	const EVP_MD *md = vc__trust_md(alg);
	EVP_MD_CTX *ctx;
	uint8_t *buf;
	uint64_t total = 0;
	int rc = 0;

	if (!md || !out)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	buf = malloc(CHUNK);
	if (!ctx || !buf || !EVP_DigestInit_ex(ctx, md, NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (!EVP_DigestFinal_ex(ctx, out, NULL))
		rc = -ENOMEM;
	if (size)
		*size = total;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

int vc__trust_open(const char *path)
{
	const char *what;
	int fd = vc__input_open(path, VC__INPUT_BLOCK, &what);

	if (fd < 0 && what)
		vc__err("trust: %s, not a regular file or block device", what);
	else if (fd < 0)
		vc__err("trust: cannot open %s: %s", path, vc_strerror(fd));
	return fd;
}

int vc__trust_read_file(const char *path, size_t limit, uint8_t **data, size_t *len)
{
	size_t cap = limit < 65536 ? limit : 65536, n = 0;
	uint8_t *buf = malloc(cap ? cap : 1);
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	int fd = vc__trust_open(path);
	if (fd < 0) {
		free(buf);
		return fd;
	}
	while (n < limit) {
		if (n == cap) {
			cap = cap * 2 < limit ? cap * 2 : limit;
			uint8_t *p = realloc(buf, cap);
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			buf = p;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r == 0)
			break;
		if (r < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		if (r > 0)
			n += (size_t)r;
	}
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	*data = buf;
	*len = n;
	return 0;
}

VC_API int vc_trust_measure_path(uint8_t *out, uint64_t *size, uint32_t alg,
				 const char *path)
{
	if (!path)
		return -EINVAL;
	int fd = vc__trust_open(path);
	if (fd < 0)
		return fd;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	int rc = vc_trust_measure_fd(out, size, alg, fd);
	close(fd);
	return rc;
}

void vc__trust_hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}
