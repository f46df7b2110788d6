#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The objdump oracle: the sensitive instructions `objdump -d` shows in an object, as
"section offset mnemonic" lines (sorted), the same set vc-rewrite must report.

usage: objdump_oracle.py [--objdump OBJDUMP] OBJECT
"""
import re
import subprocess
import sys

PREFIXES = {"rep", "repz", "repnz", "repe", "repne", "lock", "cs", "ds", "es", "fs", "gs",
            "ss", "data16", "data32", "addr32", "addr16", "notrack", "bnd", "xacquire",
            "xrelease"}
PLAIN = {"cli", "sti", "pushf", "pushfw", "popf", "popfw", "hlt", "in", "out", "insb",
         "insw", "insl", "outsb", "outsw", "outsl", "rdmsr", "wrmsr", "lgdt", "sgdt",
         "lidt", "sidt", "lldt", "sldt", "ltr", "str", "smsw", "lmsw", "clts", "invlpg",
         "invpcid", "wbinvd", "invd", "cpuid", "rdtsc", "rdtscp", "rdpmc", "swapgs",
         "sysretq", "sysretl", "sysexitq", "sysexitl", "iret", "iretq", "iretw", "xsetbv",
         "lar", "lsl", "verr", "verw"}
SEG = re.compile(r"%(cs|ds|es|fs|gs|ss)\b")


def sensitive(words):
    while words and (words[0] in PREFIXES or words[0].startswith("rex")):
        words = words[1:]
    if not words:
        return None
    mn, ops = words[0], " ".join(words[1:]).split("#")[0]
    if mn in PLAIN:
        return mn
    if mn.startswith("mov") and (re.search(r"%(cr|db|dr)\d", ops) or
                                 any(SEG.fullmatch(o.strip()) for o in ops.split(","))):
        return mn
    if mn in ("push", "pop", "pushw", "popw", "pushq", "popq") and re.fullmatch(r"\s*%[fg]s\s*", ops):
        return mn
    return None


def main():
    args = sys.argv[1:]
    objdump = "objdump"
    if args[:1] == ["--objdump"]:
        objdump, args = args[1], args[2:]
    out = subprocess.run([objdump, "-d", "-w", "--no-show-raw-insn", args[0]], check=True,
                         capture_output=True, text=True).stdout
    section, rows = None, []
    for line in out.splitlines():
        m = re.match(r"Disassembly of section (\S+):", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"\s*([0-9a-f]+):\t(.*)$", line)
        if not m or section is None:
            continue
        mn = sensitive(m.group(2).split())
        if mn:
            rows.append(f"{section} {int(m.group(1), 16)} {mn}")
    if rows:
        print("\n".join(sorted(rows)))


if __name__ == "__main__":
    main()
