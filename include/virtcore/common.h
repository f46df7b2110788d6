/* SPDX-License-Identifier: MIT */
/*
 * Plumbing shared by every libvirtcore header: export and C++ linkage macros, the
 * options-struct convention, error strings, the version, and the log hook.
 */
#ifndef VIRTCORE_COMMON_H
#define VIRTCORE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <virtcore/version.h>

#ifdef __cplusplus
#define VC_BEGIN_DECLS extern "C" {
#define VC_END_DECLS }
#else
#define VC_BEGIN_DECLS
#define VC_END_DECLS
#endif

/** Marks a function exported from libvirtcore.so; everything else is hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define VC_API __attribute__((visibility("default")))
#define VC_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define VC_API
#define VC_DEPRECATED(msg)
#endif

/**
 * Declares an options struct with its size set and every other byte zero, then applies
 * designated initialisers: `VC_OPTS(vc_spt_opts, o, .budget = 1 << 20);` declares
 * `struct vc_spt_opts o`.
 *
 * Every options struct starts with `size_t sz` and has no implicit padding (reserved
 * space is a named `pad` field; tests/api checks every struct), so the initialiser
 * zeroes all of its bytes: there is no tail padding to hold stack garbage that a later
 * library would read as a field. The library reads only the fields that `sz` covers, so
 * a program built against an older header keeps working, and refuses with -E2BIG any
 * non-zero byte past the fields it knows (reserved fields included), so a newer program
 * does not silently lose an option on an older library.
 */
#define VC_OPTS(type, name, ...)                                                   \
	struct type name = {.sz = sizeof(struct type), __VA_ARGS__}

VC_BEGIN_DECLS

/**
 * @brief Describes an error code returned by any libvirtcore function.
 *
 * libvirtcore functions return 0 (or a count) on success and a negative errno-style
 * code on failure; they never set `errno`. This gives the text for such a code, with
 * the meaning libvirtcore gives it (for example -EBADMSG: malformed shared-memory or
 * on-disk data).
 *
 * @param err a code, negative as returned (the sign is ignored, so `errno` values work too)
 * @return a static, NUL-terminated string; never NULL. Safe to call from any thread.
 */
VC_API const char *vc_strerror(int err);

/**
 * @brief The version of the library that is running (not the headers compiled against).
 *
 * Compare with VC_VERSION_NUMBER to detect a header/library mismatch.
 *
 * @return VC_VERSION_ENCODE(major, minor, patch) of the loaded library.
 */
VC_API unsigned long vc_version(void);

/**
 * @brief The running library's version as text, e.g. "0.1.0".
 * @return a static string; never NULL.
 */
VC_API const char *vc_version_string(void);

/**
 * @brief Whether a module can be used in this process.
 *
 * The core modules ("gmem", "spt", "irq", "ring", "prefetch", "pvh", and "timerpage" on
 * x86) are always there. The heavy ones ("pack", "trust", "rewrite", "trace") live in libraries of their
 * own, loaded on first use, so that a VMM that does not use them never loads their
 * dependencies (libcrypto, libuuid, libelf, Zydis, libbpf); this loads the module's
 * library if it can. Every function of a module that is not there returns -EOPNOTSUPP
 * (or its documented "nothing" value) with the reason in vc_error_last().
 *
 * @param name a module's name, as above
 * @return 1 if it can be used; 0 if not (vc_error_last() says why: built without it,
 *         its library missing or from another build); -EINVAL for an unknown name
 */
VC_API int vc_has_module(const char *name);

/** Severity passed to the log callback. */
enum vc_log_level {
	VC_LOG_ERROR = 0, /**< an operation failed; the return code says which */
	VC_LOG_WARN = 1,  /**< something looks wrong but the operation went on */
	VC_LOG_INFO = 2,  /**< a notable, rare event (a ring marked broken, a recalibration) */
	VC_LOG_DEBUG = 3, /**< detail for developers; may be frequent */
};

/**
 * Receives the library's diagnostics. @p msg is one line without a trailing newline
 * and is valid only during the call.
 */
typedef void (*vc_log_fn)(enum vc_log_level level, const char *msg, void *userdata);

/**
 * @brief Installs the function that receives the library's diagnostics.
 *
 * The library never prints; by default diagnostics are dropped. The callback may be
 * called from any thread that calls into the library, and must not call
 * vc_set_log_fn() itself.
 *
 * @param fn the new callback, or NULL to drop diagnostics again
 * @param userdata passed unchanged to @p fn
 * @return the callback that was installed before (NULL if none). Safe to call from
 *         any thread; a diagnostic racing with the change goes to the old or the new
 *         callback, never to a mix of one's function and the other's userdata.
 */
VC_API vc_log_fn vc_set_log_fn(vc_log_fn fn, void *userdata);

/**
 * @brief The calling thread's detail of its last failure that had more to say than its
 * error code: which file, which field, expected and actual, as one line prefixed with the
 * module ("pack: image 2 (b.img) overlaps image 1", "trust: stage loader: digest
 * mismatch (expected ..., got ...)").
 *
 * Each thread has its own (libgit2's git_error_last() model): a failure on one thread
 * never changes another's. The detail is set whatever log callback is installed (the
 * callback receives the same line), and only on failure: a later successful call leaves
 * it in place, so read it right after the call that returned the error.
 *
 * @return the detail, or "" if none was recorded on this thread since it started or
 *         since vc_error_clear(). Never NULL; the string belongs to the library and stays
 *         valid until the next failure or vc_error_clear() on this thread.
 */
VC_API const char *vc_error_last(void);

/** @brief Forgets the calling thread's error detail (vc_error_last() then gives ""). */
VC_API void vc_error_clear(void);

VC_END_DECLS

#endif /* VIRTCORE_COMMON_H */
