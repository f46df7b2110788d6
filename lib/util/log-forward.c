// SPDX-License-Identifier: MIT
// vc__log() inside a module library: forwarded to libvirtcore.so's, so a module's error
// detail lands in the same per-thread vc_error_last() and the same log callback.
#include <stdio.h>

#include "log.h"
#include "module.h"

static vc__vlog_fn core_vlog;

/* Called once by the core right after loading, before any module function runs. */
void vc__module_set_log(vc__vlog_fn vlog);
void vc__module_set_log(vc__vlog_fn vlog)
{
	core_vlog = vlog;
}

/* The module's own copy of this thread's last error line (the core keeps the one
 * vc_error_last() returns; a module cannot call into the core for it). */
static _Thread_local char last_error[512];

const char *vc__log_last_error(void)
{
	return last_error;
}

static void forward(enum vc_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (core_vlog)
		core_vlog(level, fmt, ap);
	va_end(ap);
}

void vc__log(enum vc_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (level == VC_LOG_ERROR) {
		vsnprintf(last_error, sizeof(last_error), fmt, ap);
		forward(level, "%s", last_error);
	} else if (core_vlog) {
		core_vlog(level, fmt, ap);
	}
	va_end(ap);
}
