# SPDX-License-Identifier: MIT
"""Paravirtual I/O rings in shared memory with the doze protocol (docs/ring.md): play
either side of a ring a guest or another process uses, or test one.

    mem = mmap.mmap(-1, virtcore.ring.size(256, 64))
    virtcore.ring.format(mem, slot_count=256, slot_size=64)
    with virtcore.ring.Ring(mem, 'producer') as tx, virtcore.ring.Ring(mem, 'consumer') as rx:
        tx.push(b'hello')
        assert rx.pop() == b'hello' + bytes(59)
"""
from ._errors import check
from ._handle import Handle
from ._native import ffi, lib

__all__ = ['Ring', 'format', 'size']

_MODES = {'event-idx': lib.VC_RING_MODE_EVENT_IDX, 'flag': lib.VC_RING_MODE_FLAG}
_ROLES = {'producer': lib.VC_RING_PRODUCER, 'consumer': lib.VC_RING_CONSUMER}


def size(slot_count=256, slot_size=64):
    """Bytes a ring of this geometry occupies (ValueError for a bad geometry)."""
    n = lib.vc_ring_size(slot_count, slot_size)
    if not n:
        raise ValueError('bad ring geometry: %d slots of %d bytes (a power of two up to 2^24 '
                         'slots, a multiple of 8 up to 65536 bytes)' % (slot_count, slot_size))
    return n


def format(buffer, slot_count=256, slot_size=64, mode='event-idx'):  # noqa: A001
    """Formats an empty ring at the start of @buffer (writable, 8-byte aligned: a mmap).
    mode 'event-idx' (default) or 'flag' (the seed's doze flag)."""
    if mode not in _MODES:
        raise ValueError('mode is one of %s' % ', '.join(_MODES))
    opts = ffi.new('struct vc_ring_format_opts *', {
        'sz': ffi.sizeof('struct vc_ring_format_opts'), 'slot_count': slot_count,
        'slot_size': slot_size, 'mode': _MODES[mode]})
    mem = ffi.from_buffer(buffer, require_writable=True)
    check(lib.vc_ring_format(mem, len(mem), opts), 'ring: format')


class Ring(Handle):
    """One side ('producer' or 'consumer') of the ring at the start of @buffer. With
    @eventfd (an int from os.eventfd), the producer notifies through it and the consumer
    can wait() on it; always_notify makes the producer notify on every publish (the
    baseline the doze protocol beats). close() detaches (the shared memory stays)."""
    _what = 'ring'

    def __init__(self, buffer, role, eventfd=None, always_notify=False):
        if role not in _ROLES:
            raise ValueError("role is 'producer' or 'consumer'")
        self.role = role
        self._mem = ffi.from_buffer(buffer, require_writable=True)
        self._buffer = buffer
        opts = ffi.new('struct vc_ring_attach_opts *')
        opts.sz = ffi.sizeof('struct vc_ring_attach_opts')
        opts.role = _ROLES[role]
        opts.flags = lib.VC_RING_ALWAYS_NOTIFY if always_notify else 0
        if eventfd is not None:
            check(lib.vc_ring_eventfd_notifier(ffi.addressof(opts, 'notifier'), eventfd),
                  'ring: eventfd')
        out = ffi.new('vc_ring **')
        check(lib.vc_ring_attach(out, self._mem, len(self._mem), opts), 'ring: attach')
        self._own(out[0], lib.vc_ring_detach)
        self.slot_size = lib.vc_ring_slot_size(self._h)
        self.slot_count = lib.vc_ring_slot_count(self._h)
        self._slot = ffi.new('unsigned char[]', self.slot_size)


    def push(self, message):
        """Publishes one message (bytes-like, at most slot_size; the rest of the slot is
        zeroed). True if pushed, False if the ring is full."""
        if type(message) is not bytes:
            message = ffi.from_buffer(message)
        rc = lib.vc_ring_push(self._h, message, len(message))
        if rc < 0:
            self._handle()  # a detached ring says so
            check(rc, 'ring: push')
        return rc == 1

    def pop(self):
        """The oldest message (a whole slot, bytes), or None when the ring is empty."""
        if check(lib.vc_ring_pop(self._handle(), self._slot, self.slot_size), 'ring: pop') == 0:
            return None
        return ffi.buffer(self._slot, self.slot_size)[:]

    def pop_into(self, out):
        """Copies the oldest message into the writable buffer @out (at most its length);
        True, or False when the ring is empty. No new object: the fast path."""
        b = ffi.from_buffer(out, require_writable=True)
        return check(lib.vc_ring_pop(self._handle(), b, len(b)), 'ring: pop') == 1

    def wait(self, timeout=None):
        """Consumer: the messages available, sleeping (the doze protocol) until the
        producer notifies or @timeout seconds pass (None: no limit). 0 on a timeout."""
        ns = -1 if timeout is None else int(timeout * 1e9)
        rc = lib.vc_ring_wait(self._handle(), ns)
        if rc == -110:  # ETIMEDOUT
            return 0
        return check(rc, 'ring: wait')

    @property
    def broken(self):
        """Whether the peer broke the ring (then every operation raises CorruptError)."""
        return bool(lib.vc_ring_is_broken(self._handle()))

    def stats(self):
        """This side's counters, as a dict (messages, notifications, suppressed, dozes...)."""
        s = ffi.new('struct vc_ring_stats *')
        check(lib.vc_ring_get_stats(self._handle(), s, ffi.sizeof(s[0])), 'ring: stats')
        return {name: getattr(s, name) for name, _ in ffi.typeof(s[0]).fields}

    def __repr__(self):
        if self._h is None:
            return '<virtcore.ring.Ring %s (detached)>' % self.role
        return '<virtcore.ring.Ring %s: %d slots of %d bytes%s>' % (
            self.role, self.slot_count, self.slot_size, ', broken' if self.broken else '')


