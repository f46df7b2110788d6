// SPDX-License-Identifier: MIT
// Creating a packed disk: images are placed as they are added and copied in the
// background by a few worker threads; commit writes the index and renames the disk.
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uuid/uuid.h>

#include "pack-internal.h"
#include "util/log.h"
#include "util/opts.h"

#define MAX_WORKERS 4

/* One regular file waiting to be copied into its place. */
struct job {
	int fd;
	uint64_t size;
	int rc;
	const char *why; /* with @rc: what went wrong, logged by the thread that waits */
};

struct vc_pack_writer {
	char *path;             /* as given */
	struct vc__output out;  /* the disk being written (out.fd) */
	struct vc_pack_create_opts opts;
	uint32_t align;
	uint64_t fixed_end; /* data end of a fixed-size disk; UINT64_MAX when growing */
	uint64_t cursor;    /* where the next image goes */
	uint32_t count;
	struct vc__pack_meta meta;
	struct job jobs[VC_PACK_MAX_IMAGES];

	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t workers[MAX_WORKERS];
	unsigned nworkers;
	uint32_t next_job; /* jobs [next_job, count) wait for a worker */
	bool closing;
	bool committed;   /* commit ran (whatever its result): the writer takes nothing more */
	atomic_bool stop; /* close before commit: workers give up at their next chunk */
};

static int run_job(vc_pack_writer *w, uint32_t i)
{
	struct vc_pack_entry *e = &w->meta.ent[i];
	struct job *j = &w->jobs[i];
	struct stat st;
	int rc = vc__pack_copy(j->fd, 0, w->out.fd, (int64_t)e->offset, j->size, e->sha256, &w->stop);

	/* A file that shrank reads as a hole past its end (or ends early: -ENODATA); one that
	 * grew was cut. Either way the caller hears -EIO, as documented. */
	const char *why = rc == -ENODATA ? "it ended early" : NULL;
	if (rc == 0 && (fstat(j->fd, &st) != 0 || (uint64_t)st.st_size != j->size))
		why = "it changed size while being packed";
	if (why)
		rc = -EIO;
	else if (rc == -ENOSPC || rc == -EDQUOT)
		why = "the filesystem is full";
	/* Not logged here: the error detail is per thread, and the caller's thread is the
	 * one that reports it (wait_jobs()). */
	j->why = why;
	close(j->fd);
	j->fd = -1;
	return rc;
}

static void *worker_main(void *arg)
{
	vc_pack_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->next_job == w->count && !w->closing)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->next_job == w->count)
			break;
		uint32_t i = w->next_job++;
		if (w->jobs[i].fd < 0)
			continue; /* a stream, copied by the adder */
		pthread_mutex_unlock(&w->lock);
		int rc = run_job(w, i);
		pthread_mutex_lock(&w->lock);
		w->jobs[i].rc = rc;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static unsigned worker_count(const vc_pack_writer *w)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (w->opts.flags & VC_PACK_CREATE_SERIAL || cpus < 2)
		return 0;
	return cpus > MAX_WORKERS ? MAX_WORKERS : (unsigned)cpus;
}

/* Waits for every copy; the first failure, by image order. */
static int wait_jobs(vc_pack_writer *w)
{
	pthread_mutex_lock(&w->lock);
	w->closing = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->nworkers; i++)
		pthread_join(w->workers[i], NULL);
	w->nworkers = 0;
	for (uint32_t i = 0; i < w->count; i++) {
		const struct job *j = &w->jobs[i];
		const struct vc_pack_entry *e = &w->meta.ent[i];
		if (!j->rc)
			continue;
		if (j->rc != -ECANCELED && j->why && j->rc != -EIO)
			vc__err("pack: %s: copying image %.*s failed: %s: %s", w->path,
				(int)e->name_len, e->name, j->why, vc_strerror(j->rc));
		else if (j->rc != -ECANCELED)
			vc__err("pack: %s: copying image %.*s failed: %s", w->path,
				(int)e->name_len, e->name, j->why ? j->why : vc_strerror(j->rc));
		return j->rc;
	}
	return 0;
}

static void writer_free(vc_pack_writer *w)
{
	wait_jobs(w); /* no-op once commit or close already waited */
	for (uint32_t i = 0; i < w->count; i++)
		if (w->jobs[i].fd >= 0)
			close(w->jobs[i].fd);
	vc__output_abandon(&w->out); /* removes the disk unless committed */
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->path);
	free(w);
}

