#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Build step: imports the just-built extension from BUILD_DIR and makes cffi lay out every
struct _build.py declares, which checks each declared field's offset and each struct's
size against what the C compiler saw in the headers. A drift raises here and fails the
build. Usage: _layout_check.py BUILD_DIR STAMP"""
import sys

sys.path.insert(0, sys.argv[1])
from virtcore._native import ffi  # noqa: E402

_, structs, unions = ffi.list_types()
for kind, names in (('struct', structs), ('union', unions)):
    for name in names:
        t = ffi.typeof('%s %s' % (kind, name))
        if t.fields is not None:  # opaque handles (vc_pack, vc_gmem...) have no layout
            ffi.sizeof(t)
open(sys.argv[2], 'w').close()
