# SPDX-License-Identifier: MIT
import errno
import hashlib
import subprocess

import pytest

import virtcore
import virtcore.trust as trust


@pytest.fixture
def stages(tmp_path):
    files = {}
    for name, data in (('loader', b'L' * 3000), ('kernel', b'K' * 70000), ('initrd', b'I' * 10)):
        p = tmp_path / name
        p.write_bytes(data)
        files[name] = p
    return files


def test_measure_bytes_and_files(tmp_path):
    (tmp_path / 'f').write_bytes(b'abc')
    assert trust.measure(b'abc') == hashlib.sha256(b'abc').digest()
    assert trust.measure(tmp_path / 'f', 'sha384') == hashlib.sha384(b'abc').digest()
    with pytest.raises(ValueError):
        trust.measure(b'abc', 'md5')


def test_sign_load_verify_and_refuse(stages, tmp_path):
    key, other = trust.Key.generate(), trust.Key.generate()
    key.save(tmp_path / 'k.pem', tmp_path / 'k.pub')
    assert trust.Key.load(tmp_path / 'k.pub').id == key.id
    lst = trust.List('sha256')
    lst.add('loader', stages['loader'], role='firmware')
    lst.add('kernel', stages['kernel'], role='kernel')
    lst.add('initrd', digest=hashlib.sha256(b'I' * 10).digest(), size=10, role='initrd')
    assert not lst.signed
    lst.sign(key)
    assert lst.signed and len(lst) == 3 and lst[1].role == 'kernel' and lst[1].size == 70000
    assert lst[0].digest == hashlib.sha256(b'L' * 3000).digest()
    loaded = trust.List.load(lst.to_bytes(), key=trust.Key.load(tmp_path / 'k.pub'))
    assert list(loaded) == list(lst)
    assert 'signed (Ed25519) by key %s' % key.id.hex() in loaded.text()
    with pytest.raises(virtcore.KeyRejectedError) as e:
        trust.List.load(lst.to_bytes(), key=other)
    assert 'the pinned key is %s' % other.id.hex()[:16] in e.value.detail
    assert len(trust.List.load(lst.to_bytes(), unverified=True)) == 3
    with pytest.raises(virtcore.CorruptError):
        trust.List.load(lst.to_bytes()[:-7], key=key)

    log = trust.EventLog('sha256')
    chain = trust.Chain(loaded, log=log)
    assert chain.verify('loader', path=stages['loader']).refusal == 'ok'
    assert chain.verify('kernel', data=b'K' * 70000).index == 1
    with pytest.raises(virtcore.KeyRejectedError) as e:
        chain.verify('initrd', data=b'evil')
    assert e.value.verdict.refusal == 'size-mismatch'
    with pytest.raises(virtcore.Error) as e:
        chain.finish()
    assert e.value.errno == errno.ECANCELED
    # the log recorded every stage presented, the refused one too
    assert [ev.data for ev in log] == [b'loader', b'kernel', b'initrd']


def test_chain_register_equals_the_logs_replay(stages):
    lst = trust.List()
    for name, path in stages.items():
        lst.add(name, path)
    log = trust.EventLog()
    chain = trust.Chain(lst, log=log, pcr=9)
    for name, path in stages.items():
        chain.verify(name, path=path)
    chain.finish()
    pcr = bytes(32)
    for name in stages:
        pcr = hashlib.sha256(pcr + lst[list(stages).index(name)].digest).digest()
    assert chain.pcr == pcr == log.pcr(9) == trust.EventLog.load(log.to_bytes()).pcr(9)
    assert log.pcrs() == {9: pcr} and log.pcr(0) == bytes(32)
    with pytest.raises(ValueError):
        log.pcr(24)


def test_a_list_signed_here_verifies_with_vc_measure(stages, tmp_path, tool):
    key = trust.Key.generate()
    key.save(public=tmp_path / 'k.pub')
    lst = trust.List('sha384')
    for name, path in stages.items():
        lst.add(name, path)
    lst.sign(key)
    lst.save(tmp_path / 'list')
    args = ['%s=%s' % (n, p) for n, p in stages.items()]
    subprocess.run([tool('vc-measure'), 'verify', '-p', str(tmp_path / 'k.pub'),
                    str(tmp_path / 'list')] + args, check=True, capture_output=True)
    # and a list vc-measure makes reads the same here
    subprocess.run([tool('vc-measure'), 'make', '-o', str(tmp_path / 'theirs')] + args,
                   check=True, capture_output=True)
    theirs = trust.List.load(tmp_path / 'theirs', unverified=True)
    assert [(s.name, s.digest, s.size) for s in theirs] == \
        [(n, trust.measure(p), p.stat().st_size) for n, p in stages.items()]
