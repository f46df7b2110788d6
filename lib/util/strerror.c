// SPDX-License-Identifier: MIT
// vc_strerror(): the meaning libvirtcore gives each errno code it returns.
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <virtcore/common.h>

#include "compiler.h"

struct err_text {
	int code;
	const char *text;
};

/* The codes the library documents, worded for what they mean here. Keep
 * docs/error-handling.md and tests/test_common.c in step with this table. */
static const struct err_text err_texts[] = {
	{0, "Success"},
	{EPERM, "Operation not permitted"},
	{ENOENT, "No such file, entry or name"},
	{EIO, "I/O error"},
	{E2BIG, "Argument list or object too large"},
	{EBADF, "Bad file descriptor"},
	{EAGAIN, "Resource temporarily unavailable (try again)"},
	{ENOMEM, "Out of memory"},
	{EACCES, "Permission denied"},
	{EFAULT, "Address outside the mapped memory"},
	{EBUSY, "Resource busy"},
	{EEXIST, "Already exists"},
	{ENODEV, "No such device"},
	{EINVAL, "Invalid argument"},
	{EFBIG, "File too large"},
	{ENOSPC, "No space left (a disk, buffer or memory too small)"},
	{ERANGE, "Value out of range"},
	{ENAMETOOLONG, "Name too long"},
	{ENOSYS, "Function not implemented"},
	{ENODATA, "No data available"},
	{ETIME, "Timer expired"},
	{EPROTO, "Protocol error (peer broke the shared-memory protocol)"},
	{EBADMSG, "Malformed data (bad magic, version, checksum or layout)"},
	{EOVERFLOW, "Value too large for its field"},
	{EILSEQ, "Invalid or incomplete byte sequence"},
	{EMSGSIZE, "Message too long"},
	{EOPNOTSUPP, "Not supported by this CPU, kernel or build"},
	{ETIMEDOUT, "Timed out"},
	{ESTALE, "Stale state (peer restarted or object invalidated)"},
	{ECANCELED, "Operation canceled"},
	{EHOSTUNREACH, "No eligible CPU for the interrupt (held pending)"},
	{EKEYREJECTED, "Rejected by the trust policy (verification failed)"},
	{ENOTRECOVERABLE, "State not recoverable (object marked broken)"},
};

VC_API const char *vc_strerror(int err)
{
	/* long, so that -INT_MIN does not overflow. */
	long code = err < 0 ? -(long)err : err;

	for (size_t i = 0; i < VC_ARRAY_SIZE(err_texts); i++)
		if (err_texts[i].code == code)
			return err_texts[i].text;
	/* strerror() is not thread-safe; strerrordesc_np() returns a static string. */
	const char *desc = code <= INT_MAX ? strerrordesc_np((int)code) : NULL;
	return desc ? desc : "Unknown error";
}
