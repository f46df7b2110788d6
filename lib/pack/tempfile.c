// SPDX-License-Identifier: MIT
// Where pack writes: a new file beside its final name, renamed there at the end, so a
// failure leaves nothing half-written under that name. The final name is where the
// user's path leads through its symlinks, and only ever a regular file (util/output.h).
#include <errno.h>

#include "pack-internal.h"
#include "util/log.h"

int vc__pack_output_begin(struct vc__output *o, int dirfd, const char *path, unsigned mode)
{
	const char *what;
	int rc = vc__output_begin(o, dirfd, path, mode, "vcpack", &what);
	if (rc == -EINVAL || rc == -EISDIR)
		vc__err("pack: %s is %s: vc-pack writes only to a regular file (or through a "
			"symlink to one) and left it as it was", path, what);
	else if (rc)
		vc__err("pack: cannot create %s: %s", path, vc_strerror(rc));
	return rc;
}
