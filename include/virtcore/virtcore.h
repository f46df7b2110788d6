/* SPDX-License-Identifier: MIT */
/* Umbrella header: includes every public libvirtcore header. */
#ifndef VIRTCORE_VIRTCORE_H
#define VIRTCORE_VIRTCORE_H

#include <virtcore/common.h>
#include <virtcore/gmem.h>
#include <virtcore/irq.h>
#include <virtcore/irq_abi.h>
#include <virtcore/pack.h>
#include <virtcore/pack_format.h>
#include <virtcore/prefetch.h>
#include <virtcore/pvh.h>
#include <virtcore/pvh_abi.h>
#include <virtcore/rewrite.h>
#include <virtcore/rewrite_format.h>
#include <virtcore/rewrite_emu.h>
#include <virtcore/ring.h>
#include <virtcore/ring_abi.h>
#include <virtcore/spt.h>
#include <virtcore/timerpage.h>
#include <virtcore/timerpage_abi.h>
#include <virtcore/trace.h>
#include <virtcore/trust.h>
#include <virtcore/trust_abi.h>

#endif /* VIRTCORE_VIRTCORE_H */
