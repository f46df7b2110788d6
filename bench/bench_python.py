#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Per-call overhead of the Python binding (cffi, API mode) against ctypes calling the
same C functions of the same libvirtcore.so, in the same run: gmem.read into a buffer
(and the allocating gmem.read), ring.push (with a consumer draining by batches). Prints
each figure and its ratio to ctypes; 5 trials round-robin, median of each.

Usage: bench_python.py LIBVIRTCORE_SO [--quick]   (meson: meson test --benchmark python)
"""
import ctypes
import mmap
import statistics
import sys
import time

import virtcore
import virtcore.gmem as gmem
import virtcore.ring as ring


def per_call(fn, n):
    """ns per call: @fn(n) returns the ns it timed itself, or None (then the whole call)."""
    t0 = time.perf_counter_ns()
    timed = fn(n)
    return (timed if timed is not None else time.perf_counter_ns() - t0) / n


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    quick = '--quick' in sys.argv
    n = 20000 if quick else 400000
    c = ctypes.CDLL(sys.argv[1])
    c.vc_gmem_create.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    c.vc_gmem_add.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint]
    c.vc_gmem_read.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t]
    c.vc_gmem_read.restype = ctypes.c_int
    c.vc_ring_push.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    c.vc_ring_push.restype = ctypes.c_int

    ram = mmap.mmap(-1, 1 << 20)
    m = gmem.Map()
    m.add(0, ram)
    handle = ctypes.c_void_p()
    assert c.vc_gmem_create(ctypes.byref(handle)) == 0
    cram = (ctypes.c_char * (1 << 20)).from_buffer(ram)
    assert c.vc_gmem_add(handle, 0, 1 << 20, ctypes.addressof(cram), 0) == 0
    out = bytearray(64)
    cout = (ctypes.c_char * 64).from_buffer(out)

    def cffi_read_into(k):
        read_into, cbuf = m.read_into, m.buffer(64)
        for _ in range(k):
            read_into(0x1000, cbuf)

    def cffi_read_into_bytearray(k):
        read_into = m.read_into
        for _ in range(k):
            read_into(0x1000, out)

    def cffi_read(k):
        read = m.read
        for _ in range(k):
            read(0x1000, 64)

    def ctypes_read(k):
        f, h, o = c.vc_gmem_read, handle, cout
        for _ in range(k):
            f(h, 0x1000, o, 64)

    # ring: a producer pushes 16-byte messages; the consumer drains between batches
    slots = 4096
    mem = mmap.mmap(-1, ring.size(slots, 16))
    ring.format(mem, slot_count=slots, slot_size=16)
    tx, rx = ring.Ring(mem, 'producer'), ring.Ring(mem, 'consumer')
    msg = b'0123456789abcdef'
    sink = bytearray(16)

    def drain():
        while rx.pop_into(sink):
            pass

    # only the pushes are timed: the ring is drained between batches, off the clock
    def cffi_push(k):
        push, ns = tx.push, 0
        for done in range(0, k, slots):
            t0 = time.perf_counter_ns()
            for _ in range(min(slots, k - done)):
                push(msg)
            ns += time.perf_counter_ns() - t0
            drain()
        return ns

    cmsg = ctypes.create_string_buffer(msg, 16)
    tx_handle = ctypes.c_void_p(int(virtcore._ffi.cast('uintptr_t', tx._h)))

    def ctypes_push(k):
        f, h, p, ns = c.vc_ring_push, tx_handle, cmsg, 0
        for done in range(0, k, slots):
            t0 = time.perf_counter_ns()
            for _ in range(min(slots, k - done)):
                f(h, p, 16)
            ns += time.perf_counter_ns() - t0
            drain()
        return ns

    cases = [('gmem.read_into(gpa, Map.buffer(64)) (cffi API mode)', cffi_read_into, 'read'),
             ('gmem.read_into(gpa, bytearray(64)) (cffi API mode)', cffi_read_into_bytearray, 'read'),
             ('gmem.read(gpa, 64) -> bytes (cffi API mode)', cffi_read, 'read'),
             ('vc_gmem_read through ctypes (baseline)', ctypes_read, None),
             ('ring.push(16 bytes) (cffi API mode)', cffi_push, 'push'),
             ('vc_ring_push through ctypes (baseline)', ctypes_push, None)]
    times = {name: [] for name, _, _ in cases}
    for _ in range(1 if quick else 5):
        for name, fn, _ in cases:
            times[name].append(per_call(fn, n))
    med = {name: statistics.median(v) for name, v in times.items()}
    base = {'read': med['vc_gmem_read through ctypes (baseline)'],
            'push': med['vc_ring_push through ctypes (baseline)']}
    print('\n### python: per-call overhead, %d calls a trial, median of %d trials%s\n'
          % (n, len(times[cases[0][0]]), ' (quick)' if quick else ''))
    print('| call | ns per call | vs ctypes |\n|---|---|---|')
    for name, _, kind in cases:
        r = base[kind] / med[name] if kind else 1
        ratio = '1x' if not kind else '%.2fx faster' % r if r >= 1 else '%.2fx slower' % (1 / r)
        print('| %s | %.0f | %s |' % (name, med[name], ratio))
    print('\nPython %s, libvirtcore %s' % (sys.version.split()[0], virtcore.version()))


if __name__ == '__main__':
    main()
