// SPDX-License-Identifier: MIT
// Moving image bytes: chunked, hole-preserving, hashed on the way. Used to pack (file ->
// disk), extract (disk -> file) and verify (disk -> nowhere).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "pack-internal.h"

/* Chunk size: big enough to amortise the system calls, small enough to stay in L2 between
 * the read, the hash and the write. */
#define CHUNK (256u * 1024u)

static const uint8_t zeros[64 * 1024];

int vc__pack_private_fd(int fd)
{
	char proc[32];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	int own = open(proc, O_RDONLY | O_CLOEXEC);
	if (own >= 0)
		return own;
	/* No /proc: share the offset after all (only SEEK_DATA/SEEK_HOLE move it). */
	own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return own >= 0 ? own : -errno;
}

int vc__pack_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENODATA;
		p += n, off += (uint64_t)n, len -= (size_t)n;
	}
	return 0;
}

int vc__pack_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n, off += (uint64_t)n, len -= (size_t)n;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n, len -= (size_t)n;
	}
	return 0;
}

/* One copy in progress: where the bytes go and the digest so far. */
struct copy {
	int src, dst;
	uint64_t src_off;
	int64_t dst_off; /* < 0: sequential writes */
	bool cfr;        /* try copy_file_range() (positional copies between two files) */
	EVP_MD_CTX *md;
	uint8_t *buf;
};

static int copy_begin(struct copy *c)
{
	c->md = EVP_MD_CTX_new();
	c->buf = malloc(CHUNK);
	if (!c->md || !c->buf || !EVP_DigestInit_ex(c->md, EVP_sha256(), NULL))
		return -ENOMEM;
	return 0;
}

static int copy_end(struct copy *c, int rc, uint8_t sha256[32])
{
	unsigned len = 0;

	if (rc == 0 && !EVP_DigestFinal_ex(c->md, sha256, &len))
		rc = -ENOMEM;
	EVP_MD_CTX_free(c->md);
	free(c->buf);
	return rc;
}

static int put(struct copy *c, const void *buf, size_t n, uint64_t pos)
{
	if (c->dst < 0)
		return 0;
	if (c->dst_off < 0)
		return write_all(c->dst, buf, n);
	return vc__pack_pwrite_all(c->dst, buf, n, (uint64_t)c->dst_off + pos);
}

/* A hole of @n bytes at @pos: hashed as zeros; the destination keeps a hole (it is a fresh
 * sparse region) unless it is written sequentially. */
static int copy_hole(struct copy *c, uint64_t pos, uint64_t n)
{
	while (n) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
		EVP_DigestUpdate(c->md, zeros, k);
		if (c->dst_off < 0) {
			int rc = put(c, zeros, k, pos);
			if (rc)
				return rc;
		}
		pos += k, n -= k;
	}
	return 0;
}

/* copy_file_range() of @n bytes at @pos: in the kernel, and free on filesystems that
 * share extents (XFS, btrfs) or copy on the server (NFS). Returns -errno for the caller to
 * fall back on; only the first call may have copied part of the range then. */
static int copy_range(struct copy *c, uint64_t pos, size_t n)
{
	loff_t in = (loff_t)(c->src_off + pos), out = (loff_t)((uint64_t)c->dst_off + pos);

	while (n) {
		ssize_t r = copy_file_range(c->src, &in, c->dst, &out, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ENODATA;
		n -= (size_t)r;
	}
	return 0;
}

static int copy_data(struct copy *c, uint64_t pos, uint64_t n, const atomic_bool *stop)
{
	while (n) {
		size_t k = n < CHUNK ? (size_t)n : CHUNK;
		int rc;

		if (stop && atomic_load_explicit(stop, memory_order_relaxed))
			return -ECANCELED;
		if (c->cfr) {
			rc = copy_range(c, pos, k);
			if (rc == -EXDEV || rc == -EINVAL || rc == -EOPNOTSUPP || rc == -ENOSYS ||
			    rc == -EBADF)
				c->cfr = false; /* not between these two files: read/write */
			else if (rc)
				return rc;
		}
		/* After copy_file_range() the bytes are read once more to hash them (they
		 * are in the page cache by now). */
		rc = vc__pack_pread_all(c->src, c->buf, k, c->src_off + pos);
		if (rc)
			return rc;
		EVP_DigestUpdate(c->md, c->buf, k);
		if (!c->cfr) {
			rc = put(c, c->buf, k, pos);
			if (rc)
				return rc;
		}
		pos += k, n -= k;
	}
	return 0;
}

/* Length of the data (> 0) or hole (< 0) run at @pos, at most @left bytes; 0 when the
 * file cannot tell (treat the rest as data). */
static int64_t next_run(int fd, uint64_t off, uint64_t left)
{
	off_t data = lseek(fd, (off_t)off, SEEK_DATA);

	if (data < 0)
		return errno == ENXIO ? -(int64_t)left : 0; /* ENXIO: only a hole remains */
	if ((uint64_t)data > off) {
		uint64_t hole = (uint64_t)data - off;
		return -(int64_t)(hole < left ? hole : left);
	}
	off_t hole = lseek(fd, (off_t)off, SEEK_HOLE);
	if (hole < 0 || (uint64_t)hole <= off)
		return 0;
	uint64_t run = (uint64_t)hole - off;
	return (int64_t)(run < left ? run : left);
}

int vc__pack_copy(int src, uint64_t src_off, int dst, int64_t dst_off, uint64_t len,
		  uint8_t sha256[32], const atomic_bool *stop)
{
	struct copy c = {.src = src, .dst = dst, .src_off = src_off, .dst_off = dst_off,
			 .cfr = dst >= 0 && dst_off >= 0};
	bool holes = true;
	uint64_t pos = 0;
	int rc = copy_begin(&c);

	while (rc == 0 && pos < len) {
		uint64_t left = len - pos;
		int64_t run = holes ? next_run(src, src_off + pos, left) : 0;

		if (run == 0) {
			holes = false; /* no SEEK_DATA here: copy everything */
			run = (int64_t)left;
		}
		if (run < 0) {
			rc = copy_hole(&c, pos, (uint64_t)-run);
			pos += (uint64_t)-run;
		} else {
			rc = copy_data(&c, pos, (uint64_t)run, stop);
			pos += (uint64_t)run;
		}
	}
	return copy_end(&c, rc, sha256);
}

int vc__pack_copy_stream(int src, int dst, uint64_t dst_off, uint64_t max, uint64_t *len,
			 uint8_t sha256[32])
{
	struct copy c = {.src = src, .dst = dst, .dst_off = (int64_t)dst_off};
	uint64_t pos = 0;
	int rc = copy_begin(&c);

	while (rc == 0) {
		ssize_t n = read(src, c.buf, CHUNK);
		if (n < 0) {
			if (errno != EINTR)
				rc = -errno;
			continue;
		}
		if (n == 0)
			break;
		if ((uint64_t)n > max - pos) {
			rc = -EFBIG; /* past @max; -ENOSPC stays the filesystem's */
			break;
		}
		EVP_DigestUpdate(c.md, c.buf, (size_t)n);
		rc = put(&c, c.buf, (size_t)n, pos);
		pos += (uint64_t)n;
	}
	*len = pos;
	return copy_end(&c, rc, sha256);
}
