#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Prints the directory of this interpreter's sys.path that is PREFIX/lib*/python*/
(dist|site)-packages, where an installed package is importable without PYTHONPATH;
nothing when there is none (meson then uses its own choice). Usage: install_dir.py PREFIX"""
import os
import sys

prefix = os.path.normpath(sys.argv[1])
for path in sys.path:
    rel = os.path.relpath(path, prefix).split(os.sep)
    if len(rel) == 3 and rel[0].startswith('lib') and rel[1].startswith('python') and \
            rel[2] in ('dist-packages', 'site-packages'):
        print(path)
        break
