// SPDX-License-Identifier: MIT
// Getting images out of an open disk (and checking them): each costs time proportional
// to that image alone, and every byte that leaves is covered by the digest check.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pack-internal.h"
#include "util/log.h"

/* Copies image @index to @dst (@dst_off as in vc__pack_copy(); @dst < 0 only hashes) and
 * checks the digest. */
static int copy_checked(vc_pack *p, unsigned index, int dst, int64_t dst_off)
{
	const struct vc_pack_entry *e = &p->meta.ent[index];
	uint8_t sha[32];
	int rc = vc__pack_copy(p->fd, e->offset, dst, dst_off, e->size, sha, NULL);

	if (rc == -ENODATA)
		rc = -EBADMSG; /* the disk shrank after it was opened */
	if (rc) {
		vc__err("pack: image %.*s: %s", (int)e->name_len, e->name, vc_strerror(rc));
		return rc;
	}
	if (memcmp(sha, e->sha256, sizeof(sha)) != 0) {
		char want[65], got[65];
		vc_pack_hex(want, e->sha256);
		vc_pack_hex(got, sha);
		vc__err("pack: image %.*s is corrupt: SHA-256 %s, the index says %s",
			(int)e->name_len, e->name, got, want);
		return -EBADMSG;
	}
	return 0;
}

VC_API int vc_pack_extract_fd(vc_pack *p, unsigned index, int fd)
{
	struct stat st;
	int rc;

	if (!p)
		return -EINVAL;
	if (index >= p->meta.hdr.count)
		return -ENOENT;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return copy_checked(p, index, fd, -1);
	/* Empty first, so that the holes left unwritten read as zeros. Only when needed: on
	 * ext4 a truncate to zero makes close() start writeback (auto_da_alloc). */
	if (st.st_size != 0 && ftruncate(fd, 0) != 0)
		return -errno;
	rc = copy_checked(p, index, fd, 0);
	if (!rc && ftruncate(fd, (off_t)p->meta.ent[index].size) != 0)
		rc = -errno;
	return rc;
}

VC_API int vc_pack_extract_at(vc_pack *p, unsigned index, int dirfd, const char *path,
			      unsigned mode)
{
	struct vc__output out;

	if (!p || !path || mode > 07777)
		return -EINVAL;
	if (!*path) {
		vc__err("pack: an empty output name");
		return -EINVAL;
	}
	if (index >= p->meta.hdr.count)
		return -ENOENT;
	int rc = vc__pack_output_begin(&out, dirfd, path, mode ? mode : 0644);
	if (rc)
		return rc;
	rc = vc_pack_extract_fd(p, index, out.fd);
	if (rc) {
		vc__output_abandon(&out);
		return rc;
	}
	rc = vc__output_commit(&out, false);
	if (rc)
		vc__err("pack: cannot put the extracted image in place as %s: %s", path,
			vc_strerror(rc));
	return rc;
}

VC_API int vc_pack_extract_path(vc_pack *p, unsigned index, const char *path,
				unsigned mode)
{
	return vc_pack_extract_at(p, index, AT_FDCWD, path, mode);
}

VC_API int vc_pack_verify(unsigned *bad_index, vc_pack *p)
{
	if (!p)
		return -EINVAL;
	for (unsigned i = 0; i < p->meta.hdr.count; i++) {
		int rc = copy_checked(p, i, -1, -1);
		if (rc) {
			if (bad_index)
				*bad_index = i;
			return rc;
		}
	}
	return vc__pack_verify_layout(p, bad_index);
}

/* Extracting many images: workers take the next index until done or one fails. */
struct extract_all {
	vc_pack *p;
	int dirfd;
	unsigned mode;
	pthread_mutex_t lock;
	unsigned next;
	int rc;
	char why[512]; /* the failing worker's detail: error detail is per thread */
};

static void *extract_worker(void *arg)
{
	struct extract_all *x = arg;

	for (;;) {
		pthread_mutex_lock(&x->lock);
		unsigned i = x->next++;
		bool stop = x->rc != 0 || i >= x->p->meta.hdr.count;
		pthread_mutex_unlock(&x->lock);
		if (stop)
			return NULL;

		/* Names are one path component (no '/', not "." or ".."): relative to the
		 * directory opened once, never spliced into a path string. */
		const struct vc_pack_entry *e = &x->p->meta.ent[i];
		char name[VC_PACK_NAME_MAX + 1];
		memcpy(name, e->name, e->name_len);
		name[e->name_len] = '\0';
		int rc = vc_pack_extract_at(x->p, i, x->dirfd, name, x->mode);
		if (rc) {
			pthread_mutex_lock(&x->lock);
			if (!x->rc) {
				x->rc = rc;
				snprintf(x->why, sizeof(x->why), "%s", vc__log_last_error());
			}
			pthread_mutex_unlock(&x->lock);
		}
	}
}

VC_API int vc_pack_extract_all(vc_pack *p, const char *dir, unsigned mode)
{
	struct extract_all x = {.p = p, .mode = mode};
	pthread_t th[4];
	unsigned n = 0;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cpus < 1 ? 1 : cpus > 4 ? 4 : (unsigned)cpus;

	if (!p || !dir || mode > 07777)
		return -EINVAL;
	if (!*dir) { /* an unset shell variable: not "/" and not "." */
		vc__err("pack: an empty directory name");
		return -EINVAL;
	}
	x.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x.dirfd < 0) {
		int rc = -errno;
		vc__err("pack: cannot open the directory %s: %s", dir, vc_strerror(rc));
		return rc;
	}
	pthread_mutex_init(&x.lock, NULL);
	/* The calling thread works too; the others only when there is more than one image. */
	while (n + 1 < want && n + 1 < p->meta.hdr.count &&
	       pthread_create(&th[n], NULL, extract_worker, &x) == 0)
		n++;
	extract_worker(&x);
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&x.lock);
	close(x.dirfd);
	if (x.rc && x.why[0])
		vc__err("%s", x.why); /* in the caller's thread, where it looks */
	return x.rc;
}
