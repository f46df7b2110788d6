# SPDX-License-Identifier: MIT
"""The header-drift guard: an extension whose declarations disagree with the headers is
refused at build time (here: _layout_check.py, the build's own step), with the field
named; the declarations as shipped pass the same check."""
import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(HERE, '..', 'virtcore')


def build(tmp_path, cdef):
    import cffi
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    ffi.set_source('virtcore._native', '#include <virtcore/virtcore.h>\n')
    ffi.emit_c_code(str(tmp_path / 'native.c'))
    pkg = tmp_path / 'pkg' / 'virtcore'
    pkg.mkdir(parents=True)
    (pkg / '__init__.py').write_text('')
    so = pkg / ('_native' + sysconfig.get_config_var('EXT_SUFFIX'))
    includes = os.environ['VC_INCLUDE_DIRS'].split(os.pathsep)
    subprocess.run(['gcc', '-shared', '-fPIC', '-o', str(so), str(tmp_path / 'native.c'),
                    '-I' + sysconfig.get_paths()['include'], '-L' + os.environ['VC_LIBDIR'],
                    '-lvirtcore'] + ['-I' + d for d in includes], check=True)
    return subprocess.run([sys.executable, os.path.join(PKG, '_layout_check.py'),
                           str(tmp_path / 'pkg'), str(tmp_path / 'stamp')],
                          capture_output=True, text=True,
                          env=dict(os.environ, LD_LIBRARY_PATH=os.environ['VC_LIBDIR']))


@pytest.mark.skipif(not shutil.which('gcc') or 'VC_INCLUDE_DIRS' not in os.environ
                    or os.environ.get('VC_SANITIZED') == '1',
                    reason='needs gcc and the build tree (an unsanitized build: the compiled '
                           'check links the plain way)')
def test_a_drifted_struct_fails_the_check_and_the_shipped_ones_pass(tmp_path):
    sys.path.insert(0, PKG)
    try:
        from _build import CDEF
    finally:
        sys.path.pop(0)
    (tmp_path / "ok").mkdir()
    ok = build(tmp_path / "ok", CDEF)
    assert ok.returncode == 0, ok.stderr
    drifted = CDEF.replace('struct vc_pack_info {\n\tuint64_t disk_size;',
                           'struct vc_pack_info {\n\tuint32_t disk_size;')
    assert drifted != CDEF
    (tmp_path / 'bad').mkdir()
    bad = build(tmp_path / 'bad', drifted)
    assert bad.returncode != 0
    assert "struct vc_pack_info: wrong size for field 'disk_size'" in bad.stderr
