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

int vc__output_target(const char *path, char **final, const char **what)
{
	char *cur = strdup(path);
	*final = NULL;
	*what = NULL;
	if (!cur)
		return -ENOMEM;
	for (int hops = 0;; hops++) {
		struct stat st;
		if (lstat(cur, &st) < 0) {
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
		ssize_t n = readlink(cur, target, sizeof(target) - 1);
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

int vc__output_open_temp(const char *final, unsigned mode, const char *tag, char **tmp_path)
{
	const char *slash = strrchr(final, '/');
	int dir_len = slash ? (int)(slash - final + 1) : 0;
	char *tmp = NULL;

	for (int tries = 0; tries < 100; tries++) {
		uint32_t rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = (uint32_t)rand();
		free(tmp);
		if (asprintf(&tmp, "%.*s.%s-%08" PRIx32 ".tmp", dir_len, final, tag, rnd) < 0)
			return -ENOMEM;
		int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd >= 0) {
			*tmp_path = tmp;
			return fd;
		}
		if (errno != EEXIST) {
			int rc = -errno;
			free(tmp);
			return rc;
		}
	}
	free(tmp);
	return -EEXIST;
}
