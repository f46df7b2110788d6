#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vc-vmm without a VM, on every machine: `--dry-run [--json]` must describe exactly what a
boot would give the guest (checked against the kernel ELF's own program headers, the
module files' sizes and SHA-256, the packed disk's index and the trust list), every bad
input must get its own message before /dev/kvm is touched, and an unusable /dev/kvm must
be named as such.

usage: check_vc_vmm_plan.py VC_VMM GUEST_ELF [VC_PACK VC_MEASURE]
"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

VC_VMM = os.path.abspath(sys.argv[1])
GUEST = os.path.abspath(sys.argv[2])
VC_PACK = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else None
VC_MEASURE = os.path.abspath(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] else None
PAGE = 4096
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL " + what)


def run(*args, cwd=None, timeout=120):
    try:
        return subprocess.run(list(args), capture_output=True, stdin=subprocess.DEVNULL,
                              cwd=cwd, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, -1, b"", f"timed out after {timeout} s".encode())


def vmm(*args):
    return run(VC_VMM, *args)


def plan(*args):
    r = vmm("--dry-run", "--json", *args)
    if r.returncode != 0:
        check(False, f"--dry-run {' '.join(args)}: exit {r.returncode}: {r.stderr!r}")
        return None
    return json.loads(r.stdout)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def elf_loads(path):
    """The (paddr, filesz, memsz) of each PT_LOAD header of an ELF64 or ELF32 file."""
    data = open(path, "rb").read()
    is64 = data[4] == 2
    if is64:
        phoff, = struct.unpack_from("<Q", data, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    else:
        phoff, = struct.unpack_from("<I", data, 0x1C)
        phentsize, phnum = struct.unpack_from("<HH", data, 0x2A)
    loads = []
    for i in range(phnum):
        off = phoff + i * phentsize
        if is64:
            ptype, _, _, _, paddr, filesz, memsz = struct.unpack_from("<IIQQQQQ", data, off)
        else:
            ptype, _, _, paddr, filesz, memsz = struct.unpack_from("<IIIIIII", data, off)[:6]
        if ptype == 1:
            loads.append((paddr, filesz, memsz))
    return loads


# vc-vmm announces its devices after the command line given: the timer page always, the
# block device with --pack (ref-vmm/guest/abi.h).
TIMERPAGE = "vc.timerpage=0xfe200000"
BLK = "vc.blk=0xfe100000"


def announced(cmdline, blk=False):
    return " ".join(x for x in (cmdline, BLK if blk else "", TIMERPAGE) if x)


def check_layout(p, mem, files, cmdline, what):
    """What every plan must satisfy, against the inputs it was made from."""
    check(p["memory"]["size"] == mem, f"{what}: memory size {p['memory']['size']} != {mem}")
    ram = [(m["gpa"], m["gpa"] + m["size"]) for m in p["memory"]["map"] if m["type"] == "ram"]
    check(sum(e - s for s, e in ram) + 0x100000 - 0x9FC00 == mem,
          f"{what}: RAM in the map plus the legacy hole is not --mem: {p['memory']['map']}")
    segs = [(s["gpa"], s["filesz"], s["memsz"]) for s in p["kernel"]["segments"]]
    check(segs == elf_loads(GUEST), f"{what}: segments {segs} are not the ELF's PT_LOADs")
    kernel_end = max(g + m for g, _, m in segs)
    check(p["cmdline"]["text"] == cmdline, f"{what}: cmdline {p['cmdline']['text']!r}")
    check(len(p["modules"]) == len(files), f"{what}: {len(p['modules'])} modules, "
          f"expected {len(files)}")
    spans = []
    for m, (name, path) in zip(p["modules"], files):
        check(m["name"] == name, f"{what}: module name {m['name']!r}, expected {name!r}")
        data = open(path, "rb").read()
        check(m["size"] == len(data), f"{what}: {name}: size {m['size']} != {len(data)}")
        if m["sha256"] is not None:
            check(m["sha256"] == hashlib.sha256(data).hexdigest(), f"{what}: {name}: digest")
        check(m["gpa"] % PAGE == 0, f"{what}: {name}: module not page-aligned")
        check(m["gpa"] >= kernel_end and any(s <= m["gpa"] and m["gpa"] + m["size"] <= e
                                            for s, e in ram),
              f"{what}: {name}: [{m['gpa']:#x}, +{m['size']:#x}) not in RAM above the kernel")
        spans.append((m["gpa"], m["gpa"] + m["size"]))
    spans.sort()
    check(all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), f"{what}: modules overlap")


