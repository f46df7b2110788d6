/* SPDX-License-Identifier: MIT */
/* Exported twins of the inline fast paths in ring_abi.h, for FFI callers. */
#include <errno.h>

#include "ring-internal.h"

/* The inline functions return these without <errno.h>; they must be the errno values. */
_Static_assert(VC_RING_ERR_INVAL == -EINVAL, "EINVAL");
_Static_assert(VC_RING_ERR_BADMSG == -EBADMSG, "EBADMSG");
_Static_assert(VC_RING_ERR_NOSPC == -ENOSPC, "ENOSPC");

VC_API int vc_ring_view_format(void *mem, uint64_t len, uint32_t slot_count, uint32_t slot_size,
			       uint32_t mode)
{
	return vc_ring_abi_format(mem, len, slot_count, slot_size, mode);
}

VC_API int vc_ring_view_attach(struct vc_ring_view *v, void *mem, uint64_t len, int producer)
{
	return vc_ring_abi_attach(v, mem, len, producer);
}

VC_API void *vc_ring_view_slot(const struct vc_ring_view *v, uint32_t idx)
{
	return vc_ring_abi_slot(v, idx);
}

VC_API int vc_ring_view_space(struct vc_ring_view *v)
{
	return vc_ring_abi_space(v);
}

VC_API int vc_ring_view_publish(struct vc_ring_view *v, uint32_t n)
{
	return vc_ring_abi_publish(v, n);
}

VC_API int vc_ring_view_avail(struct vc_ring_view *v)
{
	return vc_ring_abi_avail(v);
}

VC_API void vc_ring_view_consume(struct vc_ring_view *v, uint32_t n)
{
	vc_ring_abi_consume(v, n);
}

VC_API int vc_ring_view_prepare_doze(struct vc_ring_view *v)
{
	return vc_ring_abi_prepare_doze(v);
}

VC_API void vc_ring_view_end_doze(struct vc_ring_view *v)
{
	vc_ring_abi_end_doze(v);
}
