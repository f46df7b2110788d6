/* SPDX-License-Identifier: MIT */
/* Formatting, attaching, and the copy/zero-copy operations of both sides. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ring-internal.h"
#include "util/log.h"
#include "util/opts.h"
#include "util/probes.h"

#define PAIR_ALIGN 128u

VC_API size_t vc_ring_size(uint32_t slot_count, uint32_t slot_size)
{
	return (size_t)vc_ring_abi_size(slot_count, slot_size);
}

static int resolve_format(struct vc_ring_format_opts *o, const struct vc_ring_format_opts *in)
{
	int rc = VC__OPTS_COPY(*o, in, vc_ring_format_opts, mode);
	if (rc)
		return rc;
	o->sz = sizeof(*o); /* NULL leaves it 0; vc_ring_pair_format passes the copy on */
	if (!o->slot_count)
		o->slot_count = 256;
	if (!o->slot_size)
		o->slot_size = 64;
	if (!o->mode)
		o->mode = VC_RING_MODE_EVENT_IDX;
	return 0;
}

VC_API int vc_ring_format(void *mem, size_t len, const struct vc_ring_format_opts *opts)
{
	struct vc_ring_format_opts o;
	int rc = resolve_format(&o, opts);
	if (rc)
		return rc;
	rc = vc_ring_abi_format(mem, len, o.slot_count, o.slot_size, o.mode);
	if (rc)
		vc__err("ring: cannot format %u slots of %u bytes (mode %u) in %zu bytes: %s",
			o.slot_count, o.slot_size, o.mode, len, vc_strerror(rc));
	return rc;
}

static size_t pair_offset(uint64_t req_size)
{
	return (size_t)((req_size + PAIR_ALIGN - 1) & ~(uint64_t)(PAIR_ALIGN - 1));
}

VC_API int vc_ring_pair_format(void *mem, size_t len, const struct vc_ring_format_opts *req,
			       const struct vc_ring_format_opts *comp)
{
	struct vc_ring_format_opts r, c;
	int rc = resolve_format(&r, req);
	if (rc || (rc = resolve_format(&c, comp)))
		return rc;
	uint64_t rsize = vc_ring_abi_size(r.slot_count, r.slot_size);
	uint64_t csize = vc_ring_abi_size(c.slot_count, c.slot_size);
	if (!mem || !rsize || !csize)
		return -EINVAL;
	size_t off = pair_offset(rsize);
	if (len < off || len - off < csize)
		return -ENOSPC;
	rc = vc_ring_format((char *)mem + off, len - off, &c);
	return rc ? rc : vc_ring_format(mem, off, &r);
}

VC_API int64_t vc_ring_pair_offset(const void *mem, size_t len)
{
	struct vc_ring_view v;
	int rc = vc_ring_abi_attach(&v, (void *)mem, len, 0);
	if (rc)
		return rc;
	size_t off = pair_offset(v.slot_count * (uint64_t)v.slot_size + VC_RING_HDR_SIZE);
	if (len < off || len - off < VC_RING_HDR_SIZE)
		return -EBADMSG;
	return (int64_t)off;
}

