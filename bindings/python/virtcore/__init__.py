# SPDX-License-Identifier: MIT
"""virtcore: libvirtcore for Python (cffi, API mode).

One module per concept, all imported with the package:
  virtcore.pack       packed multi-image disks: create, list, extract, verify
  virtcore.trust      signed reference-value lists, boot-stage chains, TCG event logs
  virtcore.rewrite    sensitive instructions of kernel modules: scan, patch, restore
  virtcore.trace      VM exits traced with eBPF, as rows of dicts
  virtcore.spt        guest page tables walked over a memory dump (introspection)
  virtcore.gmem       guest-physical memory maps
  virtcore.irq        the interrupt-destination policy and the interrupt indicator
  virtcore.ring       either side of a shared-memory ring (a test peer)
  virtcore.timerpage  the shared timer page: read one, or publish one
Failures raise virtcore.Error or a subclass (NotFoundError, CorruptError,
KeyRejectedError, UnsupportedError) with .errno and .detail (the library's account of
what was wrong, for the calling thread).

    >>> import virtcore
    >>> virtcore.version()
    '0.2.0'
"""
from ._errors import CorruptError, Error, KeyRejectedError, NotFoundError, UnsupportedError
from ._native import ffi as _ffi, lib as _lib
from . import gmem, irq, pack, rewrite, ring, spt, timerpage, trace, trust  # noqa: F401,E402

__all__ = ['version', 'version_number', 'has_module', 'Error', 'NotFoundError',
           'CorruptError', 'KeyRejectedError', 'UnsupportedError', 'gmem', 'irq', 'pack',
           'rewrite', 'ring', 'spt', 'timerpage', 'trace', 'trust']


def version():
    """The running libvirtcore's version, e.g. '0.2.0'."""
    return _ffi.string(_lib.vc_version_string()).decode()


def version_number():
    """The running libvirtcore's version as VC_VERSION_ENCODE(major, minor, patch)."""
    return _lib.vc_version()


def has_module(name):
    """Whether module @name ('pack', 'trust', 'rewrite', 'trace', 'gmem', ...) can be used
    in this process (the heavy ones load their library on first use)."""
    rc = _lib.vc_has_module(name.encode())
    if rc < 0:
        raise ValueError('unknown libvirtcore module %r' % name)
    return bool(rc)
