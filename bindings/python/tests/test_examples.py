# SPDX-License-Identifier: MIT
"""The examples run on data the library makes, and say what they should."""
import os
import struct
import subprocess
import sys

import virtcore.pack as pack
import virtcore.trust as trust

EXAMPLES = os.path.join(os.path.dirname(__file__), '..', 'examples')


def run(name, *args):
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, name)] + [str(a) for a in args],
                          capture_output=True, text=True)


def test_verify_disk(tmp_path):
    images = {'loader': b'L' * 1000, 'kernel': b'K' * 50000}
    pack.create(tmp_path / 'disk', list(images.items())).close()
    key = trust.Key.generate()
    key.save(public=tmp_path / 'k.pub')
    for alg in ('sha256', 'sha384'):
        lst = trust.List(alg)
        for name, data in images.items():
            lst.add(name, digest=trust.measure(data, alg), size=len(data))
        lst.sign(key)
        lst.save(tmp_path / 'list')
        r = run('verify_disk.py', tmp_path / 'disk', tmp_path / 'list', tmp_path / 'k.pub')
        assert r.returncode == 0, r.stderr
        assert 'all 2 stages verified' in r.stdout
    lst = trust.List()
    lst.add('loader', digest=trust.measure(b'other'), size=1000)
    lst.add('kernel', digest=trust.measure(images['kernel']), size=50000)
    lst.sign(key)
    lst.save(tmp_path / 'list')
    r = run('verify_disk.py', tmp_path / 'disk', tmp_path / 'list', tmp_path / 'k.pub')
    assert r.returncode == 1 and 'digest-mismatch' in r.stderr


def test_replay_log(tmp_path):
    log = trust.EventLog()
    log.add(9, trust.measure(b'a'), b'stage-a')
    log.add(9, trust.measure(b'b'), b'stage-b')
    log.save(tmp_path / 'log')
    r = run('replay_log.py', tmp_path / 'log')
    assert r.returncode == 0, r.stderr
    assert 'stage-b' in r.stdout and 'PCR  9 = sha256:%s' % log.pcr(9).hex() in r.stdout
    (tmp_path / 'bad').write_bytes(b'\0' * 100)
    assert run('replay_log.py', tmp_path / 'bad').returncode == 1


def test_list_sites(sensitive_object):
    r = run('list_sites.py', sensitive_object)
    assert r.returncode == 0, r.stderr
    assert 'flags' in r.stdout and '5 sites' in r.stdout


def test_walk_dump(tmp_path):
    mem = bytearray(1 << 20)
    struct.pack_into('<Q', mem, 0x1000, 0x2000 | 7)
    struct.pack_into('<Q', mem, 0x2000, 0x3000 | 7)
    struct.pack_into('<Q', mem, 0x3000, 0x4000 | 7)
    struct.pack_into('<Q', mem, 0x4000, 0x8000 | 7)
    struct.pack_into('<Q', mem, 0x4008, 0x9000 | 7)
    (tmp_path / 'dump').write_bytes(mem)
    r = run('walk_dump.py', tmp_path / 'dump', '1000', '0', '200000')
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ['0x0000000000000000', '->', '0x000000008000', '8192', 'bytes', 'wux']


def test_the_readme_example_runs(tmp_path, sensitive_object):
    """bindings/python/README.md's Python block, as printed, in a directory holding the
    files it names (e1000.ko: a small object with sensitive instructions)."""
    readme = open(os.path.join(os.path.dirname(__file__), '..', 'README.md')).read()
    code = readme.split('```python\n', 1)[1].split('```', 1)[0]
    (tmp_path / 'vmlinuz').write_bytes(b'\x7fELF' + os.urandom(20000))
    (tmp_path / 'e1000.ko').write_bytes(sensitive_object.read_bytes())
    (tmp_path / 'out').mkdir()
    r = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'added kernel' in r.stdout and (tmp_path / 'out' / 'vmlinuz').exists()
