// SPDX-License-Identifier: MIT
// The last library error message, for the tools' `TOOL: FILE: message` lines.
#include <stdio.h>
#include <string.h>

#include <virtcore/common.h>

#include "error-capture.h"

static char last[1024];
static const char *prefix = "";

static void on_log(enum vc_log_level level, const char *msg, void *userdata)
{
	(void)userdata;
	size_t n = strlen(prefix);
	if (level == VC_LOG_ERROR)
		snprintf(last, sizeof(last), "%s", strncmp(msg, prefix, n) == 0 ? msg + n : msg);
}

void tool_capture_errors(const char *module_prefix)
{
	prefix = module_prefix;
	vc_set_log_fn(on_log, NULL);
}

const char *tool_last_error(void)
{
	return last[0] ? last : NULL;
}

void tool_clear_error(void)
{
	last[0] = '\0';
}
