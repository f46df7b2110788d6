/* SPDX-License-Identifier: MIT */
/* pvh's shared internals. */
#ifndef VC_PVH_INTERNAL_H
#define VC_PVH_INTERNAL_H

#include "../util/log.h"

/* Logs the sentence as this thread's error detail ("pvh: ...") and returns @code. */
#define fail(code, ...) (vc__err("pvh: " __VA_ARGS__), (code))

#endif
