# SPDX-License-Identifier: MIT
import errno
import re

import pytest

import virtcore
import virtcore.pack  # noqa: F401


def test_version_is_the_librarys():
    assert re.fullmatch(r'\d+\.\d+\.\d+', virtcore.version())
    major, minor, patch = map(int, virtcore.version().split('.'))
    assert virtcore.version_number() == (major << 16) | (minor << 8) | patch


def test_has_module():
    assert virtcore.has_module('gmem') is True
    with pytest.raises(ValueError):
        virtcore.has_module('nonsense')


def test_errors_carry_errno_detail_and_class(tmp_path):
    with pytest.raises(virtcore.NotFoundError) as e:
        virtcore.pack.Disk(tmp_path / 'absent.img')
    assert e.value.errno == errno.ENOENT
    assert isinstance(e.value, virtcore.Error) and isinstance(e.value, OSError)
    bad = tmp_path / 'bad.img'
    bad.write_bytes(b'\0' * 4096)
    with pytest.raises(virtcore.Error) as e:
        virtcore.pack.Disk(bad)
    assert e.value.errno > 0 and e.value.detail, str(e.value)
    assert str(bad) in str(e.value)
