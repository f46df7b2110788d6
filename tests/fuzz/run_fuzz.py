#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Builds one libFuzzer target with clang (-fsanitize=fuzzer,address,undefined) and runs it
for a bounded time from a seed corpus made by the project's own tools:
  pack:  the packed-disk reader, seeds from vc-pack disks;
  trust: the reference-value list parser and the event-log reader, seeds from vc-measure;
  spt:   the shadow page-table cache's event API, seeds are small event programs;
  rewrite: the ELF object and .vc.sensitive readers, seeds assembled from tests/rewrite;
  pvh:   the PVH kernel loader, seeds are the bundled guest and small ELF32/ELF64 kernels;
  blk:   vc-vmm's block device (ref-vmm/devices/blk.c) driven by a hostile guest: ring
         layouts, requests, indices and doze words; seeds are good and bad queues.

usage: run_fuzz.py --target pack|trust|spt|rewrite|pvh|blk --cc CLANG --src SRC_ROOT --build BUILD_ROOT
                   [--tool VC_PACK|VC_MEASURE] --out DIR [--seconds N]
VC_FUZZ_SECONDS in the environment overrides --seconds. Exit 77 (skip) when the clang at
hand cannot link a fuzzer (libclang-rt-*-dev missing), 1 on a finding (the crashing input
is left in DIR/crash-*; reproduce with DIR/fuzz_TARGET DIR/crash-...).
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


TARGETS = {
    "pack": {"dirs": ["lib/pack"], "util": ["crc32.c", "input.c", "log.c", "text.c", "output.c", "strerror.c"],
             "libs": ["-luuid", "-lcrypto", "-lpthread"], "max_len": 131073},
    "trust": {"dirs": ["lib/trust"], "util": ["input.c", "log.c", "text.c", "output.c", "strerror.c"],
              "libs": ["-lcrypto", "-lpthread"], "max_len": 16384},
    "spt": {"dirs": ["lib/spt", "lib/gmem"], "util": ["log.c", "text.c", "strerror.c"],
            "libs": ["-lpthread"], "max_len": 4096},
    "rewrite": {"dirs": ["lib/rewrite"], "util": ["input.c", "log.c", "text.c", "strerror.c"],
                "libs": ["-lelf", "-lZydis", "-lpthread"], "max_len": 65536},
    "pvh": {"dirs": ["lib/pvh", "lib/gmem"], "util": ["log.c", "text.c", "strerror.c"],
            "libs": ["-lpthread"], "max_len": 131072},
    "blk": {"dirs": ["lib/ring", "lib/gmem"], "util": ["log.c", "text.c", "strerror.c"],
            "extra": ["ref-vmm/devices/blk.c"], "include": ["ref-vmm"],
            "libs": ["-lpthread"], "max_len": 4096},
}


def build(a, exe):
    src = a.src
    t = TARGETS[a.target]
    sources = [os.path.join(src, f"tests/fuzz/fuzz_{a.target}.c")]
    for d in t["dirs"]:
        sources += sorted(glob.glob(os.path.join(src, d, "*.c")))
    sources += [os.path.join(src, "lib/util", f) for f in t["util"]]
    sources += [os.path.join(src, f) for f in t.get("extra", [])]
    includes = []
    for d in t.get("include", []):
        includes += ["-I", os.path.join(src, d)]
    cmd = [a.cc, "-g", "-O1", "-std=gnu11", "-D_GNU_SOURCE",
           "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined",
           "-I", os.path.join(src, "include"), "-I", os.path.join(a.build, "include"),
           "-I", os.path.join(src, "lib")] + includes + ["-o", exe] + sources + t["libs"]
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


def make_pack_seeds(a, seeds):
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
            subprocess.run([a.tool, "create", "--align", align, disk] + args, check=True)
            for flags in (3, 7, 1):
                with open(os.path.join(seeds, f"{label}-{align}-{flags}"), "wb") as f:
                    f.write(seed_from_disk(disk, flags))


