// SPDX-License-Identifier: MIT
// Output targets: through symlinks, and only onto regular files (output.h).
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "input.h"
#include "output.h"

#define MAX_LINKS 40

/* Follows @path's symlinks (relative ones against their own directory, at most 40) to the
 * path the new file takes (@final, malloc'd), accepting only a regular file or nothing
 * there: 0; -EISDIR; -EINVAL (a device node, FIFO or socket: @what names which); -ELOOP;
 * -ENOMEM; -errno of fstatat/readlinkat. */
static int output_target(int dirfd, const char *path, char **final, const char **what)
{
	char *cur = strdup(path);
	*final = NULL;
	*what = NULL;
	if (!cur)
		return -ENOMEM;
	for (int hops = 0;; hops++) {
		struct stat st;
		if (fstatat(dirfd, cur, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT) {
				int rc = -errno;
				free(cur);
				return rc;
			}
			break; /* nothing there (a dangling link's target): the new file goes here */
		}
		if (S_ISREG(st.st_mode))
			break;
		if (!S_ISLNK(st.st_mode)) {
			*what = vc__file_kind(st.st_mode);
			free(cur);
			return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		}
		if (hops == MAX_LINKS) {
			free(cur);
			return -ELOOP;
		}
		char target[PATH_MAX];
		ssize_t n = readlinkat(dirfd, cur, target, sizeof(target) - 1);
		if (n < 0) {
			int rc = -errno;
			free(cur);
			return rc;
		}
		target[n] = 0;
		char *next;
		const char *slash = strrchr(cur, '/');
		if (target[0] == '/' || !slash)
			next = strdup(target);
		else if (asprintf(&next, "%.*s%s", (int)(slash - cur + 1), cur, target) < 0)
			next = NULL;
		free(cur);
		if (!next)
			return -ENOMEM;
		cur = next;
	}
	*final = cur;
	return 0;
}

/* A name no one uses: ".@tag-XXXXXXXX.tmp" in @final's directory (random, never derived
 * from @final's name, which may already be NAME_MAX long). */
static char *temp_name(const char *final, const char *tag)
{
	const char *slash = strrchr(final, '/');
	int dir_len = slash ? (int)(slash - final + 1) : 0;
	uint32_t rnd = 0;
	char *tmp;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint32_t)rand();
	if (asprintf(&tmp, "%.*s.%s-%08" PRIx32 ".tmp", dir_len, final, tag, rnd) < 0)
		return NULL;
	return tmp;
}

/* An unnamed file in @final's directory (O_TMPFILE): it has no name to leave behind
 * until vc__output_commit() gives it one. -EOPNOTSUPP etc. where the filesystem has none. */
static int open_unnamed(int dirfd, const char *final, unsigned mode)
{
	const char *slash = strrchr(final, '/');
	char *dir = slash ? strndup(final, (size_t)(slash - final + 1)) : strdup(".");
	if (!dir)
		return -ENOMEM;
	int fd = openat(dirfd, dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	int rc = fd < 0 ? -errno : fd;
	free(dir);
	return rc;
}

static int open_named(struct vc__output *o, unsigned mode)
{
	for (int tries = 0; tries < 100; tries++) {
		char *tmp = temp_name(o->final, o->tag);
		if (!tmp)
			return -ENOMEM;
		int fd = openat(o->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd >= 0) {
			o->tmp = tmp;
			return fd;
		}
		int rc = -errno;
		free(tmp);
		if (rc != -EEXIST)
			return rc;
	}
	return -EEXIST;
}

int vc__output_begin(struct vc__output *o, int dirfd, const char *path, unsigned mode,
		     const char *tag, const char **what)
{
	*o = (struct vc__output){.dirfd = dirfd, .fd = -1, .tag = tag};
	int rc = output_target(dirfd, path, &o->final, what);
	if (rc)
		return rc;
	o->fd = open_unnamed(dirfd, o->final, mode);
	if (o->fd == -EOPNOTSUPP || o->fd == -EISDIR || o->fd == -EINVAL)
		o->fd = open_named(o, mode); /* a filesystem without O_TMPFILE */
	if (o->fd < 0) {
		rc = o->fd;
		vc__output_abandon(o);
	}
	return rc;
}

/* Gives the unnamed file a temporary name beside its final one. */
static int link_unnamed(struct vc__output *o)
{
	char proc[40];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", o->fd);
	for (int tries = 0; tries < 100; tries++) {
		char *tmp = temp_name(o->final, o->tag);
		if (!tmp)
			return -ENOMEM;
		/* Through /proc: AT_EMPTY_PATH on the fd itself needs CAP_DAC_READ_SEARCH. */
		int rc = linkat(AT_FDCWD, proc, o->dirfd, tmp, AT_SYMLINK_FOLLOW);
		if (rc < 0 && errno == ENOENT)
			rc = linkat(o->fd, "", o->dirfd, tmp, AT_EMPTY_PATH); /* no /proc */
		if (rc == 0) {
			o->tmp = tmp;
			return 0;
		}
		rc = -errno;
		free(tmp);
		if (rc != -EEXIST)
			return rc;
	}
	return -EEXIST;
}

/* Makes the rename durable (best effort: the data itself was synced by the caller). */
static void sync_dir(const struct vc__output *o)
{
	const char *slash = strrchr(o->final, '/');
	char *dir = slash ? strndup(o->final, (size_t)(slash - o->final + 1)) : strdup(".");
	int fd = dir ? openat(o->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

int vc__output_commit(struct vc__output *o, bool sync)
{
	int rc = o->tmp ? 0 : link_unnamed(o);
	if (close(o->fd) < 0 && !rc)
		rc = -errno; /* a delayed write error (NFS, quota) */
	o->fd = -1;
	if (!rc && renameat(o->dirfd, o->tmp, o->dirfd, o->final) < 0)
		rc = -errno;
	if (!rc) {
		free(o->tmp);
		o->tmp = NULL; /* renamed: nothing to remove */
		if (sync)
			sync_dir(o);
	}
	vc__output_abandon(o);
	return rc;
}

void vc__output_abandon(struct vc__output *o)
{
	if (o->fd >= 0)
		close(o->fd);
	if (o->tmp)
		unlinkat(o->dirfd, o->tmp, 0);
	free(o->tmp);
	free(o->final);
	*o = (struct vc__output){.dirfd = AT_FDCWD, .fd = -1};
}

/* @o's directory (as stat) and the name in it. */
static int place_of(const struct vc__output *o, struct stat *dir, const char **base)
{
	const char *slash = strrchr(o->final, '/');
	char *d = slash ? strndup(o->final, (size_t)(slash - o->final + 1)) : strdup(".");
	if (!d)
		return -ENOMEM;
	int rc = fstatat(o->dirfd, d, dir, 0) < 0 ? -errno : 0;
	free(d);
	*base = slash ? slash + 1 : o->final;
	return rc;
}

bool vc__output_same_place(const struct vc__output *a, const struct vc__output *b)
{
	struct stat da, db;
	const char *na, *nb;
	if (place_of(a, &da, &na) || place_of(b, &db, &nb))
		return strcmp(a->final, b->final) == 0;
	return da.st_dev == db.st_dev && da.st_ino == db.st_ino && strcmp(na, nb) == 0;
}
