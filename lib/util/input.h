/* SPDX-License-Identifier: MIT */
/* Opening a file to read, refusing up front what would hang or never end. */
#ifndef VC_UTIL_INPUT_H
#define VC_UTIL_INPUT_H

#include <sys/types.h>

/* vc__input_open() @allow: a block device is acceptable as well as a regular file. */
#define VC__INPUT_BLOCK 1u

/*
 * Opens @path read-only for a reader that wants a file's bytes: a regular file, or a block
 * device with VC__INPUT_BLOCK. The open itself does not block (O_NONBLOCK: a FIFO without
 * a writer would wait forever in open()), then fstat() decides, and the descriptor is
 * returned blocking again. Refused: a directory (-EISDIR), a FIFO, socket or character
 * device (-EINVAL: /dev/zero never ends, a FIFO's bytes cannot be read twice); *what (may
 * be NULL) names the kind. Otherwise -errno of open()/fstat(). The fd (O_CLOEXEC).
 */
int vc__input_open(const char *path, unsigned allow, const char **what);

/* "a FIFO", "a character device", ...: what a file of mode @m is, for messages. */
const char *vc__file_kind(mode_t m);

#endif /* VC_UTIL_INPUT_H */
