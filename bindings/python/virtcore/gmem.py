# SPDX-License-Identifier: MIT
"""Guest-physical memory maps (docs/gmem.md): regions of host memory at guest-physical
addresses, read and written by address with bounds checked.

    with virtcore.gmem.Map() as m:
        ram = mmap.mmap(-1, 1 << 20)
        m.add(0, ram)
        m.write(0x1000, b'hello')
        assert m.read(0x1000, 5) == b'hello'
"""
from ._errors import check
from ._handle import Handle
from ._native import ffi, lib

__all__ = ['Map', 'READONLY']

READONLY = lib.VC_GMEM_READONLY


class Map(Handle):
    """A map of guest-physical regions. Each region's buffer (a mmap, bytearray, or any
    writable buffer) is kept alive by the map while it is added."""
    _what = 'map'

    def __init__(self):
        out = ffi.new('vc_gmem **')
        check(lib.vc_gmem_create(out), 'gmem')
        self._own(out[0], lib.vc_gmem_destroy)
        self._buffers = {}

    def _closed(self):
        self._buffers.clear()

    def add(self, gpa, buffer, readonly=False):
        """Maps @buffer (writable, whole) at guest-physical @gpa."""
        cbuf = ffi.from_buffer(buffer, require_writable=True)
        check(lib.vc_gmem_add(self._handle(), gpa, len(cbuf), cbuf, READONLY if readonly else 0),
              'gmem: add at %#x' % gpa)
        self._buffers[gpa] = (buffer, cbuf)

    def remove(self, gpa):
        """Unmaps the region that starts at @gpa."""
        check(lib.vc_gmem_remove(self._handle(), gpa), 'gmem: remove %#x' % gpa)
        self._buffers.pop(gpa, None)

    def read(self, gpa, length):
        """@length bytes at @gpa (they may span adjacent regions; all must be mapped)."""
        buf = ffi.new('char[]', length or 1)
        rc = lib.vc_gmem_read(self._h, gpa, buf, length)
        if rc:
            self._fail(rc, 'read', gpa)
        return ffi.unpack(buf, length)

    def read_into(self, gpa, out):
        """Fills @out from @gpa: a writable buffer (bytearray, memoryview, mmap) or, fastest,
        a buffer from buffer(). No new object: the hot path."""
        buf = out if isinstance(out, ffi.CData) else ffi.from_buffer(out, require_writable=True)
        rc = lib.vc_gmem_read(self._h, gpa, buf, len(buf))
        if rc:
            self._fail(rc, 'read', gpa)

    @staticmethod
    def buffer(size):
        """A reusable C buffer of @size bytes for read_into() (bytes(b) copies it out)."""
        return ffi.new('unsigned char[]', size)

    def _fail(self, rc, op, gpa):
        self._handle()  # a closed map says so
        check(rc, 'gmem: %s %#x' % (op, gpa))

    def write(self, gpa, data):
        """Writes @data at @gpa (read-only regions refuse)."""
        cbuf = ffi.from_buffer(data)
        check(lib.vc_gmem_write(self._handle(), gpa, cbuf, len(cbuf)), 'gmem: write %#x' % gpa)

    def regions(self):
        """[(gpa, size, readonly)] in address order."""
        out = []
        info = ffi.new('struct vc_gmem_region_info *')
        for i in range(lib.vc_gmem_region_count(self._handle())):
            check(lib.vc_gmem_region(info, self._h, i), 'gmem')
            out.append((info.gpa, info.size, bool(info.flags & READONLY)))
        return out

    def __repr__(self):
        if self._h is None:
            return '<virtcore.gmem.Map (closed)>'
        return '<virtcore.gmem.Map %s>' % ', '.join(
            '%#x+%#x%s' % (g, s, ' ro' if ro else '') for g, s, ro in self.regions())
