# SPDX-License-Identifier: MIT
import errno
import mmap
import os

import pytest

import virtcore
import virtcore.gmem as gmem


def test_regions_read_write_and_bounds():
    with gmem.Map() as m:
        ram = mmap.mmap(-1, 1 << 20)
        rom = bytearray(4096)
        m.add(0, ram)
        m.add(0x100000, rom, readonly=True)
        assert m.regions() == [(0, 1 << 20, False), (0x100000, 4096, True)]
        m.write(0x1234, b'hello')
        assert m.read(0x1234, 5) == b'hello' and ram[0x1234:0x1239] == b'hello'
        out = bytearray(5)
        m.read_into(0x1234, out)
        assert out == b'hello'
        with pytest.raises(virtcore.Error) as e:
            m.write(0x100000, b'x')         # read-only
        assert e.value.errno == errno.EACCES
        assert m.read((1 << 20) - 2, 4) == b'\0' * 4  # adjacent regions: one range
        with pytest.raises(virtcore.Error) as e:
            m.read(0x100000 + 4096 - 2, 4)  # runs past the last region
        assert e.value.errno == errno.EFAULT
        m.remove(0x100000)
        assert len(m.regions()) == 1
        assert '0x0+0x100000' in repr(m)


def _rss_kib():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') // 1024


@pytest.mark.skipif(os.environ.get('VC_SANITIZED') == '1',
                    reason='AddressSanitizer keeps freed memory in quarantine: RSS measures '
                           'nothing there (its own leak checker covers the library)')
def test_create_destroy_cycles_do_not_leak():
    """10^5 maps created, given a region, read, destroyed: the RSS stays put."""
    buf = bytearray(4096)
    def cycle(n):
        for _ in range(n):
            with gmem.Map() as m:
                m.add(0, buf)
                m.read(0, 8)
    cycle(5000)  # warm up the allocator
    before = _rss_kib()
    cycle(100000)
    grown = _rss_kib() - before
    assert grown < 2048, 'RSS grew by %d KiB over 10^5 cycles' % grown
