/* SPDX-License-Identifier: MIT */
/* A tool's standard output is part of its result: a write that failed (a full disk, a
 * closed pipe, /dev/full) must not end in exit status 0 with a short file. */
#ifndef VC_TOOLS_STDOUT_CHECK_H
#define VC_TOOLS_STDOUT_CHECK_H

/* At exit, flush and close stdout; if that or any earlier write to it failed, print
 * "@prog: standard output: REASON" on stderr and make the exit status 1 (a closed pipe,
 * EPIPE, ends quietly with 1: the reader has gone, as `| head` does). Call first in main. */
void tool_check_stdout_at_exit(const char *prog);

#endif /* VC_TOOLS_STDOUT_CHECK_H */
