# SPDX-License-Identifier: MIT

import pytest

import virtcore
import virtcore.trace as trace


def test_open_snapshot_or_skip_with_the_reason():
    if not virtcore.has_module('trace'):
        pytest.skip('built without the trace module')
    try:
        t = trace.Tracer(pid=0)  # every process: no VM of our own needed
    except virtcore.Error as e:
        # no BPF, no kvm tracepoints, or this process has no VM: the reason is the detail
        assert e.detail or e.strerror
        pytest.skip('cannot trace here: %s' % e)
    with t:
        rows = t.snapshot()
        assert isinstance(rows, list)
        assert isinstance(t.probes(), dict)