def make_trust_seeds(a, seeds):
    """Lists (selector 0) and event logs (selector 1) made by vc-measure."""
    os.makedirs(seeds, exist_ok=True)
    work = os.path.join(a.out, "seed-src")
    os.makedirs(work, exist_ok=True)
    files = []
    for i, size in enumerate((0, 10, 5000)):
        p = os.path.join(work, f"s{i}")
        with open(p, "wb") as f:
            f.write(bytes((j * 13 + i) & 0xFF for j in range(size)))
        files.append(p)
    key, pub = os.path.join(work, "k.pem"), os.path.join(work, "k.pub")
    subprocess.run([a.tool, "keygen", key, pub], check=True)
    for alg in ("sha256", "sha384"):
        for n in (1, 3):
            lst = os.path.join(work, f"list-{alg}-{n}")
            stages = [f"stage{i}={files[i]}" for i in range(n)]
            subprocess.run([a.tool, "make", "-o", lst, "--alg", alg] + stages, check=True)
            with open(os.path.join(seeds, f"list-{alg}-{n}"), "wb") as f:
                f.write(b"\0" + open(lst, "rb").read())
            subprocess.run([a.tool, "sign", "-k", key, lst], check=True)
            with open(os.path.join(seeds, f"signed-{alg}-{n}"), "wb") as f:
                f.write(b"\0" + open(lst, "rb").read())
            log = os.path.join(work, f"log-{alg}-{n}")
            subprocess.run([a.tool, "verify", "--log", log, lst] + stages, check=True,
                           capture_output=True)
            with open(os.path.join(seeds, f"log-{alg}-{n}"), "wb") as f:
                f.write(b"\1" + open(log, "rb").read())


def make_spt_seeds(a, seeds):
    """Event programs (see fuzz_spt.c): a 4-level table mapping one page, loads in
    each mode, translations, reported and unreported writes, INVLPG, flushes."""
    os.makedirs(seeds, exist_ok=True)

    def write(gpa, val, report=True, esize=8):
        op = 0 | (0x40 if report else 0) | (8 if esize == 4 else 0) | 0x10  # tame 1
        return bytes([op]) + struct.pack("<H", gpa) + struct.pack("<Q", val)

    def load(mode, cr3, flags=0x11):  # WP, NXE; untamed root
        f = (mode - 1) | flags << 4
        return bytes([1]) + struct.pack("<I", f)[:3] + struct.pack("<Q", cr3)

    def xlate(gva, access=0, cpu=0):
        return bytes([2 | cpu << 7]) + struct.pack("<Q", gva) + bytes([access])

    tree = (write(0x1000, 0x2007) + write(0x2000, 0x3007) + write(0x3000, 0x4007) +
            write(0x4000, 0x5007) + write(0x4008, 0x6083))
    progs = {
        "long4": bytes([0]) + tree + load(3, 0x1000) + xlate(0) + xlate(0x1000, 3) + xlate(0x1ff, 4),
        "long5": bytes([0]) + tree + write(0x7000, 0x1007) + load(4, 0x7000) + xlate(0),
        "pae": bytes([0]) + tree + load(2, 0x2000) + xlate(0x1234) + xlate(0x40001000, 2),
        "32": bytes([0]) + write(0x1000, 0x2007, esize=4) + write(0x2000, 0x3007, esize=4) +
              load(1, 0x1000) + xlate(0x123) + write(0x2000, 0x4007, False, 4) + xlate(0x123) +
              bytes([5]) + struct.pack("<Q", 0x123) + xlate(0x123),
        "budget": bytes([3]) + tree + load(3, 0x1000) + xlate(0) + load(3, 0x2000) + xlate(0) +
                  bytes([6]) + xlate(0) + bytes([7]) + xlate(0),
    }
    for name, prog in progs.items():
        with open(os.path.join(seeds, name), "wb") as f:
            f.write(prog)


def make_rewrite_seeds(a, seeds):
    """The test objects, plain and rewritten (vc-rewrite is --tool)."""
    os.makedirs(seeds, exist_ok=True)
    src = os.path.join(a.src, "tests", "rewrite")
    for name in ("sensitive.S", "lookalikes.S", "tables.S", "driver.c"):
        obj = os.path.join(seeds, name.split(".")[0] + ".o")
        subprocess.run(["gcc", "-c", "-O2", "-o", obj, os.path.join(src, name)], check=True)
        subprocess.run([a.tool, "patch", obj, "-o", obj + ".patched"], check=True,
                       capture_output=True)


