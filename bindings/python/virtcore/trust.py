# SPDX-License-Identifier: MIT
"""Trust chains (docs/trust.md): reference-value lists of boot stages (names, sizes,
digests) signed with Ed25519, verified stage by stage into a PCR-style register, and TCG
event logs (written, read, replayed to PCR values): what an attestation service checks.

    key = virtcore.trust.Key.generate()
    lst = virtcore.trust.List('sha256')
    lst.add('kernel', 'vmlinuz', role='kernel')
    lst.sign(key)
    chain = virtcore.trust.Chain(virtcore.trust.List.load(lst.to_bytes(), key=key))
    chain.verify('kernel', path='vmlinuz')
    chain.finish()
"""
import collections
import os

from ._errors import Error, check, fspath
from ._native import ffi, lib

__all__ = ['Key', 'List', 'Stage', 'Chain', 'Verdict', 'EventLog', 'Event', 'measure',
           'ALGORITHMS', 'ROLES']

ALGORITHMS = {'sha256': lib.VC_TRUST_ALG_SHA256, 'sha384': lib.VC_TRUST_ALG_SHA384}
_ALG_NAMES = {v: k for k, v in ALGORITHMS.items()}
ROLES = tuple(ffi.string(lib.vc_trust_role_name(r)).decode() for r in range(lib.VC_TRUST_ROLE_MAX + 1))
_REFUSALS = ('ok', 'unknown-stage', 'out-of-order', 'size-mismatch', 'digest-mismatch',
             'chain-broken', 'missing-stage')


def _alg(name):
    if name not in ALGORITHMS:
        raise ValueError('algorithm is one of %s' % ', '.join(ALGORITHMS))
    return ALGORITHMS[name]


def _role(name):
    if name not in ROLES:
        raise ValueError('role is one of %s' % ', '.join(ROLES))
    return ROLES.index(name)


def measure(source, alg='sha256'):
    """The digest (bytes) of @source: bytes-like (measured as they are) or a path (str or
    os.PathLike)."""
    a = _alg(alg)
    out = ffi.new('uint8_t[48]')
    if isinstance(source, (bytes, bytearray, memoryview)):  # the bytes themselves
        data = ffi.from_buffer(source)
        check(lib.vc_trust_measure_mem(out, a, data, len(data)), 'trust: measure')
    else:
        check(lib.vc_trust_measure_path(out, ffi.NULL, a, fspath(source)), os.fspath(source))
    return bytes(out[0:lib.vc_trust_digest_size(a)])


def _serialize(fn, handle, what):
    n = check(fn(handle, ffi.NULL, 0), what)
    buf = ffi.new('char[]', n)
    check(fn(handle, buf, n), what)
    return ffi.unpack(buf, n)


class Key:
    """An Ed25519 key: private (signs and verifies) or public (verifies). Key.generate(),
    Key.load(path) (PEM, either half)."""

    def __init__(self, handle):
        self._k = ffi.gc(handle, lib.vc_trust_key_destroy)

    @classmethod
    def generate(cls):
        out = ffi.new('vc_trust_key **')
        check(lib.vc_trust_key_generate(out), 'trust: keygen')
        return cls(out[0])

    @classmethod
    def load(cls, path):
        out = ffi.new('vc_trust_key **')
        check(lib.vc_trust_key_load(out, fspath(path)), os.fspath(path))
        return cls(out[0])

    def save(self, private=None, public=None):
        """Writes the private half (mode 0600) and/or the public half as PEM files."""
        check(lib.vc_trust_key_save(self._k, fspath(private) if private else ffi.NULL,
                                    fspath(public) if public else ffi.NULL),
              os.fspath(private or public))

    @property
    def id(self):
        """SHA-256 of the raw public key: the id signatures carry."""
        out = ffi.new('uint8_t[32]')
        lib.vc_trust_key_id(out, self._k)
        return bytes(out)

    def __repr__(self):
        return '<virtcore.trust.Key %s>' % self.id.hex()[:16]


Stage = collections.namedtuple('Stage', 'name role alg digest size')
Stage.__doc__ = 'One stage of a List: name, role, alg, digest (bytes), size (bytes of the stage).'


