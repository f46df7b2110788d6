# SPDX-License-Identifier: MIT
"""Shared fixtures: the project's command-line tools (round trips against them) and a
small x86-64 object compiled at test time."""
import os
import shutil
import subprocess

import pytest


@pytest.fixture
def tool():
    """The path of a built tool (vc-pack, vc-rewrite...), or a skip when it is not built."""
    root = os.environ.get('VC_TOOLS', '')

    def find(name):
        path = os.path.join(root, name, name)
        if not os.access(path, os.X_OK):
            pytest.skip('%s is not built here (VC_TOOLS=%r)' % (name, root))
        return path
    return find


SENSITIVE_S = r"""
	.text
	.globl probe
probe:
	pushf
	pop	%rax
	cli
	mov	%rdi, %rdx
	add	$1, %rdx
	out	%al, (%dx)
	rdtsc
	shl	$32, %rdx
	or	%rdx, %rax
	push	%rcx
	popf
	ret
	.section .note.GNU-stack, "", @progbits
"""


@pytest.fixture
def sensitive_object(tmp_path):
    """A relocatable object with six sensitive instructions (gcc assembles it)."""
    if not shutil.which('gcc'):
        pytest.skip('gcc is not installed')
    src = tmp_path / 'probe.S'
    src.write_text(SENSITIVE_S)
    obj = tmp_path / 'probe.o'
    subprocess.run(['gcc', '-c', '-o', str(obj), str(src)], check=True)
    return obj
