# SPDX-License-Identifier: MIT
import json
import subprocess

import pytest

import virtcore
import virtcore.rewrite as rewrite


def test_scan_patch_restore(sensitive_object):
    m = rewrite.Module(sensitive_object)
    assert [s.mnemonic for s in m] == ['pushf', 'cli', 'out', 'rdtsc', 'popf']
    assert m.by_class() == {'flags': 2, 'interrupt-flag': 1, 'io': 1, 'timestamp': 1}
    cli = m[1]
    assert cli.cls == 'interrupt-flag' and cli.bytes == b'\xfa' and cli.section == '.text'
    assert cli.promote == 'yes' and cli.displaced == 7  # mov (3) and add (4)
    assert m.find(cli.section_index, cli.offset) == cli
    assert m.find(cli.section_index, 1000) is None
    assert not m.patched
    patched = m.patch()
    assert rewrite.Module(patched).patched
    assert rewrite.restore(patched) == sensitive_object.read_bytes()
    assert set(rewrite.CLASSES) >= {'io', 'flags', 'msr'}
    assert '5 sites' in repr(m)


def test_agrees_with_vc_rewrite(sensitive_object, tool):
    out = subprocess.run([tool('vc-rewrite'), 'scan', '--json', str(sensitive_object)],
                         check=True, capture_output=True, text=True).stdout
    theirs = [(s['section'], s['offset'], s['length'], s['class'], s['mnemonic'],
               s['promote'], s['displaced'], s['bytes']) for s in json.loads(out)]
    mine = [(s.section, s.offset, s.length, s.cls, s.mnemonic, s.promote, s.displaced,
             s.bytes.hex()) for s in rewrite.Module(sensitive_object.read_bytes())]
    assert mine == theirs


def test_bad_objects_raise_with_the_detail(sensitive_object):
    with pytest.raises(virtcore.Error) as e:
        rewrite.Module(b'not an object')
    assert e.value.errno == 8 and 'not an ELF file' in e.value.detail  # ENOEXEC
    with pytest.raises(virtcore.CorruptError):
        rewrite.Module(b'\x7fELF\x02\x01')  # truncated
    with pytest.raises(virtcore.NotFoundError):  # not rewritten: no table to undo
        rewrite.restore(sensitive_object.read_bytes())
