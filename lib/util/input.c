// SPDX-License-Identifier: MIT
// Inputs: opened without blocking, and only when they are files (input.h).
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "input.h"

const char *vc__file_kind(mode_t m)
{
	return S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" : S_ISFIFO(m) ? "a FIFO"
	       : S_ISSOCK(m) ? "a socket" : S_ISDIR(m) ? "a directory" : "not a regular file";
}

int vc__input_open(const char *path, unsigned allow, const char **what)
{
	struct stat st;
	const char *kind = NULL;
	int rc = 0;

	if (what)
		*what = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
	} else if (!S_ISREG(st.st_mode) && !(S_ISBLK(st.st_mode) && (allow & VC__INPUT_BLOCK))) {
		kind = vc__file_kind(st.st_mode);
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	} else {
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
			rc = -errno;
	}
	if (what)
		*what = kind;
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}
