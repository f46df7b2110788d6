#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Builds the freestanding guest: each user program into a flat binary at
USER_BASE, then the kernel ELF (PVH) with those binaries embedded.

Called by meson (ref-vmm/guest/meson.build); writes a depfile so editing any
guest source rebuilds it. Usage:
  build.py --cc CC --out KERNEL.elf --depfile FILE --workdir DIR PROGRAM.c...
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

COMMON = [
    '-std=gnu11', '-O2', '-g', '-Wall', '-Wextra', '-Werror',
    '-ffreestanding', '-fno-stack-protector', '-fno-asynchronous-unwind-tables',
    '-fcf-protection=none', '-mgeneral-regs-only', '-mno-red-zone',
    '-fno-omit-frame-pointer', '-MD',
]
# Guest programs may use libvirtcore's freestanding headers (ring_abi.h, trust_abi.h).
COMMON += ['-I', os.path.join(HERE, '..', '..', 'include')]
KERNEL = ['-fno-pic', '-mcmodel=small']
USER = ['-fPIE']  # RIP-relative code, linked statically at USER_BASE
LINK = ['-nostdlib', '-static', '-no-pie', '-Wl,--build-id=none', '-Wl,-z,noexecstack',
        '-Wl,--no-warn-rwx-segments']


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(' '.join(cmd) + '\n' + proc.stdout + proc.stderr)
        sys.exit(1)


def compile_all(cc, flags, sources, workdir, tag):
    objs = []
    for src in sources:
        obj = os.path.join(workdir, tag + '-' + os.path.basename(src) + '.o')
        run([cc] + COMMON + flags + ['-c', src, '-o', obj])
        objs.append(obj)
    return objs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cc', required=True)
    ap.add_argument('--objcopy', default='objcopy')
    ap.add_argument('--out', required=True)
    ap.add_argument('--depfile', required=True)
    ap.add_argument('--workdir', required=True)
    ap.add_argument('programs', nargs='+')
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    # gcc may be given as a command with arguments (ccache gcc).
    cc = a.cc

    ulib = compile_all(cc, USER, [os.path.join(HERE, 'user', f) for f in ('crt.S', 'ulib.c')] +
                       [os.path.join(HERE, 'fmt.c')], a.workdir, 'user')
    table = []
    for prog in a.programs:
        name = os.path.splitext(os.path.basename(prog))[0]
        objs = compile_all(cc, USER, [prog], a.workdir, 'prog')
        elf = os.path.join(a.workdir, name + '.elf')
        run([cc] + LINK + ['-Wl,-T,' + os.path.join(HERE, 'user', 'user.ld'), '-o', elf] + ulib + objs)
        flat = os.path.join(a.workdir, name + '.bin')
        run([a.objcopy, '-O', 'binary', elf, flat])
        table.append((name, flat))

    # The built-in program table: the flat images, embedded with .incbin.
    gen_s = os.path.join(a.workdir, 'programs-data.S')
    with open(gen_s, 'w') as f:
        f.write('\t.section .rodata.programs, "a"\n')
        for name, flat in table:
            f.write('\t.p2align 12\nprog_%s:\n\t.incbin "%s"\nprog_%s_end:\n' % (name, flat, name))
        f.write('\t.p2align 3\n\t.globl programs\nprograms:\n')
        for name, _ in table:
            f.write('\t.quad name_%s, prog_%s, prog_%s_end - prog_%s\n' % (name, name, name, name))
        f.write('\t.globl program_count\nprogram_count:\n\t.long %d\n' % len(table))
        for name, _ in table:
            f.write('name_%s:\n\t.asciz "%s"\n' % (name, name))
        f.write('\t.section .note.GNU-stack, "", @progbits\n')

    ksrc = [os.path.join(HERE, 'kernel', f) for f in sorted(os.listdir(os.path.join(HERE, 'kernel')))
            if f.endswith(('.c', '.S'))] + [os.path.join(HERE, 'fmt.c'), gen_s]
    kobjs = compile_all(cc, KERNEL, ksrc, a.workdir, 'kernel')
    run([cc] + LINK + ['-Wl,-T,' + os.path.join(HERE, 'kernel', 'kernel.ld'), '-o', a.out] + kobjs)

    # One depfile for meson: every header and source the compilers read.
    deps = set()
    for fn in os.listdir(a.workdir):
        if fn.endswith('.d'):
            text = open(os.path.join(a.workdir, fn)).read().replace('\\\n', ' ')
            deps.update(text.split(':', 1)[1].split())
    deps.update([os.path.join(HERE, 'user', 'user.ld'), os.path.join(HERE, 'kernel', 'kernel.ld'),
                 os.path.abspath(__file__)])
    deps.discard(gen_s)
    with open(a.depfile, 'w') as f:
        f.write('%s: %s\n' % (a.out, ' '.join(sorted(d.replace(' ', '\\ ') for d in deps))))


if __name__ == '__main__':
    main()
