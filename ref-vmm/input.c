// SPDX-License-Identifier: MIT
// The files vc-vmm gives the guest, held in memory the VMM owns (vmm.h, struct vmm_input).
// Mapping the file itself would not do: a MAP_PRIVATE page the VMM never wrote still
// shows later writes to the file (so a module could change between its check and its
// placement), and a file truncated under the mapping kills the VMM with SIGBUS. A sealed
// memfd is a copy nobody can change, and the block device can serve it by pread().
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm.h"

/* Messages name the file, after its option where that helps ("--pack DISK: ..."). */
#define OPT(o) (o) ? (o) : "", (o) ? " " : ""

static const char *kind(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ?
	       "a block device" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : "not a file";
}

int vmm_input_open(const char *option, const char *path, unsigned allow)
{
	/* O_NONBLOCK: a FIFO without a writer would hold open() forever. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		vmm_err("%s%s%s: %s", OPT(option), path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !(S_ISBLK(st.st_mode) && (allow & VMM_INPUT_BLOCK))) {
		vmm_err("%s%s%s: %s, not a regular file%s", OPT(option), path, kind(st.st_mode),
			allow & VMM_INPUT_BLOCK ? " or block device" : "");
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		vmm_err("%s%s%s: %s", OPT(option), path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int fill(int dst, int src, uint64_t size, const char *option, const char *path)
{
	void *w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, dst, 0);
	if (w == MAP_FAILED) {
		vmm_err("%s%s%s: cannot hold a copy of %" PRIu64 " bytes: %s", OPT(option), path, size,
			strerror(errno));
		return -1;
	}
	int rc = 0;
	for (uint64_t at = 0; at < size && !rc;) {
		size_t chunk = size - at < (64u << 20) ? (size_t)(size - at) : (64u << 20);
		ssize_t n = pread(src, (uint8_t *)w + at, chunk, (off_t)at);
		if (n > 0) {
			at += (uint64_t)n;
		} else if (n == 0) {
			vmm_err("%s%s%s: the file shrank while it was read (%" PRIu64 " of %" PRIu64
				" bytes)", OPT(option), path, at, size);
			rc = -1;
		} else if (errno != EINTR) {
			vmm_err("%s%s%s: %s", OPT(option), path, strerror(errno));
			rc = -1;
		}
	}
	munmap(w, size); /* no writable mapping may remain for F_SEAL_WRITE */
	return rc;
}

int vmm_input_copy(struct vmm_input *in, const char *option, const char *path, int src,
		   uint64_t size)
{
	*in = (struct vmm_input){.data = (const uint8_t *)"", .fd = -1};
	if (!size)
		return 0;
	if (size > SIZE_MAX / 2) {
		vmm_err("%s%s%s: %" PRIu64 " bytes is too large", OPT(option), path, size);
		return -1;
	}
	int fd = memfd_create("vc-vmm-input", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		vmm_err("%s%s%s: cannot hold a copy: %s", OPT(option), path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	void *r = MAP_FAILED;
	if (fill(fd, src, size, option, path) == 0) {
		if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
			  F_SEAL_SEAL) < 0 ||
		    (r = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
			vmm_err("%s%s%s: cannot seal the copy: %s", OPT(option), path, strerror(errno));
	}
	if (r == MAP_FAILED) {
		close(fd);
		return -1;
	}
	*in = (struct vmm_input){.data = r, .size = (size_t)size, .fd = fd};
	return 0;
}

int vmm_input_read(struct vmm_input *in, const char *option, const char *path,
		   uint64_t limit, const char *limit_what)
{
	*in = (struct vmm_input){.data = (const uint8_t *)"", .fd = -1};
	int fd = vmm_input_open(option, path, 0);
	if (fd < 0)
		return -1;
	struct stat st;
	int rc = fstat(fd, &st);
	if (rc < 0) {
		vmm_err("%s%s%s: %s", OPT(option), path, strerror(errno));
	} else if ((uint64_t)st.st_size > limit) {
		vmm_err("%s%s%s: %" PRIu64 " bytes does not fit in %s (%" PRIu64 " bytes)",
			OPT(option), path, (uint64_t)st.st_size, limit_what, limit);
		rc = -1;
	} else {
		rc = vmm_input_copy(in, option, path, fd, (uint64_t)st.st_size);
	}
	close(fd);
	return rc;
}

void vmm_input_release(struct vmm_input *in)
{
	if (in->fd >= 0) {
		munmap((void *)in->data, in->size);
		close(in->fd);
	}
	*in = (struct vmm_input){.data = (const uint8_t *)"", .fd = -1};
}
