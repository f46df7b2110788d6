#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Lists the virtualization-sensitive instructions of kernel modules by class, and how
many a loader could promote to direct jumps.

Usage: list_sites.py MODULE.ko...   (decompress .ko.xz first: xz -d)
"""
import collections
import sys

import virtcore
import virtcore.rewrite


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    total = collections.Counter()
    promotable = collections.Counter()
    status = 0
    for path in sys.argv[1:]:
        try:
            module = virtcore.rewrite.Module(path)
        except virtcore.Error as e:
            print('list_sites: %s' % e, file=sys.stderr)
            status = 1
            continue
        for site in module:
            total[site.cls] += 1
            promotable[site.cls] += site.promote == 'yes'
        print('%s: %d sites %s' % (path, len(module), dict(module.by_class())))
    print('\n%-18s %7s %10s' % ('class', 'sites', 'promotable'))
    for cls, n in total.most_common():
        print('%-18s %7d %10d' % (cls, n, promotable[cls]))
    return status


if __name__ == '__main__':
    sys.exit(main())