def make_pvh_seeds(a, seeds):
    """Small PVH kernels, ELF64 and ELF32 (a PT_LOAD with the entry note in a PT_NOTE),
    and the bundled guest when it is built (--tool)."""
    os.makedirs(seeds, exist_ok=True)

    def elf(is64, nload, bss):
        note = struct.pack("<III", 4, 4, 18) + b"Xen\0" + struct.pack("<I", 0x100010)
        phnum = nload + 1
        ehsize, phsize = (64, 56) if is64 else (52, 32)
        body_off = ehsize + phnum * phsize
        code = b"\x90" * 64
        phdrs = b""
        off = body_off
        for i in range(nload):
            paddr = 0x100000 + i * 0x1000
            if is64:
                phdrs += struct.pack("<IIQQQQQQ", 1, 7, off, paddr, paddr, len(code),
                                     len(code) + bss, 0x1000)
            else:
                phdrs += struct.pack("<IIIIIIII", 1, off, paddr, paddr, len(code),
                                     len(code) + bss, 7, 0x1000)
            off += len(code)
        if is64:
            phdrs += struct.pack("<IIQQQQQQ", 4, 4, off, 0, 0, len(note), len(note), 4)
            eh = (b"\x7fELF\x02\x01\x01" + bytes(9) +
                  struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x100010, ehsize, 0, 0, ehsize,
                              phsize, phnum, 64, 0, 0))
        else:
            phdrs += struct.pack("<IIIIIIII", 4, off, 0, 0, len(note), len(note), 4, 4)
            eh = (b"\x7fELF\x01\x01\x01" + bytes(9) +
                  struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, 0x100010, ehsize, 0, 0, ehsize,
                              phsize, phnum, 40, 0, 0))
        return eh + phdrs + code * nload + note

    for is64 in (True, False):
        for nload, bss in ((1, 0), (2, 0x800), (2, 0x2000), (3, 16)):  # 0x2000: overlaps
            name = f"elf{64 if is64 else 32}-{nload}-{bss}"
            with open(os.path.join(seeds, name), "wb") as f:
                f.write(elf(is64, nload, bss))
    if a.tool and os.path.exists(a.tool):
        shutil.copy(a.tool, os.path.join(seeds, "vc-guest.elf"))


def make_blk_seeds(a, seeds):
    """Inputs of fuzz_blk.c: well-formed rings with good requests (EVENT_IDX and FLAG
    mode, every queue), one request of each hostile kind, and a raw ring pair."""
    os.makedirs(seeds, exist_ok=True)

    def head(mode, page=16, q=0, dma=0, dma_len=0, vector=0x30):
        return (bytes([mode]) + struct.pack("<H", page) + dma.to_bytes(3, "little") +
                dma_len.to_bytes(3, "little") + bytes([0, vector]))

    def req(offset, gpa, length, op_ok=True):
        return (bytes([1]) + struct.pack("<Q", offset) + bytes([1]) + struct.pack("<Q", gpa) +
                bytes([1]) + struct.pack("<I", length) + bytes([0xf0 if op_ok else 0]) +
                (b"" if op_ok else struct.pack("<I", 2)))

    good = b"".join(req(i * 4096, 0x20000 + i * 4096, 4096) for i in range(16))
    bad = {"past-disk": req(190 << 10, 0x20000, 8192), "wrap": req(2**64 - 100, 0x20000, 4096),
           "outside-ram": req(0, 255 << 10, 8192), "empty": req(0, 0x20000, 0),
           "write": req(0, 0x20000, 512, False), "long": req(0, 0x20000, (1 << 20) + 1)}
    for q in (0, 3):
        for mode in (1, 5):
            with open(os.path.join(seeds, f"good-{mode}-{q}"), "wb") as f:
                f.write(head(mode) + good + bytes([16, q]))
    for name, r in bad.items():
        with open(os.path.join(seeds, f"bad-{name}"), "wb") as f:
            f.write(head(1) + r + good[len(r):] + bytes([16, 0]))
    with open(os.path.join(seeds, "window"), "wb") as f:
        f.write(head(1, dma=0x20000, dma_len=0x10000) + good + bytes([16, 0]))
    with open(os.path.join(seeds, "indices"), "wb") as f:
        f.write(head(9) + good + bytes([0]) + struct.pack("<I", 1000) + bytes([0]))
    with open(os.path.join(seeds, "raw"), "wb") as f:
        f.write(head(0) + bytes(range(256)) * 8)


SEEDERS = {"pack": make_pack_seeds, "trust": make_trust_seeds, "spt": make_spt_seeds,
           "rewrite": make_rewrite_seeds, "pvh": make_pvh_seeds, "blk": make_blk_seeds}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", choices=sorted(TARGETS), required=True)
    ap.add_argument("--cc", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--tool")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seconds", type=int, default=60)
    a = ap.parse_args()
    seconds = int(os.environ.get("VC_FUZZ_SECONDS", a.seconds))

    shutil.rmtree(a.out, ignore_errors=True)
    os.makedirs(a.out)
    exe = os.path.join(a.out, f"fuzz_{a.target}")
    build(a, exe)
    seeds = os.path.join(a.out, "seeds")
    corpus = os.path.join(a.out, "corpus")
    os.makedirs(corpus)
    SEEDERS[a.target](a, seeds)
    cmd = [exe, corpus, seeds, f"-max_total_time={seconds}", f"-max_len={TARGETS[a.target]['max_len']}",
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
