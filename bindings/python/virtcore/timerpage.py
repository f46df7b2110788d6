# SPDX-License-Identifier: MIT
"""The shared timer page (docs/timerpage.md): one writer publishes time on each tick, any
reader (a guest, another process, this one) reads it without a lock or a system call.

    with virtcore.timerpage.Writer(tick_hz=1000) as w:          # a memfd-backed page
        page = virtcore.timerpage.Page(w.fd)                    # map it, as a peer would
        print(page.now(), page.ticks)
"""
import mmap
import os

from ._errors import check, fspath
from ._handle import Handle
from ._native import ffi, lib

__all__ = ['Page', 'Writer', 'SIZE']

SIZE = lib.VC_TIMERPAGE_SIZE


class Page:
    """A timer page to read: from a file descriptor (a memfd a writer shares), a path
    (`vc-vmm --timerpage-share FILE`, a file a writer keeps), or a buffer holding one.
    Checked once when opened (CorruptError: not a timer page)."""

    def __init__(self, source):
        self._map = None
        if isinstance(source, int):
            self._map = mmap.mmap(source, SIZE, prot=mmap.PROT_READ)
        elif isinstance(source, (str, bytes, os.PathLike)):
            fd = os.open(fspath(source), os.O_RDONLY | os.O_CLOEXEC)
            try:
                self._map = mmap.mmap(fd, SIZE, prot=mmap.PROT_READ)
            finally:
                os.close(fd)
        buf = self._map if self._map is not None else source
        self._c = ffi.from_buffer(buf)
        check(lib.vc_timerpage_check(self._c, len(self._c)), 'timerpage')
        self._page = ffi.cast('const struct vc_timerpage_abi *', self._c)
        self._watch = ffi.new('struct vc_timerpage_abi_watch *')

    def close(self):
        if self._map is not None:
            self._c = None
            self._map.close()
            self._map = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def now(self):
        """Nanoseconds on the writer's clock (CLOCK_MONOTONIC unless it chose another),
        read lock-free; Error (ENODATA) when the writer is gone."""
        out = ffi.new('uint64_t *')
        check(lib.vc_timerpage_read(out, self._page), 'timerpage: read')
        return out[0]

    @property
    def ticks(self):
        """Ticks the writer has processed."""
        return lib.vc_timerpage_ticks(self._page)

    def stale(self, max_ms=100):
        """True when the tick count has not moved for @max_ms (as this reader saw it): the
        writer stopped or died."""
        return bool(lib.vc_timerpage_stale(self._page, self._watch, max_ms))

    @property
    def fields(self):
        """The page's published fields, as a dict (tsc_hz, tick_period_ns, clock_id...)."""
        p = self._page
        return {f: getattr(p, f) for f in ('version', 'flags', 'tick_count', 'tick_period_ns',
                                           'tsc_hz', 'rebase_count', 'clock_id', 'page_size')}

    def __repr__(self):
        return '<virtcore.timerpage.Page %d ticks, %d Hz TSC>' % (self.ticks, self._page.tsc_hz)


class Writer(Handle):
    """A timer page of this process's own, in a memfd (fd: to share or map into a guest).
    start() ticks it from a thread at tick_hz; update() publishes once by hand. `with`
    starts the ticks and ends with close()."""
    _what = 'timer page writer'

    def __init__(self, tick_hz=1000):
        opts = ffi.new('struct vc_timerpage_opts *')
        opts.sz = ffi.sizeof('struct vc_timerpage_opts')
        opts.tick_hz = tick_hz
        out = ffi.new('vc_timerpage **')
        check(lib.vc_timerpage_create_memfd(out, opts), 'timerpage')
        self._own(out[0], lib.vc_timerpage_destroy)
        self.fd = lib.vc_timerpage_fd(self._h)

    def start(self):
        check(lib.vc_timerpage_start(self._handle()), 'timerpage: start')

    def stop(self):
        check(lib.vc_timerpage_stop(self._handle()), 'timerpage: stop')

    def update(self):
        check(lib.vc_timerpage_update(self._handle()), 'timerpage: update')

    def __enter__(self):
        self.start()
        return self
