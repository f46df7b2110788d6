# SPDX-License-Identifier: MIT
"""The interrupt-destination policy (docs/irq.md): CPUs with interception on or off,
devices dedicated to a VM or shared; each change reports only the routes it altered,
which is what a VMM applies. Plus the interrupt indicator (which requester raised a
shared line).

    p = virtcore.irq.Policy()
    p.cpu_add(0, vm=1, intercept=False)
    p.cpu_add(1, vm=None, intercept=True)
    p.device_add(7, requester=0x0100, mode='dedicated', vm=1, irq=33)
    print(p.route(7))                     # Route(device=7, cpu=0, path='direct', ...)
    print(p.cpu_set_intercept(0, True))   # the routes that change
"""
import collections

from ._errors import check
from ._native import ffi, lib

__all__ = ['Policy', 'Route', 'Indicator']

_PATHS = ('none', 'direct', 'emulated', 'pending')
_MODES = {'dedicated': lib.VC_IRQ_DEDICATED, 'shared': lib.VC_IRQ_SHARED}
NONE = lib.VC_IRQ_VM_NONE

Route = collections.namedtuple('Route', 'device cpu path irq requester')
Route.__doc__ = "A device's route: cpu (None when pending or removed), path ('direct', " \
                "'emulated', 'pending', 'none'), its irq and requester id."


def _route(r):
    return Route(r.device, None if r.cpu == lib.VC_IRQ_CPU_NONE else r.cpu,
                 _PATHS[r.path] if r.path < len(_PATHS) else str(r.path), r.irq, r.requester)


def _vm(vm):
    return NONE if vm is None else vm


class Policy:
    """A policy. Every change returns [(old Route, new Route)] for the routes it altered."""

    def __init__(self, strict_vm=False):
        opts = ffi.new('struct vc_irq_opts *')
        opts.sz = ffi.sizeof('struct vc_irq_opts')
        opts.flags = lib.VC_IRQ_OPT_STRICT_VM if strict_vm else 0
        out = ffi.new('vc_irq **')
        check(lib.vc_irq_create(out, opts), 'irq')
        self._p = ffi.gc(out[0], lib.vc_irq_destroy)

    def _diff(self, rc, what):
        check(rc, 'irq: %s' % what)
        n = ffi.new('size_t *')
        c = lib.vc_irq_changes(n, self._p)
        return [(_route(c[i].old_route), _route(c[i].new_route)) for i in range(n[0])]

    def cpu_add(self, cpu, vm=None, intercept=True, load=0):
        return self._diff(lib.vc_irq_cpu_add(self._p, cpu, _vm(vm), intercept, load), 'cpu %d' % cpu)

    def cpu_remove(self, cpu):
        return self._diff(lib.vc_irq_cpu_remove(self._p, cpu), 'cpu %d' % cpu)

    def cpu_assign(self, cpu, vm):
        return self._diff(lib.vc_irq_cpu_assign(self._p, cpu, _vm(vm)), 'cpu %d' % cpu)

    def cpu_set_intercept(self, cpu, intercept):
        return self._diff(lib.vc_irq_cpu_set_intercept(self._p, cpu, intercept), 'cpu %d' % cpu)

    def cpu_set_load(self, cpu, load):
        check(lib.vc_irq_cpu_set_load(self._p, cpu, load), 'irq: cpu %d' % cpu)

    def device_add(self, device, requester, mode='dedicated', vm=None, irq=0):
        if mode not in _MODES:
            raise ValueError("mode is 'dedicated' or 'shared'")
        return self._diff(lib.vc_irq_device_add(self._p, device, requester, _MODES[mode],
                                                _vm(vm), irq), 'device %d' % device)

    def device_remove(self, device):
        return self._diff(lib.vc_irq_device_remove(self._p, device), 'device %d' % device)

    def device_set_mode(self, device, mode):
        return self._diff(lib.vc_irq_device_set_mode(self._p, device, _MODES[mode]),
                          'device %d' % device)

    def device_assign(self, device, vm):
        return self._diff(lib.vc_irq_device_assign(self._p, device, _vm(vm)), 'device %d' % device)

    def rebalance(self):
        return self._diff(lib.vc_irq_rebalance(self._p), 'rebalance')

    def route(self, device):
        """The device's current Route (path 'pending' when no CPU is eligible)."""
        r = ffi.new('struct vc_irq_route *')
        rc = lib.vc_irq_route(r, self._p, device)
        if rc != -113:  # EHOSTUNREACH: pending, and the route says so
            check(rc, 'irq: device %d' % device)
        return _route(r)

    def device_by_requester(self, requester):
        out = ffi.new('uint32_t *')
        check(lib.vc_irq_device_by_requester(out, self._p, requester), 'irq: requester %#x' % requester)
        return out[0]

    def __repr__(self):
        d, c = ffi.new('size_t *'), ffi.new('size_t *')
        lib.vc_irq_counts(d, c, self._p)
        return '<virtcore.irq.Policy %d devices, %d CPUs>' % (d[0], c[0])


class Indicator:
    """A pending bit per requester id (0..65535): set() from anywhere, scan() reads and
    clears them, every set reported exactly once."""

    def __init__(self):
        out = ffi.new('vc_irq_indicator **')
        check(lib.vc_irq_indicator_create(out), 'irq: indicator')
        self._i = ffi.gc(out[0], lib.vc_irq_indicator_destroy)
        self._buf = ffi.new('uint16_t[]', 1024)

    def set(self, requester):
        check(lib.vc_irq_indicator_set(self._i, requester), 'irq: indicator')

    def test(self, requester):
        return bool(check(lib.vc_irq_indicator_test(self._i, requester), 'irq: indicator'))

    def scan(self):
        """Every pending requester id, lowest first, cleared."""
        out = []
        while True:
            n = check(lib.vc_irq_indicator_scan(self._i, self._buf, 1024), 'irq: indicator')
            out.extend(self._buf[0:n])
            if n < 1024:
                return out
