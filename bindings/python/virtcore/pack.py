# SPDX-License-Identifier: MIT
"""Packed multi-image disks (docs/pack.md): one fixed-size disk, a fixed-size index of
image names, sizes and SHA-256 digests at the front, readable as GPT partitions.

    with virtcore.pack.create('disk.img', [('kernel', 'vmlinuz'), ('initrd', b'...')]) as d:
        for image in d:
            print(image.name, image.size, image.sha256.hex())
    with virtcore.pack.Disk('disk.img') as d:
        d.verify()
        d.extract('kernel', 'out/vmlinuz')
"""
import os
import uuid as _uuid

from ._errors import Error, NotFoundError, check, fspath
from ._handle import Handle
from ._native import ffi, lib

ALIGN_4K = lib.VC_PACK_ALIGN_4K
ALIGN_1M = lib.VC_PACK_ALIGN_1M
NAME_MAX = lib.VC_PACK_NAME_MAX

__all__ = ['Disk', 'Image', 'Info', 'create', 'ALIGN_4K', 'ALIGN_1M', 'NAME_MAX']


class Image:
    """One image of a disk: name, offset and size in bytes, sha256 (bytes), uuid
    (uuid.UUID, its GPT partition GUID), index (its position)."""
    __slots__ = ('name', 'offset', 'size', 'sha256', 'uuid', 'index')

    def __init__(self, c):
        self.name = ffi.string(c.name).decode('utf-8')
        self.offset = c.offset
        self.size = c.size
        self.sha256 = bytes(c.sha256)
        self.uuid = _uuid.UUID(bytes=bytes(c.uuid))
        self.index = c.index

    def __repr__(self):
        return '<virtcore.pack.Image %d %r: %d bytes at %d, sha256 %s>' % (
            self.index, self.name, self.size, self.offset, self.sha256.hex()[:16] + '...')


class Info:
    """A disk as a whole: disk_size, data_start, data_end, used (bytes of images), align,
    count, uuid."""
    __slots__ = ('disk_size', 'data_start', 'data_end', 'used', 'align', 'count', 'uuid')

    def __init__(self, c):
        for f in ('disk_size', 'data_start', 'data_end', 'used', 'align', 'count'):
            setattr(self, f, getattr(c, f))
        self.uuid = _uuid.UUID(bytes=bytes(c.disk_uuid))

    def __repr__(self):
        return '<virtcore.pack.Info %d images, %d of %d bytes used, align %d, %s>' % (
            self.count, self.used, self.disk_size, self.align, self.uuid)


class Disk(Handle):
    """An open, validated packed disk (read-only). A context manager; iterating gives
    its Images in order; d[i] and d['name'] look one up (NotFoundError if absent)."""
    _what = 'disk'

    def __init__(self, path):
        self._path = os.fspath(path)
        out = ffi.new('vc_pack **')
        check(lib.vc_pack_open(out, fspath(path)), self._path)
        self._own(out[0], lib.vc_pack_close)

    @property
    def info(self):
        """The disk's Info."""
        c = ffi.new('struct vc_pack_info *')
        check(lib.vc_pack_info(c, self._handle()), self._path)
        return Info(c)

    def __len__(self):
        return lib.vc_pack_count(self._handle())

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, key):
        c = ffi.new('struct vc_pack_image *')
        if isinstance(key, int):
            if key < 0:
                key += len(self)
            if not 0 <= key < len(self):
                raise IndexError('image %d of %d' % (key, len(self)))
            check(lib.vc_pack_get(c, self._handle(), key), self._path)
        else:
            check(lib.vc_pack_find(c, self._handle(), key.encode('utf-8')), self._path)
        return Image(c)

    def __contains__(self, name):
        try:
            self[name]
            return True
        except NotFoundError:
            return False

    def names(self):
        """The images' names, in order."""
        return [image.name for image in self]

    def read(self, key):
        """Image @key's bytes, as stored (verify() checks them against the digests)."""
        image = self[key]
        fd = os.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.pread(fd, image.size, image.offset)
        finally:
            os.close(fd)
        if len(data) != image.size:
            raise Error(5, 'the disk ends inside image %r' % image.name, self._path)
        return data

    def extract(self, key, path, mode=0o644):
        """Writes image @key (index or name) to @path, checked against its digest; nothing
        is left at @path on a failure."""
        check(lib.vc_pack_extract_path(self._handle(), self[key].index, fspath(path), mode),
              os.fspath(path))

    def extract_all(self, directory, mode=0o644):
        """Writes every image as DIRECTORY/NAME, several at a time."""
        check(lib.vc_pack_extract_all(self._handle(), fspath(directory), mode),
              os.fspath(directory))

    def verify(self):
        """Checks every image's digest and every other byte of the disk. Returns None;
        raises CorruptError (with .image: the Image that failed, when it was one)."""
        bad = ffi.new('unsigned *', 0xffffffff)
        try:
            check(lib.vc_pack_verify(bad, self._handle()), self._path)
        except Error as e:
            e.image = self[bad[0]] if bad[0] != 0xffffffff else None
            raise

    def __repr__(self):
        if self._h is None:
            return '<virtcore.pack.Disk %r (closed)>' % self._path
        return '<virtcore.pack.Disk %r: %d images>' % (self._path, len(self))


def _source_fd(source):
    """A descriptor to read an image from, and whether we opened it: a path, an object
    with fileno(), or bytes (through a memfd)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        fd = os.memfd_create('virtcore-pack-image', os.MFD_CLOEXEC)
        try:
            view = memoryview(source)
            while view:
                view = view[os.write(fd, view):]
            os.lseek(fd, 0, os.SEEK_SET)
        except BaseException:
            os.close(fd)
            raise
        return fd, True
    if hasattr(source, 'fileno'):
        return source.fileno(), False
    return None, False


def create(path, images, *, disk_size=0, align=ALIGN_4K, mode=0o644, sync=False,
           serial=False, progress=None):
    """Writes a packed disk at @path from @images, an iterable of (name, source): source
    a path (str, bytes, os.PathLike), an open file (anything with fileno()), or bytes.
    disk_size 0 makes the smallest disk that fits. progress(done, name), if given, is
    called after each image is added. The disk gets its name only when complete: on an
    error (or an exception from progress) nothing is left at @path. Returns the Disk,
    open."""
    opts = ffi.new('struct vc_pack_create_opts *')
    opts.sz = ffi.sizeof('struct vc_pack_create_opts')
    opts.disk_size = disk_size
    opts.align = align
    opts.flags = (lib.VC_PACK_CREATE_SYNC if sync else 0) | (lib.VC_PACK_CREATE_SERIAL if serial else 0)
    opts.mode = mode
    out = ffi.new('vc_pack_writer **')
    where = os.fspath(path)
    check(lib.vc_pack_writer_open(out, fspath(path), opts), where)
    w = out[0]
    try:
        for done, (name, source) in enumerate(images, 1):
            fd, ours = _source_fd(source)
            try:
                if fd is None:
                    check(lib.vc_pack_writer_add_path(w, name.encode('utf-8'), fspath(source)),
                          os.fspath(source))
                else:
                    check(lib.vc_pack_writer_add_fd(w, name.encode('utf-8'), fd), name)
            finally:
                if ours:
                    os.close(fd)
            if progress:
                progress(done, name)
        check(lib.vc_pack_writer_commit(w), where)
    finally:
        lib.vc_pack_writer_close(w)
    return Disk(path)
