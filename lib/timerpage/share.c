// SPDX-License-Identifier: MIT
// One timer page shared by unrelated processes through a file (the seed's "other VMs read
// it"): whoever holds the file's exclusive lock writes; everyone else maps it read-only.
// The lock dies with its holder, so a later opener takes the page over from a writer that
// was killed, under the page's own seqlock.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "timerpage-internal.h"
#include "util/log.h"

#define POLL_NS 1000000L /* a reader's wait for the writer's first publication */

/* Only an empty file, a zero-filled page (a writer died before formatting it) or a timer
 * page may become one: anything else at @path is someone's data. */
static int check_writable_file(int fd, const char *path, off_t size)
{
	if (size == 0)
		return 0;
	if (size != VC_TIMERPAGE_SIZE) {
		vc__err("timerpage: %s holds %lld bytes, not a timer page; refusing to overwrite it",
			path, (long long)size);
		return -EEXIST;
	}
	static const uint8_t zero[64];
	struct vc_timerpage_abi head;
	if (pread(fd, &head, sizeof(head), 0) != (ssize_t)sizeof(head))
		return errno ? -errno : -EIO;
	if (head.magic == VC_TIMERPAGE_MAGIC && head.version == VC_TIMERPAGE_VERSION &&
	    head.page_size == VC_TIMERPAGE_SIZE)
		return 0;
	for (size_t off = 0; off < sizeof(head); off += sizeof(zero))
		if (memcmp((const uint8_t *)&head + off, zero, sizeof(zero)))
			goto foreign;
	return 0;
foreign:
	vc__err("timerpage: %s is not a version-%u timer page; refusing to overwrite it", path,
		VC_TIMERPAGE_VERSION);
	return -EEXIST;
}

static int become_writer(vc_timerpage *tp, const char *path, off_t size,
			 const struct vc_timerpage_opts *opts)
{
	int rc = check_writable_file(tp->fd, path, size);
	if (rc)
		return rc;
	if (size == 0 && ftruncate(tp->fd, VC_TIMERPAGE_SIZE))
		return -errno;
	void *page = mmap(NULL, VC_TIMERPAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, tp->fd, 0);
	if (page == MAP_FAILED)
		return -errno;
	tp->page = page;
	tp->mapped = true;
	return vc__timerpage_init_writer(tp, page, opts);
}

static void sleep_poll(void)
{
	struct timespec ts = {0, POLL_NS};
	nanosleep(&ts, NULL);
}

/* Waits up to @wait_ms for the writer to size the file and publish, then maps it. */
static int become_reader(vc_timerpage *tp, const char *path, uint32_t wait_ms)
{
	uint64_t polls = (uint64_t)wait_ms * 1000000u / POLL_NS + 1;
	struct stat st;
	for (uint64_t i = 0;; i++) {
		if (fstat(tp->fd, &st))
			return -errno;
		if (st.st_size >= VC_TIMERPAGE_SIZE)
			break;
		if (i >= polls) {
			vc__err("timerpage: %s: its writer made no page within %u ms", path, wait_ms);
			return -ETIMEDOUT;
		}
		sleep_poll();
	}
	if (st.st_size != VC_TIMERPAGE_SIZE) {
		vc__err("timerpage: %s holds %lld bytes, not a timer page", path,
			(long long)st.st_size);
		return -EBADMSG;
	}
	void *page = mmap(NULL, VC_TIMERPAGE_SIZE, PROT_READ, MAP_SHARED, tp->fd, 0);
	if (page == MAP_FAILED)
		return -errno;
	tp->page = page;
	tp->mapped = true;
	tp->reader = true;
	int rc;
	for (uint64_t i = 0; (rc = vc_timerpage_check(page, VC_TIMERPAGE_SIZE)) != 0; i++) {
		/* A page that is all zeros still: its writer is calibrating. */
		if (rc != -EBADMSG || tp->page->magic != 0 || i >= polls) {
			vc__err("timerpage: %s: %s", path,
				rc == -ENODATA ? "its writer stopped and none took over"
				: tp->page->magic == 0 ? "its writer published nothing in time"
						       : "not a usable timer page");
			return rc == -EBADMSG && tp->page->magic == 0 ? -ETIMEDOUT : rc;
		}
		sleep_poll();
	}
	const struct vc_timerpage_abi *p = tp->page;
	tp->stats.tsc_stable = !!(p->flags & VC_TIMERPAGE_F_TSC_STABLE);
	tp->stats.tsc_hz = tp->stats.calibrated_hz = (double)p->tsc_hz;
	tp->stats.ticks = vc_timerpage_abi_ticks(p);
	return 0;
}

VC_API int vc_timerpage_create_shared(vc_timerpage **out, const char *path,
				    const struct vc_timerpage_opts *opts, uint32_t wait_ms)
{
	if (!out || !path || !*path)
		return -EINVAL;
	/* O_NONBLOCK: opening a FIFO someone named by mistake must not hang. */
	int flags = O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	int fd = open(path, O_RDWR | O_CREAT | flags, 0644);
	bool may_write = fd >= 0;
	if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
		fd = open(path, O_RDONLY | flags);
	if (fd < 0) {
		int err = -errno;
		vc__err("timerpage: cannot open %s: %s", path, strerror(errno));
		return err;
	}
	struct stat st;
	if (fstat(fd, &st)) {
		int err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		vc__err("timerpage: %s is not a regular file; a shared page lives in one", path);
		close(fd);
		return -EINVAL;
	}
	vc_timerpage *tp = vc__timerpage_new();
	if (!tp) {
		close(fd);
		return -ENOMEM;
	}
	tp->fd = fd;
	int rc;
	/* The lock is held for the writer's lifetime (on tp->fd) and released by the kernel
	 * however the writer ends. */
	if (may_write && flock(fd, LOCK_EX | LOCK_NB) == 0)
		rc = become_writer(tp, path, st.st_size, opts);
	else if (may_write && errno != EWOULDBLOCK)
		rc = -errno;
	else
		rc = become_reader(tp, path, wait_ms);
	if (rc) {
		vc_timerpage_destroy(tp);
		return rc;
	}
	*out = tp;
	return 0;
}

VC_API int vc_timerpage_is_writer(const vc_timerpage *tp)
{
	if (!tp)
		return -EINVAL;
	return !tp->reader;
}