class List:
    """A reference-value list: List('sha256') is a new, empty one; List.load(bytes or
    path, key=KEY) reads one and checks its signature (unverified=True to inspect an
    unsigned or foreign list). A sequence of Stages, in chain order."""

    def __init__(self, alg='sha256', _handle=None):
        if _handle is None:
            out = ffi.new('vc_trust_list **')
            check(lib.vc_trust_list_create(out, _alg(alg)), 'trust: list')
            _handle = out[0]
        self._l = ffi.gc(_handle, lib.vc_trust_list_destroy)

    @classmethod
    def load(cls, source, key=None, unverified=False):
        opts = ffi.new('struct vc_trust_load_opts *')
        opts.sz = ffi.sizeof('struct vc_trust_load_opts')
        opts.key = key._k if key is not None else ffi.NULL
        opts.flags = lib.VC_TRUST_LOAD_UNVERIFIED if unverified else 0
        out = ffi.new('vc_trust_list **')
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = ffi.from_buffer(source)
            check(lib.vc_trust_list_load(out, data, len(data), opts), 'trust: list')
        else:
            check(lib.vc_trust_list_load_path(out, fspath(source), opts), os.fspath(source))
        return cls(_handle=out[0])

    def add(self, name, source=None, *, role='stage', digest=None, size=None):
        """Appends stage @name, measured from @source (a path), or with a known @digest and
        @size. Adding drops a signature."""
        if source is not None:
            check(lib.vc_trust_list_add_path(self._l, name.encode(), _role(role), fspath(source)),
                  name)
        else:
            if digest is None or size is None:
                raise TypeError('give a source to measure, or digest and size')
            check(lib.vc_trust_list_add(self._l, name.encode(), _role(role), digest, size), name)

    def sign(self, key):
        check(lib.vc_trust_list_sign(self._l, key._k), 'trust: sign')

    @property
    def signed(self):
        return bool(lib.vc_trust_list_signed(self._l))

    @property
    def alg(self):
        return _ALG_NAMES.get(lib.vc_trust_list_alg(self._l), 'unknown')

    def __len__(self):
        return lib.vc_trust_list_count(self._l)

    def __getitem__(self, i):
        if i < 0:
            i += len(self)
        s = ffi.new('struct vc_trust_stage *')
        if not 0 <= i < len(self):
            raise IndexError('stage %d of %d' % (i, len(self)))
        check(lib.vc_trust_list_get(s, self._l, i), 'trust: list')
        return Stage(ffi.string(s.name).decode(), ROLES[s.role], _ALG_NAMES.get(s.alg, 'unknown'),
                     bytes(s.digest[0:s.digest_size]), s.size)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def to_bytes(self):
        """The list's binary form (signed or not)."""
        return _serialize(lib.vc_trust_list_serialize, self._l, 'trust: list')

    def save(self, path):
        check(lib.vc_trust_list_save(self._l, fspath(path)), os.fspath(path))

    def text(self):
        """The list as vc-measure show prints it."""
        n = check(lib.vc_trust_list_text(self._l, ffi.NULL, 0), 'trust: list')
        buf = ffi.new('char[]', n + 1)  # and its NUL
        check(lib.vc_trust_list_text(self._l, buf, n + 1), 'trust: list')
        return ffi.string(buf, n).decode('utf-8', 'replace')

    def __repr__(self):
        return '<virtcore.trust.List %s, %d stages%s>' % (self.alg, len(self),
                                                          ', signed' if self.signed else '')


class Verdict(collections.namedtuple('Verdict', 'refusal index expected_index name expected '
                                               'actual expected_size actual_size')):
    """What verifying a stage found: refusal ('ok', 'unknown-stage', 'out-of-order',
    'size-mismatch', 'digest-mismatch', 'chain-broken', 'missing-stage'), the stage's index
    and the expected one, its name, expected and actual digests and sizes."""
    __slots__ = ()


def _verdict(v):
    n = v.digest_size
    return Verdict(_REFUSALS[v.refusal] if v.refusal < len(_REFUSALS) else str(v.refusal),
                   v.index, v.expected_index, ffi.string(v.name).decode('utf-8', 'replace'),
                   bytes(v.expected[0:n]), bytes(v.actual[0:n]), v.expected_size, v.actual_size)


