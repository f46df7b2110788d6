#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Replays a TCG event log (as vc-measure verify --log writes it, or any crypto-agile
log with one SHA-256 or SHA-384 bank) and prints each event and the final PCR values.

Usage: replay_log.py EVENTLOG
"""
import sys

import virtcore
import virtcore.trust


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        log = virtcore.trust.EventLog.load(sys.argv[1])
    except virtcore.Error as e:
        print('replay_log: %s' % e, file=sys.stderr)
        return 1
    for i, ev in enumerate(log):
        print('%3d  PCR %2d  type 0x%08x  %s  %s' % (i, ev.pcr, ev.type, ev.digest.hex()[:16],
                                                    ev.data.decode('utf-8', 'replace')))
    for pcr, value in log.pcrs().items():
        print('PCR %2d = %s:%s' % (pcr, log.alg, value.hex()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
