// SPDX-License-Identifier: MIT
// Temporary files beside their final name, so that the rename at the end is atomic and
// a failure leaves nothing half-written under that name.
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "pack-internal.h"

int vc__pack_open_temp(const char *path, unsigned mode, char **tmp_path)
{
	const char *slash = strrchr(path, '/');
	int dir_len = slash ? (int)(slash - path + 1) : 0;
	char *tmp = NULL;

	for (int tries = 0; tries < 100; tries++) {
		uint32_t rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = (uint32_t)rand();
		free(tmp);
		/* Not derived from the final name, which may already be NAME_MAX long. */
		if (asprintf(&tmp, "%.*s.vcpack-%08" PRIx32 ".tmp", dir_len, path, rnd) < 0)
			return -ENOMEM;
		/* O_EXCL: never reuse or follow anything already there. */
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
