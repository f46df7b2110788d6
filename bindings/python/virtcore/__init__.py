# SPDX-License-Identifier: MIT
"""virtcore: libvirtcore for Python (cffi, API mode).

One module per concept: virtcore.pack (packed multi-image disks), virtcore.rewrite
(sensitive instructions of kernel modules), virtcore.gmem (guest-physical memory maps).
Failures raise virtcore.Error or a subclass (NotFoundError, CorruptError,
KeyRejectedError, UnsupportedError) with .errno and .detail.

    >>> import virtcore
    >>> virtcore.version()
    '0.2.0'
"""
from ._errors import CorruptError, Error, KeyRejectedError, NotFoundError, UnsupportedError
from ._native import ffi as _ffi, lib as _lib

__all__ = ['version', 'version_number', 'has_module', 'Error', 'NotFoundError',
           'CorruptError', 'KeyRejectedError', 'UnsupportedError']


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
