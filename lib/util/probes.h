/* SPDX-License-Identifier: MIT */
/*
 * USDT probes (provider "virtcore") at the moments a tracer cares about: one nop and an
 * ELF note each, nothing at all when <sys/sdt.h> (systemtap-sdt-dev) was missing at build
 * time. vc-trace attaches to them by library path; so can bpftrace, perf and gdb:
 *   bpftrace -e 'usdt:/usr/lib/x86_64-linux-gnu/libvirtcore.so.0:virtcore:ring_notify { @ = count(); }'
 */
#ifndef VC_UTIL_PROBES_H
#define VC_UTIL_PROBES_H

#ifdef VC_HAVE_SDT
#include <sys/sdt.h>
#define VC_PROBE1(name, a) STAP_PROBE1(virtcore, name, a)
#define VC_PROBE2(name, a, b) STAP_PROBE2(virtcore, name, a, b)
#else
#define VC_PROBE1(name, a) ((void)(a))
#define VC_PROBE2(name, a, b) ((void)(a), (void)(b))
#endif

#endif /* VC_UTIL_PROBES_H */
