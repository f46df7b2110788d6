#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Each module's documented error codes are the ones it can return.

usage: check_error_tables.py SOURCE_ROOT

For each module: every -E code its headers document must appear in its sources (or be
listed below as coming straight from the system), and every -E code in its sources must
be documented (or be listed below as never leaving the module, with the reason). A code
listed but no longer true is a failure too, so the lists cannot go stale.
"""
import pathlib
import re
import sys

MODULES = ["gmem", "spt", "irq", "ring", "timerpage", "pack", "trust", "rewrite", "trace",
           "prefetch", "pvh"]
# Codes that shared helpers return for every module that uses them.
SHARED = {"util/opts.h": {"EINVAL", "E2BIG"},
          "util/input.h": {"EISDIR", "EINVAL"},  # vc__input_open(): a directory, not a file
          "util/output.h": {"EISDIR", "EINVAL"}}  # vc__output_begin(): the same for outputs

# Documented, and returned as the system's errno passed through (-errno).
FROM_SYSTEM = {
    "timerpage": {"EMFILE": "memfd_create() / mmap() failing"},
    "trust": {"EACCES": "open() of a key file"},
}
# In the sources, never returned to a caller.
INTERNAL = {
    "spt": {"ENOSPC": "make_room(): the translation falls back to a full walk"},
    "pack": {
        "ECANCELED": "a copy stopped by vc_pack_writer_close(); nothing is returned",
        "ENODATA": "a short read, reported as -EBADMSG (disk) or -EIO (image)",
        "ENOSYS": "copy_file_range() refusing: read/write instead",
        "EOPNOTSUPP": "copy_file_range() refusing: read/write instead",
        "EXDEV": "copy_file_range() refusing: read/write instead",
        "EFBIG": "vc__pack_copy_stream(): past a fixed disk's room, reported as -ENOSPC",
    },
    "trace": {"EACCES": "reported as -EPERM"},
    "pvh": {"EBADMSG": "find_entry_note(): a malformed note, reported as -ENOEXEC"},
}


def codes_in_docs(paths):
    found = set()
    for p in paths:
        for c in re.findall(r"/\*.*?\*/", p.read_text(), re.S):
            found |= set(re.findall(r"-(E[A-Z0-9]+)\b", c))
    return found


def codes_in_sources(paths):
    found = set()
    for p in paths:
        text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", p.read_text(), flags=re.S)
        found |= set(re.findall(r"-(E[A-Z0-9]+)\b", text))
    return found


def check(root, docs_override=None):
    root = pathlib.Path(root)
    failures = []
    for m in MODULES:
        headers = [h for h in (root / "include/virtcore" / f"{m}.h",
                               root / "include/virtcore" / f"{m}_abi.h") if h.exists()]
        sources = sorted((root / "lib" / m).glob("*.[ch]"))
        documented = codes_in_docs(headers) | (docs_override or {}).get(m, set())
        returned = codes_in_sources(sources)
        for helper, codes in SHARED.items():
            if any(helper in s.read_text() for s in sources):
                returned |= codes
        system, internal = FROM_SYSTEM.get(m, {}), INTERNAL.get(m, {})
        for code in sorted(documented - returned - set(system)):
            failures.append(f"{m}: -{code} is documented but never returned")
        for code in sorted(returned - documented - set(internal)):
            failures.append(f"{m}: -{code} can be returned but is not documented")
        for code in sorted(set(system) & returned):
            failures.append(f"{m}: -{code} is listed as the system's but the sources return it")
        for code in sorted(set(internal) & documented):
            failures.append(f"{m}: -{code} is listed as internal but is documented")
        for code in sorted(set(internal) - returned):
            failures.append(f"{m}: -{code} is listed as internal but the sources have none")
        print(f"{m}: documented {' '.join(sorted(documented)) or '-'}")
    return failures


def main():
    root = sys.argv[1]
    # self-test: a code documented that no source returns must be caught
    planted = check(root, {"gmem": {"EKEYREJECTED"}})
    if not any("gmem: -EKEYREJECTED" in f for f in planted):
        print("FAIL the check missed a planted undocumented-but-never-returned code")
        return 1
    failures = check(root)
    for f in failures:
        print("FAIL", f)
    print(f"error tables: {len(MODULES)} modules, {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
