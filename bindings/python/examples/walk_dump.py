#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Walks the page tables of a raw guest-memory dump (guest-physical address 0 at offset
0, e.g. from `virsh dump --memory-only --format raw` or a VMM's memory file) and prints
the mapped pages of a virtual range, merging runs that are contiguous.

Usage: walk_dump.py DUMP CR3 [START END]   (hex; default: the lower half's first 512 GiB)
"""
import sys

import virtcore
import virtcore.spt


def main():
    if len(sys.argv) not in (3, 5):
        sys.exit(__doc__)
    cr3 = int(sys.argv[2], 16)
    start, end = (int(a, 16) for a in sys.argv[3:5]) if len(sys.argv) == 5 else (0, 1 << 39)
    try:
        walker = virtcore.spt.Walker.from_dump(sys.argv[1], cr3=cr3)
        run = None
        for page in walker.walk(start, end):
            flags = ('w' if page.writable else '-') + ('u' if page.user else 's') + \
                    ('x' if page.executable else '-')
            if run and run[0] + run[2] == page.gva and run[1] + run[2] == page.gpa and run[3] == flags:
                run[2] += page.size
                continue
            if run:
                print('%#018x -> %#014x  %10d bytes  %s' % tuple(run))
            run = [page.gva, page.gpa, page.size, flags]
        if run:
            print('%#018x -> %#014x  %10d bytes  %s' % tuple(run))
    except virtcore.Error as e:
        print('walk_dump: %s' % e, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
