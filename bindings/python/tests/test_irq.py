# SPDX-License-Identifier: MIT
import pytest

import virtcore
import virtcore.irq as irq


def test_routes_follow_interception_and_changes_report_only_what_moved():
    p = irq.Policy()
    p.cpu_add(0, vm=1, intercept=False)
    p.cpu_add(1, vm=None, intercept=True)
    added = p.device_add(7, requester=0x0100, mode='dedicated', vm=1, irq=33)
    assert added[0][1] == irq.Route(7, 0, 'direct', 33, 0x0100)
    p.device_add(8, requester=0x0200, mode='shared', vm=1, irq=34)
    assert p.route(8).path == 'emulated' and p.route(8).cpu == 1
    # cpu 0 intercepts: device 7 can no longer go direct; device 8 (shared, VM 1) moves to
    # an intercepting CPU of its own VM, which beats a CPU of no VM
    moved = p.cpu_set_intercept(0, True)
    assert [(o.device, o.path, o.cpu, n.path, n.cpu) for o, n in moved] == \
        [(7, 'direct', 0, 'emulated', 0), (8, 'emulated', 1, 'emulated', 0)]
    assert p.cpu_set_intercept(0, True) == []  # nothing changed
    p.cpu_remove(0)
    p.cpu_remove(1)
    assert p.route(7).path == 'pending' and p.route(7).cpu is None
    assert p.device_by_requester(0x0200) == 8
    with pytest.raises(virtcore.NotFoundError):
        p.route(99)
    assert '2 devices, 0 CPUs' in repr(p)


def test_indicator_reports_each_requester_once():
    ind = irq.Indicator()
    for r in (5, 4000, 5, 65535, 0):
        ind.set(r)
    assert ind.test(4000) and not ind.test(6)
    assert ind.scan() == [0, 5, 4000, 65535]
    assert ind.scan() == []
    for r in range(3000):
        ind.set(r * 7 % 65536)
    assert sorted(ind.scan()) == sorted({r * 7 % 65536 for r in range(3000)})
    with pytest.raises(virtcore.Error):
        ind.set(65536)
