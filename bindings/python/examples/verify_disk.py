#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Verifies a packed disk against a signed reference-value list: the list's signature
with the pinned public key, then every image of the disk, in the list's order, as a
chain (sizes and digests), and the disk's own integrity.

Usage: verify_disk.py DISK LIST PUBLIC.pem        exit 0 when everything verifies
"""
import sys

import virtcore
import virtcore.pack
import virtcore.trust


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    disk_path, list_path, key_path = sys.argv[1:]
    try:
        key = virtcore.trust.Key.load(key_path)
        reference = virtcore.trust.List.load(list_path, key=key)
        with virtcore.pack.Disk(disk_path) as disk:
            disk.verify()
            chain = virtcore.trust.Chain(reference)
            for stage in reference:
                image = disk[stage.name]
                # the index's digest is checked against the image by verify() above; a
                # list of another algorithm measures the image itself
                digest = image.sha256 if reference.alg == 'sha256' else \
                    virtcore.trust.measure(disk.read(stage.name), reference.alg)
                chain.verify(stage.name, digest=digest, size=image.size)
                print('%-24s %10d bytes  ok' % (stage.name, image.size))
            chain.finish()
    except virtcore.Error as e:
        verdict = getattr(e, 'verdict', None)
        print('verify_disk: %s%s' % (e, ' (%s)' % verdict.refusal if verdict else ''),
              file=sys.stderr)
        return 1
    print('all %d stages verified; register %s' % (len(reference), chain.pcr.hex()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
