#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The core library loads no heavy dependency; each module library only its own.

usage: check_dependencies.py LIBVIRTCORE_SO [MODULE=PATH]...

Reads the NEEDED entries with `readelf -d`. libvirtcore.so may need libc, libm and the
dynamic loader only; libvirtcore-<module>.so may need those plus its own libraries, and
must export nothing but its table (vc__module).
"""
import re
import subprocess
import sys

BASE = {"libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "libpthread.so.0", "libdl.so.2"}
# A sanitizer build's runtimes come with the build, not with the library.
SANITIZERS = re.compile(r"lib(asan|ubsan|tsan|lsan)\.so\.\d+$")
OWN = {
    "pack": {"libuuid.so.1", "libcrypto.so.3"},
    "trust": {"libcrypto.so.3"},
    "rewrite": {"libelf.so.1", "libZydis.so.4", "libZydis.so.4.0"},
    "trace": {"libbpf.so.1"},
}
HEAVY = set().union(*OWN.values())


def needed(path):
    out = subprocess.run(["readelf", "-d", "-W", path], check=True, capture_output=True,
                         text=True).stdout
    libs = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))
    return {lib for lib in libs if not SANITIZERS.match(lib)}


def exports(path):
    out = subprocess.run(["nm", "-D", "--defined-only", path], check=True,
                         capture_output=True, text=True).stdout
    return {line.split()[-1].split("@")[0] for line in out.splitlines()
            if len(line.split()) == 3 and line.split()[1] not in "AUuvw"}


def main():
    failures = []
    core = needed(sys.argv[1])
    print(f"libvirtcore.so NEEDED: {' '.join(sorted(core))}")
    for lib in sorted(core - BASE):
        failures.append(f"libvirtcore.so needs {lib}" +
                        (" (a heavy module's dependency)" if lib in HEAVY else ""))
    for arg in sys.argv[2:]:
        name, path = arg.split("=", 1)
        deps = needed(path)
        print(f"libvirtcore-{name}.so NEEDED: {' '.join(sorted(deps))}")
        for lib in sorted(deps - BASE - OWN[name]):
            failures.append(f"libvirtcore-{name}.so needs {lib}, not one of its own")
        if "libvirtcore.so.0" in deps:
            failures.append(f"libvirtcore-{name}.so links the core (it must log through it)")
        extra = exports(path) - {"vc__module"}
        if extra:
            failures.append(f"libvirtcore-{name}.so exports {' '.join(sorted(extra)[:5])}")
    for f in failures:
        print("FAIL", f)
    print(f"dependencies: {len(sys.argv) - 1} libraries checked, {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
