# SPDX-License-Identifier: MIT
import struct

import pytest

import virtcore
import virtcore.spt as spt

P, W, U, PS = 1, 2, 4, 0x80
NX = 1 << 63


def guest():
    """1 MiB of guest memory with 4-level tables at 0x1000: 0x400000 -> 0x9000 (a 4 KiB
    user page, read-only), 0x600000 -> 0x200000 (a 2 MiB page, writable, no execute)."""
    mem = bytearray(4 << 20)
    def put(addr, value):
        struct.pack_into('<Q', mem, addr, value)
    put(0x1000, 0x2000 | P | W | U)               # PML4[0]
    put(0x2000, 0x3000 | P | W | U)               # PDPT[0]
    put(0x3000 + 2 * 8, 0x4000 | P | W | U)       # PD[2]: 0x400000..0x5fffff
    put(0x4000, 0x9000 | P | U)                   # PT[0]
    put(0x3000 + 3 * 8, 0x200000 | P | W | PS | NX)  # PD[3]: 0x600000, 2 MiB
    return mem


def test_translate_and_walk_a_dump(tmp_path):
    mem = guest()
    (tmp_path / 'guest.mem').write_bytes(mem)
    for w in (spt.Walker.from_dump(mem, cr3=0x1000),
              spt.Walker.from_dump(tmp_path / 'guest.mem', cr3=0x1000)):
        t = w.translate(0x400123)
        assert not t.fault and t.gpa == 0x9123 and t.page_size == 4096
        assert t.user and not t.writable and t.executable
        assert [gpa for gpa, _ in t.entries] == [0x1000, 0x2000, 0x3010, 0x4000]
        t = w.translate(0x400123, access='write', user=True)
        assert t.fault and t.error_code == 0b111  # present, write, user
        big = w.translate(0x6abcde)
        assert big.gpa == 0x2abcde and big.page_size == 2 << 20 and not big.executable
        assert w.translate(0x800000).fault
        assert w.translate(0x0000800000000000).noncanonical
        pages = list(w.walk(0, 1 << 30))
        assert [(p.gva, p.gpa, p.size) for p in pages] == [(0x400000, 0x9000, 4096),
                                                         (0x600000, 0x200000, 2 << 20)]
    assert (tmp_path / 'guest.mem').read_bytes() == mem  # the dump is never written


def test_tables_outside_memory_raise():
    w = spt.Walker.from_dump(bytes(8192), cr3=0x100000)
    with pytest.raises(virtcore.Error) as e:
        w.translate(0x1000)
    assert e.value.errno == 14  # EFAULT
