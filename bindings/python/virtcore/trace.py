# SPDX-License-Identifier: MIT
"""VM exits traced with eBPF (docs/trace.md, vc-trace): attach to a VMM (or every
process), then take snapshots as rows of dicts. Needs root (or CAP_BPF), KVM tracepoints
and kernel BTF: without them open() raises UnsupportedError or Error with the reason.

    with virtcore.trace.Tracer(pid=vmm_pid) as t:
        time.sleep(1)
        for row in t.snapshot():
            print(row['reason'], row['addr'], row['count'], row['mean_ns'])
"""
from ._errors import check
from ._handle import Handle
from ._native import ffi, lib

__all__ = ['Tracer']

_SOURCES = {lib.VC_TRACE_USERSPACE: 'userspace', lib.VC_TRACE_KERNEL: 'kernel'}


class Tracer(Handle):
    """Attached tracer: pid 0 traces every process."""
    _what = 'tracer'

    def __init__(self, pid=0):
        opts = ffi.new('struct vc_trace_opts *')
        opts.sz = ffi.sizeof('struct vc_trace_opts')
        opts.pid = pid
        out = ffi.new('vc_trace **')
        check(lib.vc_trace_open(out, opts), 'trace')
        self._own(out[0], lib.vc_trace_close)

    def snapshot(self):
        """Exits since open, as dicts (source, reason, reason_name, addr, write, count,
        timed, total_ns, mean_ns, hist), most frequent first."""
        n = check(lib.vc_trace_snapshot(self._handle(), ffi.NULL, 0), 'trace: snapshot')
        rows = ffi.new('struct vc_trace_row[]', max(n, 1))
        n = min(check(lib.vc_trace_snapshot(self._handle(), rows, n), 'trace: snapshot'), n)
        out = []
        for r in rows[0:n]:
            out.append({'source': _SOURCES.get(r.source, str(r.source)), 'reason': r.reason,
                        'reason_name': ffi.string(lib.vc_trace_reason_name(r.reason)).decode(),
                        'addr': r.addr, 'write': bool(r.write), 'count': r.count,
                        'timed': r.timed, 'total_ns': r.total_ns,
                        'mean_ns': r.total_ns // r.timed if r.timed else None,
                        'hist': list(r.hist)})
        return out

    def probes(self):
        """{probe name: count} for libvirtcore's USDT probes that are attached."""
        probes = ffi.new('struct vc_trace_probe[]', 32)
        n = min(check(lib.vc_trace_probes(self._handle(), probes, 32), 'trace: probes'), 32)
        return {ffi.string(p.name).decode(): p.count for p in probes[0:n] if p.attached}
