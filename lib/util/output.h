/* SPDX-License-Identifier: MIT */
/* Where an output file really goes, decided before anything is written. */
#ifndef VC_UTIL_OUTPUT_H
#define VC_UTIL_OUTPUT_H

/*
 * Writers make a temporary file beside their output and rename it over the output: a
 * failure leaves the old output whole. Renaming over @path itself would replace a symlink
 * with a file (the file it names left unchanged) and a device node or FIFO with a regular
 * file. So: follow @path's symlinks (relative ones against their own directory, at most
 * 40) to the path the new file takes, and accept only a regular file or nothing there.
 *
 * @final receives that path (malloc'd; the caller frees it), to build the temporary name
 * beside and rename onto. 0; -EISDIR (a directory); -EINVAL (a device node, FIFO or
 * socket: @what names which); -ELOOP; -ENOMEM; -errno of lstat/readlink.
 */
int vc__output_target(const char *path, char **final, const char **what);

/*
 * Creates ".@tag-XXXXXXXX.tmp" (random, O_EXCL: nothing there is reused or followed) with
 * @mode (umask applies) in the directory of @final, read-write. Not derived from @final's
 * name, which may already be NAME_MAX long. The fd and, in @tmp_path, the name (free()
 * it); -errno.
 */
int vc__output_open_temp(const char *final, unsigned mode, const char *tag, char **tmp_path);

#endif /* VC_UTIL_OUTPUT_H */