VC_API int vc_pack_writer_open(vc_pack_writer **out, const char *path,
			  const struct vc_pack_create_opts *opts)
{
	struct vc_pack_create_opts o;
	vc_pack_writer *w;
	int rc;

	if (!path || !*path || !out)
		return -EINVAL;
	if ((rc = VC__OPTS_COPY(o, opts, vc_pack_create_opts, mode)))
		return rc;
	if ((o.align && o.align != VC_PACK_ALIGN_4K && o.align != VC_PACK_ALIGN_1M) ||
	    o.disk_size % VC_PACK_SECTOR ||
	    (o.flags & ~(uint32_t)(VC_PACK_CREATE_SYNC | VC_PACK_CREATE_SERIAL)) ||
	    o.mode > 07777) {
		vc__err("pack: create: invalid arguments (alignment 4096 or 1 MiB, size a "
			"multiple of 512, known flags)");
		return -EINVAL;
	}
	if (o.disk_size && o.disk_size < VC_PACK_INDEX_SIZE + VC_PACK_BACKUP_SIZE + VC_PACK_SECTOR) {
		vc__err("pack: %s: a disk of %" PRIu64 " bytes cannot hold the index "
			"(at least %u bytes)", path, o.disk_size,
			VC_PACK_INDEX_SIZE + VC_PACK_BACKUP_SIZE + VC_PACK_SECTOR);
		return -ENOSPC;
	}
	w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(path))) {
		free(w);
		return -ENOMEM;
	}
	w->out = (struct vc__output){.fd = -1};
	w->opts = o;
	w->align = o.align ? o.align : VC_PACK_ALIGN_4K;
	w->fixed_end = o.disk_size ? o.disk_size - VC_PACK_BACKUP_SIZE : UINT64_MAX;
	w->cursor = VC_PACK_INDEX_SIZE;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);

	rc = vc__pack_output_begin(&w->out, AT_FDCWD, path, o.mode ? o.mode : 0644);
	if (rc == 0 && o.disk_size && ftruncate(w->out.fd, (off_t)o.disk_size) != 0) {
		rc = -errno;
		vc__err("pack: %s: cannot make a disk of %llu bytes: %s", path,
			(unsigned long long)o.disk_size, vc_strerror(rc));
	}
	if (rc) {
		writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

/* Checks @name and reserves the next entry for an image of @size bytes (UINT64_MAX:
 * unknown yet, a stream). */
static int reserve(vc_pack_writer *w, const char *name, uint64_t size)
{
	size_t len = name ? strlen(name) : 0;
	const char *why;
	int rc = vc__pack_check_name(name ? name : "", len, &why);

	if (rc) {
		vc__err("pack: %s: cannot add \"%s\": %s", w->path, name ? name : "", why);
		return rc;
	}
	for (uint32_t i = 0; i < w->count; i++) {
		const struct vc_pack_entry *e = &w->meta.ent[i];
		if (e->name_len == len && memcmp(e->name, name, len) == 0) {
			vc__err("pack: %s: an image named \"%s\" is already in the disk",
				w->path, name);
			return -EEXIST;
		}
	}
	if (w->count == VC_PACK_MAX_IMAGES) {
		vc__err("pack: %s: cannot add \"%s\": a disk holds at most %u images", w->path,
			name, VC_PACK_MAX_IMAGES);
		return -E2BIG;
	}
	if (size != UINT64_MAX) {
		uint64_t span = vc__pack_span(size, w->align);
		uint64_t limit = w->fixed_end == UINT64_MAX ? (uint64_t)INT64_MAX / 2 : w->fixed_end;
		if (span > limit || w->cursor > limit - span) {
			vc__err("pack: %s: \"%s\" (%" PRIu64 " bytes) does not fit: the disk has "
				"%" PRIu64 " bytes left", w->path, name, size,
				limit > w->cursor ? limit - w->cursor : 0);
			return -ENOSPC;
		}
	}
	struct vc_pack_entry *e = &w->meta.ent[w->count];
	memset(e, 0, sizeof(*e));
	memcpy(e->name, name, len);
	e->name_len = (uint16_t)len;
	e->offset = w->cursor;
	uuid_generate_random(e->uuid);
	return 0;
}

/* Publishes entry w->count (its size set) and moves the cursor past it. */
static void commit(vc_pack_writer *w, int fd, uint64_t size)
{
	struct vc_pack_entry *e = &w->meta.ent[w->count];

	e->size = size;
	w->cursor = e->offset + vc__pack_span(size, w->align);
	pthread_mutex_lock(&w->lock);
	w->jobs[w->count] = (struct job){.fd = fd, .size = size};
	w->count++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void start_workers(vc_pack_writer *w)
{
	unsigned want = worker_count(w);

	while (w->nworkers < want) {
		if (pthread_create(&w->workers[w->nworkers], NULL, worker_main, w) != 0)
			break; /* fewer workers is slower, not wrong */
		w->nworkers++;
	}
}

static int add_stream(vc_pack_writer *w, const char *name, int fd)
{
	int rc = reserve(w, name, UINT64_MAX);
	if (rc)
		return rc;

	struct vc_pack_entry *e = &w->meta.ent[w->count];
	uint64_t limit = w->fixed_end == UINT64_MAX ? (uint64_t)INT64_MAX / 2 : w->fixed_end;
	/* Whole alignment units left: an image of up to that many bytes fits. */
	uint64_t room = limit > e->offset ? (limit - e->offset) / w->align * w->align : 0;
	uint64_t len = 0;

	rc = vc__pack_copy_stream(fd, w->out.fd, e->offset, room, &len, e->sha256);
	if (rc == 0 && vc__pack_span(len, w->align) > room)
		rc = -EFBIG; /* even an empty image takes one unit */
	if (rc) {
		/* Give the space back (and keep the disk sparse). */
		fallocate(w->out.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)e->offset,
			  (off_t)(len + VC_PACK_SECTOR));
		if (rc == -EFBIG)
			vc__err("pack: %s: \"%s\" does not fit in the fixed-size disk", w->path,
				name);
		else if (rc == -ENOSPC || rc == -EDQUOT)
			vc__err("pack: %s: writing \"%s\": the filesystem is full: %s", w->path,
				name, vc_strerror(rc));
		else
			vc__err("pack: %s: copying \"%s\" failed: %s", w->path, name, vc_strerror(rc));
		return rc == -EFBIG ? -ENOSPC : rc; /* the API's code for a full fixed disk */
	}
	commit(w, -1, len);
	return 0;
}

static int add_file(vc_pack_writer *w, const char *name, int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return add_stream(w, name, fd);
	int rc = reserve(w, name, (uint64_t)st.st_size);
	if (rc)
		return rc;
	int own = vc__pack_private_fd(fd);
	if (own < 0)
		return own;
	commit(w, own, (uint64_t)st.st_size);
	start_workers(w);
	if (w->nworkers == 0) {
		uint32_t i = w->count - 1;
		w->next_job = w->count;
		w->jobs[i].rc = run_job(w, i);
	}
	return 0;
}

/* A committed writer is spent: adding to it would change nothing on disk. */
static int check_open(const vc_pack_writer *w)
{
	if (!w->committed)
		return 0;
	vc__err("pack: %s: the writer was already committed", w->path);
	return -EINVAL;
}

VC_API int vc_pack_writer_add_fd(vc_pack_writer *w, const char *name, int fd)
{
	if (!w || !name)
		return -EINVAL;
	if (check_open(w))
		return -EINVAL;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY) {
		vc__err("pack: %s: cannot add \"%s\": the descriptor is not open for reading",
			w->path, name);
		return -EBADF;
	}
	return add_file(w, name, fd);
}

