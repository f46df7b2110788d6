# SPDX-License-Identifier: MIT
import mmap
import os
import threading

import pytest

import virtcore
import virtcore.ring as ring


def make(slots=8, size=32, mode='event-idx'):
    mem = mmap.mmap(-1, ring.size(slots, size))
    ring.format(mem, slot_count=slots, slot_size=size, mode=mode)
    return mem


@pytest.mark.parametrize('mode', ['event-idx', 'flag'])
def test_push_pop_fill_and_drain(mode):
    mem = make(mode=mode)
    with ring.Ring(mem, 'producer') as tx, ring.Ring(mem, 'consumer') as rx:
        assert (tx.slot_count, tx.slot_size) == (8, 32)
        assert rx.pop() is None
        for i in range(8):
            assert tx.push(b'msg %d' % i)
        assert not tx.push(b'full')
        assert rx.pop() == b'msg 0'.ljust(32, b'\0')
        out = bytearray(5)
        assert rx.pop_into(out) and out == b'msg 1'
        with pytest.raises(virtcore.Error) as e:
            tx.push(b'x' * 33)
        assert e.value.errno == 90  # EMSGSIZE
        assert tx.stats()['messages'] == 8 and rx.stats()['messages'] == 2
        assert 'producer: 8 slots of 32 bytes' in repr(tx)


def test_bad_geometry_and_roles():
    with pytest.raises(ValueError):
        ring.size(3, 64)
    mem = make()
    with pytest.raises(ValueError):
        ring.Ring(mem, 'both')
    with pytest.raises(virtcore.CorruptError):
        ring.Ring(mmap.mmap(-1, 4096), 'consumer')  # never formatted


def test_a_consumer_thread_dozes_and_is_woken_through_an_eventfd():
    mem = make(slots=64, size=16)
    efd = os.eventfd(0, os.EFD_CLOEXEC)
    got = []
    with ring.Ring(mem, 'producer', eventfd=efd) as tx, ring.Ring(mem, 'consumer', eventfd=efd) as rx:
        def consume():
            while len(got) < 1000:
                if rx.wait(timeout=10) == 0:
                    return
                m = rx.pop()
                while m is not None:
                    got.append(int.from_bytes(m[:4], 'little'))
                    m = rx.pop()
        t = threading.Thread(target=consume)
        t.start()
        for i in range(1000):
            while not tx.push(i.to_bytes(4, 'little')):
                pass
        t.join(30)
        assert got == list(range(1000))
        s = tx.stats()
        assert s['notifications'] + s['suppressed'] == s['publishes']
    os.close(efd)
