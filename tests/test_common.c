// SPDX-License-Identifier: MIT
// Tests of the plumbing in common.h: error strings, version, log hook.
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include <virtcore/virtcore.h>

#include "util/log.h"

/* Every code docs/error-handling.md documents; each must have a specific text. */
static const int documented[] = {
	EPERM, ENOENT, EIO, E2BIG, EBADF, EAGAIN, ENOMEM, EACCES, EFAULT, EBUSY, EEXIST,
	ENODEV, EINVAL, EFBIG, ENOSPC, ERANGE, ENAMETOOLONG, ENOSYS, ENODATA, ETIME,
	EPROTO, EBADMSG, EOVERFLOW, EILSEQ, EMSGSIZE, EOPNOTSUPP, ETIMEDOUT, ESTALE,
	ECANCELED, EHOSTUNREACH, EKEYREJECTED, ENOTRECOVERABLE,
};

Test(strerror, every_documented_code_has_text)
{
	for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++) {
		int code = documented[i];
		const char *neg = vc_strerror(-code);
		cr_assert_not_null(neg, "code %d", code);
		cr_assert_str_neq(neg, "Unknown error", "code %d has no text", code);
		cr_assert_gt(strlen(neg), 3, "code %d", code);
		/* The sign is ignored: errno values give the same text. */
		cr_assert_str_eq(vc_strerror(code), neg, "code %d", code);
	}
}

Test(strerror, documented_codes_have_distinct_texts)
{
	size_t n = sizeof(documented) / sizeof(documented[0]);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			cr_assert_str_neq(vc_strerror(-documented[i]), vc_strerror(-documented[j]),
					  "codes %d and %d share a text", documented[i],
					  documented[j]);
}

Test(strerror, library_meanings)
{
	cr_assert_str_eq(vc_strerror(0), "Success");
	cr_assert_not_null(strstr(vc_strerror(-EBADMSG), "Malformed"));
	cr_assert_not_null(strstr(vc_strerror(-ENOSPC), "full"));
	cr_assert_not_null(strstr(vc_strerror(-EKEYREJECTED), "trust"));
}

Test(strerror, undocumented_errno_falls_back_to_libc_text)
{
	/* EXDEV is not in the table; the libc description is used, never NULL. */
	cr_assert_str_eq(vc_strerror(-EXDEV), "Invalid cross-device link");
}

Test(strerror, out_of_range_codes_are_unknown_not_a_crash)
{
	cr_assert_str_eq(vc_strerror(100000), "Unknown error");
	cr_assert_str_eq(vc_strerror(INT_MIN), "Unknown error");
	cr_assert_str_eq(vc_strerror(INT_MAX), "Unknown error");
}

Test(version, runtime_matches_headers)
{
	cr_assert_eq(vc_version(), VC_VERSION_NUMBER);
	cr_assert_str_eq(vc_version_string(), VC_VERSION_STRING);

	char expect[32];
	snprintf(expect, sizeof(expect), "%d.%d.%d", VC_VERSION_MAJOR, VC_VERSION_MINOR,
		 VC_VERSION_PATCH);
	cr_assert_str_eq(vc_version_string(), expect);
}

Test(version, encoding_orders_versions)
{
	cr_assert_lt(VC_VERSION_ENCODE(0, 1, 9), VC_VERSION_ENCODE(0, 2, 0));
	cr_assert_lt(VC_VERSION_ENCODE(0, 255, 255), VC_VERSION_ENCODE(1, 0, 0));
}

struct captured {
	int calls;
	enum vc_log_level level;
	char msg[1024];
};

static void capture(enum vc_log_level level, const char *msg, void *userdata)
{
	struct captured *c = userdata;
	c->calls++;
	c->level = level;
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

static void reset_log(void)
{
	vc_set_log_fn(NULL, NULL);
}

Test(log, silent_by_default_and_after_reset, .fini = reset_log)
{
	vc__err("nobody listens %d", 1); /* must not crash */
	struct captured c = {0};
	cr_assert_null(vc_set_log_fn(capture, &c));
	cr_assert_eq(vc_set_log_fn(NULL, NULL), capture);
	vc__err("dropped");
	cr_assert_eq(c.calls, 0);
}

Test(log, callback_gets_level_and_formatted_line, .fini = reset_log)
{
	struct captured c = {0};
	vc_set_log_fn(capture, &c);
	vc__warn("ring %s: index %u out of range", "req", 70000u);
	cr_assert_eq(c.calls, 1);
	cr_assert_eq(c.level, VC_LOG_WARN);
	cr_assert_str_eq(c.msg, "ring req: index 70000 out of range");
}

Test(log, long_lines_are_truncated_not_overrun, .fini = reset_log)
{
	struct captured c = {0};
	char big[2000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	vc_set_log_fn(capture, &c);
	vc__info("%s", big);
	cr_assert_eq(c.calls, 1);
	cr_assert_eq(strlen(c.msg), 511);
}

/* Two callbacks, each with its own userdata: a callback must never see the other's. */
static const char tag_a[] = "a", tag_b[] = "b";
static _Atomic int mismatches;

static void cb_a(enum vc_log_level l, const char *m, void *u)
{
	(void)l, (void)m;
	if (u != tag_a)
		mismatches++;
}

static void cb_b(enum vc_log_level l, const char *m, void *u)
{
	(void)l, (void)m;
	if (u != tag_b)
		mismatches++;
}

static void *log_spam(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++)
		vc__debug("spam %d", i);
	return NULL;
}

Test(log, swapping_callbacks_never_mixes_fn_and_userdata, .fini = reset_log)
{
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, log_spam, NULL), 0);
	for (int i = 0; i < 20000; i++)
		vc_set_log_fn(i & 1 ? cb_a : cb_b, i & 1 ? (void *)tag_a : (void *)tag_b);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(mismatches, 0);
}
