#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A heavy module that is not there fails cleanly: -EOPNOTSUPP and a detail that says why.

usage: check_modules.py PROBE LIB_DIR --expect present|absent|built-without|foreign
                        [--module-dir DIR]

Runs module_probe with LD_LIBRARY_PATH=LIB_DIR (the libvirtcore.so.0 under test).
  present        every module library loads; calls fail only for their own reasons
  absent         libvirtcore.so is alone (its module libraries missing): "cannot load"
  built-without  the library was configured without the modules: "built without it"
  foreign        VIRTCORE_MODULE_DIR holds libraries that are not this build's modules
"""
import argparse
import errno
import os
import subprocess
import sys

HEAVY = ["pack", "trust", "rewrite", "trace"]
WHY = {"absent": "cannot load libvirtcore-", "built-without": "built without it",
       "foreign": "is not the module library of this libvirtcore"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("probe")
    ap.add_argument("lib_dir")
    ap.add_argument("--expect", required=True, choices=["present", *WHY])
    ap.add_argument("--module-dir")
    ap.add_argument("--only", action="append", default=[],
                    help="judge these modules only (others may or may not be built)")
    a = ap.parse_args()
    env = dict(os.environ, LD_LIBRARY_PATH=a.lib_dir)
    env.pop("VIRTCORE_MODULE_DIR", None)
    if a.module_dir:
        env["VIRTCORE_MODULE_DIR"] = a.module_dir
    out = subprocess.run([a.probe], env=env, capture_output=True, text=True, timeout=60)
    print(out.stdout, end="")
    if out.returncode:
        print(out.stderr)
        print(f"FAIL the probe exited {out.returncode}")
        return 1
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in out.stdout.splitlines()}
    failures = []
    for name in a.only or HEAVY:
        has, rc, detail = int(rows[name][0]), int(rows[name][1]), rows[name][2]
        if a.expect == "present":
            if has != 1 or rc == -errno.EOPNOTSUPP:
                failures.append(f"{name}: expected to load (has {has}, rc {rc}: {detail})")
        elif has != 0 or rc != -errno.EOPNOTSUPP or WHY[a.expect] not in detail or \
                name not in detail:
            failures.append(f"{name}: expected has 0, -EOPNOTSUPP and \"{WHY[a.expect]}\", "
                            f"got has {has}, rc {rc}: {detail!r}")
    if rows["gmem"][:2] != ["1", "0"]:
        failures.append(f"the core failed: {rows['gmem']}")
    if rows["unknown"] != [str(-errno.EINVAL)]:
        failures.append(f"vc_has_module(unknown) gave {rows['unknown']}")
    for f in failures:
        print("FAIL", f)
    print(f"modules ({a.expect}): {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
