#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Build step: the API reference of the package, from its docstrings (pydoc's plain-text
renderer), one file. Usage: _apidoc.py BUILD_DIR OUT.txt"""
import pydoc
import sys

sys.path.insert(0, sys.argv[1])
MODULES = ['virtcore', 'virtcore.pack', 'virtcore.trust', 'virtcore.rewrite', 'virtcore.trace',
           'virtcore.spt', 'virtcore.gmem', 'virtcore.irq', 'virtcore.ring', 'virtcore.timerpage']
with open(sys.argv[2], 'w') as out:
    for name in MODULES:
        out.write(pydoc.render_doc(name, renderer=pydoc.plaintext))
        out.write('\n' + '=' * 78 + '\n\n')
