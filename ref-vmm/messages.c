// SPDX-License-Identifier: MIT
// vc-vmm's messages: one line on stderr each, "vc-vmm: <what>", with the library's own
// detail of a failure (its per-thread vc_error_last()) where there is one.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmm.h"

void vmm_err(const char *fmt, ...)
{
	va_list ap;
	fputs("vc-vmm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *vmm_lib_detail(int rc, const char *prefix)
{
	const char *msg = vc_error_last();
	size_t n = strlen(prefix);
	if (strncmp(msg, prefix, n) == 0)
		msg += n;
	return msg[0] ? msg : vc_strerror(rc);
}
