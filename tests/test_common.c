// SPDX-License-Identifier: MIT
// Tests of the plumbing in common.h: error strings, version, log hook, error detail.
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include <virtcore/virtcore.h>

#include "util/log.h"
#include "util/text.h"

/* Codes with a libvirtcore text (docs/error-handling.md lists those the library returns); each
 * must have a specific one. */
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
	cr_assert_not_null(strstr(vc_strerror(-ENOSPC), "too small"));
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
	cr_assert_eq(strlen(c.msg), 1023);
	cr_assert_eq(strlen(vc_error_last()), 0, "an info line is not an error detail");
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

/* ---- per-thread error detail ---- */

Test(error_last, set_by_a_failing_call_kept_by_a_success_cleared_on_request)
{
	vc_error_clear();
	cr_assert_str_eq(vc_error_last(), "");
	static _Alignas(8) unsigned char mem[65536];
	cr_assert_eq(vc_ring_format(mem, 100, NULL), -ENOSPC);
	cr_assert(strstr(vc_error_last(), "ring: cannot format 256 slots of 64 bytes"),
		  "detail: %s", vc_error_last());
	cr_assert(strstr(vc_error_last(), "in 100 bytes"), "detail: %s", vc_error_last());
	cr_assert_eq(vc_ring_format(mem, sizeof(mem), NULL), 0);
	cr_assert(strstr(vc_error_last(), "in 100 bytes"), "a success erased the detail");
	vc_error_clear();
	cr_assert_str_eq(vc_error_last(), "");
}

Test(error_last, recorded_with_or_without_a_log_callback, .fini = reset_log)
{
	struct captured c = {0};
	vc_set_log_fn(capture, &c);
	vc__err("pack: %s: field %s", "d.img", "count");
	cr_assert_str_eq(vc_error_last(), "pack: d.img: field count");
	cr_assert_str_eq(c.msg, "pack: d.img: field count");
	vc_set_log_fn(NULL, NULL);
	vc__err("trust: stage %d", 2);
	cr_assert_str_eq(vc_error_last(), "trust: stage 2");
}

/* Two threads failing differently at the same time each read their own detail. */
struct failer {
	size_t len; /* a ring this short cannot be formatted: the length names the thread */
	unsigned mismatches, rounds;
	pthread_barrier_t *start;
};

static void *fail_repeatedly(void *arg)
{
	struct failer *f = arg;
	static _Thread_local _Alignas(8) unsigned char mem[128];
	char want[64];
	snprintf(want, sizeof(want), "in %zu bytes", f->len);
	pthread_barrier_wait(f->start);
	for (f->rounds = 0; f->rounds < 20000; f->rounds++) {
		if (vc_ring_format(mem, f->len, NULL) != -ENOSPC || !strstr(vc_error_last(), want))
			f->mismatches++;
		sched_yield();
	}
	return NULL;
}

Test(error_last, each_thread_has_its_own)
{
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, 2);
	struct failer a = {.len = 64, .start = &start}, b = {.len = 72, .start = &start};
	pthread_t ta, tb;
	cr_assert_eq(pthread_create(&ta, NULL, fail_repeatedly, &a), 0);
	cr_assert_eq(pthread_create(&tb, NULL, fail_repeatedly, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&start);
	cr_assert_eq(a.mismatches + b.mismatches, 0, "%u and %u reads saw another thread's detail",
		     a.mismatches, b.mismatches);
	vc_error_clear();
	cr_assert_str_eq(vc_error_last(), "", "the main thread's detail is its own");
}

/* #26: a message naming something from a file or a caller stays one line and drives no
 * terminal: controls and bytes that are not UTF-8 are escaped, UTF-8 is kept, and a cut
 * never splits a character or an escape. */
Test(common, messages_escape_controls_and_stray_bytes)
{
	vc__err("x: \"%s\"", "a\nb\x1b[2J\xc2\x85\xff\\ \xc3\xa4");
	cr_assert_str_eq(vc_error_last(), "x: \"a\\x0ab\\x1b[2J\\xc2\\x85\\xff\\x5c \xc3\xa4\"");

	char out[12];
	vc__escape("\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4", 10, out, sizeof(out));
	cr_assert_str_eq(out, "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4", "fits whole");
	vc__escape("\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4", 10, out, 10);
	cr_assert_str_eq(out, "\xc3\xa4\xc3\xa4\xc3\xa4...");
	vc__escape("ab\ncd", 5, out, 8);
	cr_assert_str_eq(out, "ab...");
	vc__escape("abc", 3, out, 4);
	cr_assert_str_eq(out, "abc");
}
