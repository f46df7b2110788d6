// SPDX-License-Identifier: MIT
// The interrupt indicator in host memory: the layout and the lock-free setter and scanner
// of <virtcore/irq_abi.h>, which a guest uses on an indicator in its RAM.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/irq.h>
#include <virtcore/irq_abi.h>

_Static_assert(VC_IRQ_ABI_ERR_INVAL == -EINVAL, "the ABI's errno");

struct vc_irq_indicator {
	struct vc_irq_indicator_abi abi;
};

VC_API int vc_irq_indicator_create(vc_irq_indicator **out)
{
	if (!out)
		return -EINVAL;
	vc_irq_indicator *ind = aligned_alloc(64, (sizeof(*ind) + 63) & ~(size_t)63);
	if (!ind)
		return -ENOMEM;
	memset(ind, 0, sizeof(*ind));
	*out = ind;
	return 0;
}

VC_API void vc_irq_indicator_destroy(vc_irq_indicator *ind)
{
	free(ind);
}

VC_API int vc_irq_indicator_set(vc_irq_indicator *ind, uint32_t requester)
{
	if (!ind)
		return -EINVAL;
	return vc_irq_abi_indicator_set(&ind->abi, requester);
}

VC_API int vc_irq_indicator_test(const vc_irq_indicator *ind, uint32_t requester)
{
	if (!ind)
		return -EINVAL;
	return vc_irq_abi_indicator_test(&ind->abi, requester);
}

VC_API int vc_irq_indicator_scan(vc_irq_indicator *ind, uint16_t *out, size_t max)
{
	if (!ind || (!out && max))
		return -EINVAL;
	if (max > INT32_MAX)
		max = INT32_MAX;
	return (int)vc_irq_abi_indicator_scan(&ind->abi, out, max);
}
