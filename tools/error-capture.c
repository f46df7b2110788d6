// SPDX-License-Identifier: MIT
// The library's error detail for the tools' `TOOL: FILE: message` lines, without the
// module prefix the library puts in front.
#include <string.h>

#include <virtcore/common.h>

#include "error-capture.h"

static const char *prefix = "";

void tool_capture_errors(const char *module_prefix)
{
	prefix = module_prefix;
}

const char *tool_last_error(void)
{
	const char *msg = vc_error_last();
	size_t n = strlen(prefix);
	if (strncmp(msg, prefix, n) == 0)
		msg += n;
	return msg[0] ? msg : NULL;
}

void tool_clear_error(void)
{
	vc_error_clear();
}
