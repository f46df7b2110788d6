/* SPDX-License-Identifier: MIT */
/*
 * The heavy modules (pack, trust, rewrite, trace) as libraries of their own, so that
 * libvirtcore.so needs none of their dependencies (libcrypto, libuuid, libelf, Zydis,
 * libbpf). libvirtcore.so exports every function of every module; those of a heavy
 * module are trampolines that load libvirtcore-<module>.so on first use and call through
 * its table. docs/api-stability.md says why.
 */
#ifndef VC_UTIL_MODULE_H
#define VC_UTIL_MODULE_H

#include <stdarg.h>
#include <stdint.h>

#include <virtcore/common.h>

/* Bumped whenever struct vc__module changes: a module library from another build of
 * libvirtcore is refused, never called. */
#define VC__MODULE_ABI 1u

enum vc__module_id {
	VC__MODULE_PACK,
	VC__MODULE_TRUST,
	VC__MODULE_REWRITE,
	VC__MODULE_TRACE,
	VC__MODULE_COUNT,
};

typedef void (*vc__vlog_fn)(enum vc_log_level level, const char *fmt, va_list ap);
typedef void (*vc__any_fn)(void);

/* What a module library exports, as its only symbol ("vc__module"). */
struct vc__module {
	uint32_t abi;         /* VC__MODULE_ABI */
	uint32_t count;       /* entries of fns */
	const char *name;     /* "pack" */
	const char *version;  /* VC_VERSION_STRING of its build: must equal the core's */
	void (*set_log)(vc__vlog_fn vlog); /* where its vc__log() goes: the core's */
	const vc__any_fn *fns; /* the module's VC_API functions, in header order */
};

/*
 * The core's side: function @index of module @id, loading the module library on first
 * use. NULL if the module is not available (left out of the build, its library missing
 * or from another build); the calling thread's error detail then says which.
 */
vc__any_fn vc__module_fn(enum vc__module_id id, unsigned index);

/* How many functions the core expects of each module (generated with the trampolines). */
extern const unsigned vc__module_counts[VC__MODULE_COUNT];

#endif /* VC_UTIL_MODULE_H */