def test_plans(work):
    p = plan("--kernel", GUEST)
    if p:
        check_layout(p, 64 << 20, [], announced(""), "default")
        check(p["cpus"] == 1 and p["start_info"] == 0x6000 and p["trust_list"] is None,
              f"default: cpus/start_info/trust_list {p['cpus']} {p['start_info']} "
              f"{p['trust_list']}")

    one = os.path.join(work, "one.bin")
    with open(one, "wb") as f:
        f.write(os.urandom(12345))
    empty = os.path.join(work, "empty")
    open(empty, "wb").close()
    cmdline = 'run=hello "quoted" \\ tab\there ünïcode'
    p = plan("--kernel", GUEST, "--mem", "5G", "--cpus", "3", "--module", one,
             "--module", empty, "--append", cmdline)
    if p:
        check_layout(p, 5 << 30, [("one.bin", one), ("empty", empty)], announced(cmdline),
                     "5G")
        check(p["cpus"] == 3, "5G: cpus")
        check({"gpa": 1 << 32, "size": 2 << 30, "type": "ram"} in p["memory"]["map"],
              f"5G: no RAM above 4 GiB: {p['memory']['map']}")

    # The text plan says the same things.
    r = vmm("--dry-run", "--kernel", GUEST, "--module", one, "--append", "a\nb")
    out = r.stdout.decode()
    check(r.returncode == 0 and "dry run: no VM is created" in out and
          f"sha256 {sha256(one)}" in out and '"one.bin"' in out and
          '"a\\x0ab ' + TIMERPAGE + '"' in out and
          "start info  0x6000" in out, f"text plan: {out}")
    lines = 1 + 1 + 3 + 1 + len(elf_loads(GUEST)) + 1 + 1 + 1 + 1  # one module, 3 map entries
    check(len(out.splitlines()) == lines,
          f"text plan: {len(out.splitlines())} lines, expected {lines}: {out}")

    if VC_PACK:
        a, b = os.path.join(work, "alpha"), os.path.join(work, "beta")
        with open(a, "wb") as f:
            f.write(b"A" * 5000)
        with open(b, "wb") as f:
            f.write(b"B" * 70000)
        disk = os.path.join(work, "d.img")
        r = run(VC_PACK, "create", disk, a, b)
        check(r.returncode == 0, f"vc-pack create: {r.stderr}")
        p = plan("--kernel", GUEST, "--module", one, "--pack", disk)
        if p:
            # the block device announced on the command line
            check_layout(p, 64 << 20, [("one.bin", one), ("alpha", a), ("beta", b)],
                         announced("", blk=True), "--pack")
        if VC_MEASURE:
            r = run("sh", "-c", f"'{VC_MEASURE}' keygen k.pem k.pub && '{VC_MEASURE}' make "
                    f"-o list alpha=alpha beta=beta && '{VC_MEASURE}' sign -k k.pem list",
                    cwd=work)
            check(r.returncode == 0, f"vc-measure: {r.stderr}")
            p = plan("--kernel", GUEST, "--pack", disk, "--trust", os.path.join(work, "list"),
                     "--trust-key", os.path.join(work, "k.pub"))
            if p:
                check_layout(p, 64 << 20, [("alpha", a), ("beta", b)], announced("", blk=True),
                             "--trust")
                t = p["trust_list"]
                check(t and t["gpa"] == 0x30000 and t["size"] > 0, f"--trust: trust_list {t}")


