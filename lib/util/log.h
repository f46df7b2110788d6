/* SPDX-License-Identifier: MIT */
/* The library's internal logging entry point; output goes to vc_set_log_fn()'s callback. */
#ifndef VC_UTIL_LOG_H
#define VC_UTIL_LOG_H

#include <stdarg.h>

#include <virtcore/common.h>

#include "compiler.h"

/* Formats and hands one line to the installed callback; an error line is also kept as the
 * calling thread's vc_error_last(). */
void vc__log(enum vc_log_level level, const char *fmt, ...) VC_PRINTF(2, 3);
/* The same with a va_list: what a module library's vc__log forwards to (util/module.h). */
void vc__vlog(enum vc_log_level level, const char *fmt, va_list ap) VC_PRINTF(2, 0);

/* This thread's last error line (as vc_error_last()), for code that must carry it to
 * another thread: a worker's detail reported by the thread that waits for it. */
const char *vc__log_last_error(void);

#define vc__err(...) vc__log(VC_LOG_ERROR, __VA_ARGS__)
#define vc__warn(...) vc__log(VC_LOG_WARN, __VA_ARGS__)
#define vc__info(...) vc__log(VC_LOG_INFO, __VA_ARGS__)
#define vc__debug(...) vc__log(VC_LOG_DEBUG, __VA_ARGS__)

#endif /* VC_UTIL_LOG_H */