class Chain:
    """Verifies a List's stages in order. With @log (an EventLog of the list's algorithm),
    every stage presented is recorded in it (PCR @pcr). A refusal raises (KeyRejectedError
    for a digest or size mismatch, NotFoundError for an unknown stage, Error otherwise)
    with .verdict, and breaks the chain for good."""

    def __init__(self, trust_list, log=None, pcr=lib.VC_TRUST_PCR_DEFAULT):
        out = ffi.new('vc_trust_chain **')
        check(lib.vc_trust_chain_create(out, trust_list._l), 'trust: chain')
        self._c = ffi.gc(out[0], lib.vc_trust_chain_destroy)
        self._keep = (trust_list, log)  # both must outlive the chain
        if log is not None:
            check(lib.vc_trust_chain_set_log(self._c, log._g, pcr), 'trust: chain log')

    def verify(self, name, data=None, *, path=None, digest=None, size=None):
        """Verifies the next stage: its bytes (@data), a file (@path), or a @digest and
        @size measured elsewhere. Returns the Verdict."""
        v = ffi.new('struct vc_trust_verdict *')
        if path is not None:
            rc = lib.vc_trust_chain_verify_path(v, self._c, name.encode(), fspath(path))
        elif data is not None:
            d = ffi.from_buffer(data)
            rc = lib.vc_trust_chain_verify_mem(v, self._c, name.encode(), d, len(d))
        elif digest is not None and size is not None:
            rc = lib.vc_trust_chain_verify_digest(v, self._c, name.encode(), digest, size)
        else:
            raise TypeError('give data, path, or digest and size')
        return self._result(rc, v, name)

    def finish(self):
        """Ends the chain: raises unless every stage verified, in order."""
        v = ffi.new('struct vc_trust_verdict *')
        return self._result(lib.vc_trust_chain_finish(v, self._c), v, 'finish')

    @staticmethod
    def _result(rc, v, what):
        verdict = _verdict(v)
        try:
            check(rc, 'trust: %s' % what)
        except Error as e:
            e.verdict = verdict
            raise
        return verdict

    @property
    def pcr(self):
        """The register: the hash chain of the stages verified so far."""
        out = ffi.new('uint8_t[48]')
        return bytes(out[0:lib.vc_trust_chain_pcr(out, self._c)])

    @property
    def position(self):
        return lib.vc_trust_chain_position(self._c)


Event = collections.namedtuple('Event', 'pcr type digest data')
Event.__doc__ = 'One event of an EventLog: pcr, type (EV_IPL = 0xd...), digest, data (bytes).'


class EventLog:
    """A TCG crypto-agile event log with one digest bank: EventLog('sha256') is a new one,
    EventLog.load(bytes or path) reads one (strictly). A sequence of Events; pcr(n)
    replays it."""

    def __init__(self, alg='sha256', _handle=None):
        if _handle is None:
            out = ffi.new('vc_trust_log **')
            check(lib.vc_trust_log_create(out, _alg(alg)), 'trust: log')
            _handle = out[0]
        self._g = ffi.gc(_handle, lib.vc_trust_log_destroy)

    @classmethod
    def load(cls, source):
        out = ffi.new('vc_trust_log **')
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = ffi.from_buffer(source)
            check(lib.vc_trust_log_load(out, data, len(data)), 'trust: log')
        else:
            check(lib.vc_trust_log_load_path(out, fspath(source)), os.fspath(source))
        return cls(_handle=out[0])

    @property
    def alg(self):
        return _ALG_NAMES.get(lib.vc_trust_log_alg(self._g), 'unknown')

    def add(self, pcr, digest, data=b'', type=lib.VC_TRUST_EV_IPL):  # noqa: A002
        """Appends an event extending @pcr by @digest (the log's algorithm's size)."""
        check(lib.vc_trust_log_add(self._g, pcr, type, digest, data, len(data)), 'trust: log')

    def __len__(self):
        return lib.vc_trust_log_count(self._g)

    def __getitem__(self, i):
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError('event %d of %d' % (i, len(self)))
        e = ffi.new('struct vc_trust_event *')
        check(lib.vc_trust_log_event(e, self._g, i), 'trust: log')
        return Event(e.pcr, e.type, bytes(e.digest[0:e.digest_size]),
                     ffi.unpack(ffi.cast('char *', e.data), e.data_size))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def pcr(self, index):
        """PCR @index after replaying every event (zeros when none touches it)."""
        out = ffi.new('uint8_t[48]')
        n = lib.vc_trust_log_pcr(out, self._g, index)
        if not n:
            raise ValueError('PCR %d: a log names PCRs 0 to 23' % index)
        return bytes(out[0:n])

    def pcrs(self):
        """{pcr: value} for every PCR an event touches."""
        return {p: self.pcr(p) for p in sorted({e.pcr for e in self})}

    def to_bytes(self):
        return _serialize(lib.vc_trust_log_serialize, self._g, 'trust: log')

    def save(self, path):
        check(lib.vc_trust_log_save(self._g, fspath(path)), os.fspath(path))

    def __repr__(self):
        return '<virtcore.trust.EventLog %s, %d events>' % (self.alg, len(self))
