# SPDX-License-Identifier: MIT
"""Errors: every failing libvirtcore call raises virtcore.Error (or a subclass callers
branch on) carrying the errno and the library's detail for the calling thread."""
import errno as _errno
import os

from ._native import ffi, lib


class Error(OSError):
    """A libvirtcore call failed.

    Attributes: errno (positive, as in the errno module), detail (the library's one-line
    account of what was wrong, "" when it gave none), strerror (libvirtcore's text for
    the code)."""

    def __init__(self, code, detail='', what=None):
        code = abs(code)
        text = ffi.string(lib.vc_strerror(-code)).decode('utf-8', 'replace')
        super().__init__(code, text)
        self.detail = detail
        self.what = what

    def __str__(self):
        head = '%s: ' % self.what if self.what else ''
        if self.detail:
            return '%s%s (%s)' % (head, self.detail, self.strerror)
        return '%s%s' % (head, self.strerror)


class NotFoundError(Error, LookupError):
    """Nothing by that name or index (ENOENT)."""


class CorruptError(Error):
    """Malformed data: a disk, list, object or page that is not what it claims (EBADMSG)."""


class KeyRejectedError(Error):
    """A signature or digest did not verify (EKEYREJECTED)."""


class UnsupportedError(Error):
    """This build or machine cannot do it: a module left out, no BPF, no KVM (EOPNOTSUPP)."""


_BY_ERRNO = {
    _errno.ENOENT: NotFoundError,
    _errno.EBADMSG: CorruptError,
    getattr(_errno, 'EKEYREJECTED', 129): KeyRejectedError,
    _errno.EOPNOTSUPP: UnsupportedError,
}


def check(rc, what=None):
    """Returns @rc when it is not negative; raises the Error for it otherwise, with the
    calling thread's detail (read at once: the next failure replaces it)."""
    if rc >= 0:
        return rc
    detail = ffi.string(lib.vc_error_last()).decode('utf-8', 'replace')
    lib.vc_error_clear()
    raise _BY_ERRNO.get(-rc, Error)(-rc, detail, what)


def fspath(path):
    """bytes for a C string from str, bytes or os.PathLike."""
    p = os.fspath(path)
    return p if isinstance(p, bytes) else os.fsencode(p)
