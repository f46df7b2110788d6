#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Counts, over a directory of kernel modules, the sensitive sites by class and by
promotion verdict (docs/rewrite.md, "Promotion"), through `vc-rewrite scan --json`.

Usage: rewrite-promotion.py VC_REWRITE DIR   (every *.ko under DIR; prints a Markdown table)
"""
import collections
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

VERDICTS = ['yes', 'branch-target', 'table', 'unmovable', 'code-end']


def scan(tool, path):
    out = subprocess.run([tool, 'scan', '--json', path], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit('%s: %s' % (path, out.stderr.strip()))
    return json.loads(out.stdout)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    tool, top = sys.argv[1], sys.argv[2]
    paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(top) for f in fs if f.endswith('.ko'))
    if not paths:
        sys.exit('no .ko files under ' + top)
    table = collections.defaultdict(collections.Counter)
    displaced = collections.Counter()
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        for sites in pool.map(lambda p: scan(tool, p), paths):
            for s in sites:
                table[s['class']][s['promote']] += 1
                if s['promote'] == 'yes':
                    displaced[s['displaced']] += 1
    print('%d modules\n' % len(paths))
    print('| class | sites | promotable | ' + ' | '.join(VERDICTS[1:]) + ' |')
    print('|---|---:|---:|' + '---:|' * (len(VERDICTS) - 1))
    total = collections.Counter()
    for cls in sorted(table, key=lambda c: -sum(table[c].values())):
        row = table[cls]
        total.update(row)
        n = sum(row.values())
        print('| %s | %d | %d (%.0f%%) | %s |' % (cls, n, row['yes'], 100.0 * row['yes'] / n,
                                                 ' | '.join(str(row[v]) for v in VERDICTS[1:])))
    n = sum(total.values())
    print('| **all** | %d | %d (%.0f%%) | %s |' % (n, total['yes'], 100.0 * total['yes'] / n,
                                                 ' | '.join(str(total[v]) for v in VERDICTS[1:])))
    print('\npromotable sites by bytes borrowed: ' +
          ', '.join('%d: %d' % (k, displaced[k]) for k in sorted(displaced)))


if __name__ == '__main__':
    main()
