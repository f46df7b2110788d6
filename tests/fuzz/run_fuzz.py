#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Builds the pack reader's libFuzzer target with clang (-fsanitize=fuzzer,address,undefined)
and runs it for a bounded time from a seed corpus of real vc-pack disks.

usage: run_fuzz.py --cc CLANG --src SRC_ROOT --build BUILD_ROOT --vc-pack VC_PACK
                   --out DIR [--seconds N]
VC_FUZZ_SECONDS in the environment overrides --seconds. Exit 77 (skip) when the clang at
hand cannot link a fuzzer (libclang-rt-*-dev missing), 1 on a finding (the crashing input
is left in DIR/crash-*; reproduce with DIR/fuzz_pack DIR/crash-...).
"""
import argparse
import glob
import os
import shutil
import struct
import subprocess
import sys

HEADER_OFFSET = 64 * 1024
ENTRIES_OFFSET = HEADER_OFFSET + 512


def build(a, exe):
    src = a.src
    sources = [os.path.join(src, "tests/fuzz/fuzz_pack.c")]
    sources += sorted(glob.glob(os.path.join(src, "lib/pack/*.c")))
    sources += [os.path.join(src, "lib/util", f) for f in ("crc32.c", "log.c", "strerror.c")]
    cmd = [a.cc, "-g", "-O1", "-std=gnu11", "-D_GNU_SOURCE",
           "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined",
           "-I", os.path.join(src, "include"), "-I", os.path.join(a.build, "include"),
           "-I", os.path.join(src, "lib"), "-o", exe] + sources + ["-luuid", "-lcrypto", "-lpthread"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        if "fuzzer" in r.stderr and ("cannot find" in r.stderr or "not found" in r.stderr):
            print("SKIP: clang cannot link libFuzzer (install libclang-rt-14-dev: scripts/setup)")
            sys.exit(77)
        print(r.stderr)
        print("fuzz: building the target failed")
        sys.exit(1)


def seed_from_disk(path, flags):
    """Fuzz input of a real disk: flags, our header, the entries in use."""
    with open(path, "rb") as f:
        f.seek(HEADER_OFFSET)
        hdr = f.read(512)
        count = struct.unpack_from("<I", hdr, 24)[0]
        f.seek(ENTRIES_OFFSET)
        ents = f.read(512 * count)
    return bytes([flags]) + hdr + ents


def make_seeds(a, seeds):
    os.makedirs(seeds, exist_ok=True)
    work = os.path.join(a.out, "seed-src")
    os.makedirs(work, exist_ok=True)
    files = []
    for i, size in enumerate((0, 1, 4097, 70000)):
        p = os.path.join(work, f"img{i}")
        with open(p, "wb") as f:
            f.write(bytes((j * 7 + i) & 0xFF for j in range(size)))
        files.append(p)
    sets = {"none": [], "one": files[:1], "all": files, "named": [f"ünï-😀={files[2]}"]}
    for label, args in sets.items():
        for align in ("4k", "1m"):
            disk = os.path.join(work, f"{label}-{align}.img")
            subprocess.run([a.vc_pack, "create", "--align", align, disk] + args, check=True)
            for flags in (3, 7, 1):
                with open(os.path.join(seeds, f"{label}-{align}-{flags}"), "wb") as f:
                    f.write(seed_from_disk(disk, flags))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--vc-pack", dest="vc_pack", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seconds", type=int, default=60)
    a = ap.parse_args()
    seconds = int(os.environ.get("VC_FUZZ_SECONDS", a.seconds))

    shutil.rmtree(a.out, ignore_errors=True)
    os.makedirs(a.out)
    exe = os.path.join(a.out, "fuzz_pack")
    build(a, exe)
    seeds = os.path.join(a.out, "seeds")
    corpus = os.path.join(a.out, "corpus")
    os.makedirs(corpus)
    make_seeds(a, seeds)
    cmd = [exe, corpus, seeds, f"-max_total_time={seconds}", "-max_len=131073",
           "-timeout=20", "-rss_limit_mb=4096", "-print_final_stats=1",
           f"-artifact_prefix={a.out}/"]
    print("fuzz: " + " ".join(cmd), flush=True)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    r = subprocess.run(cmd, env=env)
    print(f"fuzz: exit {r.returncode} after {seconds} s")
    return 0 if r.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
