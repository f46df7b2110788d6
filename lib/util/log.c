// SPDX-License-Identifier: MIT
// The log hook (silent by default, one callback + userdata pair swapped under a lock) and
// each thread's last error detail.
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "text.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static vc_log_fn log_fn;
static void *log_userdata;

VC_API vc_log_fn vc_set_log_fn(vc_log_fn fn, void *userdata)
{
	pthread_mutex_lock(&log_lock);
	vc_log_fn old = log_fn;
	log_fn = fn;
	log_userdata = userdata;
	pthread_mutex_unlock(&log_lock);
	return old;
}

/* Long enough for a path and two digests; longer details are cut, never split mid-call. */
static _Thread_local char last_error[1024];

VC_API const char *vc_error_last(void)
{
	return last_error;
}

const char *vc__log_last_error(void)
{
	return last_error;
}

VC_API void vc_error_clear(void)
{
	last_error[0] = '\0';
}

void vc__log(enum vc_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vc__vlog(level, fmt, ap);
	va_end(ap);
}

void vc__vlog(enum vc_log_level level, const char *fmt, va_list ap)
{
	/* Copy the pair under the lock so fn and userdata always match, then call outside
	 * it so a slow callback never blocks vc_set_log_fn(). Logging is off hot paths. */
	pthread_mutex_lock(&log_lock);
	vc_log_fn fn = log_fn;
	void *userdata = log_userdata;
	pthread_mutex_unlock(&log_lock);
	if (!fn && level != VC_LOG_ERROR)
		return;

	/* Names in messages come from files and callers (an ELF section, an image, a stage):
	 * controls and bytes that are not UTF-8 are escaped, so a message stays one line and
	 * cannot drive a terminal. */
	char raw[sizeof(last_error)], msg[sizeof(last_error)];
	vsnprintf(raw, sizeof(raw), fmt, ap);
	vc__escape(raw, strlen(raw), msg, sizeof(msg));
	if (level == VC_LOG_ERROR)
		memcpy(last_error, msg, sizeof(msg));
	if (fn)
		fn(level, msg, userdata);
}