VC_API int vc_ring_attach(vc_ring **out, void *mem, size_t len,
			  const struct vc_ring_attach_opts *opts)
{
	struct vc_ring_attach_opts o;
	if (!out)
		return -EINVAL;
	*out = NULL;
	int rc = VC__OPTS_COPY(o, opts, vc_ring_attach_opts, notifier);
	if (rc)
		return rc;
	if ((o.role != VC_RING_PRODUCER && o.role != VC_RING_CONSUMER) ||
	    (o.flags & ~VC_RING_ALWAYS_NOTIFY)) {
		vc__err("ring: attach needs role PRODUCER or CONSUMER and known flags");
		return -EINVAL;
	}
	struct vc_ring_view v;
	rc = vc_ring_abi_attach(&v, mem, len, o.role == VC_RING_PRODUCER);
	if (rc) {
		vc__err("ring: attach refused: %s", rc == -EBADMSG ?
			"bad header, geometry beyond the memory given, or inconsistent indices" :
			"NULL or misaligned memory");
		return rc;
	}
	struct vc_ring *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->v = v;
	r->role = o.role;
	r->flags = o.flags;
	r->notifier = o.notifier;
	if (o.role == VC_RING_CONSUMER && o.spin_max_ns >= 0) {
		r->spin_auto = o.spin_max_ns == 0;
		r->spin_bound_ns = o.spin_max_ns;
		if (r->spin_auto) {
			int64_t cost = vc_ring_wake_cost_ns();
			r->spin_bound_ns = cost > 0 ? cost : 0;
		}
		r->spin_allowed = !r->spin_auto || !vc__ring_oversubscribed();
		r->load_checked_ns = vc__ring_now_ns();
	}
	*out = r;
	return 0;
}

VC_API void vc_ring_detach(vc_ring *r)
{
	free(r);
}

VC_API uint32_t vc_ring_slot_size(const vc_ring *r)
{
	return r ? r->v.slot_size : 0;
}

VC_API uint32_t vc_ring_slot_count(const vc_ring *r)
{
	return r ? r->v.slot_count : 0;
}

VC_API void *vc_ring_slot(const vc_ring *r, uint32_t idx)
{
	return vc_ring_abi_slot(&r->v, idx);
}

VC_API int vc_ring_is_broken(const vc_ring *r)
{
	return r && r->v.broken;
}

int vc__ring_broken(struct vc_ring *r, const char *what)
{
	if (r->v.broken == 1) {
		r->v.broken = 2; /* logged */
		vc__info("ring: %s side marked broken: the peer %s", r->role == VC_RING_PRODUCER ?
			 "producer" : "consumer", what);
	}
	return -EBADMSG;
}

/* Producer: publish @n, notify if the consumer claimed a wake-up (or always, as asked). */
static int publish(struct vc_ring *r, uint32_t n)
{
	int need = vc_ring_abi_publish(&r->v, n);
	if (need < 0)
		return vc__ring_broken(r, "wrote an impossible consumer index");
	r->stats.publishes++;
	r->stats.messages += n;
	if ((need || (r->flags & VC_RING_ALWAYS_NOTIFY)) && r->notifier.notify) {
		r->stats.notifications++;
		VC_PROBE1(ring_notify, r);
		if (r->notifier.notify(r->notifier.ctx) < 0)
			r->stats.notify_errors++;
	} else {
		r->stats.suppressed++;
		VC_PROBE1(ring_suppressed, r);
	}
	return 0;
}

static int free_slots(struct vc_ring *r)
{
	if (r->role != VC_RING_PRODUCER)
		return -EINVAL;
	int n = vc_ring_abi_space(&r->v);
	return n < 0 ? vc__ring_broken(r, "wrote an impossible consumer index") : n;
}

VC_API int vc_ring_push(vc_ring *r, const void *msg, size_t len)
{
	if (!r || (!msg && len))
		return -EINVAL;
	if (len > r->v.slot_size)
		return -EMSGSIZE;
	int n = free_slots(r);
	if (n <= 0)
		return n;
	unsigned char *slot = vc_ring_abi_slot(&r->v, r->v.own);
	if (len)
		memcpy(slot, msg, len);
	memset(slot + len, 0, r->v.slot_size - len);
	int rc = publish(r, 1);
	return rc ? rc : 1;
}

/*
 * Copies @k slots starting at the side's own index between the ring and the caller's
 * array @buf: at most two runs, up to the end of the slot array, then from its start.
 */
static void copy_slots(const struct vc_ring_view *v, uint32_t k, void *buf, bool into_ring)
{
	uint32_t at = v->own & v->mask;
	uint32_t first = v->slot_count - at < k ? v->slot_count - at : k;
	size_t sz = v->slot_size;
	unsigned char *ring_part[2] = {vc_ring_abi_slot(v, v->own), v->slots};
	unsigned char *user = buf;
	size_t len[2] = {first * sz, (k - first) * sz};
	for (int i = 0; i < 2 && len[i]; i++) {
		if (into_ring)
			memcpy(ring_part[i], user, len[i]);
		else
			memcpy(user, ring_part[i], len[i]);
		user += len[i];
	}
}

