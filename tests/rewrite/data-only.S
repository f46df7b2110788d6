/* SPDX-License-Identifier: MIT */
/* No code at all: nothing to scan, an empty table, still a round trip. */
	.data
	.globl table
table:
	.quad 1, 2, 3
