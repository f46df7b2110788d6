// SPDX-License-Identifier: MIT
// Temporary files beside their final name, so that the rename at the end is atomic and
// a failure leaves nothing half-written under that name. The final name is where the
// user's path leads through its symlinks, and only ever a regular file (util/output.h).
#include <errno.h>
#include <stdlib.h>

#include "../util/output.h"
#include "pack-internal.h"
#include "util/log.h"

int vc__pack_open_temp(const char *user_path, unsigned mode, char **tmp_path, char **final_path)
{
	char *path;
	const char *what;
	int rc = vc__output_target(user_path, &path, &what);
	if (rc == -EINVAL || rc == -EISDIR) {
		vc__err("pack: %s is %s: vc-pack writes only to a regular file (or through a "
			"symlink to one) and left it as it was", user_path, what);
		return rc;
	}
	if (rc)
		return rc;
	int fd = vc__output_open_temp(path, mode, "vcpack", tmp_path);
	if (fd < 0)
		free(path);
	else
		*final_path = path;
	return fd;
}