VC_API int vc_ring_push_batch(vc_ring *r, const void *msgs, uint32_t n)
{
	if (!r || (!msgs && n))
		return -EINVAL;
	int room = free_slots(r);
	if (room <= 0 || n == 0)
		return room < 0 ? room : 0;
	uint32_t k = n < (uint32_t)room ? n : (uint32_t)room;
	copy_slots(&r->v, k, (void *)msgs, true);
	int rc = publish(r, k);
	return rc ? rc : (int)k;
}

VC_API int vc_ring_reserve(uint32_t *first, vc_ring *r, uint32_t want)
{
	if (!r || !first)
		return -EINVAL;
	int room = free_slots(r);
	if (room < 0)
		return room;
	uint32_t k = want < (uint32_t)room ? want : (uint32_t)room;
	r->reserved = k;
	*first = r->v.own;
	return (int)k;
}

VC_API int vc_ring_commit(vc_ring *r, uint32_t n)
{
	if (!r || r->role != VC_RING_PRODUCER || n > r->reserved)
		return -EINVAL;
	if (r->v.broken)
		return -EBADMSG;
	r->reserved = 0;
	return n ? publish(r, n) : 0;
}

static int available(struct vc_ring *r)
{
	if (r->role != VC_RING_CONSUMER)
		return -EINVAL;
	int n = vc_ring_abi_avail(&r->v);
	return n < 0 ? vc__ring_broken(r, "wrote an impossible producer index") : n;
}

static void consumed(struct vc_ring *r, uint32_t n)
{
	vc_ring_abi_consume(&r->v, n);
	r->stats.messages += n;
}

VC_API int vc_ring_pop(vc_ring *r, void *msg, size_t len)
{
	if (!r || (!msg && len))
		return -EINVAL;
	int n = available(r);
	if (n <= 0)
		return n;
	size_t k = len < r->v.slot_size ? len : r->v.slot_size;
	if (k)
		memcpy(msg, vc_ring_abi_slot(&r->v, r->v.own), k);
	consumed(r, 1);
	return 1;
}

VC_API int vc_ring_pop_batch(vc_ring *r, void *msgs, uint32_t max)
{
	if (!r || (!msgs && max))
		return -EINVAL;
	int avail = available(r);
	if (avail <= 0 || max == 0)
		return avail < 0 ? avail : 0;
	uint32_t k = max < (uint32_t)avail ? max : (uint32_t)avail;
	copy_slots(&r->v, k, msgs, false);
	consumed(r, k);
	return (int)k;
}

VC_API int vc_ring_peek(uint32_t *first, vc_ring *r, uint32_t max)
{
	if (!r || !first)
		return -EINVAL;
	int avail = available(r);
	if (avail < 0)
		return avail;
	*first = r->v.own;
	return (int)(max < (uint32_t)avail ? max : (uint32_t)avail);
}

VC_API int vc_ring_release(vc_ring *r, uint32_t n)
{
	if (!r || r->role != VC_RING_CONSUMER || n > r->v.peer - r->v.own)
		return -EINVAL;
	if (r->v.broken)
		return -EBADMSG;
	if (n)
		consumed(r, n);
	return 0;
}

VC_API int vc_ring_get_stats(const vc_ring *r, struct vc_ring_stats *stats, size_t size)
{
	if (!r)
		return -EINVAL;
	struct vc_ring_stats s = r->stats;
	s.spin_ns = r->spin_allowed ? r->spin_ns : 0;
	s.spin_max_ns = r->spin_allowed ? r->spin_bound_ns : 0;
	return vc__stats_copy(stats, size, &s, sizeof(s));
}