def test_bad_inputs(work):
    """Each refusal has its own message and happens before /dev/kvm is opened."""
    def refused(args, status, needle, what):
        r = run(VC_VMM, *args, timeout=30)
        err = r.stderr.decode(errors="replace")
        check(r.returncode == status and needle in err and "vc-vmm: /dev/kvm" not in err and
              not r.stdout, f"{what}: exit {r.returncode}, stderr {err!r}")

    def write(name, data):
        path = os.path.join(work, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    script = write("script.sh", b"#!/bin/sh\necho hi\n")
    big = write("big.bin", b"")
    os.truncate(big, 4 << 20)
    for dry in ([], ["--dry-run"]):
        what = " ".join(dry) or "boot"
        refused(dry + ["--kernel", os.path.join(work, "absent.elf")], 1,
                "absent.elf: No such file or directory", f"{what}: missing kernel")
        refused(dry + ["--kernel", script], 1, "not an ELF file", f"{what}: not an ELF")
        refused(dry + ["--kernel", GUEST, "--module", os.path.join(work, "nomod")], 1,
                "nomod: No such file or directory", f"{what}: missing module")
        refused(dry + ["--kernel", GUEST, "--module", work], 1, "not a regular file",
                f"{what}: directory as module")
        refused(dry + ["--kernel", GUEST, "--mem", "3M", "--module", big], 1, "does not fit",
                f"{what}: module too big")
        refused(dry + ["--kernel", GUEST, "--mem", "1M"], 2, "--mem 1M", f"{what}: --mem")
        refused(dry + ["--kernel", GUEST, "--append", "x" * 5000], 2, "command line longer",
                f"{what}: --append")
        refused(dry + ["--kernel", GUEST, "--cpus", "0"], 2, "--cpus 0", f"{what}: --cpus")
        refused(dry + ["--kernel", GUEST, "--timerpage-mode", "fast"], 2,
                "--timerpage-mode fast: expected auto, tsc or tick", f"{what}: --timerpage-mode")
        refused(dry + ["--kernel", GUEST, "--timerpage-share", ""], 2,
                "--timerpage-share: expected a file path", f"{what}: --timerpage-share ''")
        if VC_PACK:
            refused(dry + ["--kernel", GUEST, "--pack", script], 1, "--pack",
                    f"{what}: not a packed disk")
        if VC_MEASURE:
            refused(dry + ["--kernel", GUEST, "--trust", script], 1, "--trust",
                    f"{what}: not a trust list")
            refused(dry + ["--kernel", GUEST, "--trust-key", script], 2,
                    "--trust-key needs --trust", f"{what}: key without list")
        # #26: inputs that are not files are refused at once, saying what they are (a
        # FIFO without a writer hung the open); a program is "not a PVH kernel"; --mem
        # goes up to 1T, its documented maximum.
        fifo = os.path.join(work, "in.fifo")
        if not os.path.exists(fifo):
            os.mkfifo(fifo)
        refused(dry + ["--kernel", fifo], 1, f"vc-vmm: {fifo}: a FIFO, not a regular file",
                f"{what}: FIFO kernel")
        refused(dry + ["--kernel", "/dev/zero"], 1,
                "vc-vmm: /dev/zero: a character device, not a regular file", f"{what}: /dev/zero")
        refused(dry + ["--kernel", GUEST, "--module", fifo], 1, f"{fifo}: a FIFO",
                f"{what}: FIFO module")
        refused(dry + ["--kernel", GUEST, "--module", big, "--mem", "3M"], 1,
                "big.bin: 4194304 bytes does not fit in guest RAM", f"{what}: module > --mem")
        refused(dry + ["--kernel", "/bin/sh"], 1, "no PVH entry note", f"{what}: a program")
        if VC_PACK:
            refused(dry + ["--kernel", GUEST, "--pack", fifo], 1,
                    f"--pack {fifo}: a FIFO, not a regular file or block device",
                    f"{what}: FIFO disk")
        if VC_MEASURE:
            refused(dry + ["--kernel", GUEST, "--trust", fifo], 1,
                    f"--trust {fifo}: a FIFO, not a regular file", f"{what}: FIFO list")
            refused(dry + ["--kernel", GUEST, "--trust", script, "--trust-key", fifo], 1,
                    f"--trust-key {fifo}: a FIFO, not a regular file", f"{what}: FIFO key")
    refused(["--kernel", GUEST, "--mem", "2T", "--dry-run"], 2, "--mem 2T: expected a size "
            "from 2M to 1T", "--mem 2T")
    p = plan("--kernel", GUEST, "--mem", "1T")
    check(p is not None, "--mem 1T refused")
    refused(["--kernel", GUEST, "--json"], 2, "--json goes with --dry-run", "--json alone")
    refused([], 2, "--kernel ELF is required", "no kernel")


def test_closed_stdout():
    """#26: a reader that went away (`vc-vmm ... | head -1`) does not kill vc-vmm with
    SIGPIPE (status 141): a boot goes on with its console output dropped and exits with
    the guest's status; --dry-run, whose output is its result, exits 1 saying so."""
    r_end, w_end = os.pipe()
    os.close(r_end)  # every write to w_end fails: EPIPE, or SIGPIPE unless ignored
    try:
        for args, status in ((["--dry-run"], 1), ([], 0)):
            r = subprocess.run([VC_VMM, "--kernel", GUEST, *args], stdout=w_end,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=120)
            err = r.stderr.decode(errors="replace")
            if not args and "/dev/kvm" in err:
                print("note: no usable /dev/kvm: a boot with a closed stdout is not checked")
                continue
            check(r.returncode == status, f"stdout closed {args}: exit {r.returncode}, {err!r}")
            if args:
                check("cannot write the boot plan" in err, f"--dry-run, closed stdout: {err!r}")
    finally:
        os.close(w_end)


def test_unusable_kvm():
    """A valid boot on a machine without a usable /dev/kvm names it. Where /dev/kvm works,
    a private mount namespace puts /dev/null in its place (present, but no KVM)."""
    if not os.path.exists("/dev/kvm"):
        r = vmm("--kernel", GUEST)
        check(r.returncode == 1 and b"/dev/kvm does not exist" in r.stderr,
              f"no /dev/kvm: {r.stderr}")
        return
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or not unshare:
        print("note: not root or no unshare: the unusable-/dev/kvm message is not checked")
        return
    r = run(unshare, "-m", "sh", "-c",
            f"mount --bind /dev/null /dev/kvm && exec '{VC_VMM}' --kernel '{GUEST}'")
    if b"mount" in r.stderr and r.returncode != 1:
        print(f"note: cannot bind-mount over /dev/kvm here: {r.stderr!r}")
        return
    check(r.returncode == 1 and b"does not answer KVM_GET_API_VERSION" in r.stderr,
          f"/dev/null as /dev/kvm: exit {r.returncode}, {r.stderr!r}")


def main():
    work = tempfile.mkdtemp(prefix="vc-vmm-plan-")
    try:
        test_plans(work)
        test_bad_inputs(work)
        test_unusable_kvm()
        test_closed_stdout()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"vc-vmm plan: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
