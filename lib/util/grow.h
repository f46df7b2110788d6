/* SPDX-License-Identifier: MIT */
/* Growing arrays: capacity doubled (from 16) until @need elements fit. */
#ifndef VC_UTIL_GROW_H
#define VC_UTIL_GROW_H

#include <errno.h>
#include <stdlib.h>

/* Makes *@arr (of *@cap elements of @elem bytes) hold at least @need. 0 or -ENOMEM
 * (then *@arr and *@cap are as they were). */
static inline int vc__grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *p = realloc(*arr, n * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}

#endif /* VC_UTIL_GROW_H */
