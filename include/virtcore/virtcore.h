/* SPDX-License-Identifier: MIT */
/* Umbrella header: includes every public libvirtcore header. */
#ifndef VIRTCORE_VIRTCORE_H
#define VIRTCORE_VIRTCORE_H

#include <virtcore/common.h>

#endif /* VIRTCORE_VIRTCORE_H */
