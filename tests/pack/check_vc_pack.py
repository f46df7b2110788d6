#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vc-pack end to end: its exact command-line interface, and what standard tools read in
the disks it makes. Oracles (all userspace, on the image file only): `sfdisk --json`,
`partx -P` and `blkid -p` (libblkid), `sgdisk -v` (gdisk). They must agree with
`vc-pack list --json` on every partition's name, start and size, and sgdisk must find no
problem. Those tools exit 0 on damaged tables too, so their output is what is checked.

usage: check_vc_pack.py VC_PACK
"""
import hashlib
import json
import os
import stat
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

VC_PACK = os.path.abspath(sys.argv[1])
SECTOR = 512
INDEX_SIZE = 1 << 20
TYPE_GUID = "1b12d3bb-8de0-4af0-88cd-d68f29e38bf9"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL " + what)


def run(*args, stdin=None, input_bytes=None, timeout=300):
    try:
        return subprocess.run(list(args), capture_output=True, stdin=stdin, input=input_bytes,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, -1, b"", f"timed out after {timeout} s".encode())


def vcpack(*args, **kw):
    return run(VC_PACK, *args, **kw)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def gpt_name(name):
    """The name as GPT holds it: 36 UTF-16 code units, never half a surrogate pair."""
    out, units = "", 0
    for ch in name:
        n = 2 if ord(ch) > 0xFFFF else 1
        if units + n > 36:
            break
        out, units = out + ch, units + n
    return out


def span(size, align):
    return max(size, 1) + (-max(size, 1)) % align


def unescape_blkid(s):
    """partx -P writes non-ASCII and quotes as \\xNN."""
    raw = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), s.encode())
    return raw.decode("utf-8")


def tool(name):
    for d in ("", "/usr/sbin/", "/sbin/"):
        p = shutil.which(d + name) if d == "" else (d + name if os.path.exists(d + name) else None)
        if p:
            return p
    return None


def check_oracles(disk, listing, align, label):
    # sfdisk --json
    sf = run(tool("sfdisk"), "--json", disk)
    check(sf.returncode == 0, f"{label}: sfdisk --json exit {sf.returncode}: {sf.stderr}")
    table = json.loads(sf.stdout)["partitiontable"]
    check(table["label"] == "gpt", f"{label}: sfdisk label {table['label']}")
    parts = table.get("partitions", [])
    check(len(parts) == len(listing), f"{label}: sfdisk sees {len(parts)} partitions, index {len(listing)}")
    for img, part in zip(listing, parts):
        what = f"{label}: sfdisk partition {img['partition']}"
        check(part["start"] == img["offset"] // SECTOR, f"{what}: start {part['start']}")
        check(part["size"] == span(img["size"], align) // SECTOR, f"{what}: size {part['size']}")
        check(part.get("name", "") == gpt_name(img["name"]), f"{what}: name {part.get('name')!r}")
        check(part["uuid"].lower() == img["uuid"], f"{what}: uuid {part['uuid']}")
        check(part["type"].lower() == TYPE_GUID, f"{what}: type {part['type']}")

    # libblkid: the table type and disk GUID, then every partition through partx
    bl = run(tool("blkid"), "-p", "-o", "export", disk)
    fields = dict(line.split("=", 1) for line in bl.stdout.decode().splitlines() if "=" in line)
    check(fields.get("PTTYPE") == "gpt", f"{label}: blkid PTTYPE {fields.get('PTTYPE')}")
    px = run(tool("partx"), "-P", "-o", "NR,START,SECTORS,NAME,UUID,TYPE", disk)
    rows = [dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line))
            for line in px.stdout.decode().splitlines()]
    check(len(rows) == len(listing), f"{label}: partx sees {len(rows)} partitions")
    for img, row in zip(listing, rows):
        what = f"{label}: partx partition {row.get('NR')}"
        check(int(row["NR"]) == img["partition"], f"{what}: number")
        check(int(row["START"]) == img["offset"] // SECTOR, f"{what}: start")
        check(int(row["SECTORS"]) == span(img["size"], align) // SECTOR, f"{what}: sectors")
        check(unescape_blkid(row["NAME"]) == gpt_name(img["name"]), f"{what}: name {row['NAME']!r}")
        check(row["UUID"] == img["uuid"], f"{what}: uuid")
        check(row["TYPE"] == TYPE_GUID, f"{what}: type")

    # sgdisk -v: no problem, no caution (a Warning about the gap before LBA 2048, where
    # our own index lives, is expected: docs/pack-format.md)
    sg = run(tool("sgdisk"), "-v", disk)
    out = sg.stdout.decode() + sg.stderr.decode()
    check("No problems found" in out, f"{label}: sgdisk -v: {out}")
    for bad in ("Caution", "corrupt", "Problem:"):
        check(bad not in out, f"{label}: sgdisk -v says {bad}: {out}")


def check_set(work, files, align_opt, label, size_opt=None):
    """Packs @files (name -> path), then checks list, oracles, extract, verify."""
    disk = os.path.join(work, "disk.img")
    args = ["create"]
    if size_opt:
        args += ["--size", size_opt]
    if align_opt:
        args += ["--align", align_opt]
    args.append(disk)
    for name, path in files:
        args.append(path if os.path.basename(path) == name else f"{name}={path}")
    r = vcpack(*args)
    check(r.returncode == 0, f"{label}: create exit {r.returncode}: {r.stderr.decode()}")
    if r.returncode:
        return
    r = vcpack("list", "--json", disk)
    check(r.returncode == 0, f"{label}: list --json exit {r.returncode}")
    listing = json.loads(r.stdout)
    align = (1 << 20) if align_opt == "1m" else 4096
    check(len(listing) == len(files), f"{label}: {len(listing)} images listed")
    for (name, path), img in zip(files, listing):
        for key in ("name", "size", "offset", "sha256", "uuid"):
            check(key in img, f"{label}: list --json lacks {key}")
        check(img["name"] == name, f"{label}: name {img['name']!r} != {name!r}")
        check(img["size"] == os.path.getsize(path), f"{label}: {name}: size")
        check(img["offset"] % align == 0 and img["offset"] >= INDEX_SIZE, f"{label}: {name}: offset")
        check(img["sha256"] == sha256(path), f"{label}: {name}: sha256")
        check(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", img["uuid"]) is not None,
              f"{label}: {name}: uuid {img['uuid']}")
    check_oracles(disk, listing, align, label)

    out = os.path.join(work, "out")
    shutil.rmtree(out, ignore_errors=True)
    os.mkdir(out)
    r = vcpack("extract", disk, "-C", out)
    check(r.returncode == 0, f"{label}: extract exit {r.returncode}: {r.stderr.decode()}")
    for name, path in files:
        got = os.path.join(out, name)
        check(os.path.exists(got) and sha256(got) == sha256(path), f"{label}: extracted {name}")
    r = vcpack("verify", disk)
    check(r.returncode == 0 and b"OK" in r.stdout, f"{label}: verify: {r.stdout} {r.stderr}")


def make(work, name, data=None, size=None, sparse_at=()):
    src = os.path.join(work, "src")
    os.makedirs(src, exist_ok=True)
    path = os.path.join(src, name)
    with open(path, "wb") as f:
        if data is not None:
            f.write(data)
        if size is not None:
            f.truncate(size)
            for off in sparse_at:
                f.seek(off)
                f.write(b"data")
    return (name, path)


def test_sets(work):
    rnd = random.Random(7)
    edge = [make(work, "empty", b""), make(work, "one", b"x"),
            make(work, "odd-size.bin", rnd.randbytes(4097)),
            make(work, "sector.bin", rnd.randbytes(512)),
            make(work, "sparse.img", size=(5 << 20) + 3, sparse_at=(0, 3 << 20)),
            make(work, "kernel", rnd.randbytes(300000))]
    check_set(work, edge, None, "edge sizes, 4k")
    check_set(work, edge, "1m", "edge sizes, 1m")
    check_set(work, edge, "4k", "edge sizes, fixed size", size_opt="16M")
    many = []
    for i in range(120):
        name = (f"ünïcødé-😀-{i:03d}-a-name-longer-than-the-thirty-six-gpt-units" if i % 2
                else f"image {i:03d}.bin")
        many.append(make(work, name, rnd.randbytes(rnd.randrange(0, 9000))))
    check_set(work, many, None, "120 images")


def test_interface(work):
    a = make(work, "a.txt", b"hello")
    b = make(work, "b.bin", b"\0" * 10000)
    disk = os.path.join(work, "i.img")

    for cmd in ([], ["create"], ["list"], ["extract"], ["verify"]):
        r = vcpack(*(cmd + ["--help"]))
        check(r.returncode == 0 and b"usage: vc-pack" in r.stdout, f"--help {cmd}: {r.returncode}")
    r = vcpack("frobnicate")
    check(r.returncode == 2 and b"unknown command" in r.stderr, "unknown command")
    r = vcpack("create", "--align", "2m", disk, a[1])
    check(r.returncode == 2, "bad --align is a usage error")
    r = vcpack("create", "--size", "12x", disk, a[1])
    check(r.returncode == 2, "bad --size is a usage error")

    def fails(args, needle, label):
        if os.path.exists(disk):
            os.unlink(disk)
        r = vcpack(*args)
        err = r.stderr.decode()
        check(r.returncode == 1, f"{label}: exit {r.returncode}")
        check(err.startswith(f"vc-pack: {args[1] if args[0] != 'create' else disk}: ")
              or err.startswith(f"vc-pack: {args[-1]}: "), f"{label}: message {err!r}")
        check(needle in err, f"{label}: {needle!r} not in {err!r}")
        check(not os.path.exists(disk) or args[0] != "create", f"{label}: a disk was left")
        check(not [f for f in os.listdir(work) if "vcpack" in f], f"{label}: temporary file left")

    # #26: the output's symlinks are followed, a FIFO or directory is refused untouched,
    # and a 255-byte output name works (the temporary name does not grow from it).
    real = os.path.join(work, "real.img")
    link = os.path.join(work, "link.img")
    make(work, "real.img", b"old")
    os.symlink("real.img", link)  # relative: against the link's own directory
    r = vcpack("create", link, a[1])
    check(r.returncode == 0, f"create through a symlink: {r.stderr}")
    check(os.path.islink(link) and os.readlink(link) == "real.img", "the symlink was replaced")
    r = vcpack("list", real)
    check(r.returncode == 0 and b"a.txt" in r.stdout, "the symlink's target is not the disk")
    fifo = os.path.join(work, "out.fifo")
    os.mkfifo(fifo)
    r = vcpack("create", fifo, a[1])
    check(r.returncode == 1 and b"is a FIFO" in r.stderr, f"create onto a FIFO: {r.stderr}")
    check(stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced")
    os.symlink("out.fifo", os.path.join(work, "to-fifo"))
    r = vcpack("create", os.path.join(work, "to-fifo"), a[1])
    check(r.returncode == 1 and b"is a FIFO" in r.stderr, f"through a symlink to a FIFO: {r.stderr}")
    os.mkdir(os.path.join(work, "adir"))
    r = vcpack("create", os.path.join(work, "adir"), a[1])
    check(r.returncode == 1 and b"is a directory" in r.stderr, f"onto a directory: {r.stderr}")
    exdir = os.path.join(work, "ex")
    os.mkdir(exdir)
    os.symlink("../out.fifo", os.path.join(exdir, "a.txt"))
    r = vcpack("extract", real, "-C", exdir)
    check(r.returncode == 1 and b"is a FIFO" in r.stderr, f"extract onto a FIFO: {r.stderr}")
    check(stat.S_ISFIFO(os.lstat(fifo).st_mode), "extract replaced the FIFO")
    shutil.rmtree(exdir)
    if os.geteuid() == 0:
        node = os.path.join(work, "null-node")
        os.mknod(node, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        r = vcpack("create", node, a[1])
        check(r.returncode == 1 and b"is a character device" in r.stderr, f"onto a device: {r.stderr}")
        check(stat.S_ISCHR(os.lstat(node).st_mode), "the device node was replaced")
        os.unlink(node)
    longname = os.path.join(work, "d" * 251 + ".img")
    r = vcpack("create", longname, a[1])
    check(r.returncode == 0 and os.path.exists(longname), f"255-byte output name: {r.stderr}")
    for p in (longname, link, real, fifo, os.path.join(work, "to-fifo")):
        os.unlink(p)
    os.rmdir(os.path.join(work, "adir"))
    check(not [f for f in os.listdir(work) if "vcpack" in f], "a temporary file was left")

    fails(["create", disk, a[1], a[1]], "already in the disk", "duplicate name")
    fails(["create", disk, os.path.join(work, "missing")], "cannot open", "missing file")
    fails(["create", disk, "x" * 256 + "=" + a[1]], "longer than 255", "name too long")
    fails(["create", disk, "sub/dir=" + a[1]], "'/'", "slash in name")
    fails(["create", "--size", "1M", disk, a[1]], "cannot hold the index", "disk too small")
    fails(["create", "--size", "1064K", disk, a[1], b[1]], "does not fit", "images too big")
    fails(["create", "--size", "1000000", disk, a[1]], "multiple of 512", "size not sectors")
    r = subprocess.run([VC_PACK, "create", disk, b"latin1-\xe9=" + a[1].encode()],
                       capture_output=True)
    check(r.returncode == 1 and b"not valid UTF-8" in r.stderr, f"non-UTF-8 name: {r.stderr}")

    # NAME=FILE, a pipe, and an existing file whose name has '='
    eq = make(work, "x=y", b"equals")
    with subprocess.Popen(["printf", "from a pipe"], stdout=subprocess.PIPE) as p:
        r = vcpack("create", disk, "renamed=" + a[1], eq[1], "piped=/dev/stdin", stdin=p.stdout)
    check(r.returncode == 0, f"NAME=FILE create: {r.stderr}")
    listing = json.loads(vcpack("list", "--json", disk).stdout)
    check([i["name"] for i in listing] == ["renamed", "x=y", "piped"], f"names {listing}")
    check(listing[2]["size"] == 11, "piped size")
    r = vcpack("list", disk)
    check(r.returncode == 0 and b"renamed" in r.stdout and b"SHA256" in r.stdout, "list text")

    out = os.path.join(work, "sel")
    os.mkdir(out)
    r = vcpack("extract", disk, "piped", "x=y", "-C", out)
    check(r.returncode == 0 and sorted(os.listdir(out)) == ["piped", "x=y"],
          f"extract by name: {os.listdir(out)} {r.stderr}")
    check(open(os.path.join(out, "piped"), "rb").read() == b"from a pipe", "piped content")
    r = vcpack("extract", disk, "nope", "-C", out)
    check(r.returncode == 1 and b'no image named "nope"' in r.stderr, "extract unknown name")
    cwd = os.getcwd()
    os.chdir(out)
    r = vcpack("extract", disk, "renamed")
    os.chdir(cwd)
    check(r.returncode == 0 and os.path.exists(os.path.join(out, "renamed")), "extract to cwd")

    # damage: the index header, the data, the length
    bad = os.path.join(work, "bad.img")
    shutil.copy(disk, bad)
    with open(bad, "r+b") as f:
        f.seek(65536 + 24)
        f.write(b"\x07")
    for cmd in ("list", "verify"):
        r = vcpack(cmd, bad)
        check(r.returncode == 1 and r.stderr.decode().startswith(f"vc-pack: {bad}: index header CRC"),
              f"{cmd} on a bad header: {r.stderr}")
    r = vcpack("extract", bad, "-C", out)
    check(r.returncode == 1, "extract on a bad header")
    shutil.copy(disk, bad)
    with open(bad, "r+b") as f:
        f.seek(listing[0]["offset"] + 1)
        f.write(b"!")
    r = vcpack("verify", bad)
    check(r.returncode == 1 and b"renamed is corrupt" in r.stderr, f"verify bad data: {r.stderr}")
    os.unlink(os.path.join(out, "renamed"))
    r = vcpack("extract", bad, "renamed", "-C", out)
    check(r.returncode == 1 and not os.path.exists(os.path.join(out, "renamed")),
          "a corrupt image is not extracted")
    # #26: verify covers the whole disk, not only the structures and the digests: each
    # of these passed before (list still opens them: it needs only the structures).
    first = listing[0]
    pad_at = first["offset"] + first["size"]  # the padding after the first image
    cases = [(446 + 16 + 4, 0x83, "the MBR's partition table (a hybrid MBR?)"),
             (446 + 16, 0x80, "the MBR's partition table (a hybrid MBR?)"),
             (200, 0x01, "the MBR's boot code area"),
             (512 + 300, 0x01, "the reserved bytes of a GPT header sector"),
             (os.path.getsize(disk) - 100, 0x01, "the reserved bytes of a GPT header sector"),
             (40000, 0x01, "the index region between its structures"),
             (300000, 0x01, "the index region past the entries"),
             (pad_at, 0x01, f"the padding after image {first['name']}")]
    for off, val, says in cases:
        shutil.copy(disk, bad)
        with open(bad, "r+b") as f:
            f.seek(off)
            f.write(bytes([val]))
        r = vcpack("verify", bad)
        check(r.returncode == 1 and says.encode() in r.stderr and f"byte {off:#x}".encode()
              in r.stderr, f"verify, byte {off:#x} set: {r.returncode} {r.stderr}")
        check(vcpack("list", bad).returncode == 0, f"list refused byte {off:#x}")
    check(vcpack("verify", disk).returncode == 0, "verify on the good disk")

    shutil.copy(disk, bad)
    os.truncate(bad, os.path.getsize(disk) - 4096)
    r = vcpack("list", bad)
    check(r.returncode == 1 and b"truncated" in r.stderr, f"truncated disk: {r.stderr}")
    r = vcpack("list", "--json", os.path.join(work, "absent.img"))
    check(r.returncode == 1 and b"No such file" in r.stderr, f"absent disk: {r.stderr}")

    # #26: a disk that is a FIFO without a writer is refused at once (the open hung), and
    # so is a character device.
    fifo = os.path.join(work, "in.fifo")
    os.mkfifo(fifo)
    for path, kind in ((fifo, "a FIFO"), ("/dev/zero", "a character device")):
        for cmd in (["list", path], ["list", "--json", path], ["verify", path],
                    ["extract", path, "-C", out]):
            r = run(VC_PACK, *cmd, timeout=20)
            check(r.returncode == 1 and r.stderr.decode() == f"vc-pack: {path}: {kind}, not a "
                  "regular file or block device\n", f"{cmd}: {r.returncode} {r.stderr}")
    os.unlink(fifo)

    # #26: a failed write to standard output is an error (list --json > full-fs/out.json
    # exited 0 with an empty file).
    with open("/dev/full", "wb") as full:
        for cmd in (["list", disk], ["list", "--json", disk], ["verify", disk]):
            r = subprocess.run([VC_PACK, *cmd], stdout=full, stderr=subprocess.PIPE)
            check(r.returncode == 1 and r.stderr == b"vc-pack: standard output: No space left "
                  b"on device\n", f"{cmd} > /dev/full: {r.returncode} {r.stderr}")

    # #26: names are echoed escaped: an error stays one line, no ESC reaches the terminal.
    r = vcpack("extract", disk, "a\nb\x1b[31m")
    check(r.returncode == 1 and r.stderr == f'vc-pack: {disk}: no image named "a\\x0ab\\x1b[31m"\n'.encode(),
          f"unknown name echoed: {r.stderr}")
    r = vcpack("create", os.path.join(work, "esc.img"), "bad\nname=" + a[1])
    check(r.returncode == 1 and r.stderr.count(b"\n") == 1 and b'"bad\\x0aname": the name has a '
          b"control character" in r.stderr, f"refused name echoed: {r.stderr}")

    # #26: a full filesystem is reported as that (it was "it does not fit in the disk", or
    # no detail at all when a worker thread hit it), and leaves nothing.
    small = os.path.join(work, "small")
    os.mkdir(small)
    if os.geteuid() == 0 and run("mount", "-t", "tmpfs", "-o", "size=2M", "tmpfs", small).returncode == 0:
        try:
            big = make(work, "big.bin", os.urandom(3 << 20))
            target = os.path.join(small, "d.img")
            r = vcpack("create", target, big[1])
            check(r.returncode == 1 and b"copying image big.bin failed: the filesystem is full"
                  in r.stderr, f"full filesystem, file: {r.stderr}")
            with open(big[1], "rb") as src:
                r = vcpack("create", target, "s=/dev/stdin", input_bytes=src.read())  # a pipe
            check(r.returncode == 1 and b'writing "s": the filesystem is full' in r.stderr and
                  b"does not fit" not in r.stderr, f"full filesystem, stream: {r.stderr}")
            check(os.listdir(small) == [], f"a full filesystem kept {os.listdir(small)}")
        finally:
            run("umount", small)
    else:
        print("note: not root or no tmpfs: the full-filesystem messages are not checked")

    # #26: -C '' (an unset shell variable) is refused; it wrote into / before.
    name = f"vc-pack-empty-C-{os.getpid()}"
    named = make(work, name, b"must not reach /")
    d2 = os.path.join(work, "c.img")
    check(vcpack("create", d2, named[1]).returncode == 0, "create for -C ''")
    for cmd in (["extract", d2, "-C", ""], ["extract", d2, name, "-C", ""], ["extract", d2, "-C"]):
        r = vcpack(*cmd)
        check(r.returncode == 2 and b"-C needs a DIR" in r.stderr, f"{cmd}: {r.returncode} {r.stderr}")
    check(not os.path.exists("/" + name), "extract -C '' wrote into /")
    if os.path.exists("/" + name):
        os.unlink("/" + name)

    # #26: create interrupted by SIGINT, SIGTERM or SIGHUP while it copies leaves nothing
    # beside the target (a hidden .vcpack-*.tmp of the disk's size stayed).
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        target = os.path.join(work, "interrupted.img")
        p = subprocess.Popen([VC_PACK, "create", target, "s=/dev/stdin"], stdin=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        p.stdin.write(b"x" * (4 << 20))
        p.stdin.flush()
        time.sleep(0.2)
        p.send_signal(sig)
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
        p.wait(timeout=30)
        p.stderr.close()
        left = [f for f in os.listdir(work) if "vcpack" in f or f == "interrupted.img"]
        check(p.returncode == -sig and not left, f"{sig.name}: exit {p.returncode}, left {left}")


def main():
    for t in ("sfdisk", "sgdisk", "blkid", "partx"):
        if not tool(t):
            print(f"SKIP: {t} not installed (packages fdisk, gdisk, util-linux; scripts/setup)")
            return 77
    work = tempfile.mkdtemp(prefix="vc-pack-cli-")
    try:
        test_sets(work)
        test_interface(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"vc-pack: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
