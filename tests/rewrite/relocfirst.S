/* SPDX-License-Identifier: MIT */
/* A relocation whose field starts at a sensitive instruction's first byte, where the
 * trap would go: vc_rewrite_patch() must refuse it (the loader would overwrite the
 * trap). Real compilers never emit this; a hand-made or hostile object can. */
	.text
	.globl r
r:
1:	cli
	ret
	.reloc 1b, R_X86_64_8, r
