// SPDX-License-Identifier: MIT
// vc__log() inside a module library: forwarded to libvirtcore.so's, so a module's error
// detail lands in the same per-thread vc_error_last() and the same log callback.
#include "log.h"
#include "module.h"

static vc__vlog_fn core_vlog;

/* Called once by the core right after loading, before any module function runs. */
void vc__module_set_log(vc__vlog_fn vlog);
void vc__module_set_log(vc__vlog_fn vlog)
{
	core_vlog = vlog;
}

void vc__log(enum vc_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (core_vlog)
		core_vlog(level, fmt, ap);
	va_end(ap);
}
