# SPDX-License-Identifier: MIT
"""Guest page tables, walked as the CPU walks them (docs/spt.md), over guest memory:
a gmem.Map, a memory dump file, or bytes. For introspection (what does this guest-virtual
address map to, which pages of a range are mapped), LibVMI-style.

    w = virtcore.spt.Walker.from_dump('guest.mem', cr3=0x1000)
    t = w.translate(0xffffffff81000000)
    print(hex(t.gpa), t.page_size, t.writable)
    for page in w.walk(0x8000000000, 0x8000200000):
        print(hex(page.gva), '->', hex(page.gpa))
"""
import collections
import mmap
import os

from . import gmem
from ._errors import check, fspath
from ._native import ffi, lib

__all__ = ['Walker', 'Translation', 'Page', 'MODES']

MODES = {'32': lib.VC_SPT_MODE_32, 'pae': lib.VC_SPT_MODE_PAE, 'long4': lib.VC_SPT_MODE_LONG4,
         'long5': lib.VC_SPT_MODE_LONG5}
_ACCESS = {'read': lib.VC_SPT_READ, 'write': lib.VC_SPT_WRITE, 'fetch': lib.VC_SPT_FETCH}

Translation = collections.namedtuple('Translation', 'gva fault error_code noncanonical gpa '
                                                    'page_size writable user executable entries')
Translation.__doc__ = ('A walk: fault (the CPU would raise #PF with error_code), noncanonical '
                       '(#GP), gpa and page_size, the leaf\'s effective permissions, and '
                       'entries: [(where the entry lives, its value)] root level first.')

Page = collections.namedtuple('Page', 'gva gpa size writable user executable')


class Walker:
    """Walks the page tables rooted at @cr3 in @memory (a gmem.Map). mode 'long4'
    (default), 'long5', 'pae' or '32'; wp, nxe, pse, smep, smap as the guest's CR0/CR4/EFER
    have them (nxe and wp default on, as a 64-bit kernel runs)."""

    def __init__(self, memory, cr3, mode='long4', wp=True, nxe=True, pse=True, smep=False,
                 smap=False, amd=False, maxphyaddr=0):
        if mode not in MODES:
            raise ValueError('mode is one of %s' % ', '.join(MODES))
        self.memory = memory
        c = ffi.new('struct vc_spt_cpu *')
        c.mode, c.cr3, c.maxphyaddr = MODES[mode], cr3, maxphyaddr
        c.wp, c.nxe, c.pse, c.smep, c.smap, c.amd = wp, nxe, pse, smep, smap, amd
        self._cpu = c
        self._walk = ffi.new('struct vc_spt_walk *')

    @classmethod
    def from_dump(cls, source, cr3, base=0, **cpu):
        """A walker over a raw guest-memory dump: a path (mapped copy-on-write: never
        written back) or bytes, holding guest-physical memory from @base."""
        m = gmem.Map()
        if isinstance(source, (bytes, bytearray, memoryview)):
            buf = bytearray(source)
        else:
            fd = os.open(fspath(source), os.O_RDONLY | os.O_CLOEXEC)
            try:
                buf = mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE,
                                prot=mmap.PROT_READ | mmap.PROT_WRITE)
            finally:
                os.close(fd)
        m.add(base, buf)
        return cls(m, cr3, **cpu)

    def translate(self, gva, access='read', user=False):
        """The Translation of @gva for an access ('read', 'write', 'fetch'; by user code
        with user=True). Raises Error (EFAULT) when a table is outside guest memory."""
        a = _ACCESS[access] | (lib.VC_SPT_USER if user else 0)
        w = self._walk
        check(lib.vc_spt_walk(w, self.memory._handle(), self._cpu, gva, a, 0),
              'spt: walk %#x' % gva)
        entries = [(w.entry_gpa[i], w.entry[i]) for i in range(w.levels)]
        return Translation(gva, bool(w.fault), w.error_code, bool(w.noncanonical), w.gpa,
                           w.page_size, bool(w.writable), bool(w.user), bool(w.executable),
                           entries)

    def walk(self, start, end):
        """The mapped pages of [@start, @end), in order, as Pages (a large page once);
        unmapped stretches are skipped a whole table's span at a time."""
        gva = start
        spans = {1: 1 << 12, 2: 1 << 21, 3: 1 << 30, 4: 1 << 39, 5: 1 << 48}
        top = 5 if self._cpu.mode == lib.VC_SPT_MODE_LONG5 else 4
        while gva < end:
            t = self.translate(gva)
            if t.noncanonical:
                gva = (1 << 64) - (1 << (56 if top == 5 else 47))  # the upper half
                continue
            if t.fault:
                # the faulting entry's level tells how much is unmapped here
                level = top - len(t.entries) + 1
                span = spans.get(level, 1 << 12)
            else:
                span = t.page_size
                yield Page(gva & ~(span - 1), t.gpa & ~(span - 1), span, t.writable, t.user,
                           t.executable)
            gva = (gva & ~(span - 1)) + span

    def __repr__(self):
        mode = {v: k for k, v in MODES.items()}[self._cpu.mode]
        return '<virtcore.spt.Walker %s, cr3 %#x>' % (mode, self._cpu.cr3)
