#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vc-rewrite end to end: its exact command-line interface (scripts depend on it), the
error format `vc-rewrite: FILE: what is wrong` with exit 1 (2 for usage), nothing left
behind by a failed command, scan --json against the objdump oracle, and patch/restore
through the tool giving back the input byte for byte.

usage: check_vc_rewrite.py VC_REWRITE TESTS_REWRITE_DIR
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

VC = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL " + what)


def vc(*args, timeout=120):
    try:
        return subprocess.run([VC, *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, -1, "", f"timed out after {timeout} s")


def main():
    tmp = tempfile.mkdtemp(prefix="vc-rewrite-cli-")
    try:
        os.chdir(tmp)
        objs = {}
        for name in ("sensitive.S", "tables.S", "driver.c", "lookalikes.S"):
            obj = name.split(".")[0] + ".o"
            subprocess.run(["gcc", "-c", "-O2", "-o", obj, os.path.join(SRC, name)], check=True)
            objs[name] = obj

        # help and usage
        for args in ([], ["bogus"], ["scan"], ["scan", "a", "b"], ["patch", "x.o"],
                     ["restore", "x.o"], ["scan", "--frobnicate", "x.o"]):
            r = vc(*args)
            check(r.returncode == 2, f"usage error {args}: exit {r.returncode}")
            check(r.stderr.startswith("vc-rewrite: "), f"usage error {args}: {r.stderr!r}")
        for args in (["--help"], ["scan", "--help"], ["patch", "--help"], ["restore", "--help"]):
            r = vc(*args)
            check(r.returncode == 0 and r.stdout.startswith("usage: vc-rewrite"),
                  f"{args}: {r.returncode} {r.stdout[:40]!r}")
        check(vc("--version").stdout.startswith("vc-rewrite (libvirtcore) "), "--version")

        # scan --json: the keys, the objdump oracle, the table form
        for name, obj in objs.items():
            r = vc("scan", "--json", obj)
            check(r.returncode == 0, f"scan --json {obj}: {r.stderr}")
            sites = json.loads(r.stdout)
            for s in sites:
                check({"section", "offset", "length", "mnemonic", "class", "flags", "bytes",
                       "section_index"} <= set(s), f"{obj}: keys {sorted(s)}")
                check(len(s["bytes"]) == 2 * s["length"], f"{obj}: bytes {s}")
            got = sorted(f"{s['section']} {s['offset']} {s['mnemonic']}" for s in sites)
            want = subprocess.run([sys.executable, os.path.join(SRC, "objdump_oracle.py"), obj],
                                  capture_output=True, text=True, check=True).stdout.split("\n")
            want = sorted(w for w in want if w)
            check(got == want, f"{obj}: scan differs from objdump:\n{set(want) ^ set(got)}")
            table = vc("scan", obj).stdout.strip().split("\n")
            check(table[0].split()[:4] == ["SECTION", "OFFSET", "LEN", "CLASS"], f"{obj}: header")
            check(table[-1].startswith(f"{len(sites)} sensitive instruction"), f"{obj}: {table[-1]}")
        tables = json.loads(vc("scan", "--json", objs["tables.S"]).stdout)
        check([s["flags"] for s in tables] == [["ex_table"], ["jump_table"], ["reloc"], [], []],
              f"tables.o flags: {[s['flags'] for s in tables]}")
        check(tables[0]["class"] == "msr" and tables[3]["class"] == "control-register",
              f"tables.o classes: {[s['class'] for s in tables]}")

        # patch, then restore: byte for byte, through files; mode kept
        for name, obj in objs.items():
            os.chmod(obj, 0o640)
            r = vc("patch", obj, "-o", "p.o")
            check(r.returncode == 0 and os.path.exists("p.o"), f"patch {obj}: {r.stderr}")
            check((os.stat("p.o").st_mode & 0o777) == 0o640, f"patch {obj}: mode")
            check(subprocess.run(["eu-elflint", "--gnu-ld", "-q", "p.o"]).returncode == 0,
                  f"eu-elflint on patched {obj}")
            r = vc("restore", "p.o", "-o", "r.o")
            check(r.returncode == 0, f"restore {obj}: {r.stderr}")
            check(open(obj, "rb").read() == open("r.o", "rb").read(), f"{obj}: restore differs")
            r = vc("patch", "p.o", "-o", "pp.o")
            check(r.returncode == 1 and r.stderr == "vc-rewrite: p.o: already rewritten (it has "
                  "a .vc.sensitive section)\n", f"patch twice: {r.stderr!r}")
            check(not os.path.exists("pp.o"), "patch twice left an output")
        r = vc("patch", objs["tables.S"], "-o", objs["tables.S"])  # in place, atomically
        check(r.returncode == 0, "patch in place")

        # #26: -o through a symlink writes the file it names; a FIFO or directory is
        # refused untouched; a 255-byte output name works.
        shutil.copy(objs["sensitive.S"], "real.o")
        os.symlink("real.o", "link.o")
        r = vc("patch", objs["sensitive.S"], "-o", "link.o")
        check(r.returncode == 0 and os.path.islink("link.o"), f"patch through a symlink: {r.stderr}")
        check(vc("scan", "real.o").stdout.find("already rewritten") >= 0, "the link's target not patched")
        r = vc("restore", "real.o", "-o", "link.o")
        check(r.returncode == 0 and os.path.islink("link.o"), f"restore through a symlink: {r.stderr}")
        check(open("real.o", "rb").read() == open(objs["sensitive.S"], "rb").read(),
              "restore through the symlink did not give the original back")
        os.mkfifo("out.fifo")
        check(vc("patch", objs["sensitive.S"], "-o", "pt.o").returncode == 0, "patch to pt.o")
        for cmd in (["patch", objs["sensitive.S"], "-o", "out.fifo"], ["restore", "pt.o", "-o", "out.fifo"]):
            r = vc(*cmd)
            check(r.returncode == 1 and "a FIFO, not a regular file" in r.stderr, f"{cmd}: {r.stderr}")
            check(stat.S_ISFIFO(os.lstat("out.fifo").st_mode), f"{cmd} replaced the FIFO")
        os.mkdir("adir")
        r = vc("patch", objs["sensitive.S"], "-o", "adir")
        check(r.returncode == 1 and "a directory" in r.stderr, f"patch -o directory: {r.stderr}")
        r = vc("patch", objs["sensitive.S"], "-o", "p" * 255)
        check(r.returncode == 0 and os.path.exists("p" * 255), f"255-byte output name: {r.stderr}")
        for p in ("real.o", "link.o", "out.fifo", "pt.o", "p" * 255):
            os.unlink(p)
        os.rmdir("adir")
        check(not [f for f in os.listdir(".") if "vc-rewrite" in f], "a temporary file was left")

        # errors: `vc-rewrite: FILE: what`, exit 1, nothing left behind
        open("text.o", "w").write("not an object\n")
        shutil.copy(objs["sensitive.S"], "s.o")
        subprocess.run(["xz", "-k", "s.o"], check=True)
        data = bytearray(open(objs["driver.c"], "rb").read())
        b32 = data[:]
        b32[4] = 1
        open("b32.o", "wb").write(b32)
        be = data[:]
        be[5] = 2
        open("be.o", "wb").write(be)
        open("trunc.o", "wb").write(data[: len(data) // 2])
        subprocess.run(["gcc", "-c", "-o", "rf.o", os.path.join(SRC, "relocfirst.S")], check=True)
        cases = [
            ("missing.o", "No such file or directory"),
            ("text.o", "not an ELF file"),
            ("s.o.xz", "a xz-compressed file: decompress it first"),
            ("b32.o", "a 32-bit ELF object"),
            ("be.o", "a big-endian ELF object"),
            ("trunc.o", "truncated"),
            (".", "Is a directory"),
        ]
        for f, says in cases:
            for cmd in (["scan", f], ["scan", "--json", f], ["patch", f, "-o", "out.o"]):
                r = vc(*cmd)
                check(r.returncode == 1, f"{cmd}: exit {r.returncode}")
                check(r.stderr.startswith(f"vc-rewrite: {f}: ") and says in r.stderr,
                      f"{cmd}: {r.stderr!r} lacks {says!r}")
                check(r.stdout in ("", "[", "[\n"), f"{cmd}: printed {r.stdout!r}")
        r = vc("patch", "rf.o", "-o", "out.o")
        check(r.returncode == 1 and "rf.o: the site at .text+0: a relocation fills its first "
              "byte" in r.stderr, f"relocation on the trap byte: {r.stderr!r}")
        r = vc("restore", objs["driver.c"], "-o", "out.o")
        check(r.returncode == 1 and "no .vc.sensitive section" in r.stderr, f"restore: {r.stderr!r}")
        r = vc("patch", objs["driver.c"], "-o", "nodir/out.o")
        check(r.returncode == 1 and r.stderr.startswith("vc-rewrite: nodir/out.o: "),
              f"unwritable output: {r.stderr!r}")

        # #26: inputs that are not files are refused at once, saying what they are (a FIFO
        # without a writer hung the open; /dev/zero said only "Invalid argument"); an input
        # larger than any object file is refused before it is read (restore read a sparse
        # 16 GiB file whole).
        # #26: a section name is printed escaped: an ESC sequence in the file does not
        # reach the terminal, and a line stays a line.
        data = bytearray(open(objs["sensitive.S"], "rb").read())
        at = data.find(b".text\x00")
        data[at:at + 5] = b"\x1b[2J\n"
        open("esc.o", "wb").write(data)
        r = vc("scan", "esc.o")
        lines = r.stdout.splitlines()
        check(r.returncode == 0 and "\x1b" not in r.stdout and len(lines) > 2 and
              lines[1].startswith("\\x1b[2J\\x0a "), f"scan with an ESC section name: {lines[:2]}")
        os.unlink("esc.o")
        with open("/dev/full", "w") as full:
            for cmd in (["scan", objs["driver.c"]], ["scan", "--json", objs["driver.c"]],
                        ["patch", objs["driver.c"], "-o", "full.o"]):
                r = subprocess.run([VC, *cmd], stdout=full, stderr=subprocess.PIPE, text=True)
                check(r.returncode == 1 and r.stderr == "vc-rewrite: standard output: No space "
                      "left on device\n", f"{cmd} > /dev/full: {r.returncode} {r.stderr!r}")
        os.unlink("full.o")
        os.mkfifo("in.fifo")
        for f, kind in (("in.fifo", "a FIFO"), ("/dev/zero", "a character device")):
            for cmd in (["scan", f], ["patch", f, "-o", "out.o"], ["restore", f, "-o", "out.o"]):
                r = vc(*cmd, timeout=20)
                check(r.returncode == 1 and r.stderr == f"vc-rewrite: {f}: {kind}, not an ELF "
                      "object file\n", f"{cmd}: {r.returncode} {r.stderr!r}")
        with open("huge.o", "wb") as h:
            h.truncate(16 << 30)
        for cmd in (["scan", "huge.o"], ["patch", "huge.o", "-o", "out.o"],
                    ["restore", "huge.o", "-o", "out.o"]):
            r = vc(*cmd, timeout=20)
            check(r.returncode == 1 and "huge.o" in r.stderr and "at most 1073741824" in r.stderr,
                  f"{cmd}: {r.returncode} {r.stderr!r}")
        os.unlink("huge.o")
        os.unlink("in.fifo")
        leftovers = [f for f in os.listdir(".") if f.startswith("out.o") or "vc-rewrite-" in f]
        check(not leftovers, f"left behind: {leftovers}")
    finally:
        os.chdir("/")
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"vc-rewrite: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
