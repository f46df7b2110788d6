# SPDX-License-Identifier: MIT
import hashlib
import json
import os
import subprocess

import pytest

import virtcore
import virtcore.pack as pack


def test_create_from_bytes_paths_and_files_then_read_back(tmp_path):
    (tmp_path / 'b.bin').write_bytes(os.urandom(100000))
    seen = []
    with open(tmp_path / 'b.bin', 'rb') as f:
        disk = pack.create(tmp_path / 'd.img', [('a', b'hello'), ('b', tmp_path / 'b.bin'),
                                                 ('c', f)],
                           progress=lambda done, name: seen.append((done, name)))
    with disk:
        assert seen == [(1, 'a'), (2, 'b'), (3, 'c')]
        assert len(disk) == 3 and disk.names() == ['a', 'b', 'c']
        assert disk['a'].size == 5
        assert disk['a'].sha256 == hashlib.sha256(b'hello').digest()
        assert disk[1].sha256 == disk['c'].sha256
        assert 'b' in disk and 'zz' not in disk
        assert disk.info.count == 3 and disk.info.used == 5 + 2 * 100000
        disk.verify()
        assert disk.read('a') == b'hello' and disk.read(1) == (tmp_path / 'b.bin').read_bytes()
        disk.extract('b', tmp_path / 'out.bin')
        assert (tmp_path / 'out.bin').read_bytes() == (tmp_path / 'b.bin').read_bytes()
        os.mkdir(tmp_path / 'all')
        disk.extract_all(tmp_path / 'all')
        assert sorted(os.listdir(tmp_path / 'all')) == ['a', 'b', 'c']
        assert 'd.img' in repr(disk) and "'a'" in repr(disk['a'])
        with pytest.raises(virtcore.NotFoundError):
            disk['zz']
        with pytest.raises(IndexError):
            disk[3]
    with pytest.raises(ValueError):
        len(disk)  # closed


def test_a_disk_made_here_lists_the_same_in_vc_pack(tmp_path, tool):
    with pack.create(tmp_path / 'd.img', [('kernel', b'k' * 5000), ('initrd', b'i' * 7)]) as d:
        mine = [(i.index, i.name, i.size, i.offset, i.sha256.hex(), str(i.uuid)) for i in d]
    out = subprocess.run([tool('vc-pack'), 'list', '--json', str(tmp_path / 'd.img')],
                         check=True, capture_output=True, text=True).stdout
    theirs = [(i['index'], i['name'], i['size'], i['offset'], i['sha256'], i['uuid'])
              for i in json.loads(out)]
    assert mine == theirs


def test_failures_leave_nothing_and_say_why(tmp_path):
    with pytest.raises(virtcore.Error) as e:
        pack.create(tmp_path / 'd.img', [('a', b'1'), ('a', b'2')])
    assert e.value.errno == 17 and 'a' in str(e.value)  # EEXIST
    with pytest.raises(RuntimeError):
        def boom(done, name):
            raise RuntimeError('stop')
        pack.create(tmp_path / 'd.img', [('a', b'1')], progress=boom)
    assert not os.path.exists(tmp_path / 'd.img')
    assert os.listdir(tmp_path) == []


def test_verify_finds_a_changed_image(tmp_path):
    with pack.create(tmp_path / 'd.img', [('a', b'x' * 4096), ('b', b'y' * 10)]) as d:
        off = d['b'].offset
    with open(tmp_path / 'd.img', 'r+b') as f:
        f.seek(off)
        f.write(b'Y')
    with pack.Disk(tmp_path / 'd.img') as d:
        with pytest.raises(virtcore.CorruptError) as e:
            d.verify()
        assert e.value.image.name == 'b'
