#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The exports must agree three ways: VC_API declarations in include/virtcore/*.h, the
global entries of lib/libvirtcore.map, and `nm -D --defined-only` on the built .so.

usage: check_symbols.py INCLUDE_DIR MAPFILE SHARED_LIB [--nm NM] [--not-built HEADER]...

--not-built names the header of a module this build left out (its dependency was
missing): its functions must still be in the map, but are not expected in the .so.
"""
import argparse
import pathlib
import re
import subprocess
import sys

# VC_API, then the return type, then the function name right before '('.
DECL = re.compile(r"\bVC_API\b([^;{]*?)\b([A-Za-z_]\w*)\s*\(", re.S)


def declared(include_dir):
    names = {}
    for hdr in sorted(pathlib.Path(include_dir, "virtcore").glob("*.h")):
        text = re.sub(r"/\*.*?\*/", " ", hdr.read_text(), flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        # Drop preprocessor lines (with continuations): the VC_API definition itself.
        text = re.sub(r"^\s*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)
        for m in DECL.finditer(text):
            names[m.group(2)] = hdr.name
    return names


def mapped(mapfile):
    text = re.sub(r"/\*.*?\*/", " ", pathlib.Path(mapfile).read_text(), flags=re.S)
    names = set()
    for node in re.finditer(r"(\w+)\s*\{(.*?)\}", text, re.S):
        for section in re.finditer(r"global:(.*?)(?:local:|$)", node.group(2), re.S):
            names.update(re.findall(r"([A-Za-z_]\w*)\s*;", section.group(1)))
    return names


def exported(nm, lib):
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TtWwDdBbRr" and not parts[2].startswith("VIRTCORE_"):
            names.add(parts[2].split("@")[0])
    return names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("include_dir")
    ap.add_argument("mapfile")
    ap.add_argument("shared_lib")
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--not-built", action="append", default=[])
    ap.add_argument("--static", help="libvirtcore.a: every global symbol it defines must "
                    "be vc_* or vc__* (internal helpers are global there, unhidden)")
    a = ap.parse_args()

    decl = declared(a.include_dir)
    mapnames = mapped(a.mapfile)
    so = exported(a.nm, a.shared_lib)
    problems = []
    for n in sorted(set(decl) - mapnames):
        problems.append(f"{n}: VC_API in {decl[n]} but missing from {a.mapfile}")
    for n in sorted(mapnames - set(decl)):
        problems.append(f"{n}: in the map but no VC_API declaration in a public header")
    left_out = {n for n, hdr in decl.items() if hdr in a.not_built}
    for n in sorted(mapnames - so - left_out):
        problems.append(f"{n}: in the map but not exported by {a.shared_lib} (not defined or not VC_API)")
    for n in sorted(so - mapnames):
        problems.append(f"{n}: exported by {a.shared_lib} but not in the map (symbol leak)")
    if a.static:
        out = subprocess.run([a.nm, "-g", "--defined-only", a.static], capture_output=True,
                             text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            # weak symbols (V, W: sys/sdt.h's _.stapsdt.base) merge by design
            if len(parts) == 3 and parts[1] not in "VvWw" and not parts[2].startswith("vc_"):
                problems.append(f"{parts[2]}: a global symbol of {a.static} outside the vc_ "
                                "namespace (static linking could clash with the program's)")
    for p in problems:
        print("FAIL " + p)
    if left_out:
        print(f"symbols: {len(left_out)} of modules not built here ({', '.join(a.not_built)})")
    print(f"symbols: {len(decl)} declared, {len(mapnames)} in map, {len(so)} exported, "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
