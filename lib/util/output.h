/* SPDX-License-Identifier: MIT */
/* Where an output file really goes, decided before anything is written. */
#ifndef VC_UTIL_OUTPUT_H
#define VC_UTIL_OUTPUT_H

#include <stdbool.h>

/*
 * Writers write a new file beside their output and rename it over the output at the end:
 * a failure (or an interruption) leaves the old output whole. Renaming over @path itself
 * would replace a symlink with a file (the file it names left unchanged) and a device node
 * or FIFO with a regular file. So: follow @path's symlinks (relative ones against their
 * own directory, at most 40) to the path the new file takes, and accept only a regular
 * file or nothing there. @dirfd: what relative names are relative to (AT_FDCWD, or an
 * open directory: a writer into a directory never builds "DIR/NAME" strings).
 */

/* One output being written. */
struct vc__output {
	int dirfd;       /* relative names are relative to this */
	int fd;          /* the new file, read-write */
	char *final;     /* where it goes: @path through its symlinks */
	char *tmp;       /* its temporary name beside @final; NULL while it has none */
	const char *tag; /* in temporary names: ".TAG-XXXXXXXX.tmp" */
};

/*
 * Starts @o: resolves @path as above (@what names what is there when it is refused:
 * -EISDIR a directory, -EINVAL a device node, FIFO or socket; -ELOOP past 40 links) and
 * creates the new file with @mode (umask applies) in @final's directory. Where the filesystem can, the file is
 * unnamed (O_TMPFILE) until vc__output_commit(): a process killed meanwhile, even by
 * SIGKILL, leaves nothing. Elsewhere it is ".@tag-XXXXXXXX.tmp" (random, O_EXCL). 0, or
 * -errno with @o released.
 */
int vc__output_begin(struct vc__output *o, int dirfd, const char *path, unsigned mode,
		     const char *tag, const char **what);

/* Closes the new file and renames it onto @o->final (@sync: and fsyncs the directory, for
 * a rename that survives a crash). Releases @o either way. 0; -errno (nothing left). */
int vc__output_commit(struct vc__output *o, bool sync);

/* Closes and removes the new file; releases @o. Safe on a released @o. */
void vc__output_abandon(struct vc__output *o);

/* Whether two begun outputs would land on the same file (same directory, by inode, and
 * the same name in it): "k.pem" and "./k.pem" do, whether or not the file exists yet. */
bool vc__output_same_place(const struct vc__output *a, const struct vc__output *b);

#endif /* VC_UTIL_OUTPUT_H */