VC_API int vc_pack_writer_add_path(vc_pack_writer *w, const char *name, const char *path)
{
	if (!w || !path)
		return -EINVAL;
	if (check_open(w))
		return -EINVAL;
	if (!name) {
		const char *slash = strrchr(path, '/');
		name = slash ? slash + 1 : path;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int rc = -errno;
		vc__err("pack: %s: cannot open %s: %s", w->path, path, vc_strerror(rc));
		return rc;
	}
	int rc = add_file(w, name, fd);
	close(fd);
	return rc;
}

static int write_index(vc_pack_writer *w)
{
	uint64_t disk_size = w->opts.disk_size ? w->opts.disk_size
					       : vc__pack_min_disk(w->cursor, w->align);
	uint8_t disk_uuid[16];
	uint8_t *front = malloc(VC__PACK_FRONT_SIZE + VC_PACK_BACKUP_SIZE);
	int rc;

	if (!front)
		return -ENOMEM;
	uuid_generate_random(disk_uuid);
	vc__pack_seal(&w->meta, disk_size, w->align, w->count, disk_uuid);
	vc__pack_render(&w->meta, front, front + VC__PACK_FRONT_SIZE);
	rc = ftruncate(w->out.fd, (off_t)disk_size) ? -errno : 0;
	if (!rc)
		rc = vc__pack_pwrite_all(w->out.fd, front, VC__PACK_FRONT_SIZE, 0);
	if (!rc)
		rc = vc__pack_pwrite_all(w->out.fd, front + VC__PACK_FRONT_SIZE, VC_PACK_BACKUP_SIZE,
					 disk_size - VC_PACK_BACKUP_SIZE);
	if (!rc && (w->opts.flags & VC_PACK_CREATE_SYNC) && fsync(w->out.fd) != 0)
		rc = -errno;
	free(front);
	if (rc)
		vc__err("pack: %s: writing the index failed: %s", w->path, vc_strerror(rc));
	return rc;
}

VC_API int vc_pack_writer_commit(vc_pack_writer *w)
{
	int rc;

	if (!w)
		return -EINVAL;
	if (check_open(w))
		return -EINVAL;
	w->committed = true;
	rc = wait_jobs(w);
	if (!rc)
		rc = write_index(w);
	if (!rc) { /* closes the disk and releases w->out, either way */
		rc = vc__output_commit(&w->out, w->opts.flags & VC_PACK_CREATE_SYNC);
		if (rc)
			vc__err("pack: %s: cannot put the finished disk in place: %s", w->path,
				vc_strerror(rc));
	}
	if (rc)
		vc__output_abandon(&w->out); /* a no-op once the commit released it */
	return rc;
}

VC_API void vc_pack_writer_close(vc_pack_writer *w)
{
	if (!w)
		return;
	if (!w->committed) {
		atomic_store_explicit(&w->stop, true, memory_order_relaxed);
		wait_jobs(w);
	}
	writer_free(w);
}
