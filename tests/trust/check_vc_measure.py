#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vc-measure end to end: its exact interface and messages, and the TCG event log it
writes checked by an independent reader: `tpm2_eventlog` (tpm2-tools) must parse the log,
see every event, and compute the same PCR values as vc-measure (for several random stage
sets, SHA-256 and SHA-384).

usage: check_vc_measure.py VC_MEASURE
"""
import hashlib
import os
import stat
import random
import re
import shutil
import subprocess
import sys
import tempfile

VC = os.path.abspath(sys.argv[1])
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL " + what)


def vcm(*args, timeout=120):
    try:
        return subprocess.run([VC] + list(args), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, -1, "", f"timed out after {timeout} s")


def replay(digests, alg):
    pcr = bytes(hashlib.new(alg).digest_size)
    for d in digests:
        pcr = hashlib.new(alg, pcr + d).digest()
    return pcr.hex()


def tpm2_pcrs(log):
    r = subprocess.run(["tpm2_eventlog", log], capture_output=True, text=True)
    pcrs = {}
    bank = None
    in_pcrs = False
    for line in r.stdout.splitlines():
        if line.startswith("pcrs:"):
            in_pcrs = True
            continue
        if not in_pcrs:
            continue
        m = re.match(r"^  (sha\d+):$", line)
        if m:
            bank = m.group(1)
            continue
        m = re.match(r"^\s+(\d+)\s*:\s*0x([0-9A-Fa-f]+)", line)
        if m and bank:
            pcrs[(bank, int(m.group(1)))] = m.group(2).lower()
    events = len(re.findall(r"EventType: EV_IPL", r.stdout))
    warnings = r.stderr.strip()
    return r.returncode, pcrs, events, warnings


def test_oracle(work):
    rnd = random.Random(11)
    for trial in range(6):
        alg = "sha384" if trial % 2 else "sha256"
        n = rnd.randrange(1, 9)
        stages = []
        for i in range(n):
            name = f"stage{i}-{rnd.randrange(1000)}"
            path = os.path.join(work, f"t{trial}-{i}.bin")
            with open(path, "wb") as f:
                f.write(rnd.randbytes(rnd.randrange(0, 300000)))
            stages.append((name, path))
        lst = os.path.join(work, f"list{trial}")
        log = os.path.join(work, f"log{trial}")
        args = [f"{nm}={p}" for nm, p in stages]
        r = vcm("make", "-o", lst, "--alg", alg, *args)
        check(r.returncode == 0, f"trial {trial}: make: {r.stderr}")
        r = vcm("sign", "-k", os.path.join(work, "k.pem"), lst)
        check(r.returncode == 0, f"trial {trial}: sign: {r.stderr}")
        r = vcm("verify", "-p", os.path.join(work, "k.pub"), "--log", log, lst, *args)
        check(r.returncode == 0, f"trial {trial}: verify: {r.stderr}")
        want = replay([hashlib.new(alg, open(p, "rb").read()).digest() for _, p in stages], alg)
        check(f"PCR 9 {alg}: {want}" in r.stdout, f"trial {trial}: verify says {r.stdout!r}")
        rc, pcrs, events, warnings = tpm2_pcrs(log)
        check(rc == 0, f"trial {trial}: tpm2_eventlog exit {rc}")
        check(pcrs.get((alg, 9)) == want, f"trial {trial}: tpm2_eventlog PCR 9 {pcrs} != {want}")
        check(events == n, f"trial {trial}: tpm2_eventlog saw {events} events, {n} written")
        check("ERROR" not in warnings and "WARN" not in warnings,
              f"trial {trial}: tpm2_eventlog complains: {warnings}")
        r = vcm("log", log)
        check(r.returncode == 0 and f"pcr 9 {alg}: {want}" in r.stdout,
              f"trial {trial}: vc-measure log: {r.stdout} {r.stderr}")


def test_interface(work):
    for cmd in ([], ["keygen"], ["make"], ["sign"], ["verify"], ["show"], ["log"]):
        r = vcm(*(cmd + ["--help"]))
        check(r.returncode == 0 and "usage: vc-measure" in r.stdout, f"--help {cmd}")
    check(vcm("frob").returncode == 2, "unknown command")
    check(vcm("make", "x=y").returncode == 2, "make without -o")
    check(vcm("make", "-o", "l", "--alg", "md5", "x=y").returncode == 2, "bad --alg")

    a, b, c = (os.path.join(work, n) for n in ("a", "b", "c"))
    for p, data in ((a, b"first stage"), (b, b"second stage"), (c, b"third stage")):
        with open(p, "wb") as f:
            f.write(data)
    lst = os.path.join(work, "list")
    pub = os.path.join(work, "k.pub")
    r = vcm("make", "-o", lst, f"Stage1={a}", f"Start={b}", f"Stage2={c}")
    check(r.returncode == 0, f"make: {r.stderr}")
    r = vcm("verify", "-p", pub, lst, f"Stage1={a}")
    check(r.returncode == 1 and "the list is unsigned" in r.stderr, f"unsigned: {r.stderr}")
    check(vcm("sign", "-k", os.path.join(work, "k.pem"), lst).returncode == 0, "sign")
    r = vcm("show", lst)
    check(r.returncode == 0 and "3 stages, signed (Ed25519)" in r.stdout
          and "\n1 Start stage 12 sha256:" + hashlib.sha256(b"second stage").hexdigest()
          in r.stdout, f"show: {r.stdout}")

    def refused(args, message, label):
        r = vcm(*args, timeout=20)
        check(r.returncode == 1, f"{label}: exit {r.returncode}")
        check(message in r.stderr, f"{label}: {message!r} not in {r.stderr!r}")

    # #26: signing through a symlink signs the list it names (the link stays); a FIFO
    # or a directory as an output is refused untouched; a 255-byte output name works.
    real = os.path.join(work, "real-list")
    link = os.path.join(work, "list-link")
    check(vcm("make", "-o", real, f"Stage1={a}").returncode == 0, "make the real list")
    os.symlink("real-list", link)
    r = vcm("sign", "-k", os.path.join(work, "k.pem"), link)
    check(r.returncode == 0, f"sign through a symlink: {r.stderr}")
    check(os.path.islink(link), "sign replaced the symlink")
    r = vcm("show", real)
    check(r.returncode == 0 and "signed (Ed25519)" in r.stdout, f"the real list unsigned: {r.stdout}")
    fifo = os.path.join(work, "out.fifo")
    os.mkfifo(fifo)
    refused(["make", "-o", fifo, f"Stage1={a}"], "is a FIFO", "make -o FIFO")
    check(stat.S_ISFIFO(os.lstat(fifo).st_mode), "make replaced the FIFO")
    os.mkdir(os.path.join(work, "adir"))
    refused(["make", "-o", os.path.join(work, "adir"), f"Stage1={a}"], "is a directory",
            "make -o directory")
    longname = os.path.join(work, "l" * 255)
    r = vcm("make", "-o", longname, f"Stage1={a}")
    check(r.returncode == 0 and os.path.exists(longname), f"255-byte output name: {r.stderr}")
    for p in (real, link, fifo, longname):
        os.unlink(p)
    os.rmdir(os.path.join(work, "adir"))
    check(not [f for f in os.listdir(work) if "vctrust" in f], "a temporary file was left")

    ok = [f"Stage1={a}", f"Start={b}", f"Stage2={c}"]
    r = vcm("verify", "-p", pub, lst, *ok)
    check(r.returncode == 0 and "3 stages verified in order, signature OK" in r.stdout,
          f"verify: {r.stdout} {r.stderr}")
    want = hashlib.sha256(b"second stage").hexdigest()
    got = hashlib.sha256(b"first stage").hexdigest()
    refused(["verify", "-p", pub, lst, f"Stage1={a}", f"Start={a}"],
            "vc-measure: stage Start: size mismatch (expected 12 bytes, got 11)", "size")
    with open(os.path.join(work, "b2"), "wb") as f:
        f.write(b"second stagE")
    got = hashlib.sha256(b"second stagE").hexdigest()
    refused(["verify", "-p", pub, lst, f"Stage1={a}", f"Start={os.path.join(work, 'b2')}"],
            f"vc-measure: stage Start: digest mismatch (expected {want}, got {got})", "digest")
    refused(["verify", "-p", pub, lst, f"Stage1={a}", f"Stage2={c}"],
            "vc-measure: stage Stage2: out of order", "order")
    refused(["verify", "-p", pub, lst, f"Stage1={a}", f"Other={c}"],
            "vc-measure: stage Other: not in the list", "unknown")
    refused(["verify", "-p", pub, lst, f"Stage1={a}", f"Start={b}"],
            "vc-measure: stage Stage2: missing", "missing")
    refused(["verify", "-p", pub, lst, f"Stage1={os.path.join(work, 'nope')}"],
            "nope", "missing file")
    r = vcm("verify", lst, *ok)
    check(r.returncode == 0 and "signature not checked" in r.stderr, "verify without -p warns")

    subprocess.run([VC, "keygen", os.path.join(work, "o.pem"), os.path.join(work, "o.pub")])
    refused(["verify", "-p", os.path.join(work, "o.pub"), lst, *ok], "the pinned key is",
            "other key")
    # any byte changed in the signed list
    data = open(lst, "rb").read()
    for i in range(0, len(data), 37):
        bad = bytearray(data)
        bad[i] ^= 0x20
        with open(os.path.join(work, "bad"), "wb") as f:
            f.write(bad)
        r = vcm("verify", "-p", pub, os.path.join(work, "bad"), *ok)
        check(r.returncode == 1, f"byte {i} changed: still accepted")
    with open(os.path.join(work, "bad"), "wb") as f:
        f.write(data[:-5])
    refused(["verify", "-p", pub, os.path.join(work, "bad"), *ok], "truncated", "truncated")
    refused(["log", lst], "event log: the first event is not an EV_NO_ACTION", "log on a list")

    # #26: where a file is read, a FIFO without a writer is refused at once (the open hung
    # forever), and so is a character device (make x=/dev/zero hashed forever).
    fifo = os.path.join(work, "in.fifo")
    os.mkfifo(fifo)
    for args in (["show", fifo], ["log", fifo], ["sign", "-k", fifo, lst],
                 ["verify", "-p", fifo, lst, *ok], ["verify", "-p", pub, fifo, *ok],
                 ["verify", "-p", pub, lst, f"Stage1={fifo}"], ["make", "-o", "x", f"x={fifo}"]):
        refused(args, f"{fifo}: a FIFO, not a regular file or block device", f"{args[0]} FIFO")
    # #26: stage names are UTF-8 without controls (docs/trust-format.md): a C1 control or
    # bytes that are not UTF-8 are refused, echoed escaped on one line; UTF-8 is accepted.
    for bad, shown in ((b"st\xc2\x85x", "st\\xc2\\x85x"), (b"st\xffx", "st\\xffx"),
                       (b"st\nx", "st\\x0ax")):
        r = subprocess.run([VC.encode(), b"make", b"-o", os.path.join(work, "nl").encode(),
                            bad + b"=" + a.encode()], capture_output=True)
        err = r.stderr.decode()
        check(r.returncode == 1 and err.count("\n") == 1 and f'stage name "{shown}" must be' in err,
              f"stage name {bad!r}: {r.returncode} {err!r}")
    r = vcm("make", "-o", os.path.join(work, "utf8"), f"St\u00e4ge={a}")
    check(r.returncode == 0 and "St\u00e4ge" in vcm("show", os.path.join(work, "utf8")).stdout,
          f"a UTF-8 stage name: {r.stderr}")
    # #26: destructive commands are refused before anything is written: one file for both
    # keys (the private key was lost), a public path that cannot be written (the private
    # key was left alone), an output that is one of the inputs (make -o STAGEFILE, verify
    # --log LIST).
    same = os.path.join(work, "same.pem")
    refused(["keygen", same, os.path.join(work, ".", "same.pem")], "are the same file",
            "keygen same same")
    check(not os.path.exists(same), "keygen same same left a file")
    lone = os.path.join(work, "lone.pem")
    refused(["keygen", lone, os.path.join(work, "nodir", "k.pub")], "nodir", "keygen nodir")
    check(not os.path.exists(lone), "keygen with an unwritable public path left the private key")
    stage = os.path.join(work, "stage-file")
    with open(stage, "wb") as f:
        f.write(b"stage bytes")
    refused(["make", "-o", stage, f"S={stage}"], f"-o {stage}: that is also an input",
            "make -o STAGEFILE")
    check(open(stage, "rb").read() == b"stage bytes", "make -o STAGEFILE overwrote the stage")
    before = open(lst, "rb").read()
    refused(["verify", "--log", lst, "-p", pub, lst, *ok], f"--log {lst}: that is also an input",
            "verify --log LIST")
    refused(["verify", "--log", a, "-p", pub, lst, *ok], f"--log {a}: that is also an input",
            "verify --log STAGEFILE")
    check(open(lst, "rb").read() == before, "verify --log LIST overwrote the list")
    with open("/dev/full", "w") as full:
        for args in (["show", lst], ["verify", "-p", pub, lst, *ok]):
            r = subprocess.run([VC, *args], stdout=full, stderr=subprocess.PIPE, text=True)
            check(r.returncode == 1 and r.stderr == "vc-measure: standard output: No space "
                  "left on device\n", f"{args[0]} > /dev/full: {r.returncode} {r.stderr!r}")
    refused(["make", "-o", os.path.join(work, "z"), "z=/dev/zero"],
            "vc-measure: /dev/zero: a character device, not a regular file or block device",
            "make from /dev/zero")
    check(not os.path.exists(os.path.join(work, "z")), "make from /dev/zero left a list")
    os.unlink(fifo)


def main():
    if not shutil.which("tpm2_eventlog"):
        print("SKIP: tpm2_eventlog not installed (package tpm2-tools; scripts/setup)")
        return 77
    work = tempfile.mkdtemp(prefix="vc-measure-")
    try:
        r = vcm("keygen", os.path.join(work, "k.pem"), os.path.join(work, "k.pub"))
        check(r.returncode == 0, f"keygen: {r.stderr}")
        test_oracle(work)
        test_interface(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"vc-measure: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
