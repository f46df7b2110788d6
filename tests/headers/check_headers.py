#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compiles every public header on its own: C11 -pedantic -Werror, C++ -pedantic -Werror,
and *_abi.h also freestanding (guest code has no libc). Checks the umbrella includes all.

usage: check_headers.py SRC_INCLUDE BUILD_INCLUDE --cc CC... --cxx CXX...
"""
import argparse
import pathlib
import re
import subprocess
import sys
import tempfile

WARN = ["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"]


def compile_one(cmd, src_text, suffix, tmp):
    src = pathlib.Path(tmp) / ("probe" + suffix)
    src.write_text(src_text)
    proc = subprocess.run(cmd + [str(src)], capture_output=True, text=True)
    return proc.returncode, proc.stderr.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src_include")
    ap.add_argument("build_include")
    ap.add_argument("--cc", nargs="+", required=True)
    ap.add_argument("--cxx", nargs="+", required=True)
    args = ap.parse_args()

    hdr_dir = pathlib.Path(args.src_include) / "virtcore"
    headers = sorted(p.name for p in hdr_dir.glob("*.h"))
    if not headers:
        print(f"no headers found in {hdr_dir}")
        return 1
    inc = ["-I", args.src_include, "-I", args.build_include]
    modes = {
        "c11": (args.cc + ["-std=c11"] + WARN + ["-Wstrict-prototypes"] + inc, ".c"),
        "c++11": (args.cxx + ["-std=c++11"] + WARN + inc, ".cc"),
    }
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for h in headers:
            # Twice: a header must have include guards.
            text = f"#include <virtcore/{h}>\n#include <virtcore/{h}>\nint vc_probe;\n"
            run = dict(modes)
            if h.endswith("_abi.h"):
                run["freestanding"] = (args.cc + ["-std=c11", "-ffreestanding", "-nostdlib"]
                                       + WARN + inc, ".c")
            for mode, (cmd, suffix) in run.items():
                rc, err = compile_one(cmd, text, suffix, tmp)
                status = "ok" if rc == 0 else "FAIL"
                print(f"{status:4} {mode:12} virtcore/{h}")
                if rc:
                    failures += 1
                    print("     " + err.replace("\n", "\n     "))

    umbrella = (hdr_dir / "virtcore.h").read_text()
    included = set(re.findall(r"#include\s+<virtcore/([\w.]+)>", umbrella))
    for h in headers:
        if h not in ("virtcore.h", "version.h") and h not in included:
            print(f"FAIL virtcore/virtcore.h does not include virtcore/{h}")
            failures += 1

    print(f"headers: {len(headers)} checked, {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
