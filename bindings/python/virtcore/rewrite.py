# SPDX-License-Identifier: MIT
"""Sensitive instructions of x86-64 kernel modules (docs/rewrite.md): find them, write a
copy where each is a trap (`int3`), restore the original byte for byte.

    m = virtcore.rewrite.Module('e1000.ko')
    for site in m:
        print(site.section, hex(site.offset), site.cls, site.mnemonic, site.promote)
    open('e1000.ko.patched', 'wb').write(m.patch())
"""
import collections
import os

from ._errors import check, fspath
from ._native import ffi, lib

__all__ = ['Module', 'Site', 'restore', 'CLASSES']

#: Every class's name, as vc-rewrite and the JSON output spell it.
CLASSES = tuple(ffi.string(lib.vc_rewrite_class_name(c)).decode()
                for c in range(1, lib.VC_REWRITE_CLASS_COUNT))

_FLAGS = ((lib.VC_REWRITE_SITE_RELOC, 'reloc'), (lib.VC_REWRITE_SITE_EX_TABLE, 'ex_table'),
          (lib.VC_REWRITE_SITE_JUMP_TABLE, 'jump_table'))


class Site(collections.namedtuple('Site', 'section section_index offset length cls mnemonic '
                                          'flags promote displaced bytes')):
    """One sensitive instruction: section (name) and section_index, offset in it, length,
    cls (class name, e.g. 'io'), mnemonic (as objdump spells it), flags (a frozenset of
    'reloc', 'ex_table', 'jump_table'), promote ('yes' or why not), displaced (bytes a
    promotion jump would borrow), bytes (the instruction)."""
    __slots__ = ()


def _site(c):
    return Site(ffi.string(c.section_name).decode('utf-8', 'surrogateescape'), c.section,
                c.offset, c.length, ffi.string(lib.vc_rewrite_class_name(c.cls)).decode(),
                ffi.string(c.mnemonic).decode(),
                frozenset(name for bit, name in _FLAGS if c.flags & bit),
                ffi.string(lib.vc_rewrite_promote_name(c.promote)).decode(), c.displaced,
                bytes(c.bytes[0:c.length]))


class Module:
    """A scanned object: from a path (str, bytes, os.PathLike) or its bytes. A sequence
    of its Sites, sorted by section and offset."""

    def __init__(self, source):
        out = ffi.new('vc_rewrite **')
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            self._what = '<%d bytes>' % len(data)
            check(lib.vc_rewrite_load(out, data, len(data)), self._what)
        else:
            self._what = os.fspath(source)
            check(lib.vc_rewrite_load_path(out, fspath(source)), self._what)
        self._m = ffi.gc(out[0], lib.vc_rewrite_destroy)

    def __len__(self):
        return lib.vc_rewrite_count(self._m)

    def __getitem__(self, i):
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError('site %d of %d' % (i, n))
        c = ffi.new('struct vc_rewrite_site *')
        check(lib.vc_rewrite_get(c, self._m, i), self._what)
        return _site(c)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def find(self, section_index, offset):
        """The Site covering byte @offset of section @section_index, or None."""
        i = lib.vc_rewrite_find(self._m, section_index, offset)
        return self[i] if i >= 0 else None

    @property
    def patched(self):
        """Whether the object already carries a .vc.sensitive table."""
        return bool(lib.vc_rewrite_is_patched(self._m))

    def by_class(self):
        """{class name: number of sites}."""
        return dict(collections.Counter(site.cls for site in self))

    def patch(self):
        """The rewritten object (bytes): every site trapped, the table appended."""
        n = check(lib.vc_rewrite_patch(self._m, ffi.NULL, 0), self._what)
        buf = ffi.new('unsigned char[]', n)
        check(lib.vc_rewrite_patch(self._m, buf, n), self._what)
        return ffi.buffer(buf, n)[:]

    def __repr__(self):
        return '<virtcore.rewrite.Module %r: %d sites%s>' % (
            self._what, len(self), ', patched' if self.patched else '')


def restore(data):
    """The object a rewritten object (bytes) was made from, byte for byte."""
    data = bytes(data)
    buf = ffi.new('unsigned char[]', max(len(data), 1))
    n = check(lib.vc_rewrite_restore(data, len(data), buf, len(data)), 'restore')
    return ffi.buffer(buf, n)[:]
