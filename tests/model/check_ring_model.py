#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Model-checks the ring's doze handshake (ring_doze.pml) with spin.

For both modes (EVENT_IDX and flag): with all four fences (producer and consumer side of
the request and of the completion ring) spin must find no error; with any one fence
removed it must find the lost wake-up (an invalid end state: a consumer asleep on a
non-empty ring). Exit 0 when every verdict is as expected, 77 (skip) without spin.
"""
import os
import shutil
import subprocess
import sys
import tempfile

FENCES = ["FENCE_P_REQ", "FENCE_C_REQ", "FENCE_P_COMP", "FENCE_C_COMP"]


def check(model, spin, cc, mode, removed, work):
    defs = [f"-DMODE_FLAG={mode}"] + [f"-D{f}={0 if f == removed else 1}" for f in FENCES]
    subprocess.run([spin] + defs + ["-a", model], cwd=work, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([cc, "-O2", "-DSAFETY", "-w", "-o", "pan", "pan.c"], cwd=work, check=True)
    out = subprocess.run(["./pan"], cwd=work, check=False, capture_output=True,
                         text=True).stdout
    errors = next((int(line.split("errors:")[1]) for line in out.splitlines()
                   if "errors:" in line), None)
    lost = "invalid end state" in out
    states = next((line.split()[0] for line in out.splitlines() if "states, stored" in line), "?")
    return errors, lost, states


def main():
    model = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                            os.path.join(os.path.dirname(__file__), "ring_doze.pml"))
    spin = shutil.which("spin")
    if not spin:
        print("SKIP: spin is not installed (Debian package spin)")
        return 77
    cc = shutil.which("cc") or shutil.which("gcc")
    bad = 0
    with tempfile.TemporaryDirectory() as work:
        for mode, name in ((0, "event-idx"), (1, "flag")):
            for removed in [None] + FENCES:
                errors, lost, states = check(model, spin, cc, mode, removed, work)
                if removed is None:
                    ok = errors == 0
                    want = "no error"
                else:
                    ok = errors is not None and errors > 0 and lost
                    want = "a lost wake-up"
                label = f"{name:9} {'all fences' if removed is None else 'without ' + removed:22}"
                print(f"{label} states {states:>6}  errors {errors}  expected {want}: "
                      f"{'ok' if ok else 'WRONG'}")
                bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
